#include "data/split.h"

#include <gtest/gtest.h>

namespace fraudops {
namespace {

Dataset Make(size_t rows, size_t every_positive) {
  Dataset d;
  d.features = {{"Time", ColumnType::kNumeric, {}, {}}};
  d.columns.resize(1);
  for (size_t r = 0; r < rows; ++r) {
    d.columns[0].push_back(static_cast<float>(rows - r));  // time runs backwards in file order
    d.label.push_back(r % every_positive == 0 ? 1.0f : 0.0f);
  }
  return d;
}

size_t Positives(const Dataset& d, const std::vector<uint32_t>& rows) {
  size_t n = 0;
  for (uint32_t r : rows) n += d.label[r] > 0.5f;
  return n;
}

TEST(SplitTest, StratifiedKeepsTheClassBalanceAndIsDeterministic) {
  Dataset d = Make(10000, 50);  // 200 positives
  auto a = StratifiedSplit(d, {0.7, 0.15, 0.15}, 42);
  auto b = StratifiedSplit(d, {0.7, 0.15, 0.15}, 42);
  auto c = StratifiedSplit(d, {0.7, 0.15, 0.15}, 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->train.size() + a->validation.size() + a->test.size(), 10000u);
  EXPECT_EQ(Positives(d, a->train), 140u);
  EXPECT_EQ(Positives(d, a->validation), 30u);
  EXPECT_EQ(Positives(d, a->test), 30u);
  EXPECT_EQ(a->test, b->test);
  EXPECT_NE(a->test, c->test);
}

TEST(SplitTest, TimeSplitTrainsOnThePastAndTestsOnTheFuture) {
  Dataset d = Make(1000, 10);
  auto split = TimeSplit(d, {0.6, 0.2, 0.2}, "Time");
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  float latest_train = 0, earliest_test = 1e9f;
  for (uint32_t r : split->train) latest_train = std::max(latest_train, d.columns[0][r]);
  for (uint32_t r : split->test) earliest_test = std::min(earliest_test, d.columns[0][r]);
  EXPECT_LT(latest_train, earliest_test);
  EXPECT_EQ(split->train.size(), 600u);
}

TEST(SplitTest, TimeSplitNeedsATimeColumn) {
  Dataset d = Make(100, 10);
  auto split = TimeSplit(d, {0.6, 0.2, 0.2}, "Tim");
  ASSERT_FALSE(split.ok());
  EXPECT_NE(split.status().message().find("'Tim' is not a feature column (did you mean 'Time'?)"),
            std::string::npos);
}

TEST(SplitTest, ASplitWithoutPositivesFailsClearly) {
  Dataset d = Make(1000, 500);  // 2 positives: one part must go without
  auto split = StratifiedSplit(d, {0.7, 0.15, 0.15}, 1);
  ASSERT_FALSE(split.ok());
  EXPECT_EQ(split.status().code(), StatusCode::kDataError);
  EXPECT_NE(split.status().message().find("split has"), std::string::npos);
  EXPECT_NE(split.status().message().find("no positive (fraud) row"), std::string::npos);
  EXPECT_NE(split.status().message().find("of which 2 positive"), std::string::npos)
      << split.status().message();
}

}  // namespace
}  // namespace fraudops
