#include "data/parts.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "../../tests/test_util.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "data/csv_reader.h"
#include "data/source.h"

namespace fraudops {
namespace {

/// Rows with categories first seen late, missing values, a quoted field, a blank line and
/// CRLF line ends; text labels.
std::string PartsText(int rows) {
  std::string text = "amount,merchant,\"note\",Class\r\n";
  for (int r = 0; r < rows; ++r) {
    text += (r % 7 == 3 ? std::string("NA") : std::to_string(r * 0.25)) + ",m" +
            std::to_string((r * r) % (1 + r / 10)) + ",\"n, " + std::to_string(r % 4) + "\"," +
            (r % 5 == 0 ? "fraud" : "ok") + "\r\n";
    if (r == 17) text += "\r\n";
  }
  return text;
}

CsvOptions FraudIsPositive() {
  CsvOptions options;
  options.table.positive_label = "fraud";
  return options;
}

/// Reads `path` in `count` parts and unifies them into one dataset; `ranges` gets each
/// part's bytes.
Result<Dataset> ReadInParts(const std::string& path, int count, const CsvOptions& options,
                            ThreadPool* pool, std::vector<std::pair<size_t, size_t>>* ranges,
                            size_t window_bytes = kImportWindowBytes) {
  ranges->assign(static_cast<size_t>(count), {});
  std::vector<std::string> sources;
  for (int i = 0; i < count; ++i) sources.push_back(path + " part " + std::to_string(i));
  return ReadParts(static_cast<size_t>(count), sources, false,
                   [&](size_t i, const std::vector<std::string>&) {
                     return ReadCsvFilePart(path, options, pool, static_cast<int>(i), count,
                                            &(*ranges)[i], window_bytes);
                   });
}

TEST(PartsTest, TheByteRangePartsOfACsvFileTogetherAreTheWholeFile) {
  testing::TempDir dir;
  const std::string path = dir.File("t.csv");
  const std::string text = PartsText(500);
  testing::WriteText(path, text);
  const CsvOptions options = FraudIsPositive();
  auto whole = ReadCsvFile(path, options, nullptr);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  ThreadPool pool(3);
  // 1 part; a few; more parts than some lines are long (parts with no rows). Parsed in
  // windows of 1 byte (a line each), 100 bytes or all at once.
  for (int count : {1, 2, 3, 7, 40, 2000}) {
    SCOPED_TRACE(count);
    std::vector<std::pair<size_t, size_t>> ranges;
    const size_t window = count == 2 ? 1 : count == 3 ? 100 : kImportWindowBytes;
    auto parts = ReadInParts(path, count, options, count == 7 ? &pool : nullptr, &ranges, window);
    ASSERT_TRUE(parts.ok()) << parts.status().ToString();
    EXPECT_EQ(parts->ContentHash(), whole->ContentHash());
    // The parts abut, start after the header and end at the file's end, each at a line start.
    EXPECT_EQ(ranges.front().first, text.find('\n') + 1);
    EXPECT_EQ(ranges.back().second, text.size());
    for (size_t i = 0; i + 1 < ranges.size(); ++i) {
      EXPECT_EQ(ranges[i].second, ranges[i + 1].first);
      EXPECT_EQ(text[ranges[i].second - 1], '\n');
    }
  }
}

TEST(PartsTest, AnErrorInALaterPartNamesItsLineInTheFile) {
  testing::TempDir dir;
  std::vector<std::string> lines = Split(PartsText(300), '\n');
  lines[249] = "1,2\r";  // line 250 of the file: a ragged row
  const std::string path = dir.File("t.csv");
  testing::WriteText(path, Join(lines, "\n"));
  std::pair<size_t, size_t> range;
  auto last = ReadCsvFilePart(path, FraudIsPositive(), nullptr, 3, 4, &range, 64);
  ASSERT_FALSE(last.ok());
  EXPECT_NE(last.status().message().find(path + ":250"), std::string::npos)
      << last.status().message();
  EXPECT_NE(last.status().message().find("ragged row"), std::string::npos);
  EXPECT_TRUE(ReadCsvFilePart(path, FraudIsPositive(), nullptr, 0, 4, &range).ok());
}

TEST(PartsTest, FilesThatDisagreeOnAColumnsTypeReadItAsCategoricalEverywhere) {
  testing::TempDir dir;
  std::filesystem::create_directory(dir.File("days"));
  // merchant holds numbers in the first file, text in the second; the label's negative is
  // only in the second file.
  testing::WriteText(dir.File("days/2026-01-01.csv"),
                     "amount,merchant,Class\n1,7,fraud\n2,8,fraud\n");
  testing::WriteText(dir.File("days/2026-01-02.csv"),
                     "amount,merchant,Class\n3,shop,ok\n4,7,fraud\n5,9,ok\n");
  testing::WriteText(dir.File("days/notes.md"), "not data");
  // The same rows as one file are categorical too (text in more than 5 % of the values).
  testing::WriteText(dir.File("all.csv"),
                     "amount,merchant,Class\n1,7,fraud\n2,8,fraud\n3,shop,ok\n4,7,fraud\n5,9,ok\n");
  SourceRegistry sources;
  RegisterBuiltinSources(sources);
  SourceOptions options;
  options.csv = FraudIsPositive();
  const Context context;
  auto directory = sources.Load(dir.File("days"), options, context);
  ASSERT_TRUE(directory.ok()) << directory.status().ToString();
  auto file = sources.Load(dir.File("all.csv"), options, context);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(directory->dataset.features[1].type, ColumnType::kCategorical);
  EXPECT_EQ(directory->dataset.features[1].categories,
            (std::vector<std::string>{"7", "8", "shop", "9"}));
  EXPECT_EQ(directory->dataset.label_values, (std::vector<std::string>{"ok", "fraud"}));
  EXPECT_EQ(directory->dataset.ContentHash(), file->dataset.ContentHash());
  EXPECT_EQ(directory->manifest["files"].size(), 2u);

  // In parts (one file each), unified the same way.
  for (int part = 0; part < 2; ++part) {
    auto mine = sources.LoadPart(dir.File("days"), options, part, 2, context);
    ASSERT_TRUE(mine.ok()) << mine.status().ToString();
    EXPECT_EQ(mine->manifest["files"].size(), 1u);
  }
  auto three = sources.LoadPart(dir.File("days"), options, 0, 3, context);
  ASSERT_FALSE(three.ok());
  EXPECT_NE(three.status().message().find("holds 2 files for 3 workers"), std::string::npos)
      << three.status().message();
}

TEST(PartsTest, PartsThatCannotAgreeAreClearErrors) {
  Dataset a, b;
  a.features.resize(1);
  a.features[0].name = "x";
  a.columns = {{1, 2}};
  a.label = {0, 1};
  a.label_values = {"ok", "fraud"};
  b.features.resize(1);
  b.features[0].name = "x";
  b.columns = {{3}};
  b.label = {0};
  b.label_values = {"legit", "fraud"};
  auto labels = UnifyParts({PartSchema(a, "a.csv"), PartSchema(b, "b.csv")}, false);
  ASSERT_FALSE(labels.ok());
  EXPECT_NE(labels.status().message().find("b.csv: label column 'Class' has the value 'legit' "
                                           "where a.csv has 'ok'"),
            std::string::npos)
      << labels.status().message();
  // A regression target has no label classes to agree on.
  EXPECT_TRUE(UnifyParts({PartSchema(a, "a.csv"), PartSchema(b, "b.csv")}, true).ok());

  b.features[0].name = "y";
  b.label_values = a.label_values;
  auto names = UnifyParts({PartSchema(a, "a.csv"), PartSchema(b, "b.csv")}, false);
  ASSERT_FALSE(names.ok());
  EXPECT_NE(names.status().message().find("b.csv has the feature columns (y) but a.csv has (x)"),
            std::string::npos)
      << names.status().message();
}

TEST(PartsTest, ADatasetFileReadsInRowRanges) {
  testing::TempDir dir;
  testing::WriteText(dir.File("t.csv"), PartsText(100));
  SourceRegistry sources;
  RegisterBuiltinSources(sources);
  SourceOptions options;
  options.csv = FraudIsPositive();
  const Context context;
  auto imported =
      ImportToDatasetFile(sources, dir.File("t.csv"), options, context, dir.File("t.fds"));
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  std::vector<std::string> names = {"0", "1", "2"};
  std::vector<nlohmann::json> manifests(3);
  auto parts = ReadParts(3, names, false, [&](size_t i, const std::vector<std::string>&) {
    auto part = sources.LoadPart(dir.File("t.fds"), options, static_cast<int>(i), 3, context);
    if (!part.ok()) return Result<Dataset>(part.status());
    manifests[i] = part->manifest;
    return Result<Dataset>(std::move(part->dataset));
  });
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  EXPECT_EQ(parts->ContentHash(), imported->content_hash);
  EXPECT_EQ(manifests[1]["rows"], nlohmann::json::array({33, 66}));
}

TEST(PartsTest, TheCombinedFingerprintDependsOnEveryPartAndItsPlace) {
  const std::string ab = CombinedContentHash({{2, "a"}, {3, "b"}});
  EXPECT_EQ(ab, CombinedContentHash({{2, "a"}, {3, "b"}}));
  EXPECT_NE(ab, CombinedContentHash({{3, "b"}, {2, "a"}}));
  EXPECT_NE(ab, CombinedContentHash({{2, "a"}, {3, "c"}}));
  EXPECT_NE(ab, CombinedContentHash({{5, "ab"}}));
}

TEST(PartsTest, SourcesThatCannotBeReadInPartsSaySoBeforeReading) {
  SourceRegistry sources;
  RegisterBuiltinSources(sources);
  SourceOptions options;
  Status synthetic = sources.CheckReadsInParts("synthetic", options);
  ASSERT_FALSE(synthetic.ok());
  EXPECT_NE(synthetic.message().find("cannot be read in parts"), std::string::npos);
  Status sql = sources.CheckReadsInParts("sqlite:bank.db", options);
  ASSERT_FALSE(sql.ok());
  EXPECT_NE(sql.message().find("needs preprocess.shard_key"), std::string::npos);
  options.sql.shard_key = "id";
  EXPECT_TRUE(sources.CheckReadsInParts("sqlite:bank.db", options).ok());
}

}  // namespace
}  // namespace fraudops
