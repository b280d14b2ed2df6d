#pragma once
// Shared by the model-loader fuzzers: a loaded model must score rows of NaNs, zeros, huge and
// negative values (category codes included) without reading out of bounds.
#include <cmath>
#include <vector>

#include "model/ensemble.h"

inline void ScoreEdgeRows(const fraudops::Ensemble& ensemble) {
  std::vector<int32_t> leaves(ensemble.num_trees());
  for (double value : {std::nan(""), 0.0, -0.5, -1.0, 3.0, 1e300, -1e300, 4294967296.0}) {
    std::vector<double> row(ensemble.num_features(), value);
    (void)ensemble.PredictMargin(row.data());
    ensemble.PredictLeaves(row.data(), leaves.data());
  }
}
