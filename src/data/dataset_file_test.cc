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
