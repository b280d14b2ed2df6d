#include "core/status.h"

#include <gtest/gtest.h>

namespace fraudops {
namespace {

Result<int> Half(int value) {
  if (value % 2 != 0) return Status::InvalidArgument(std::to_string(value) + " is odd");
  return value / 2;
}

Result<int> Quarter(int value) {
  FOPS_ASSIGN_OR_RETURN(int half, Half(value));
  return Half(half);
}

TEST(StatusTest, OkIsCheapAndEmpty) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.ToString(), "OK");
  EXPECT_EQ(ok.message(), "");
}

TEST(StatusTest, ErrorCarriesCodeMessageAndContext) {
  Status error = Status::DataError("bad row").WithContext("file.csv");
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.code(), StatusCode::kDataError);
  EXPECT_EQ(error.message(), "file.csv: bad row");
  Status copy = error;
  EXPECT_EQ(copy.ToString(), "DataError: file.csv: bad row");
}

TEST(ResultTest, PropagatesErrorsThroughMacros) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().message(), "3 is odd");
}

}  // namespace
}  // namespace fraudops
