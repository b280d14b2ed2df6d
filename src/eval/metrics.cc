#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace fraudops {

namespace {

/// One point per distinct score, from the highest: cumulative counts at "score >= s".
struct Step {
  double score;
  double true_positives;
  double false_positives;
};

std::vector<Step> Sweep(std::span<const float> scores, std::span<const float> labels) {
  std::vector<uint32_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
  std::vector<Step> steps;
  double tp = 0, fp = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    if (labels[order[i]] > 0.5f)
      tp += 1;
    else
      fp += 1;
    if (i + 1 == order.size() || scores[order[i + 1]] != scores[order[i]]) {
      steps.push_back({scores[order[i]], tp, fp});
    }
  }
  return steps;
}

}  // namespace

std::vector<std::string> MetricNames() {
  return {"roc_auc",
          "pr_auc",
          "log_loss",
          "brier",
          "expected_calibration_error",
          "ks",
          "recall_at_fpr_0_1pct",
          "recall_at_fpr_1pct",
          "threshold",
          "precision",
          "recall",
          "f1",
          "amount_weighted_recall"};
}

nlohmann::json BinaryMetrics::ToJson() const {
  nlohmann::json out = {
      {"rows", rows},
      {"positives", positives},
      {"roc_auc", roc_auc},
      {"pr_auc", pr_auc},
      {"log_loss", log_loss},
      {"brier", brier},
      {"expected_calibration_error", expected_calibration_error},
      {"ks", ks},
      {"recall_at_fpr_0_1pct", recall_at_fpr_0_1pct},
      {"recall_at_fpr_1pct", recall_at_fpr_1pct},
      {"threshold", threshold},
      {"precision", precision},
      {"recall", recall},
      {"f1", f1},
      {"confusion",
       {{"tp", confusion.true_positives},
        {"fp", confusion.false_positives},
        {"tn", confusion.true_negatives},
        {"fn", confusion.false_negatives}}},
  };
  out["amount_weighted_recall"] =
      amount_weighted_recall ? nlohmann::json(*amount_weighted_recall) : nlohmann::json(nullptr);
  return out;
}

BinaryMetrics ComputeMetrics(std::span<const float> scores, std::span<const float> labels,
                             double threshold, std::span<const float> amounts) {
  BinaryMetrics m;
  m.rows = scores.size();
  m.threshold = threshold;
  double positives = 0, log_loss = 0, brier = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    double y = labels[i] > 0.5f ? 1 : 0;
    double p = std::clamp(static_cast<double>(scores[i]), 1e-15, 1 - 1e-15);
    positives += y;
    log_loss -= y * std::log(p) + (1 - y) * std::log(1 - p);
    brier += (scores[i] - y) * (scores[i] - y);
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  m.positives = static_cast<size_t>(positives);
  if (!scores.empty()) {
    m.log_loss = log_loss / static_cast<double>(scores.size());
    m.brier = brier / static_cast<double>(scores.size());
  }
  m.expected_calibration_error = ExpectedCalibrationError(scores, labels);

  if (positives > 0 && negatives > 0) {
    double auc = 0, ap = 0, previous_tpr = 0, previous_fpr = 0;
    for (const Step& step : Sweep(scores, labels)) {
      double tpr = step.true_positives / positives, fpr = step.false_positives / negatives;
      auc += (fpr - previous_fpr) * (tpr + previous_tpr) / 2;  // trapezoid
      ap +=
          (tpr - previous_tpr) * step.true_positives / (step.true_positives + step.false_positives);
      m.ks = std::max(m.ks, tpr - fpr);
      if (fpr <= 0.001) m.recall_at_fpr_0_1pct = std::max(m.recall_at_fpr_0_1pct, tpr);
      if (fpr <= 0.01) m.recall_at_fpr_1pct = std::max(m.recall_at_fpr_1pct, tpr);
      previous_tpr = tpr;
      previous_fpr = fpr;
    }
    m.roc_auc = auc;
    m.pr_auc = ap;
  }

  double caught_amount = 0, fraud_amount = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    bool fraud = labels[i] > 0.5f, flagged = scores[i] >= threshold;
    if (fraud && flagged)
      ++m.confusion.true_positives;
    else if (fraud)
      ++m.confusion.false_negatives;
    else if (flagged)
      ++m.confusion.false_positives;
    else
      ++m.confusion.true_negatives;
    if (fraud && !amounts.empty() && !std::isnan(amounts[i])) {
      fraud_amount += amounts[i];
      if (flagged) caught_amount += amounts[i];
    }
  }
  const auto& c = m.confusion;
  double tp = static_cast<double>(c.true_positives);
  m.precision = tp + static_cast<double>(c.false_positives) > 0
                    ? tp / (tp + static_cast<double>(c.false_positives))
                    : 0;
  m.recall = positives > 0 ? tp / positives : 0;
  m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0;
  if (!amounts.empty())
    m.amount_weighted_recall = fraud_amount > 0 ? caught_amount / fraud_amount : 0;
  return m;
}

