#include "data/dataset_file.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "../../tests/test_util.h"

namespace fraudops {
namespace {

Dataset Sample() {
  Dataset d;
  d.features = {{"amount", ColumnType::kNumeric, {}, {}},
                {"merchant", ColumnType::kCategorical, {"a", "b"}, {}}};
  d.columns = {{1.5f, std::numeric_limits<float>::quiet_NaN(), 3.0f}, {0, 1, 0}};
  d.label = {0, 1, 0};
  return d;
}

TEST(DatasetFileTest, RoundTripsSchemaAndValues) {
  testing::TempDir dir;
  Dataset d = Sample();
  auto sha = WriteDatasetFile(d, dir.File("x/train.fds"));
  ASSERT_TRUE(sha.ok()) << sha.status().ToString();
  DatasetFileInfo info;
  auto back = ReadDatasetFile(dir.File("x/train.fds"), &info);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->features, d.features);
  EXPECT_EQ(back->label, d.label);
  EXPECT_TRUE(std::isnan(back->columns[0][1]));
  EXPECT_EQ(back->ContentHash(), d.ContentHash());
  EXPECT_EQ(info.version, kDatasetFileVersion);
  EXPECT_EQ(info.payload_sha256, sha->payload_sha256);
}

TEST(DatasetFileTest, ACorruptedByteIsRefusedWithAChecksumError) {
  testing::TempDir dir;
  std::string path = dir.File("train.fds");
  ASSERT_TRUE(WriteDatasetFile(Sample(), path).ok());
  std::string bytes = testing::ReadText(path);
  bytes[bytes.size() - 64 - 1 - 60] ^= 0x01;  // a value of the first feature column
  testing::WriteText(path, bytes);
  auto back = ReadDatasetFile(path);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("checksum mismatch"), std::string::npos)
      << back.status().message();
}

TEST(DatasetFileTest, RejectsOtherFilesTruncationAndFutureVersions) {
  testing::TempDir dir;
  testing::WriteText(dir.File("a.fds"), "not a dataset");
  EXPECT_NE(ReadDatasetFile(dir.File("a.fds")).status().message().find("bad magic"),
            std::string::npos);

  std::string path = dir.File("b.fds");
  ASSERT_TRUE(WriteDatasetFile(Sample(), path).ok());
  std::string bytes = testing::ReadText(path);
  testing::WriteText(path, bytes.substr(0, bytes.size() - 10));
  EXPECT_NE(ReadDatasetFile(path).status().message().find("does not match the header's layout"),
            std::string::npos);

  bytes[8] = 9;  // version 9
  testing::WriteText(path, bytes);
  EXPECT_NE(ReadDatasetFile(path).status().message().find("version 9 is not supported"),
            std::string::npos);
}

TEST(DatasetFileReaderTest, ReadsRowRangesOfAnyColumnAndVerifiesTheWholeFile) {
  testing::TempDir dir;
  const std::string path = dir.File("train.fds");
  ASSERT_TRUE(WriteDatasetFile(Sample(), path).ok());
  auto reader = DatasetFileReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->rows(), 3u);
  EXPECT_EQ((*reader)->schema().features, Sample().features);
  EXPECT_EQ((*reader)->info().content_hash, Sample().ContentHash());
  EXPECT_TRUE((*reader)->Verify().ok());
  std::vector<float> part(2);
  ASSERT_TRUE((*reader)->Read(1, 1, part).ok());  // amount, rows 1..2
  EXPECT_TRUE(std::isnan(part[0]));
  EXPECT_EQ(part[1], 3.0f);
  ASSERT_TRUE((*reader)->Read(0, 0, part).ok());  // the label
  EXPECT_EQ(part, (std::vector<float>{0, 1}));
  // Outside the rows or the columns: an error, not a read past the end.
  EXPECT_FALSE((*reader)->Read(1, 2, part).ok());
  EXPECT_FALSE((*reader)->Read(3, 0, part).ok());
  // A changed byte is found by Verify.
  std::string bytes = testing::ReadText(path);
  bytes[bytes.size() - 64 - 1 - 60] ^= 0x01;
  testing::WriteText(path, bytes);
  auto damaged = DatasetFileReader::Open(path);
  ASSERT_TRUE(damaged.ok());
  EXPECT_NE((*damaged)->Verify().message().find("checksum mismatch"), std::string::npos);
}

