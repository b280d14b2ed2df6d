#pragma once
/// Cross-validation folds for tuning (docs/tuning.md): stratified k-fold (each class's rows
/// shuffled by the seed and dealt to the folds in turn, so every fold keeps the class balance),
/// or forward chaining by time (rows in time order cut into k + 1 blocks; fold i trains on
/// blocks 0 … i and validates on block i + 1, so no fold trains on rows later than those it
/// validates on: a cut never separates rows of the same time).

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

}  // namespace fraudops
