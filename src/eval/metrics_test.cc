#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

namespace fraudops {
namespace {

TEST(MetricsTest, RocAucAndAveragePrecisionOnAHandExample) {
  // Scores sorted: 0.9(+) 0.8(-) 0.7(+) 0.6(-) 0.5(-)
  std::vector<float> scores = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
  std::vector<float> labels = {1, 0, 1, 0, 0};
  BinaryMetrics m = ComputeMetrics(scores, labels, 0.75);
  // Pairs (pos, neg) ranked right: 0.9 beats 3, 0.7 beats 2 -> 5/6.
  EXPECT_NEAR(m.roc_auc, 5.0 / 6.0, 1e-12);
  // AP = 0.5 * 1 + 0.5 * 2/3.
  EXPECT_NEAR(m.pr_auc, 0.5 + 1.0 / 3.0, 1e-12);
  EXPECT_EQ(m.confusion.true_positives, 1u);
  EXPECT_EQ(m.confusion.false_positives, 1u);
  EXPECT_EQ(m.confusion.false_negatives, 1u);
  EXPECT_EQ(m.confusion.true_negatives, 2u);
  EXPECT_NEAR(m.precision, 0.5, 1e-12);
  EXPECT_NEAR(m.recall, 0.5, 1e-12);
  EXPECT_NEAR(m.ks, 1.0 - 1.0 / 3.0, 1e-12);
}

TEST(MetricsTest, TiedScoresCountHalf) {
  std::vector<float> scores = {0.5f, 0.5f};
  std::vector<float> labels = {1, 0};
  EXPECT_NEAR(ComputeMetrics(scores, labels, 0.5).roc_auc, 0.5, 1e-12);
}

TEST(MetricsTest, ProbabilityMetrics) {
  std::vector<float> scores = {0.8f, 0.3f};
  std::vector<float> labels = {1, 0};
  BinaryMetrics m = ComputeMetrics(scores, labels, 0.5);
  EXPECT_NEAR(m.log_loss, -(std::log(0.8) + std::log(0.7)) / 2, 1e-6);
  EXPECT_NEAR(m.brier, (0.04 + 0.09) / 2, 1e-6);
}

TEST(MetricsTest, RecallAtFixedFprAndAmountWeightedRecall) {
  std::vector<float> scores, labels, amounts;
  for (int i = 0; i < 1000; ++i) {  // negatives spread over [0, 1)
    scores.push_back(static_cast<float>(i) / 1000.0f);
    labels.push_back(0);
    amounts.push_back(1);
  }
  scores.insert(scores.end(), {0.9995f, 0.995f, 0.5f});
  labels.insert(labels.end(), {1, 1, 1});
  amounts.insert(amounts.end(), {100, 50, 850});
  BinaryMetrics m = ComputeMetrics(scores, labels, 0.99, amounts);
  EXPECT_NEAR(m.recall_at_fpr_0_1pct, 1.0 / 3.0, 1e-12);  // FPR <= 0.001: only 0.9995 ranks above
  EXPECT_NEAR(m.recall_at_fpr_1pct, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(*m.amount_weighted_recall, 150.0 / 1000.0, 1e-12);
  EXPECT_FALSE(ComputeMetrics(scores, labels, 0.99).amount_weighted_recall.has_value());
}

TEST(MetricsTest, ThresholdChoices) {
  std::vector<float> scores = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f};
  std::vector<float> labels = {1, 1, 0, 1, 0, 0};
  // F1 at >=0.8: 2*2/(2+3+0)=0.8; at >=0.6: 2*3/(3+3+1)=0.857 -> 0.6.
  EXPECT_FLOAT_EQ(
      static_cast<float>(ChooseThreshold(scores, labels, ThresholdMethod::kMaxF1, 0, 0.5)), 0.6f);
  EXPECT_FLOAT_EQ(
      static_cast<float>(ChooseThreshold(scores, labels, ThresholdMethod::kTargetFpr, 0.0, 0.5)),
      0.8f);
  EXPECT_FLOAT_EQ(
      static_cast<float>(ChooseThreshold(scores, labels, ThresholdMethod::kTargetFpr, 0.34, 0.5)),
      0.6f);
  EXPECT_DOUBLE_EQ(ChooseThreshold(scores, labels, ThresholdMethod::kFixed, 0, 0.42), 0.42);
  EXPECT_FALSE(ParseThresholdMethod("best").ok());
}

TEST(MetricsTest, ExpectedCalibrationErrorWeighsEachBinsGapByItsRows) {
  // Bin [0, 0.1): mean 0.05, observed 1/2; bin [0.9, 1]: mean 0.95, observed 1.
  std::vector<float> scores = {0.05f, 0.05f, 0.95f, 0.95f};
  std::vector<float> labels = {0, 1, 1, 1};
  const std::vector<ReliabilityBin> bins = ReliabilityBins(scores, labels);
  ASSERT_EQ(bins.size(), 2u);
  EXPECT_DOUBLE_EQ(bins[0].lower, 0);
  EXPECT_DOUBLE_EQ(bins[0].upper, 0.1);
  EXPECT_NEAR(bins[0].mean_predicted, 0.05, 1e-7);
  EXPECT_DOUBLE_EQ(bins[0].observed_rate, 0.5);
  EXPECT_EQ(bins[1].count, 2u);
  EXPECT_NEAR(ExpectedCalibrationError(scores, labels), (2 * 0.45 + 2 * 0.05) / 4, 1e-7);
  EXPECT_NEAR(ComputeMetrics(scores, labels, 0.5).expected_calibration_error, 0.25, 1e-7);
  EXPECT_EQ(ExpectedCalibrationError({}, {}), 0);
  // A score of exactly 1 falls in the last bin.
  EXPECT_EQ(ReliabilityBins(std::vector<float>{1.0f}, std::vector<float>{1})[0].lower, 0.9);
}

TEST(MetricsTest, BootstrapIntervalsHoldTheMetricsAndNarrowWithMoreRows) {
  std::mt19937 random(5);
  std::normal_distribution<double> noise(0, 1);
  auto make = [&](size_t rows, std::vector<float>& scores, std::vector<float>& labels) {
    for (size_t i = 0; i < rows; ++i) {
      const bool fraud = i % 20 == 0;
      labels.push_back(fraud);
      scores.push_back(static_cast<float>(1 / (1 + std::exp(-(noise(random) + 2.5 * fraud - 2)))));
    }
  };
  std::vector<float> small_scores, small_labels, large_scores, large_labels;
  make(2000, small_scores, small_labels);
  make(20000, large_scores, large_labels);
  const MetricIntervals small = ComputeMetricIntervals(small_scores, small_labels, 0.5, 300, 1);
  const MetricIntervals large = ComputeMetricIntervals(large_scores, large_labels, 0.5, 300, 1);
  const BinaryMetrics m = ComputeMetrics(large_scores, large_labels, 0.5);
  const std::map<std::string, double> point = {{"roc_auc", m.roc_auc},
                                               {"pr_auc", m.pr_auc},
                                               {"precision", m.precision},
                                               {"recall", m.recall},
                                               {"f1", m.f1}};
  ASSERT_EQ(large.intervals.size(), 5u);
  for (const auto& [name, value] : point) {
    const auto [low, high] = large.intervals.at(name);
    EXPECT_LT(low, value) << name;
    EXPECT_GT(high, value) << name;
    const auto [small_low, small_high] = small.intervals.at(name);
    EXPECT_GT(small_high - small_low, 1.8 * (high - low))
        << name << ": 10x the rows, ~1/3 the width";
  }
  // Deterministic by seed; the JSON lists every interval.
  EXPECT_EQ(ComputeMetricIntervals(small_scores, small_labels, 0.5, 50, 9).ToJson(),
            ComputeMetricIntervals(small_scores, small_labels, 0.5, 50, 9).ToJson());
  EXPECT_EQ(large.ToJson()["roc_auc"].size(), 2u);
  EXPECT_EQ(large.ToJson()["resamples"], 300);
}

TEST(MetricsTest, CurvesHaveAllParts) {
  std::vector<float> scores = {0.9f, 0.1f, 0.8f, 0.3f};
  std::vector<float> labels = {1, 0, 1, 0};
  nlohmann::json curves = ComputeCurves(scores, labels);
  EXPECT_EQ(curves["roc"]["fpr"].front(), 0.0);
  EXPECT_EQ(curves["roc"]["tpr"].back(), 1.0);
  EXPECT_EQ(curves["score_histogram"]["edges"].size(), 51u);
  EXPECT_FALSE(curves["calibration"].empty());
}

}  // namespace
}  // namespace fraudops
