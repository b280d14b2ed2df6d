#pragma once
/// Exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent Individualized
/// Feature Attribution for Tree Ensembles", Algorithm 2): per feature, its Shapley value for
/// the margin, with the expectation over absent features taken along the tree's own
/// training cover (XGBoost's sum_hessian, LightGBM's data counts). The contributions plus
/// the bias (the expected margin) sum to the row's margin. Reason codes are the top-k
/// features by |contribution|.
///
/// Two exact methods, chosen per tree: for a leaf whose path splits on m distinct features,
/// a row only decides which of them it agrees with (2^m cases), so the leaf's contribution
/// to each of the m features can be tabulated once per model ("Fast TreeSHAP v2", Yang
/// 2021); scoring a row then costs one lookup per leaf. Trees whose tables would pass the
/// memory budget (deep paths) use the recursive algorithm.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/ensemble.h"

namespace fraudops {

struct ReasonCode {
  size_t feature = 0;       ///< index into the model's features
  double value = 0;         ///< the row's value of that feature
  double contribution = 0;  ///< its TreeSHAP contribution to the margin
};

class TreeShap {
 public:
  /// Fails when a node lacks a positive cover (a model saved without statistics).
  /// `table_budget_bytes`: memory the per-leaf tables may take (0: recursion everywhere).
  /// The ensemble must outlive the explainer.
  static Result<TreeShap> Create(const Ensemble& ensemble,
                                 size_t table_budget_bytes = size_t{256} << 20);

  /// Writes num_features() + 1 values to `out`: per feature, then the bias. Uses
  /// `workspace` for the paths (reuse it across calls to avoid allocating).
  struct Workspace;
  void Contributions(const double* row, double* out, Workspace& workspace) const;
  std::vector<double> Contributions(const double* row) const;
  /// `count` row-major rows at once (out: count × (num_features() + 1)); tree by tree over
  /// the rows, so each tree's tables stay in cache. Equal to row-by-row results.
  void Contributions(const double* rows, size_t count, double* out, Workspace& workspace) const;

  /// The `k` largest contributions by magnitude (ties: lower feature index first).
  static std::vector<ReasonCode> TopReasons(const double* row, const double* contributions,
                                            size_t features, size_t k);

  struct PathElement {
    int64_t feature;
    double zero_fraction, one_fraction, weight;
  };
  struct Workspace {
    std::vector<PathElement> path;
    /// Per node of the current tree and row of the block: the leaf-table bits of the path
    /// features the row disagrees with on the way from the root to the node.
    std::vector<uint32_t> disagree;
    std::vector<double> columns;     ///< the rows block by block, column by column, as compared
    std::vector<uint8_t> block_nan;  ///< per block: 1 when a value is NaN
  };
  /// Trees explained from tables, and the tables' size.
  size_t tabulated_trees() const { return tabulated_trees_; }
  size_t table_bytes() const { return table_.size() * sizeof(double); }

 private:
  /// Rows a batch is explained in at once (see Contributions).
  static constexpr size_t kBlockRows = 32;
  explicit TreeShap(const Ensemble& ensemble) : ensemble_(&ensemble) {}
  void Recurse(uint32_t node, const double* row, double* phi, PathElement* parent_path,
               size_t depth, double zero_fraction, double one_fraction, int64_t feature) const;

  /// One leaf of a tabulated tree: its path's distinct features and, per edge, whether the
  /// row must go right there; its table holds the contributions for each set A of features
  /// (bit k: features[k]) the row agrees with.
  struct Leaf {
    uint32_t node;                     ///< absolute node index
    uint32_t feature_begin, features;  ///< into leaf_features_; m
    size_t table;                      ///< offset into table_ (layout: FillLeafTable)
  };
  /// Builds the tree's tables if they fit in `budget` bytes (which it decreases); false if not.
  bool Tabulate(size_t tree, size_t& budget);
  /// Where each agreement set's entries start in a leaf table of m features.
  const std::vector<uint32_t>& Offsets(size_t m);

  const Ensemble* ensemble_;
  double bias_ = 0;
  size_t path_size_ = 0;
  std::vector<std::pair<int64_t, uint32_t>>
      tree_leaves_;  ///< per tree: first leaf in leaves_ (-1: recursive), count
  std::vector<Leaf> leaves_;
  /// Per node of a tabulated tree: the bit of its feature in the tables of the leaves below
  /// it (features are numbered by first appearance from the root, so every leaf below a node
  /// numbers the features above it alike).
  std::vector<uint8_t> node_bit_;
  std::vector<uint32_t> leaf_features_;
  std::vector<double> table_;
  std::vector<std::vector<uint32_t>> offsets_;  ///< by m
  size_t tabulated_trees_ = 0;
};

}  // namespace fraudops