Result<ThresholdMethod> ParseThresholdMethod(const std::string& name) {
  if (name == "max_f1") return ThresholdMethod::kMaxF1;
  if (name == "target_fpr") return ThresholdMethod::kTargetFpr;
  if (name == "fixed") return ThresholdMethod::kFixed;
  return Status::InvalidArgument("evaluate.threshold_method = '" + name +
                                 "' is not valid; accepted: max_f1, target_fpr, fixed");
}

double ChooseThreshold(std::span<const float> scores, std::span<const float> labels,
                       ThresholdMethod method, double target_fpr, double fixed) {
  if (method == ThresholdMethod::kFixed) return fixed;
  double positives = 0;
  for (float y : labels) positives += y > 0.5f;
  const double negatives = static_cast<double>(labels.size()) - positives;
  if (positives == 0 || negatives == 0) return fixed;
  double best_threshold = fixed, best_f1 = -1;
  for (const Step& step : Sweep(scores, labels)) {
    if (method == ThresholdMethod::kMaxF1) {
      double f1 =
          2 * step.true_positives / (step.true_positives + positives + step.false_positives);
      if (f1 > best_f1) {
        best_f1 = f1;
        best_threshold = step.score;
      }
    } else if (step.false_positives / negatives <= target_fpr) {
      best_threshold = step.score;  // descending scores: the last one that fits is lowest
    } else {
      break;
    }
  }
  return best_threshold;
}

std::vector<ReliabilityBin> ReliabilityBins(std::span<const float> scores,
                                            std::span<const float> labels, int bins) {
  std::vector<ReliabilityBin> all(static_cast<size_t>(bins));
  for (size_t i = 0; i < scores.size(); ++i) {
    const double s = std::clamp(static_cast<double>(scores[i]), 0.0, 1.0);
    ReliabilityBin& b = all[static_cast<size_t>(std::min(bins - 1, static_cast<int>(s * bins)))];
    b.mean_predicted += s;
    b.observed_rate += labels[i] > 0.5f;
    ++b.count;
  }
  std::vector<ReliabilityBin> out;
  for (size_t k = 0; k < all.size(); ++k) {
    ReliabilityBin b = all[k];
    if (b.count == 0) continue;
    b.lower = static_cast<double>(k) / bins;
    b.upper = static_cast<double>(k + 1) / bins;
    b.mean_predicted /= static_cast<double>(b.count);
    b.observed_rate /= static_cast<double>(b.count);
    out.push_back(b);
  }
  return out;
}

double ExpectedCalibrationError(std::span<const float> scores, std::span<const float> labels,
                                int bins) {
  if (scores.empty()) return 0;
  double error = 0;
  for (const ReliabilityBin& b : ReliabilityBins(scores, labels, bins))
    error += static_cast<double>(b.count) * std::abs(b.mean_predicted - b.observed_rate);
  return error / static_cast<double>(scores.size());
}

nlohmann::json MetricIntervals::ToJson() const {
  nlohmann::json out = {{"method", "poisson bootstrap, percentile"},
                        {"resamples", resamples},
                        {"confidence", confidence}};
  for (const auto& [name, bounds] : intervals) out[name] = {bounds[0], bounds[1]};
  return out;
}

