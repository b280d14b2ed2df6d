#include "eval/ab_stats.h"

#include <gtest/gtest.h>

#include <vector>

namespace fraudops {
namespace {

// Hand-worked values (and the textbook quantiles); the report as a whole is checked against
// an independent Python reference in tests/monitor_test.cc.
TEST(AbStatsTest, NormalDistribution) {
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963984540054, 1e-9);
  EXPECT_NEAR(NormalQuantile(0.8), 0.8416212335729143, 1e-9);
  EXPECT_NEAR(NormalCdf(1.959963984540054), 0.975, 1e-12);
  EXPECT_NEAR(NormalQuantile(0.5), 0, 1e-12);
}

TEST(AbStatsTest, WilsonInterval) {
  // 10 of 100 at 95 %: center (0.1 + z²/200) / (1 + z²/100), half-width as in Wilson (1927).
  const Interval ci = WilsonInterval(10, 100);
  EXPECT_NEAR(ci.low, 0.0552291370606751, 1e-12);
  EXPECT_NEAR(ci.high, 0.17436566150491348, 1e-12);
  const Interval none = WilsonInterval(0, 0);
  EXPECT_EQ(none.low, 0);
  EXPECT_EQ(none.high, 1);
  EXPECT_NEAR(WilsonInterval(0, 50).low, 0, 1e-15);
}

TEST(AbStatsTest, TwoProportionZTest) {
  // 60/1000 against 40/1000: pooled 0.05, se sqrt(0.05 · 0.95 · 0.002) = 0.0097468.
  const ZTest test = TwoProportionZTest(60, 1000, 40, 1000);
  EXPECT_NEAR(test.difference, 0.02, 1e-15);
  EXPECT_NEAR(test.z, 2.0519567041703084, 1e-12);
  EXPECT_NEAR(test.p_value, 0.040173, 1e-6);
  EXPECT_EQ(TwoProportionZTest(0, 10, 0, 10).p_value, 1);
  EXPECT_EQ(TwoProportionZTest(1, 0, 0, 10).p_value, 1);
}

TEST(AbStatsTest, DeLongAucOfASmallSample) {
  // Positives 0.9, 0.8, 0.4; negatives 0.7, 0.4, 0.1: pairs won 3+3+1.5 of 9, AUC 0.8333.
  // V10 = (1, 1, 1/2), V01 = (2/3, 5/6, 1): sample variances 1/12 and 1/36, DeLong's
  // (1/12)/3 + (1/36)/3 = 1/27.
  const std::vector<double> scores = {0.9, 0.8, 0.4, 0.7, 0.4, 0.1};
  const std::vector<int> labels = {1, 1, 1, 0, 0, 0};
  const AucEstimate auc = DeLongAuc(scores, labels);
  EXPECT_NEAR(auc.auc, 7.5 / 9, 1e-12);
  EXPECT_NEAR(auc.variance, 1.0 / 27, 1e-12);
  EXPECT_EQ(auc.interval.high, 1.0);  // clipped
  const AucEstimate one_class = DeLongAuc(std::vector<double>{0.1, 0.2}, std::vector<int>{0, 0});
  EXPECT_EQ(one_class.auc, 0.5);
  EXPECT_EQ(AucDifferenceTest(auc, one_class).p_value, 1);
}

TEST(AbStatsTest, MinimumSampleSize) {
  // From 5 % to 6 % at alpha 0.05, power 0.8: the usual 8,158 per group.
  EXPECT_EQ(MinimumSampleSize(0.05, 0.01), 8158u);
  EXPECT_EQ(MinimumSampleSize(0.05, 0), 0u);
  EXPECT_EQ(MinimumSampleSize(0.995, 0.01), 0u);
}

}  // namespace
}  // namespace fraudops
