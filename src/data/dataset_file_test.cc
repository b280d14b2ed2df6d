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

}  // namespace
}  // namespace fraudops
