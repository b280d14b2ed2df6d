// LightGBM's binning: greedy quantile cuts, zero in a bin of its own, the NaN bin, and
// categorical bins by count.
#include "train/lgbm_bins.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "train/lgbm_learner.h"

namespace fraudops {
namespace {

TEST(LgbmBinsTest, FewDistinctValuesCutBetweenNeighbours) {
  // Bounds just above the midpoints; min_data_in_bin merges the rare value 2 into 3's bin.
  std::vector<double> distinct = {1, 2, 3, 4};
  std::vector<int> counts = {5, 1, 5, 5};
  std::vector<double> bounds = GreedyBinBounds(distinct, counts, 255, 16, 3);
  ASSERT_EQ(bounds.size(), 3u);
  EXPECT_EQ(bounds[0], std::nextafter(1.5, INFINITY));
  EXPECT_EQ(bounds[1], std::nextafter(3.5, INFINITY));
  EXPECT_TRUE(std::isinf(bounds[2]));
}

TEST(LgbmBinsTest, ManyDistinctValuesGetQuantileBinsAndHeavyValuesTheirOwn) {
  std::vector<double> distinct;
  std::vector<int> counts;
  for (int i = 0; i < 1000; ++i) {
    distinct.push_back(i);
    counts.push_back(i == 500 ? 5000 : 10);
  }
  std::vector<double> bounds = GreedyBinBounds(distinct, counts, 16, 1000 * 10 - 10 + 5000, 3);
  EXPECT_LE(bounds.size(), 16u);
  // 500 holds a third of the rows: it is alone in its bin.
  size_t bin = 0;
  while (500 > bounds[bin]) ++bin;
  EXPECT_LT(bounds[bin], 501);
}

TEST(LgbmBinsTest, NumericFeatureKeepsZeroAloneAndNanLast) {
  std::vector<float> values;
  for (int i = 0; i < 300; ++i)
    values.push_back(static_cast<float>(i % 30) - 14.5f);  // no exact zero
  for (int i = 0; i < 100; ++i) values.push_back(0.0f);
  for (int i = 0; i < 50; ++i) values.push_back(std::nanf(""));
  BinMapper mapper = BinMapper::Numeric(values, BinOptions{});
  EXPECT_EQ(mapper.missing_type(), MissingType::kNan);
  EXPECT_EQ(mapper.ValueToBin(std::nan("")), static_cast<uint32_t>(mapper.num_bins() - 1));
  uint32_t zero = mapper.ValueToBin(0.0);
  EXPECT_EQ(zero, mapper.default_bin());
  EXPECT_EQ(mapper.UpperBound(zero), kZeroThreshold);
  EXPECT_EQ(mapper.UpperBound(zero - 1), -kZeroThreshold);
  EXPECT_NE(mapper.ValueToBin(-0.5), zero);
  EXPECT_NE(mapper.ValueToBin(0.5), zero);
  EXPECT_EQ(mapper.FeatureInfo(), "[-14.5:14.5]");

  BinOptions zero_missing;
  zero_missing.zero_as_missing = true;
  BinMapper zero_mapper = BinMapper::Numeric(values, zero_missing);
  EXPECT_EQ(zero_mapper.missing_type(), MissingType::kZero);
  EXPECT_EQ(zero_mapper.ValueToBin(std::nan("")), zero_mapper.ValueToBin(0.0));  // NaN is zero

  BinOptions no_missing;
  no_missing.use_missing = false;
  BinMapper plain = BinMapper::Numeric(values, no_missing);
  EXPECT_EQ(plain.missing_type(), MissingType::kNone);
  EXPECT_EQ(plain.ValueToBin(std::nan("")), plain.ValueToBin(0.0));
}

TEST(LgbmBinsTest, ConstantFeatureIsTrivial) {
  // Zero gets a bin of its own, so 3.0 makes two bins; but no cut can leave min_data_in_leaf
  // rows on both sides (feature_pre_filter).
  std::vector<float> values(100, 3.0f);
  BinOptions options;
  options.min_split_data = 20;
  BinMapper mapper = BinMapper::Numeric(values, options);
  EXPECT_TRUE(mapper.trivial());
  EXPECT_EQ(mapper.FeatureInfo(), "none");
}

TEST(LgbmBinsTest, CategoricalBinsFollowCountsAndDropTheRareTail) {
  std::vector<float> values;
  for (int i = 0; i < 500; ++i) values.push_back(7);
  for (int i = 0; i < 300; ++i) values.push_back(2);
  for (int i = 0; i < 195; ++i) values.push_back(4);
  for (int i = 0; i < 2; ++i) values.push_back(9);   // below min_data_in_bin
  for (int i = 0; i < 3; ++i) values.push_back(-1);  // negative: missing
  BinMapper mapper = BinMapper::Categorical(values, BinOptions{});
  EXPECT_TRUE(mapper.categorical());
  EXPECT_EQ(mapper.FeatureInfo(), "-1:7:2:4");
  EXPECT_EQ(mapper.ValueToBin(7), 1u);
  EXPECT_EQ(mapper.ValueToBin(2), 2u);
  EXPECT_EQ(mapper.ValueToBin(9), 0u);
  EXPECT_EQ(mapper.ValueToBin(-3), 0u);
  EXPECT_EQ(mapper.ValueToBin(std::nan("")), 0u);
  EXPECT_EQ(mapper.ValueToBin(1234), 0u);
  // Past int's range (no cast of them): no category, as an unseen one.
  EXPECT_EQ(mapper.ValueToBin(1e30), 0u);
  EXPECT_EQ(mapper.ValueToBin(std::numeric_limits<double>::infinity()), 0u);
  EXPECT_EQ(mapper.ValueToBin(2147483648.0), 0u);
  EXPECT_EQ(mapper.missing_type(), MissingType::kNan);
  values.push_back(1e30f);
  values.push_back(std::numeric_limits<float>::infinity());
  EXPECT_EQ(BinMapper::Categorical(values, BinOptions{}).FeatureInfo(), "-1:7:2:4");
  // Every category kept and nothing missing: LightGBM's missing type None.
  BinMapper full = BinMapper::Categorical(std::vector<float>{0, 0, 0, 1, 1, 1}, BinOptions{});
  EXPECT_EQ(full.missing_type(), MissingType::kNone);
}

TEST(LgbmBinsTest, MappersTravelBetweenWorkersAsBytes) {
  std::vector<float> values;
  for (int i = 0; i < 1000; ++i) values.push_back(static_cast<float>(i % 97) - 40.5f);
  values.push_back(std::nanf(""));
  std::vector<float> categories = {7, 7, 7, 2, 2, 2, 4, 4, 4, -1};
  for (const BinMapper& mapper : {BinMapper::Numeric(values, BinOptions{}),
                                  BinMapper::Categorical(categories, BinOptions{})}) {
    const std::string bytes = mapper.Serialize();
    Result<BinMapper> back = BinMapper::Parse(bytes);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->Serialize(), bytes);
    EXPECT_EQ(back->FeatureInfo(), mapper.FeatureInfo());
    for (float value : {-100.0f, -40.5f, 0.0f, 3.25f, 7.0f, 2.0f, 55.5f, std::nanf("")})
      EXPECT_EQ(back->ValueToBin(value), mapper.ValueToBin(value)) << value;
    // Cut short anywhere, or with bytes left over: an error, never a crash.
    for (size_t cut = 0; cut < bytes.size(); ++cut)
      EXPECT_FALSE(BinMapper::Parse(bytes.substr(0, cut)).ok()) << cut;
    EXPECT_FALSE(BinMapper::Parse(bytes + "x").ok());
  }
}

TEST(LgbmBinsTest, TheBinSampleIsASeededShuffleKeptSparse) {
  // The sparse shuffle draws the rows a full Fisher–Yates shuffle of every row would.
  const uint64_t rows = 5000, size = 700, seed = 61;
  std::vector<uint64_t> all(rows);
  std::iota(all.begin(), all.end(), 0u);
  std::mt19937_64 random(seed);
  for (uint64_t i = 0; i < size; ++i) {
    std::uniform_int_distribution<uint64_t> pick(i, rows - 1);
    std::swap(all[i], all[pick(random)]);
  }
  std::vector<uint64_t> expected(all.begin(), all.begin() + size);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(BinSampleRows(rows, size, seed), expected);
  EXPECT_TRUE(BinSampleRows(rows, rows, seed).empty());  // every row
}

}  // namespace
}  // namespace fraudops
