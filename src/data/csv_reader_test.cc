#include "data/csv_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "../../tests/test_util.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "data/dataset_file.h"

namespace fraudops {
namespace {

Result<Dataset> Parse(const std::string& text, CsvOptions options = {},
                      ThreadPool* pool = nullptr) {
  return ParseCsv(text, "t.csv", options, pool);
}

std::string ErrorOf(const std::string& text, CsvOptions options = {}) {
  auto result = Parse(text, options);
  EXPECT_FALSE(result.ok()) << "expected an error for:\n" << text;
  EXPECT_EQ(result.status().code(), StatusCode::kDataError);
  return result.status().message();
}

TEST(CsvReaderTest, ReadsTheReferenceTextForm) {
  // Quoted header and label, scientific notation in Time, a plain-decimal amount.
  auto d = Parse(
      "\"Time\",\"V1\",\"Amount\",\"Class\"\n"
      "0,-1.3598071336738,149.62,\"0\"\n"
      "1.7e+05,1.19185711131486,2.69,\"1\"\n");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->rows(), 2u);
  EXPECT_EQ(d->FeatureNames(), (std::vector<std::string>{"Time", "V1", "Amount"}));
  EXPECT_FLOAT_EQ(d->columns[0][1], 170000.0f);
  EXPECT_FLOAT_EQ(d->columns[1][0], -1.3598071336738f);
  EXPECT_EQ(d->label, (std::vector<float>{0, 1}));
  EXPECT_EQ(d->label_values, (std::vector<std::string>{"0", "1"}));
}

TEST(CsvReaderTest, DetectsDelimitersAndAcceptsCrlfAndQuotedNumbers) {
  for (const char* delimiter : {",", ";", "\t", "|"}) {
    std::string d(delimiter);
    std::string text =
        "a" + d + "b" + d + "Class\r\n\"1.5\"" + d + "2" + d + "1\r\n3" + d + "4" + d + "0\r\n";
    auto result = Parse(text);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->num_features(), 2u) << "delimiter " << delimiter;
    EXPECT_FLOAT_EQ(result->columns[0][0], 1.5f);
  }
}

TEST(CsvReaderTest, MissingMarkersBecomeNaN) {
  CsvOptions options;
  options.table.missing_values = {"", "NA", "unknown"};
  auto d = Parse("a,b,Class\n1,NA,0\n,unknown,1\n3,4,0\n", options);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(std::isnan(d->columns[1][0]));
  EXPECT_TRUE(std::isnan(d->columns[0][1]));
  EXPECT_FLOAT_EQ(d->columns[1][2], 4.0f);
}

TEST(CsvReaderTest, StringColumnsAreDictionaryEncodedAndLabelsCanBeStrings) {
  CsvOptions options;
  options.table.label_column = "is_fraud";
  options.table.positive_label = "yes";
  auto d = Parse("amount,merchant,is_fraud\n10,grocery,no\n20,\"travel, air\",yes\n30,grocery,no\n",
                 options);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->features[1].type, ColumnType::kCategorical);
  EXPECT_EQ(d->features[1].categories, (std::vector<std::string>{"grocery", "travel, air"}));
  EXPECT_EQ(d->columns[1], (std::vector<float>{0, 1, 0}));
  EXPECT_EQ(d->label, (std::vector<float>{0, 1, 0}));
  EXPECT_EQ(d->label_values, (std::vector<std::string>{"no", "yes"}));
}

TEST(CsvReaderTest, ATableWithoutLabelKeepsEveryColumn) {
  CsvOptions options;
  options.table.label_column = "";
  options.table.categorical_columns = {"customer"};
  ThreadPool pool(3);
  std::string text = "customer,age,when\n";
  for (int i = 0; i < 30000; ++i)
    text += std::to_string(1000000 + i) + "," + std::to_string(i % 90) + ",2024-01-0" +
            std::to_string(i % 9 + 1) + "\n";
  auto d = Parse(text, options, &pool);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->rows(), 30000u);
  EXPECT_EQ(d->FeatureNames(), (std::vector<std::string>{"customer", "age", "when"}));
  EXPECT_EQ(d->features[0].categories[29999], "1029999");  // exact text, not a float
  EXPECT_EQ(d->CountPositives(), 0u);
  EXPECT_EQ(d->label_name, "");
}

