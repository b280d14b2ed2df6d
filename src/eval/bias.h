#pragma once
/// Bias metrics with SageMaker Clarify's names and definitions (docs/bias.md): a facet `d`
/// (the group examined, e.g. one value of a column) against the rest `a`, on the observed
/// labels (pre-training: CI, DPL, KL, JS, LP, TVD, KS, CDDL) and on the model's predicted
/// labels (post-training: DPPL, DI, DCA, DCR, RD, SD, DAR, DRR, AD, CDDPL, TE, FT, GE).
///
/// Every metric but FT is a function of the rows' counts by (group, facet, label, predicted
/// label), so the bootstrap confidence intervals resample those counts (a multinomial draw of
/// as many rows as there are), which costs nothing per row. FT (the flip test) compares the
/// model's predictions for `d` rows with a k-nearest-neighbours vote of `a` rows' predictions,
/// on at most `flip_test_rows` rows of each group (evenly taken); its interval resamples the
/// flips of those `d` rows.
///
/// x/0 follows Clarify: 0/0 is 0, x/0 is ±infinity (written "inf" / "-inf" in JSON); a
/// metric that cannot be computed at all (an empty group, no label value both groups hold, no
/// group variable) has no value and an `error` saying why.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace fraudops {

struct BiasInput {
  /// Per row: 1 in the facet d, 0 in the rest a, -1 left out (e.g. the facet's value missing).
  std::span<const int8_t> facet;
  std::span<const uint8_t> label;      ///< 1: the label's positive value
  std::span<const uint8_t> predicted;  ///< 1: predicted positive; empty: pre-training only
  std::span<const int32_t> group;      ///< the group variable's code (>= 0); empty: none
  /// FT: the rows' features (each column one feature, NaN missing); empty: no FT.
  std::vector<std::span<const float>> features;
};

struct BiasOptions {
  int bootstrap = 1000;      ///< resamples for the intervals (0: no intervals)
  double confidence = 0.95;  ///< of the percentile intervals
  uint64_t seed = 42;
  size_t min_group_rows = 30;      ///< fewer rows in a or d: a warning (too few to conclude)
  size_t min_group_positives = 5;  ///< fewer positive labels in a or d: the same
  size_t flip_test_rows = 5000;    ///< FT: at most this many rows of each group
};

struct BiasMetric {
  std::string name;         ///< Clarify's: "CI", "DPPL", …
  std::string description;  ///< Clarify's: "Class Imbalance (CI)", …
  std::optional<double> value;
  std::string error;  ///< why there is no value
  /// The bootstrap percentile interval, when options.bootstrap > 0 and resamples had values.
  std::optional<std::pair<double, double>> interval;
};

struct BiasGroups {
  int64_t rows = 0, label_positives = 0, predicted_positives = 0;
};

struct BiasReport {
  BiasGroups a, d;
  int64_t left_out = 0;  ///< rows with facet -1
  std::vector<BiasMetric> pre_training, post_training;
  std::vector<std::string> warnings;  ///< groups too small to conclude, FT on a sample
  int64_t flip_test_rows_a = 0, flip_test_rows_d = 0;
};

/// Every metric's name, pre-training then post-training.
std::vector<std::string> BiasMetricNames();

/// The metrics of `input` (the post-training ones when it has predicted labels).
BiasReport ComputeBias(const BiasInput& input, const BiasOptions& options);

/// One metric as Clarify's analysis.json writes it ({"name", "description", "value"} or
/// "error"), with our "interval" ([low, high]) when there is one; ±infinity as "inf"/"-inf".
nlohmann::json BiasMetricJson(const BiasMetric& metric);

}  // namespace fraudops
