#pragma once
/// Train / validation / test splits: stratified random (class balance kept in each part)
/// or time-based (train on the past, test on the future). Deterministic by seed.

#include <cstdint>
#include <functional>
#include <span>
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

/// What splitting data read in parts needs from the other parts (sharded reading; the
/// training collective provides it): this part's index, the number of parts, and an in-place
/// element-wise sum over all parts, which every part calls the same number of times.
struct PartExchange {
  int part = 0, parts = 1;
  std::function<Status(std::span<int64_t>)> sum;
};

/// A float's place in the order of floats (NaN excluded; -0 and +0 the same) as an unsigned
/// key: a < b exactly when FloatOrderKey(a) < FloatOrderKey(b); FloatOfOrderKey reverses it.
uint32_t FloatOrderKey(float value);
float FloatOfOrderKey(uint32_t key);

/// The k-th smallest of the keys of all parts (1-based; k >= 1): a bisection on the key's
/// value, each step one count summed over the parts (32 sums of one number, whatever the
/// rows). Every part calls it together with the same k.
Result<uint32_t> KthSmallestKeyOverParts(std::span<const uint32_t> keys, int64_t k,
                                         const std::function<Status(std::span<int64_t>)>& sum);

/// Splits part `exchange.part` of data read in parts into training, validation and test rows
/// as one split of all the parts together would (`ratios` of the rows to each; with a test
/// share of 0, training and validation only):
///   stratified — each part's rows of each class shuffled by `seed` and the part's index, cut
///     by the shares: every part, and so the whole, keeps the class balance;
///   time — the cut-offs over all parts, each found by bisection on the time's value with a
///     count summed over the parts each step (32 sums of one number): exactly the rows
///     TimeSplit gives the whole in part order (training the earliest, test the latest), ties
///     at a cut-off in part order, then row order.
/// Fails, as TimeSplit and CheckSplitHasBothClasses do, when the time column is missing or
/// has no value on a row, or when a part of the whole misses a class.
Result<SplitIndices> SplitPart(const Dataset& part, const std::string& method,
                               const SplitRatios& ratios, const std::string& time_column,
                               uint64_t seed, const PartExchange& exchange);

/// Fails, naming the part, when a part has no positive (or no negative) rows.
Status CheckSplitHasBothClasses(const Dataset& dataset, const SplitIndices& split);

}  // namespace fraudops
