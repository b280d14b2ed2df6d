#pragma once
/// The self-contained evaluation report (report.html): summary, metrics of validation and
/// test side by side, the gate verdict, and SVG charts — ROC, precision-recall, score
/// histogram per class, feature importance. No scripts, no external files.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fraudops {

struct ReportInput {
  std::string title;
  std::string execution_id;
  std::string algorithm;
  nlohmann::json validation_metrics;  ///< BinaryMetrics::ToJson()
  nlohmann::json test_metrics;
  nlohmann::json test_curves;  ///< ComputeCurves() of the test split
  /// metrics.json's "calibration" (evaluate.calibration); null: the scores are not calibrated.
  nlohmann::json calibration;
  std::vector<std::pair<std::string, double>> feature_importance;
  bool gate_passed = false;
  std::vector<std::string> gate_reasons;
  /// rows and positives per split, data hash, and `data_validation` (warnings, excluded)
  nlohmann::json data_summary;
  /// The bias step's evaluation/bias.json (docs/bias.md); null: no bias step.
  nlohmann::json bias;
  /// The bias step's evaluation/mitigation.json (bias.mitigation); null: none.
  nlohmann::json mitigation;
  /// The explain step's evaluation/explanations.json (docs/explanations.md); null: none.
  nlohmann::json explanations;
};

std::string RenderReport(const ReportInput& input);

/// `text` with <, >, & and " escaped for HTML and SVG.
std::string HtmlEscape(std::string_view text);

/// SVG pieces, exposed for tests.
std::string SvgRocChart(const nlohmann::json& curves);
std::string SvgPrChart(const nlohmann::json& curves, double positive_rate);
std::string SvgScoreHistogram(const nlohmann::json& curves);
/// The reliability diagram of curves' "calibration" bins (and "calibration_uncalibrated").
std::string SvgReliability(const nlohmann::json& curves);
std::string SvgImportanceChart(const std::vector<std::pair<std::string, double>>& importance);
/// Explanations (GlobalExplanation::ToJson's "summary" and "partial_dependence" entries).
std::string SvgShapSummary(const nlohmann::json& summary);
std::string SvgDependence(const nlohmann::json& summary, size_t k);
std::string SvgPartialDependence(const nlohmann::json& entry);

}  // namespace fraudops
