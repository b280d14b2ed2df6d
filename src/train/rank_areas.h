#pragma once
/// The per-round ranking metrics of the xgboost trainer, `auc` and `aucpr`, computed by
/// fraudops with libxgboost 1.7's own definitions (binary case), so that early stopping and the
/// learning curves are what libxgboost would report: ROC AUC as the trapezoid area between
/// tied groups; PR AUC as the area under precision-recall interpolated between tied groups
/// (Davis & Goadrich's interpolation, libxgboost's `aucpr`, not average precision). Row weights
/// weigh each row. What differs is the sort: a radix sort of the scores (linear, one thread)
/// instead of libxgboost's comparison sort every round, which was a tenth of a tuning trial's
/// time (BENCHMARKS.md). The lgbm trainer's rank metrics order its double scores here too.

#include <cstdint>
#include <span>
#include <vector>

namespace fraudops {

/// Orders scores from the highest to the lowest, reusing its buffers from call to call.
class DescendingRadixSort {
 public:
  /// (key << 32 | row) for every row, by descending score; equal scores have equal keys.
  /// NaN scores sort first.
  std::span<const uint64_t> Sort(std::span<const float> scores);

 private:
  std::vector<uint64_t> keys_, scratch_;
};

/// The rows by descending score, equal scores in row order (-0 ties with +0): a radix sort of the
/// doubles' bits — the lgbm trainer's per-round rank metrics, where a comparison sort of the rows
/// was a tenth of a tuning trial (BENCHMARKS.md).
std::vector<uint32_t> DescendingOrder(std::span<const double> scores);

struct RankAreas {
  double roc_auc = 0, pr_auc = 0;  ///< NaN where undefined (one class only), as libxgboost
};

/// `auc` and `aucpr` of `scores` (probabilities) against `labels` in [0, 1]; `weights` empty
/// or one per row.
RankAreas LibxgboostRankAreas(std::span<const float> scores, std::span<const float> labels,
                              std::span<const float> weights, DescendingRadixSort& sorter);

}  // namespace fraudops
