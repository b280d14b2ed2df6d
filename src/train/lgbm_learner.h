#pragma once
/// The `lgbm` trainer's tree learner: grows one tree leaf-wise (best-first) on binned data,
/// as LightGBM's serial tree learner does. Each leaf keeps a histogram (gradient and hessian
/// sums per bin of every feature); after a split only the smaller child's histogram is built
/// from its rows, the larger child's is the parent's minus the smaller's. Histograms are
/// built per feature, features spread over the threads, and every sum runs over a leaf's
/// rows in one fixed order, so the tree is the same for any number of threads.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/parallel_team.h"
#include "core/status.h"
#include "data/dataset.h"
#include "train/collective.h"
#include "train/lgbm_bins.h"
#include "train/lgbm_params.h"

namespace fraudops {

class DatasetFileView;

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

/// Feature values as binning reads them: a dataset's columns in memory, or a dataset file's
/// read a piece of rows at a time (external memory, docs/external-memory.md).
class FeatureColumns {
 public:
  explicit FeatureColumns(const Dataset& data)
      : data_(&data), piece_rows_(std::max<size_t>(1, data.rows())) {}
  /// `piece_rows`: the rows read at a time from the file (per feature and thread).
  FeatureColumns(const DatasetFileView& file, size_t piece_rows);

  size_t rows() const;
  size_t num_features() const;
  /// Rows per Read: all of them in memory, a bounded piece from a file.
  size_t piece_rows() const { return piece_rows_; }
  /// Rows [begin, end) of `feature`: the dataset's own values, or read into `scratch`.
  Result<std::span<const float>> Read(size_t feature, size_t begin, size_t end,
                                      std::vector<float>& scratch) const;

 private:
  const Dataset* data_ = nullptr;
  const DatasetFileView* file_ = nullptr;
  size_t piece_rows_ = 0;
};

/// The training data binned: one bin column per feature (uint8 when every bin fits), held in
/// memory or, for external memory, written to a file and mapped read-only from it (the kernel
/// keeps in memory what fits and reads the rest again when it is used).
class BinnedData {
 public:
  /// Finds every feature's bins from (a sample of) `data` and bins all rows. With a
  /// collective, `data` is this worker's part of the rows (rank r holds the r-th contiguous
  /// part, in order) and the bins come from the sample of all workers' rows that one process
  /// would draw from all of them, gathered on every worker: the same bins as one process.
  /// With `file`, the bin columns are written there and mapped, not held in memory.
  static Result<BinnedData> Build(const FeatureColumns& data, const LgbmConfig& config,
                                  ParallelTeam* team, Collective* collective = nullptr,
                                  const std::string& file = "");
  /// Bins `data` with `reference`'s bins (validation rows); `file` as for Build.
  static Result<BinnedData> BinLike(const BinnedData& reference, const FeatureColumns& data,
                                    ParallelTeam* team, const std::string& file = "");

  /// Decides anew which features the pre-filter drops, with `config`'s options (a tuning
  /// trial's min_data_in_leaf on bins kept from another trial: BinMapper::Refilter).
  void Refilter(const LgbmConfig& config);

  size_t rows() const { return rows_; }
  size_t num_features() const { return mappers_.size(); }
  const BinMapper& mapper(size_t feature) const { return mappers_[feature]; }
  uint32_t Bin(size_t feature, size_t row) const {
    return wide_ ? Column16(feature)[row] : Column8(feature)[row];
  }
  bool wide() const { return wide_; }
  const uint8_t* Column8(size_t feature) const { return bins_ + feature * rows_; }
  const uint16_t* Column16(size_t feature) const {
    return reinterpret_cast<const uint16_t*>(bins_) + feature * rows_;
  }

 private:
  struct Storage;  ///< the columns' bytes: owned, or a mapping of the bins file
  Status BinRows(const FeatureColumns& data, ParallelTeam* team, const std::string& file);

  size_t rows_ = 0;
  bool wide_ = false;
  std::vector<BinMapper> mappers_;
  std::shared_ptr<const Storage> storage_;
  const uint8_t* bins_ = nullptr;  ///< feature f's column starts at bins_ + f * rows_ * width
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
