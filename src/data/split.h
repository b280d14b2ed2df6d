#pragma once
/// Train / validation / test splits: stratified random (class balance kept in each part)
/// or time-based (train on the past, test on the future). Deterministic by seed.

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"

namespace fraudops {

struct SplitRatios {
  double train = 0.7, validation = 0.15, test = 0.15;
};

/// Row indices of each part, ascending within a part.
struct SplitIndices {
  std::vector<uint32_t> train, validation, test;
};

Result<SplitIndices> StratifiedSplit(const Dataset& dataset, const SplitRatios& ratios,
                                     uint64_t seed);

/// Orders rows by `time_column` (ties keep file order); rows with a missing time are an error.
Result<SplitIndices> TimeSplit(const Dataset& dataset, const SplitRatios& ratios,
                               const std::string& time_column);

/// Fails, naming the part, when a part has no positive (or no negative) rows.
Status CheckSplitHasBothClasses(const Dataset& dataset, const SplitIndices& split);

}  // namespace fraudops