TEST(CsvReaderTest, ForcedCategoricalAndDroppedColumns) {
  CsvOptions options;
  options.table.categorical_columns = {"mcc"};
  options.table.drop_columns = {"id"};
  auto d = Parse("id,mcc,x,Class\n1,5411,0.5,0\n2,4511,0.7,1\n3,5411,0.1,0\n", options);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->FeatureNames(), (std::vector<std::string>{"mcc", "x"}));
  EXPECT_EQ(d->features[0].categories, (std::vector<std::string>{"5411", "4511"}));
}

TEST(CsvReaderTest, RejectsRaggedRowsWithLineNumber) {
  std::string message = ErrorOf("a,b,Class\n1,2,0\n1,2\n");
  EXPECT_NE(message.find("t.csv:3"), std::string::npos) << message;
  EXPECT_NE(message.find("expected 3 fields as in the header, found 2"), std::string::npos)
      << message;
}

TEST(CsvReaderTest, RejectsTextInANumericColumnWithLineAndColumn) {
  std::string text = "a,b,Class\n";
  for (int i = 0; i < 30; ++i)
    text += std::to_string(i) + "," + (i == 24 ? "x9" : "2.5") + "," + (i % 3 ? "0" : "1") + "\n";
  std::string message = ErrorOf(text);
  EXPECT_NE(message.find("t.csv:26: column 2 ('b'): 'x9' is not a number"), std::string::npos)
      << message;
  EXPECT_NE(message.find("preprocess.categorical_columns"), std::string::npos) << message;
}

TEST(CsvReaderTest, RejectsAMissingLabelColumnAndSuggestsTheClosest) {
  std::string message = ErrorOf("a,b,class\n1,2,0\n");
  EXPECT_NE(message.find("missing label column 'Class' (did you mean 'class'?)"), std::string::npos)
      << message;
  EXPECT_NE(message.find("its columns are: a, b, class"), std::string::npos) << message;
}

TEST(CsvReaderTest, RejectsALabelWithOtherValues) {
  std::string message = ErrorOf("a,Class\n1,0\n2,1\n3,2\n");
  EXPECT_NE(message.find("t.csv:4: column 2 ('Class')"), std::string::npos) << message;
  EXPECT_NE(message.find("has the value '2'"), std::string::npos) << message;
  EXPECT_NE(message.find("exactly two values"), std::string::npos) << message;

  std::string other = ErrorOf("a,Class\n1,no\n2,yes\n");
  EXPECT_NE(other.find("neither of which is the positive label '1'"), std::string::npos) << other;
}

TEST(CsvReaderTest, RejectsEmptyFilesAndHeaderOnlyFiles) {
  EXPECT_NE(ErrorOf("").find("the file is empty"), std::string::npos);
  EXPECT_NE(ErrorOf("\n\n").find("the file is empty"), std::string::npos);
  EXPECT_NE(ErrorOf("a,Class\n").find("has a header but no rows"), std::string::npos);
}

TEST(CsvReaderTest, RejectsMissingLabelsAndBadQuotes) {
  EXPECT_NE(ErrorOf("a,Class\n1,0\n2,\n").find("t.csv:3: column 2 ('Class'): the label is missing"),
            std::string::npos);
  EXPECT_NE(ErrorOf("a,Class\n\"1,0\n").find("unterminated quoted field"), std::string::npos);
}

TEST(CsvReaderTest, RejectsTextThatIsNotUtf8) {
  // Regression (found by fuzz/csv_fuzzer): a Latin-1 category crashed the JSON schema dump.
  std::string message = ErrorOf("city,Class\nZ\xFCrich,0\nBern,1\n");
  EXPECT_NE(message.find("t.csv:2: column 1 ('city'): the text is not valid UTF-8"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("iconv"), std::string::npos);
  EXPECT_NE(ErrorOf("a,Class\x80\n1,0\n").find("header: the text is not valid UTF-8"),
            std::string::npos);
  EXPECT_TRUE(Parse("city,Class\nZ\xC3\xBCrich,0\nBern,1\n").ok());
}

TEST(CsvReaderTest, ParallelChunksGiveTheSameDatasetAsOneThread) {
  std::string text = "\"x\",\"c\",\"Class\"\n";
  for (int i = 0; i < 120000; ++i) {
    text += std::to_string(i * 0.37) + "," +
            (i % 7 == 0 ? "\"k" + std::to_string(i % 5) + "\"" : "z") + ",\"" +
            (i % 97 == 0 ? "1" : "0") + "\"\n";
    if (i == 50000) text += "\n";  // a blank line in the middle
  }
  ThreadPool pool(4);
  auto single = Parse(text);
  auto parallel = Parse(text, {}, &pool);
  ASSERT_TRUE(single.ok() && parallel.ok());
  EXPECT_EQ(single->rows(), 120000u);
  EXPECT_EQ(single->ContentHash(), parallel->ContentHash());
  EXPECT_EQ(parallel->features[1].categories.front(), "k0");

  // A bad value deep in the file is reported at its true line from any chunk.
  std::string bad = text + "oops,z,\"0\"\n";
  auto error = Parse(bad, {}, &pool);
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.status().message().find("t.csv:120003: column 1 ('x')"), std::string::npos)
      << error.status().message();
}

