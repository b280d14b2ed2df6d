#include "data/split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <mutex>
#include <thread>

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

/// The element-wise sum over `parts` threads, each calling Sum the same number of times: what
/// the training collective gives the workers, here between threads of one test.
class ThreadSum {
 public:
  explicit ThreadSum(int parts) : added_(parts), read_(parts, Clear{this}) {}
  Status Sum(std::span<int64_t> values) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (total_.size() < values.size()) total_.resize(values.size(), 0);
      for (size_t i = 0; i < values.size(); ++i) total_[i] += values[i];
    }
    added_.arrive_and_wait();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (size_t i = 0; i < values.size(); ++i) values[i] = total_[i];
    }
    read_.arrive_and_wait();
    return Status::Ok();
  }

 private:
  struct Clear {
    ThreadSum* sum;
    void operator()() noexcept { sum->total_.clear(); }
  };
  std::mutex mutex_;
  std::vector<int64_t> total_;
  std::barrier<> added_;
  std::barrier<Clear> read_;
};

/// SplitPart on `parts` contiguous parts of `d` at once; the training, validation and test
/// rows as row numbers of `d`.
Result<SplitIndices> SplitInParts(const Dataset& d, int parts, const std::string& method,
                                  const SplitRatios& ratios) {
  ThreadSum sum(parts);
  std::vector<Result<SplitIndices>> results(static_cast<size_t>(parts),
                                            Status::Internal("not run"));
  std::vector<size_t> begins;
  std::vector<std::thread> threads;
  for (int p = 0; p < parts; ++p) {
    const size_t begin = d.rows() * static_cast<size_t>(p) / static_cast<size_t>(parts);
    const size_t end = d.rows() * static_cast<size_t>(p + 1) / static_cast<size_t>(parts);
    begins.push_back(begin);
    threads.emplace_back([&, p, begin, end] {
      std::vector<uint32_t> rows;
      for (size_t r = begin; r < end; ++r) rows.push_back(static_cast<uint32_t>(r));
      const Dataset part = d.Take(rows);
      const PartExchange exchange{
          .part = p, .parts = parts, .sum = [&](std::span<int64_t> v) { return sum.Sum(v); }};
      results[static_cast<size_t>(p)] = SplitPart(part, method, ratios, "Time", 42, exchange);
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::string errors;  // every part's, when any fails
  for (const Result<SplitIndices>& result : results) {
    if (!result.ok()) errors += result.status().message() + "\n";
  }
  if (!errors.empty()) return Status::DataError(errors);
  SplitIndices all;
  for (size_t p = 0; p < results.size(); ++p) {
    for (uint32_t r : results[p]->train) all.train.push_back(static_cast<uint32_t>(begins[p] + r));
    for (uint32_t r : results[p]->validation)
      all.validation.push_back(static_cast<uint32_t>(begins[p] + r));
    for (uint32_t r : results[p]->test) all.test.push_back(static_cast<uint32_t>(begins[p] + r));
  }
  return all;
}

TEST(SplitPartTest, ATimeSplitInPartsTakesTheRowsOneTimeSplitOfTheWholeTakes) {
  // Times with many ties (and -0 beside +0), not in file order.
  Dataset d = Make(3000, 17);
  for (size_t r = 0; r < d.rows(); ++r)
    d.columns[0][r] = static_cast<float>((r * 7919) % 97) - 40.0f + (r % 11 == 0 ? -0.0f : 0.0f);
  // The whole: stable by time, the first 80 % to training.
  std::vector<uint32_t> order(d.rows());
  for (size_t r = 0; r < d.rows(); ++r) order[r] = static_cast<uint32_t>(r);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return d.columns[0][a] < d.columns[0][b]; });
  std::vector<uint32_t> expected(order.begin(), order.begin() + 2400);
  std::sort(expected.begin(), expected.end());
  for (int parts : {1, 2, 3, 7}) {
    SCOPED_TRACE(parts);
    auto split = SplitInParts(d, parts, "time", {0.8, 0.2, 0});
    ASSERT_TRUE(split.ok()) << split.status().ToString();
    EXPECT_EQ(split->train, expected);
    EXPECT_EQ(split->train.size() + split->validation.size(), d.rows());
  }
}

TEST(SplitPartTest, AThreeWayTimeSplitInPartsTakesTheRowsTimeSplitTakes) {
  Dataset d = Make(3000, 17);
  for (size_t r = 0; r < d.rows(); ++r)
    d.columns[0][r] = static_cast<float>((r * 7919) % 97) - 40.0f + (r % 11 == 0 ? -0.0f : 0.0f);
  const SplitRatios ratios{0.7, 0.15, 0.15};
  auto whole = TimeSplit(d, ratios, "Time");
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  for (auto* set : {&whole->train, &whole->validation, &whole->test})
    std::sort(set->begin(), set->end());
  for (int parts : {1, 2, 3, 7}) {
    SCOPED_TRACE(parts);
    auto split = SplitInParts(d, parts, "time", ratios);
    ASSERT_TRUE(split.ok()) << split.status().ToString();
    EXPECT_EQ(split->train, whole->train);
    EXPECT_EQ(split->validation, whole->validation);
    EXPECT_EQ(split->test, whole->test);
  }
}

TEST(SplitPartTest, AThreeWayStratifiedSplitInPartsKeepsTheBalanceInEachSet) {
  Dataset d = Make(6000, 40);  // 150 positives
  auto split = SplitInParts(d, 3, "stratified", {0.7, 0.15, 0.15});
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_EQ(split->train.size() + split->validation.size() + split->test.size(), d.rows());
  // Each part rounds its own shares: within a row per part of the whole's.
  EXPECT_NEAR(static_cast<double>(split->test.size()), 900.0, 3.0);
  EXPECT_EQ(Positives(d, split->train), 105u);
  EXPECT_EQ(Positives(d, split->validation) + Positives(d, split->test), 45u);
  EXPECT_NEAR(static_cast<double>(Positives(d, split->test)), 22.5, 1.5);
}

TEST(SplitPartTest, AStratifiedSplitInPartsKeepsTheBalanceOfTheWhole) {
  Dataset d = Make(6000, 40);  // 150 positives
  auto a = SplitInParts(d, 3, "stratified", {0.8, 0.2, 0});
  auto b = SplitInParts(d, 3, "stratified", {0.8, 0.2, 0});
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString();
  EXPECT_EQ(a->validation, b->validation);  // deterministic
  EXPECT_EQ(a->validation.size(), 1200u);
  EXPECT_EQ(Positives(d, a->validation), 30u);
  EXPECT_EQ(Positives(d, a->train), 120u);
}

TEST(SplitPartTest, MissingClassesAndTimesAreClearErrors) {
  Dataset d = Make(300, 1000);  // one positive: the first row
  auto time = SplitInParts(d, 3, "time", {0.8, 0.2, 0});
  ASSERT_FALSE(time.ok());
  EXPECT_NE(time.status().message().find("the training rows of all parts (240) have no positive"),
            std::string::npos)
      << time.status().message();
  Dataset gap = Make(300, 10);
  gap.columns[0][250] = std::nanf("");
  auto missing = SplitInParts(gap, 3, "time", {0.8, 0.2, 0});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("row 51 of part 3 of 3 has no value in the time"),
            std::string::npos)
      << missing.status().message();
}

}  // namespace
}  // namespace fraudops
