#pragma once
/// The rows tuning trains on (docs/tuning.md). Cross-validation folds: stratified k-fold (each
/// class's rows shuffled by the seed and dealt to the folds in turn, so every fold keeps the class
/// balance), or forward chaining by time (rows in time order cut into k + 1 blocks; fold i trains
/// on blocks 0 … i and validates on block i + 1, so no fold trains on rows later than those it
/// validates on: a cut never separates rows of the same time). And the sample a trial trains
/// on when the negatives far outnumber the positives (SampleNegatives).

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace fraudops {

struct Fold {
  std::vector<uint32_t> train, validation;  ///< row indices, ascending
};

Result<std::vector<Fold>> StratifiedFolds(std::span<const float> labels, int k, uint64_t seed);

/// `times` one per row (no NaN); `labels` to check that every fold has both classes.
Result<std::vector<Fold>> TimeFolds(std::span<const double> times, std::span<const float> labels,
                                    int k);

/// Every positive row and a seeded draw of the negative rows, each drawn negative weighing
/// negatives / kept (so each class's total weight, and with it scale_pos_weight and
/// min_child_weight, keeps its meaning): what a trial trains on when fraud is rare.
struct NegativeSample {
  std::vector<uint32_t> rows;  ///< ascending (the rows' order kept); empty: no sample
  std::vector<float> weights;  ///< one per row of `rows`
  size_t negatives = 0;        ///< negative rows in all
  size_t kept_negatives = 0;   ///< of them in the sample
};

/// Keeps max(negatives_per_positive × positives, min_negatives) negative rows. No sample
/// (empty rows) when negatives_per_positive is 0, when there is no positive, or when the
/// sample would keep more than half of the negatives (docs/tuning.md: measured, such a sample
/// cost more in quality than it saved).
NegativeSample SampleNegatives(std::span<const float> labels, double negatives_per_positive,
                               size_t min_negatives, uint64_t seed);

}  // namespace fraudops
