#pragma once
/// Fraud-detection metrics for binary scores: ranking quality (ROC AUC, PR AUC as average
/// precision, KS, recall at a fixed false-positive rate), probability quality (log loss,
/// Brier), and decisions at a threshold (precision, recall, F1, confusion matrix, and the
/// share of fraud value caught). Ties in scores are handled exactly (no arbitrary order).

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace fraudops {

struct Confusion {
  size_t true_positives = 0, false_positives = 0, true_negatives = 0, false_negatives = 0;
};

struct BinaryMetrics {
  size_t rows = 0, positives = 0;
  double roc_auc = 0, pr_auc = 0, log_loss = 0, brier = 0, ks = 0;
  double recall_at_fpr_0_1pct = 0, recall_at_fpr_1pct = 0;
  double expected_calibration_error = 0;  ///< ExpectedCalibrationError, 10 bins
  double threshold = 0.5;
  double precision = 0, recall = 0, f1 = 0;
  Confusion confusion;
  /// Fraud amount caught / all fraud amount; absent without an amount column.
  std::optional<double> amount_weighted_recall;

  /// Flat JSON: every metric by its name, plus "confusion" {tp, fp, tn, fn}.
  nlohmann::json ToJson() const;
};

/// The names ToJson gives the scalar metrics, for gates and messages.
std::vector<std::string> MetricNames();

/// `amounts` may be empty. Scores are probabilities of the positive class.
BinaryMetrics ComputeMetrics(std::span<const float> scores, std::span<const float> labels,
                             double threshold, std::span<const float> amounts = {});

enum class ThresholdMethod { kMaxF1, kTargetFpr, kFixed };
Result<ThresholdMethod> ParseThresholdMethod(const std::string& name);

/// Chooses the decision threshold on (validation) scores: the one with the best F1; the
/// lowest whose false-positive rate is at most `target_fpr`; or `fixed`.
double ChooseThreshold(std::span<const float> scores, std::span<const float> labels,
                       ThresholdMethod method, double target_fpr, double fixed);

/// The reliability diagram's bins: `bins` equal-width bins of the score on [0, 1]; a bin
/// without rows is left out.
struct ReliabilityBin {
  double lower = 0, upper = 0;
  double mean_predicted = 0, observed_rate = 0;
  size_t count = 0;
};
std::vector<ReliabilityBin> ReliabilityBins(std::span<const float> scores,
                                            std::span<const float> labels, int bins = 10);
/// Expected calibration error: the sum over ReliabilityBins of (count / rows) ·
/// |mean_predicted − observed_rate|; 0 without rows.
double ExpectedCalibrationError(std::span<const float> scores, std::span<const float> labels,
                                int bins = 10);

/// Bootstrap percentile intervals of the ranking and decision metrics: `resamples` Poisson
/// bootstrap resamples of the rows (each row drawn Poisson(1) times, from `seed`), each
/// metric computed on every resample with ComputeMetrics' definitions (ties exact).
struct MetricIntervals {
  int resamples = 0;
  double confidence = 0.95;
  /// roc_auc, pr_auc, precision, recall, f1 (at `threshold`) → [low, high]
  std::map<std::string, std::array<double, 2>> intervals;
  nlohmann::json ToJson() const;
};
MetricIntervals ComputeMetricIntervals(std::span<const float> scores, std::span<const float> labels,
                                       double threshold, int resamples, uint64_t seed,
                                       double confidence = 0.95);

/// Curves for charts and curves.json: ROC and PR (at most ~500 points each), score
/// histograms per class (50 bins on [0, 1]), calibration (10 bins).
nlohmann::json ComputeCurves(std::span<const float> scores, std::span<const float> labels);

}  // namespace fraudops
