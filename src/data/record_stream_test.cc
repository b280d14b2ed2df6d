// The streaming record reader of batch scoring: quoted newlines, CRLF, blank lines, a last
// line without its end, a BOM, line numbers, and records that straddle its 4 MiB reads.
#include "data/record_stream.h"

#include <gtest/gtest.h>

#include <fstream>

#include "../../tests/test_util.h"

namespace fraudops {
namespace {

using testing::TempDir;

std::vector<std::string> ReadAll(const std::string& path, bool quoted, size_t per_chunk,
                                 std::vector<size_t>* lines) {
  auto reader = RecordReader::Open(path, quoted);
  EXPECT_TRUE(reader.ok());
  std::vector<std::string> records;
  RecordChunk chunk;
  while (true) {
    auto more = (*reader)->Next(chunk, per_chunk);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    for (size_t i = 0; i < chunk.size(); ++i) {
      records.emplace_back(chunk.record(i));
      if (lines) lines->push_back(chunk.line[i]);
    }
  }
  return records;
}

TEST(RecordStreamTest, QuotedNewlinesCrlfBlankLinesAndNoFinalNewline) {
  TempDir dir;
  testing::WriteText(
      dir.File("a.csv"),
      "\xEF\xBB\xBFid,note\r\n1,\"two\nlines, \"\"quoted\"\"\"\r\n\n   \n2,plain\n3,last");
  std::vector<size_t> lines;
  std::vector<std::string> records = ReadAll(dir.File("a.csv"), true, 2, &lines);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0], "id,note");
  EXPECT_EQ(records[1], "1,\"two\nlines, \"\"quoted\"\"\"");
  EXPECT_EQ(records[2], "2,plain");
  EXPECT_EQ(records[3], "3,last");
  EXPECT_EQ(lines, (std::vector<size_t>{1, 2, 6, 7}));

  std::vector<std::string_view> fields;
  SplitCsvRecord(records[1], ',', fields);
  ASSERT_EQ(fields.size(), 2u);
  std::string scratch;
  EXPECT_EQ(UnquoteCsvField(fields[1], scratch), "two\nlines, \"quoted\"");
  EXPECT_EQ(DetectCsvDelimiter("a;b;\"c,d\""), ';');

  // JSON Lines: every newline ends a record, quotes or not.
  testing::WriteText(dir.File("a.jsonl"), "{\"a\": \"x\"}\n{\"b\": \"\"}\n");
  EXPECT_EQ(ReadAll(dir.File("a.jsonl"), false, 10, nullptr).size(), 2u);
}

TEST(RecordStreamTest, AnUnclosedQuoteIsAnErrorNamingItsLine) {
  TempDir dir;
  testing::WriteText(dir.File("b.csv"), "id,note\n1,ok\n2,\"never closed\n3,x\n");
  auto reader = RecordReader::Open(dir.File("b.csv"), true);
  ASSERT_TRUE(reader.ok());
  RecordChunk chunk;
  auto more = (*reader)->Next(chunk, 100);
  ASSERT_FALSE(more.ok());
  EXPECT_NE(more.status().message().find("b.csv:3: a quoted field is not closed"),
            std::string::npos)
      << more.status().message();
  EXPECT_FALSE(RecordReader::Open(dir.File("missing.csv"), true).ok());
}

TEST(RecordStreamTest, RecordsStraddlingReadsComeBackWhole) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 300000; ++i) {
    text += std::to_string(i) + ",\"field with, a comma " + std::to_string(i * 7) + "\",0.125\n";
  }
  ASSERT_GT(text.size(), size_t{9} << 20) << "more than two of the reader's 4 MiB reads";
  testing::WriteText(dir.File("big.csv"), text);
  std::vector<size_t> lines;
  std::vector<std::string> records = ReadAll(dir.File("big.csv"), true, 4096, &lines);
  ASSERT_EQ(records.size(), 300000u);
  for (int i : {0, 1, 99999, 150000, 299999}) {
    EXPECT_EQ(records[static_cast<size_t>(i)],
              std::to_string(i) + ",\"field with, a comma " + std::to_string(i * 7) + "\",0.125");
    EXPECT_EQ(lines[static_cast<size_t>(i)], static_cast<size_t>(i) + 1);
  }
}

}  // namespace
}  // namespace fraudops
