#pragma once
/// Binning for the `lgbm` trainer, as LightGBM does it. A numeric feature's values are cut
/// into at most `max_bin` bins by greedy quantile cuts over its distinct values (each bin at
/// least `min_data_in_bin` rows, values with many rows get a bin of their own), negative and
/// positive values binned apart with zero in a bin of its own; NaN gets the last bin when
/// the feature has NaN (missing type NaN), or joins zero's bin (missing type Zero with
/// `zero_as_missing`, or None with `use_missing=false`). A categorical feature's bins are
/// its categories by descending count, bin 0 holding NaN, negative values and the rare
/// categories left out (those past 99 % of the rows, or with fewer than `min_data_in_bin`).
/// A bin's upper bound is the midpoint between the distinct values on either side, so the
/// model's thresholds are those LightGBM would write for the same values.

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "model/ensemble.h"

namespace fraudops {

/// Values within this distance of zero are zero (LightGBM's kZeroThreshold).
inline constexpr double kZeroThreshold = 1e-35;

struct BinOptions {
  int max_bin = 255;
  int min_data_in_bin = 3;
  bool use_missing = true;
  bool zero_as_missing = false;
  /// feature_pre_filter: a feature no cut of which leaves `min_split_data` rows on both sides
  /// (min_data_in_leaf) can never split and is trivial.
  bool pre_filter = true;
  int min_split_data = 0;
};

class BinMapper {
 public:
  /// Bins for a numeric feature from `sample` (its values, NaN included).
  static BinMapper Numeric(std::span<const float> sample, const BinOptions& options);
  /// Bins for a categorical feature from `sample` (category codes as floats).
  static BinMapper Categorical(std::span<const float> sample, const BinOptions& options);

  uint32_t ValueToBin(double value) const;

  int num_bins() const { return num_bins_; }
  bool categorical() const { return categorical_; }
  /// One bin only, or filtered out: the feature cannot split.
  bool trivial() const { return num_bins_ <= 1 || filtered_; }
  MissingType missing_type() const { return missing_type_; }
  /// The bin of the value 0 (the bin skipped for missing type Zero).
  uint32_t default_bin() const { return default_bin_; }
  /// Numeric: the largest value that falls in `bin` (the model's threshold).
  double UpperBound(uint32_t bin) const { return upper_bounds_[bin]; }
  /// Categorical: the category of `bin` (-1 for bin 0).
  int BinCategory(uint32_t bin) const { return bin_to_category_[bin]; }
  /// The model file's feature_infos entry: "[min:max]", "-1:3:0:1" or "none".
  std::string FeatureInfo() const;
  /// Applies the pre-filter again with other options (another tuning trial's
  /// min_data_in_leaf or feature_pre_filter on the same bins): whether the feature can split
  /// is decided anew from the rows per bin it was built with. A mapper read by Parse keeps its
  /// decision.
  void Refilter(const BinOptions& options);

  /// The mapper as bytes (the data-parallel trainer sends bins from worker to worker), and
  /// back; Parse fails on anything Serialize did not write.
  std::string Serialize() const;
  static Result<BinMapper> Parse(std::string_view bytes);

 private:
  /// Keeps the rows per bin and applies the pre-filter to them.
  void Filter(std::vector<int64_t> rows_per_bin, const BinOptions& options);
  void ApplyFilter(const BinOptions& options);

  int num_bins_ = 1;
  bool categorical_ = false;
  bool filtered_ = false;
  MissingType missing_type_ = MissingType::kNone;
  uint32_t default_bin_ = 0;
  double min_value_ = 0, max_value_ = 0;
  std::vector<double> upper_bounds_;  ///< numeric: per bin (NaN for the NaN bin)
  std::vector<int> bin_to_category_;  ///< categorical
  std::unordered_map<int, uint32_t> category_to_bin_;
  std::vector<int64_t> rows_per_bin_;  ///< of the rows the bins were found from (Filter's input)
};

/// The greedy cut of sorted distinct values into at most `max_bin` bins (exposed for tests):
/// the upper bound of every bin, the last one +infinity.
std::vector<double> GreedyBinBounds(std::span<const double> distinct, std::span<const int> counts,
                                    int max_bin, int64_t total, int min_data_in_bin);

}  // namespace fraudops
