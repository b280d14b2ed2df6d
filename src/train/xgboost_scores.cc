#include "train/xgboost_scores.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "core/thread_pool.h"
#include "model/ensemble.h"
#include "model/xgboost_json.h"
#include "train/xgboost_trainer.h"

namespace fraudops {

namespace {

/// Rows walked together: their walks are independent, so their memory reads overlap.
constexpr size_t kLanes = 8;

/// Adds tree `t`'s leaf to margins[r] for the rows [begin, end); `columns[f]` is feature f.
void WalkTree(const Ensemble& e, size_t t, const std::vector<const float*>& columns, size_t begin,
              size_t end, float* margins) {
  const uint32_t root = e.tree_begin[t], depth = e.tree_depth[t];
  auto step = [&](uint32_t node, size_t row) {
    const TreeNode& n = e.nodes[node];
    const double x = columns[n.feature()][row];
    return static_cast<uint32_t>(n.left) +
           static_cast<uint32_t>(GoesRightFast</*kNan=*/true, /*kSlow=*/false>(e, n, x));
  };
  size_t r = begin;
  for (; r + kLanes <= end; r += kLanes) {
    uint32_t node[kLanes];
    std::fill(node, node + kLanes, root);
    for (uint32_t d = 0; d < depth; ++d) {
#pragma GCC unroll 8
      for (size_t k = 0; k < kLanes; ++k) node[k] = step(node[k], r + k);
    }
    for (size_t k = 0; k < kLanes; ++k) margins[r + k] += static_cast<float>(e.leaf_value[node[k]]);
  }
  for (; r < end; ++r) {
    uint32_t node = root;
    for (uint32_t d = 0; d < depth; ++d) node = step(node, r);
    margins[r] += static_cast<float>(e.leaf_value[node]);
  }
}

}  // namespace

float LibxgboostSigmoid(float margin) { return 1.0f / (1.0f + std::exp(std::min(-margin, 88.7f))); }

Result<const float*> CachedPredictions(void* booster, void* matrix, bool margins) {
  bst_ulong dimensions = 0;
  const bst_ulong* shape = nullptr;
  const float* predictions = nullptr;
  const char* config = margins ? R"({"type": 1, "training": false, "iteration_begin": 0,
                                     "iteration_end": 0, "strict_shape": false})"
                               : R"({"type": 0, "training": false, "iteration_begin": 0,
                                     "iteration_end": 0, "strict_shape": false})";
  FOPS_RETURN_IF_ERROR(XgbCheck(
      XGBoosterPredictFromDMatrix(booster, matrix, config, &shape, &dimensions, &predictions),
      "XGBoosterPredictFromDMatrix"));
  return predictions;
}

XgbValidationScores::XgbValidationScores(const Dataset& validation)
    : validation_(validation), walk_(true) {
  for (const ColumnSchema& column : validation.features) {
    if (column.type == ColumnType::kCategorical) walk_ = false;
  }
  for (const std::vector<float>& column : validation.columns) columns_.push_back(column.data());
}

Result<std::span<const float>> XgbValidationScores::After(void* booster, void* matrix, int round,
                                                          int threads, ThreadPool* pool) {
  const size_t rows = validation_.rows();
  if (walk_ && round > 0 && margins_.size() == rows) {
    // Every round in order: the margins hold rounds 0 … round − 1.
    FOPS_ASSIGN_OR_RETURN(bool added, AddRound(booster, round, threads, pool));
    if (added) {
      scores_.resize(rows);
      for (size_t r = 0; r < rows; ++r) scores_[r] = LibxgboostSigmoid(margins_[r]);
      return std::span<const float>(scores_);
    }
    walk_ = false;
    margins_.clear();
  }
  if (walk_) {
    FOPS_ASSIGN_OR_RETURN(const float* margins, CachedPredictions(booster, matrix, true));
    margins_.assign(margins, margins + rows);
  }
  FOPS_ASSIGN_OR_RETURN(const float* scores, CachedPredictions(booster, matrix, false));
  return std::span<const float>(scores, rows);
}

Result<bool> XgbValidationScores::AddRound(void* booster, int round, int threads,
                                           ThreadPool* pool) {
  void* raw = nullptr;
  FOPS_RETURN_IF_ERROR(
      XgbCheck(XGBoosterSlice(booster, round, round + 1, 1, &raw), "XGBoosterSlice"));
  const std::unique_ptr<void, int (*)(void*)> sliced(raw, &XGBoosterFree);
  bst_ulong length = 0;
  const char* buffer = nullptr;
  FOPS_RETURN_IF_ERROR(
      XgbCheck(XGBoosterSaveModelToBuffer(sliced.get(), R"({"format": "json"})", &length, &buffer),
               "XGBoosterSaveModelToBuffer"));
  Result<Ensemble> trees =
      LoadXgboostJson(std::string_view(buffer, length), "round " + std::to_string(round));
  if (!trees.ok() || trees->num_features() != validation_.num_features()) return false;
  for (size_t t = 0; t < trees->num_trees(); ++t) {
    if (trees->tree_has_slow_nodes[t] != 0) return false;
  }
  const size_t rows = validation_.rows();
  const size_t tasks = pool != nullptr && threads > 1
                           ? std::min<size_t>(static_cast<size_t>(threads), rows / 4096 + 1)
                           : 1;
  auto body = [&](size_t task) {
    const size_t begin = rows * task / tasks, end = rows * (task + 1) / tasks;
    // Tree by tree, as libxgboost adds them to its cache.
    for (size_t t = 0; t < trees->num_trees(); ++t)
      WalkTree(*trees, t, columns_, begin, end, margins_.data());
  };
  if (tasks > 1) {
    pool->ParallelFor(tasks, body);
  } else {
    body(0);
  }
  return true;
}

}  // namespace fraudops
