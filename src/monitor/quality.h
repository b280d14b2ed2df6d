#pragma once
/// Model quality from delayed labels (docs/monitoring.md): labels — from the feedback route
/// (the metadata store's feedback table) or a labels file — joined by request id with the
/// predictions captured in the quality window, which ends `label_maturity` before now so
/// that chargebacks have had time to arrive. Only labels known by now (label_time <= now)
/// count, so a past window is judged as it could have been then. Metrics are the
/// evaluation module's (ROC AUC, PR AUC as average precision, recall and precision at the
/// version's decision threshold) plus the alert rate: the share of all captured predictions
/// in the window that were answered positive.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "monitor/capture_scan.h"
#include "store/serving_store.h"

namespace fraudops {

/// A labels file: CSV with a header naming `request_id`, `label` (0/1, true/false) and
/// optionally `label_time` (ISO 8601; default: always known). Errors name file:line:column.
Result<LabelMap> ReadLabelsCsv(const std::string& path, const std::string& now);
/// The same from text (`source` names it in errors).
Result<LabelMap> ParseLabelsCsv(std::string_view text, const std::string& source,
                                const std::string& now);
/// Adds feedback records known by `now` (a file's label wins over feedback for the same id).
void AddFeedback(const std::vector<FeedbackRecord>& feedback, const std::string& now,
                 LabelMap* labels);

struct QualityThresholds {
  std::map<std::string, double> minimums;  ///< roc_auc, pr_auc, recall, precision
  double max_alert_rate = 0;               ///< 0: off
  uint64_t min_labels = 100;               ///< fewer labelled predictions: not judged
};

struct QualityViolation {
  std::string metric;
  double value = 0, threshold = 0;
  std::string comparison;  ///< "<" (below a minimum) or ">" (above a maximum)
};

struct QualityResult {
  TimeWindow window;
  uint64_t predictions = 0;  ///< captured in the window
  uint64_t labelled = 0, positives = 0;
  double alert_rate = 0;
  bool judged = false;
  nlohmann::json metrics = nlohmann::json::object();  ///< roc_auc, pr_auc, recall, precision, …
  std::vector<QualityViolation> violations;
  nlohmann::json ToJson() const;
};

QualityResult ComputeQuality(const ScanResult& scan, const TimeWindow& window, double threshold,
                             const QualityThresholds& thresholds);

}  // namespace fraudops
