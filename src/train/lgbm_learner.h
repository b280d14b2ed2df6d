#pragma once
/// The `lgbm` trainer's tree learner: grows one tree leaf-wise (best-first) on binned data,
/// as LightGBM's serial tree learner does. Each leaf keeps a histogram (gradient and hessian
/// sums per bin of every feature); after a split only the smaller child's histogram is built
/// from its rows, the larger child's is the parent's minus the smaller's. Histograms are
/// built per feature, features spread over the threads, and every sum runs over a leaf's
/// rows in one fixed order, so the tree is the same for any number of threads.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/parallel_team.h"
#include "core/status.h"
#include "data/dataset.h"
#include "train/collective.h"
#include "train/lgbm_bins.h"
#include "train/lgbm_params.h"

namespace fraudops {

/// SplitMix64's mixing step: the trainer's generators (bagging, GOSS, feature sampling) are
/// seeded states advanced through it, so a draw depends only on its seed, not on threads.
uint64_t Mix(uint64_t x);

/// The rows [0, rows) that decide the bins: `sample_size` of them drawn with a seeded
/// Fisher–Yates shuffle (kept sparse: memory for the sample only), sorted; empty when
/// sample_size >= rows (every row).
std::vector<uint64_t> BinSampleRows(uint64_t rows, uint64_t sample_size, uint64_t seed);

/// A row's gradient and hessian, as LightGBM keeps them (float).
struct GradHess {
  float g;
  float h;
};

/// The training data binned: one bin column per feature (uint8 when every bin fits).
class BinnedData {
 public:
  /// Finds every feature's bins from (a sample of) `data` and bins all rows. With a
  /// collective, `data` is this worker's part of the rows (rank r holds the r-th contiguous
  /// part, in order) and the bins come from the sample of all workers' rows that one process
  /// would draw from all of them, gathered on every worker: the same bins as one process.
  static Result<BinnedData> Build(const Dataset& data, const LgbmConfig& config, ParallelTeam* team,
                                  Collective* collective = nullptr);
  /// Bins `data` with `reference`'s bins (validation rows).
  static BinnedData BinLike(const BinnedData& reference, const Dataset& data, ParallelTeam* team);

  size_t rows() const { return rows_; }
  size_t num_features() const { return mappers_.size(); }
  const BinMapper& mapper(size_t feature) const { return mappers_[feature]; }
  uint32_t Bin(size_t feature, size_t row) const {
    return wide_ ? bins16_[feature][row] : bins8_[feature][row];
  }
  bool wide() const { return wide_; }
  const uint8_t* Column8(size_t feature) const { return bins8_[feature].data(); }
  const uint16_t* Column16(size_t feature) const { return bins16_[feature].data(); }

 private:
  void BinRows(const Dataset& data, ParallelTeam* team);

  size_t rows_ = 0;
  bool wide_ = false;
  std::vector<BinMapper> mappers_;
  std::vector<std::vector<uint8_t>> bins8_;
  std::vector<std::vector<uint16_t>> bins16_;
};

/// A grown tree in LightGBM's layout: internal node i splits on split_feature[i]; a child is
/// a node index ≥ 0 or ~leaf. Values are before shrinkage.
struct GrownTree {
  int num_leaves = 1;
  std::vector<int> split_feature;
  std::vector<uint32_t> threshold_bin;  ///< numeric: bins <= this go left
  std::vector<uint8_t> default_left;
  std::vector<std::vector<uint32_t>>
      left_bins;  ///< categorical: the bins that go left (sorted); empty for numeric
  std::vector<std::vector<uint8_t>> go_left;  ///< per node and bin: 1 when that bin's rows go left
  std::vector<double> split_gain;
  std::vector<int> left_child, right_child;
  std::vector<double> internal_value, internal_weight;
  std::vector<int64_t> internal_count;
  std::vector<double> leaf_value, leaf_weight;
  std::vector<int64_t> leaf_count;
  std::vector<int> leaf_depth;

  /// The leaf a row of `data` reaches.
  int LeafOf(const BinnedData& data, size_t row) const;
};

/// The rows of one tree (the bag) and where each leaf's rows are. With a collective, the
/// learner is data-parallel (LightGBM's tree_learner=data): each worker holds its own rows
/// (binned with the same bins), leaf sums and counts and the histograms of the leaf being
/// built are summed over all workers before a split is chosen, so every worker grows the same
/// tree — the tree one process would grow on all rows, up to the order of floating-point sums.
class TreeLearner {
 public:
  TreeLearner(const BinnedData& data, const LgbmConfig& config, ParallelTeam* team,
              Collective* collective = nullptr);
  ~TreeLearner();
  TreeLearner(const TreeLearner&) = delete;
  TreeLearner& operator=(const TreeLearner&) = delete;

  /// Grows a tree on `bag` (row indices, ascending; empty = every row) with the rows'
  /// gradients, using only features whose `tree_features` entry is 1. `node_seed` drives
  /// feature_fraction_bynode.
  /// Fails only when the collective does.
  Result<GrownTree> Grow(std::span<const GradHess> gradients, std::span<const uint32_t> bag,
                         const std::vector<uint8_t>& tree_features, uint64_t node_seed);

  /// The rows of `leaf` in the last grown tree.
  std::span<const uint32_t> LeafRows(int leaf) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fraudops