TEST(CsvReaderTest, EverySpellingOfThePositiveLabelIsPositive) {
  // "1" and "1.0" are the same number: both positive, not one of them the negative class.
  auto d = Parse("x,Class\n1,1\n2,1.0\n3,0\n4, 1 \n");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->label, (std::vector<float>{1, 1, 0, 1}));
  EXPECT_EQ(d->label_values, (std::vector<std::string>{"0", "1"}));
  EXPECT_NE(ErrorOf("x,Class\n1,1\n2,1.0\n3,0\n4,2\n").find("has the value '2'"),
            std::string::npos);
}

TEST(CsvReaderTest, ReadsFilesAndReportsMissingOnes) {
  auto missing = ReadCsvFile("/nonexistent/data.csv", {}, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot open data file '/nonexistent/data.csv'"),
            std::string::npos);
}

/// Text with categories first seen late, missing values, a blank line and CRLF.
std::string ImportText(int rows) {
  std::string text = "amount,merchant,Class\r\n";
  for (int r = 0; r < rows; ++r) {
    text += (r % 7 == 3 ? std::string("NA") : std::to_string(r * 0.25)) + ",m" +
            std::to_string((r * r) % (1 + r / 10)) + "," + (r % 5 == 0 ? "fraud" : "ok") + "\r\n";
    if (r == 17) text += "\r\n";
  }
  return text;
}

TEST(CsvImportTest, StreamedWindowByWindowTheFileHoldsTheDatasetParseGives) {
  testing::TempDir dir;
  CsvOptions options;
  options.table.positive_label = "fraud";
  const std::string text = ImportText(500);
  auto parsed = ParseCsv(text, "t.csv", options, nullptr);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ThreadPool pool(3);
  // Windows of 1 byte (a line each), 100 bytes and the whole text, with and without threads.
  for (size_t window : {size_t{1}, size_t{100}, size_t{1} << 20}) {
    SCOPED_TRACE(window);
    const std::string path = dir.File("out" + std::to_string(window) + ".fds");
    auto imported =
        ImportCsvText(text, "t.csv", options, window == 100 ? &pool : nullptr, path, window);
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
    EXPECT_EQ(imported->content_hash, parsed->ContentHash());
    auto back = ReadDatasetFile(path);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->features, parsed->features);
    EXPECT_EQ(back->label_values, (std::vector<std::string>{"ok", "fraud"}));
    EXPECT_FALSE(std::filesystem::exists(path + ".import")) << "the scratch files stay behind";
  }
}

TEST(CsvImportTest, ErrorsNameTheLineAcrossWindowsAndWriteNothing) {
  testing::TempDir dir;
  std::string text = ImportText(300);
  // Line 200 (the header is line 1, and one blank line comes before): a ragged row.
  std::vector<std::string> lines = Split(text, '\n');
  lines[199] = "1,2,3,4\r";
  text = Join(lines, "\n");
  CsvOptions options;
  options.table.positive_label = "fraud";
  const std::string path = dir.File("out.fds");
  auto imported = ImportCsvText(text, "t.csv", options, nullptr, path, 64);
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.status().message().find("t.csv:200: expected 3 fields"), std::string::npos)
      << imported.status().message();
  // A third label value, first seen in a later window, is named where it appears.
  lines = Split(ImportText(300), '\n');
  lines[250] = "1,m1,maybe\r";
  auto third = ImportCsvText(Join(lines, "\n"), "t.csv", options, nullptr, path, 64);
  ASSERT_FALSE(third.ok());
  EXPECT_NE(third.status().message().find("t.csv:251: column 3 ('Class')"), std::string::npos)
      << third.status().message();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".import"));
}

}  // namespace
}  // namespace fraudops
