#pragma once
/// baseline.json (docs/formats/bundle.md): the training data's distributions that drift
/// monitoring compares live traffic against — per numeric feature its quantile cut points
/// and the share of rows in each bin, min/max/mean/std and missing rate; per categorical
/// feature the share of each category and of missing; and the score distribution.
///
/// Bins: `cuts` are the inner boundaries in rising order (at most bins - 1, duplicates
/// removed); a value falls in bin k = the number of cuts <= value, so the first bin is open
/// below and the last open above. Missing values are counted apart.

#include <nlohmann/json.hpp>
#include <span>

#include "data/dataset.h"

namespace fraudops {

constexpr int kBaselineFormatVersion = 1;

/// `scores`: the model's probabilities on held-out rows (the pipeline uses validation).
nlohmann::json MakeBaseline(const Dataset& train, std::span<const float> scores, size_t bins = 10);

/// The baseline's histogram of `values` (NaN counted as missing): {"cuts", "counts", "missing"}.
nlohmann::json Histogram(std::span<const float> values, size_t bins);

}  // namespace fraudops