TEST(DatasetFileReaderTest, ReadsARowRangeAsADataset) {
  testing::TempDir dir;
  const std::string path = dir.File("train.fds");
  ASSERT_TRUE(WriteDatasetFile(Sample(), path).ok());
  auto reader = DatasetFileReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto rows = ReadDatasetFileRows(**reader, 1, 3);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  std::vector<uint32_t> take = {1, 2};
  EXPECT_EQ(rows->ContentHash(), Sample().Take(take).ContentHash());
  EXPECT_EQ(rows->features, Sample().features);
  EXPECT_EQ(ReadDatasetFileRows(**reader, 3, 3)->rows(), 0u);
  auto outside = ReadDatasetFileRows(**reader, 2, 4);
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.status().message().find("rows [2, 4) are not within its 3 rows"),
            std::string::npos)
      << outside.status().message();
}

TEST(DatasetFileViewTest, DropsColumnsAndRecodesCategoriesAsAnotherFile) {
  testing::TempDir dir;
  Dataset other = Sample();
  other.features[1].categories = {"b", "c"};  // "b" is code 0 here, 1 in Sample()
  ASSERT_TRUE(WriteDatasetFile(Sample(), dir.File("train.fds")).ok());
  ASSERT_TRUE(WriteDatasetFile(other, dir.File("valid.fds")).ok());
  auto train = DatasetFileReader::Open(dir.File("train.fds"));
  auto valid = DatasetFileReader::Open(dir.File("valid.fds"));
  ASSERT_TRUE(train.ok() && valid.ok());
  auto train_view = DatasetFileView::Make(**train, {});
  auto valid_view = DatasetFileView::Make(**valid, {});
  ASSERT_TRUE(train_view.ok() && valid_view.ok());
  ASSERT_TRUE(valid_view->AlignTo(*train_view).ok());
  std::vector<float> merchant(3);
  ASSERT_TRUE(valid_view->ReadFeature(1, 0, merchant).ok());
  EXPECT_EQ(merchant[0], 1.0f);          // "b"
  EXPECT_TRUE(std::isnan(merchant[1]));  // "c": unseen in training, missing
  EXPECT_EQ(valid_view->schema().features[1].categories, Sample().features[1].categories);

  auto dropped = DatasetFileView::Make(**train, {"amount"});
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(dropped->schema().FeatureNames(), std::vector<std::string>{"merchant"});
  ASSERT_TRUE(dropped->ReadFeature(0, 0, merchant).ok());
  EXPECT_EQ(merchant, (std::vector<float>{0, 1, 0}));
  auto unknown = DatasetFileView::Make(**train, {"amuont"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("did you mean 'amount'"), std::string::npos)
      << unknown.status().message();
}

TEST(AlignCategoriesTest, AnotherFilesCategoriesAreRecodedWithTheReferencesDictionary) {
  Dataset reference = Sample();  // merchant: a = 0, b = 1
  Dataset other;
  other.features = {{"amount", ColumnType::kNumeric, {}, {}},
                    {"merchant", ColumnType::kCategorical, {"b", "z", "a"}, {}}};
  other.columns = {{1, 2, 3, 4}, {0, 1, 2, std::nanf("")}};  // b, z (unseen), a, missing
  other.label = {0, 0, 1, 0};
  ASSERT_TRUE(AlignCategories(reference, other, "valid.csv").ok());
  EXPECT_EQ(other.features[1].categories, reference.features[1].categories);
  EXPECT_EQ(other.columns[1][0], 1);             // b
  EXPECT_TRUE(std::isnan(other.columns[1][1]));  // z: never seen in training, missing
  EXPECT_EQ(other.columns[1][2], 0);             // a
  EXPECT_TRUE(std::isnan(other.columns[1][3]));
  // A column the reference reads as text but the other file as numbers: by the numbers' text.
  Dataset codes;
  codes.features = {{"amount", ColumnType::kNumeric, {}, {}},
                    {"merchant", ColumnType::kCategorical, {"7", "3"}, {}}};
  codes.columns = {{1}, {0}};
  codes.label = {0};
  Dataset numeric;
  numeric.features = {{"amount", ColumnType::kNumeric, {}, {}},
                      {"merchant", ColumnType::kNumeric, {}, {}}};
  numeric.columns = {{1, 2}, {3, 5}};
  numeric.label = {0, 1};
  ASSERT_TRUE(AlignCategories(codes, numeric, "valid.csv").ok());
  EXPECT_EQ(numeric.columns[1][0], 1);  // "3"
  EXPECT_TRUE(std::isnan(numeric.columns[1][1]));
  // Text where the reference has numbers is an error naming the file and column.
  Status refused = AlignCategories(numeric, reference, "valid.csv");
  EXPECT_EQ(refused.code(), StatusCode::kOk);  // merchant is categorical in `numeric` now
  Dataset plain = Sample();
  plain.features[1] = {"merchant", ColumnType::kNumeric, {}, {}};
  Status text = AlignCategories(plain, reference, "valid.csv");
  EXPECT_EQ(text.message(),
            "valid.csv: column 'merchant' has text values, but the training data's is numeric");
}

}  // namespace
}  // namespace fraudops