MetricIntervals ComputeMetricIntervals(std::span<const float> scores, std::span<const float> labels,
                                       double threshold, int resamples, uint64_t seed,
                                       double confidence) {
  MetricIntervals out;
  out.resamples = resamples;
  out.confidence = confidence;
  const size_t n = scores.size();
  if (n == 0 || resamples <= 0) return out;
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
  const char* names[] = {"roc_auc", "pr_auc", "precision", "recall", "f1"};
  std::vector<std::vector<double>> values(5);
  std::mt19937_64 random(seed);
  std::poisson_distribution<int> draws(1.0);
  std::vector<double> weight(n);
  for (int b = 0; b < resamples; ++b) {
    double positives = 0, negatives = 0;
    for (size_t i = 0; i < n; ++i) {  // in row order: the draw of row i does not depend on sorting
      weight[i] = draws(random);
      (labels[i] > 0.5f ? positives : negatives) += weight[i];
    }
    if (positives == 0 || negatives == 0) continue;
    double tp = 0, fp = 0, auc = 0, ap = 0, tp_at = 0, fp_at = 0;
    for (size_t k = 0; k < n;) {  // one group of tied scores at a time
      double group_tp = 0, group_fp = 0;
      const float score = scores[order[k]];
      for (; k < n && scores[order[k]] == score; ++k) {
        const uint32_t row = order[k];
        (labels[row] > 0.5f ? group_tp : group_fp) += weight[row];
      }
      auc += group_fp * (tp + group_tp / 2);
      tp += group_tp;
      fp += group_fp;
      if (tp + fp > 0) ap += group_tp / positives * tp / (tp + fp);
      if (score >= threshold) {
        tp_at = tp;
        fp_at = fp;
      }
    }
    const double precision = tp_at + fp_at > 0 ? tp_at / (tp_at + fp_at) : 0;
    const double recall = tp_at / positives;
    values[0].push_back(auc / (positives * negatives));
    values[1].push_back(ap);
    values[2].push_back(precision);
    values[3].push_back(recall);
    values[4].push_back(precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0);
  }
  for (size_t m = 0; m < values.size(); ++m) {
    std::vector<double>& v = values[m];
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
      const double position = q * static_cast<double>(v.size() - 1);
      const size_t low = static_cast<size_t>(position);
      const size_t high = std::min(low + 1, v.size() - 1);
      return v[low] + (position - static_cast<double>(low)) * (v[high] - v[low]);
    };
    out.intervals[names[m]] = {at((1 - confidence) / 2), at((1 + confidence) / 2)};
  }
  return out;
}

nlohmann::json ComputeCurves(std::span<const float> scores, std::span<const float> labels) {
  double positives = 0;
  for (float y : labels) positives += y > 0.5f;
  const double negatives = static_cast<double>(labels.size()) - positives;
  nlohmann::json curves;
  std::vector<Step> steps = Sweep(scores, labels);
  const size_t stride = std::max<size_t>(1, steps.size() / 500);
  std::vector<double> fpr = {0}, tpr = {0}, thresholds = {1}, recall, precision;
  for (size_t i = 0; i < steps.size(); ++i) {
    // Keep every stride-th point, the last, and every point where recall changes at low
    // FPR (the part of the ROC curve that matters for fraud).
    const Step& s = steps[i];
    double f = negatives > 0 ? s.false_positives / negatives : 0;
    bool keep = i % stride == 0 || i + 1 == steps.size() || f < 0.01;
    if (!keep) continue;
    fpr.push_back(f);
    tpr.push_back(positives > 0 ? s.true_positives / positives : 0);
    thresholds.push_back(s.score);
    recall.push_back(tpr.back());
    precision.push_back(s.true_positives / (s.true_positives + s.false_positives));
  }
  curves["roc"] = {{"fpr", fpr}, {"tpr", tpr}, {"threshold", thresholds}};
  curves["pr"] = {{"recall", recall}, {"precision", precision}};

  constexpr int kBins = 50;
  std::vector<size_t> positive_counts(kBins), negative_counts(kBins);
  for (size_t i = 0; i < scores.size(); ++i) {
    const double s = std::clamp(static_cast<double>(scores[i]), 0.0, 1.0);
    const int bin = std::min(kBins - 1, static_cast<int>(s * kBins));
    (labels[i] > 0.5f ? positive_counts : negative_counts)[static_cast<size_t>(bin)]++;
  }
  std::vector<double> edges;
  for (int i = 0; i <= kBins; ++i) edges.push_back(static_cast<double>(i) / kBins);
  curves["score_histogram"] = {
      {"edges", edges}, {"positive", positive_counts}, {"negative", negative_counts}};
  nlohmann::json calibration = nlohmann::json::array();
  for (const ReliabilityBin& b : ReliabilityBins(scores, labels)) {
    calibration.push_back({{"lower", b.lower},
                           {"upper", b.upper},
                           {"mean_predicted", b.mean_predicted},
                           {"observed_rate", b.observed_rate},
                           {"count", b.count}});
  }
  curves["calibration"] = calibration;
  return curves;
}

}  // namespace fraudops
