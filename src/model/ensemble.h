#pragma once
/// The tree ensemble every producer fills and every scorer reads: one struct of arrays for
/// all nodes of all trees (treelite's layout idea), filled only through EnsembleBuilder so
/// the invariants hold (children after parents inside a tree, features in range, leaves
/// marked). Scoring is allocation-free for one row and multi-threaded for a batch.
///
/// A split sends a row left when `value < threshold` (numerical), or when its category is
/// not in the node's category set (categorical, XGBoost's convention: listed categories go
/// right, as libxgboost 1.7 decides, checked by the parity test); a missing value (NaN) and
/// a negative category code follow `default_left`. The margin is `base_margin` plus the
/// sum of the leaves reached; the probability applies the link (sigmoid or identity).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/status.h"

namespace fraudops {

enum class Link { kIdentity, kSigmoid };

struct Ensemble {
  // Per node, all trees concatenated; a tree's nodes are [tree_begin[t], tree_begin[t+1]).
  std::vector<int32_t> left, right;  ///< absolute node indices; -1 for a leaf
  std::vector<int32_t> feature;      ///< split feature; -1 for a leaf
  std::vector<float> value;  ///< the split threshold, or the leaf value (0 for a categorical split)
  std::vector<uint8_t> default_left;
  std::vector<uint8_t> categorical;  ///< 1: the split tests category membership
  std::vector<uint32_t> category_begin, category_end;  ///< the node's slice of `categories`
  std::vector<uint32_t> categories;  ///< sorted category codes per categorical node
  std::vector<uint32_t> tree_begin;  ///< size trees + 1

  double base_margin = 0;
  Link link = Link::kSigmoid;
  std::vector<std::string> feature_names;
  std::string source_format;  ///< "xgboost-json", "lightgbm-text", …

  size_t num_trees() const { return tree_begin.empty() ? 0 : tree_begin.size() - 1; }
  size_t num_features() const { return feature_names.size(); }

  /// The margin of one row (`row` holds num_features() values; NaN is missing). No allocation.
  double PredictMargin(const float* row) const;
  double PredictProbability(const float* row) const { return ApplyLink(PredictMargin(row)); }
  double ApplyLink(double margin) const;
  /// Margins of a row-major batch (`rows` × num_features()), in parallel over `context.pool`.
  std::vector<double> PredictMargins(std::span<const float> rows, const Context& context) const;
};

/// Builds an Ensemble tree by tree, checking every node.
class EnsembleBuilder {
 public:
  explicit EnsembleBuilder(std::vector<std::string> feature_names);
  /// Starts a tree of `nodes` nodes; nodes are then set by their index within the tree.
  void StartTree(size_t nodes);
  void SetSplit(size_t node, int32_t feature, float threshold, bool default_left, int32_t left, int32_t right);
  void SetCategoricalSplit(size_t node, int32_t feature, std::vector<uint32_t> categories, bool default_left,
                           int32_t left, int32_t right);
  void SetLeaf(size_t node, float value);
  /// Checks the tree (every node set, children in range and each reached once from the root).
  /// `where` names it in errors (e.g. "/learner/gradient_booster/model/trees/3").
  Status EndTree(const std::string& where);
  Result<Ensemble> Finish(double base_margin, Link link, std::string source_format);

 private:
  Ensemble ensemble_;
  size_t tree_start_ = 0;
  std::vector<uint8_t> set_;
  std::vector<std::vector<uint32_t>> pending_categories_;
};

}  // namespace fraudops
