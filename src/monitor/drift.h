#pragma once
/// Drift: how far live traffic's distributions have moved from the training baseline
/// (baseline.json, docs/formats/bundle.md), per feature and for the score (docs/monitoring.md).
///
/// Live values are counted into the baseline's own bins — a numeric value falls in bin k =
/// the number of cuts <= value, missing values in a bin of their own; a category in its
/// training bin, an unseen category in an "other" bin — so a window of any size is a fixed
/// array of counts, merged across threads and files. From the counts:
///   PSI = sum over bins (a - e) * ln(a / e), shares a (live) and e (baseline), each floored
///         at kPsiFloor so an empty bin costs a large but finite amount;
///   KS  = the largest gap between the two cumulative distributions of present values at
///         the bin edges (numeric features and the score; categories have no order).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace fraudops {

/// The share an empty bin is given in PSI.
constexpr double kPsiFloor = 1e-4;

/// One column of the baseline: numeric (cuts) or categorical (categories).
struct BaselineColumn {
  std::string name;
  bool categorical = false;
  std::vector<double> cuts;  ///< numeric: inner bin edges, rising
  std::vector<std::string> categories;
  std::unordered_map<std::string, uint32_t> category_index;
  /// Expected counts per bin: numeric cuts.size() + 1 bins, categorical one per category
  /// then "other" (0 in training); then missing last.
  std::vector<double> expected;

  size_t bins() const { return expected.size(); }  ///< including missing
  size_t missing_bin() const { return expected.size() - 1; }
  /// The bin of a numeric value (NaN: missing).
  size_t NumericBin(double value) const;
  /// The bin of a category name (unseen: other).
  size_t CategoryBin(std::string_view name) const;
};

/// baseline.json read for monitoring.
struct DriftBaseline {
  std::vector<BaselineColumn> features;
  BaselineColumn score;
  uint64_t rows = 0;
  std::unordered_map<std::string, uint32_t> feature_index;

  /// Errors name the file and the JSON pointer.
  static Result<DriftBaseline> FromJson(const nlohmann::json& json, const std::string& source);
};

/// Live counts over the baseline's bins: features[f][bin], score[bin].
struct DriftCounts {
  std::vector<std::vector<uint64_t>> features;
  std::vector<uint64_t> score;
  uint64_t rows = 0;

  explicit DriftCounts(const DriftBaseline& baseline);
  DriftCounts() = default;
  void Merge(const DriftCounts& other);  ///< counts over the same baseline
};

/// Thresholds, with per-feature overrides (monitor.psi_thresholds / ks_thresholds; the
/// score is named "$score").
struct DriftThresholds {
  double psi = 0.2;
  double ks = 0.1;
  std::map<std::string, double> psi_by_feature;
  std::map<std::string, double> ks_by_feature;
  uint64_t min_rows = 1000;  ///< fewer live rows: not judged

  double PsiFor(const std::string& name) const;
  double KsFor(const std::string& name) const;
};

struct ColumnDrift {
  std::string name;
  bool is_score = false;
  bool categorical = false;
  double psi = 0;
  std::optional<double> ks;  ///< none for categorical columns
  double psi_threshold = 0, ks_threshold = 0;
  double expected_missing = 0, actual_missing = 0;     ///< shares
  std::vector<double> expected_shares, actual_shares;  ///< per bin, missing last
  std::vector<std::string> bin_labels;
  bool psi_violated = false, ks_violated = false;
  bool violated() const { return psi_violated || ks_violated; }
  nlohmann::json ToJson() const;
};

struct DriftResult {
  uint64_t rows = 0;
  bool judged = false;               ///< rows >= min_rows
  std::vector<ColumnDrift> columns;  ///< features in baseline order, then the score
  /// Names of the columns over a threshold (the score as "$score").
  std::vector<std::string> Violations() const;
  nlohmann::json ToJson() const;
};

/// PSI of two count vectors (same bins).
double Psi(const std::vector<double>& expected, const std::vector<double>& actual);
/// KS over the first `present_bins` bins (the rest are missing/other, left out).
double BinnedKs(const std::vector<double>& expected, const std::vector<double>& actual,
                size_t present_bins);

DriftResult CompareDrift(const DriftBaseline& baseline, const DriftCounts& counts,
                         const DriftThresholds& thresholds);

}  // namespace fraudops
