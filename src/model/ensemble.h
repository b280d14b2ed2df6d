#pragma once
/// The tree ensemble every producer fills and every scorer reads. All nodes of all trees live
/// in one flat array of 16-byte nodes, each tree's nodes laid out breadth-first so that two
/// siblings are adjacent: a split names only its left child, the right one is the next node,
/// and a step is `node = left + goes_right` with no branch on the direction. A leaf points
/// to itself with an infinite threshold, so stepping past the bottom stays put: trees are
/// walked a fixed number of steps (their depth), several trees (one row) or several rows
/// (a batch) at once, so the walks' memory latencies overlap (docs/engine.md has the
/// measurements). Producers fill it only through EnsembleBuilder, which checks each tree and
/// does the layout.
///
/// Semantics, one per node, covering both source libraries:
/// - numerical split: a row goes left when `x <= threshold` (LightGBM's test; XGBoost's
///   `x < t` on floats is stored as `x <= the float just below t`);
/// - missing values: NaN goes the node's default way; LightGBM's zero_as_missing nodes send
///   |x| <= 1e-35 the default way too; LightGBM's "nothing missing" nodes read NaN as 0, which
///   the builder stores as a default direction (right exactly when the threshold is below 0);
/// - categorical split: a category in the node's set goes right, any other code left; NaN and
///   negative codes go the default way (LightGBM's "listed go left" is stored mirrored);
/// - precision: XGBoost models round inputs to float and sum leaves in float as libxgboost
///   does; LightGBM models compare and sum in double as LightGBM does.
/// The margin is `base_margin` plus the leaves reached, in tree order; the probability
/// applies the link.

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/status.h"

namespace fraudops {

enum class Link { kIdentity, kSigmoid, kExp };
enum class Precision { kFloat32, kFloat64 };
enum class MissingType : uint8_t { kNone = 0, kZero = 1, kNan = 2 };

struct TreeNode {
  enum Flag : uint8_t { kLeaf = 1, kDefaultLeft = 2, kCategorical = 4, kMissingZero = 8 };
  /// Splits that GoesRightFast hands to Ensemble::GoesRight.
  static constexpr uint32_t kSlowFlags = kCategorical | kMissingZero;
  /// Numerical split: the threshold. Leaf: +infinity. Categorical split: the offset of the
  /// node's bitset in Ensemble::category_bits (its first word holds the length in words).
  double value;
  /// Split: absolute index of the left child (the right child is left + 1). Leaf: itself.
  int32_t left;
  uint32_t feature_flags;  ///< feature index << 8 | Flag bits

  uint32_t feature() const { return feature_flags >> 8; }
  uint8_t flags() const { return static_cast<uint8_t>(feature_flags & 0xff); }
  bool is_leaf() const { return (feature_flags & kLeaf) != 0; }
};
static_assert(sizeof(TreeNode) == 16);

struct Ensemble {
  std::vector<TreeNode> nodes;          ///< all trees; tree t is [tree_begin[t], tree_begin[t+1])
  std::vector<uint32_t> tree_begin;     ///< size trees + 1
  std::vector<uint32_t> category_bits;  ///< per categorical node: length word, then bitset words
  std::vector<double> cover;         ///< per node: training rows or hessian through it (TreeSHAP)
  std::vector<double> leaf_value;    ///< per node: the leaf's value (0 for a split)
  std::vector<int32_t> leaf_id;      ///< per node: the leaf's id in its source format (XGBoost
                                     ///< node id, LightGBM leaf index), for leaf outputs
  std::vector<uint32_t> tree_depth;  ///< per tree: the steps from its root to its deepest leaf
  std::vector<uint8_t>
      tree_has_slow_nodes;  ///< per tree: 1 when it has categorical or zero-as-missing splits

  double base_margin = 0;
  Link link = Link::kSigmoid;
  double link_scale = 1.0;  ///< sigmoid(link_scale · margin): LightGBM's `sigmoid:k`
  Precision precision = Precision::kFloat64;
  std::vector<std::string> feature_names;
  /// Per feature: category names in code order when the source model knows them (else empty).
  std::vector<std::vector<std::string>> feature_categories;
  std::vector<uint8_t> feature_is_categorical;
  std::string source_format;  ///< "xgboost-json", "lightgbm-text", …

  size_t num_trees() const { return tree_begin.empty() ? 0 : tree_begin.size() - 1; }
  size_t num_features() const { return feature_names.size(); }
  size_t max_depth() const;
  /// The heap bytes the ensemble holds (its arrays' capacities and its names).
  size_t MemoryBytes() const;

  /// The margin of one row (`row` holds num_features() values; NaN is missing). No allocation.
  double PredictMargin(const double* row) const;
  double PredictProbability(const double* row) const { return ApplyLink(PredictMargin(row)); }
  double ApplyLink(double margin) const;
  /// The leaf each tree sends `row` to (leaf ids as the source format numbers them);
  /// `out` holds num_trees() entries.
  void PredictLeaves(const double* row, int32_t* out) const;
  /// Margins of a row-major batch (`rows` × num_features()), cache-blocked, in parallel over
  /// `context.pool`; each equals PredictMargin of its row exactly.
  std::vector<double> PredictMargins(std::span<const double> rows, const Context& context) const;
  std::vector<double> PredictMargins(std::span<const float> rows, const Context& context) const;

  /// The node of tree `tree` that `row` ends in (absolute index).
  uint32_t LeafNode(size_t tree, const double* row) const;
  /// Which child a split node sends `x` to: false left, true right.
  bool GoesRight(const TreeNode& node, double x) const;
  /// The child of split node `node` that `row` goes to (absolute index).
  uint32_t Child(const TreeNode& node, const double* row) const {
    double x = row[node.feature()];
    if (precision == Precision::kFloat32) x = static_cast<float>(x);
    return static_cast<uint32_t>(node.left) + (GoesRight(node, x) ? 1u : 0u);
  }
};

/// Ensemble::GoesRight for a value already as the model compares it (float-rounded for
/// XGBoost models), specialized: kNan: x may be NaN (it goes the default way); kSlow: the node
/// may be a categorical or zero-as-missing split. Without either, a single compare.
template <bool kNan, bool kSlow>
inline bool GoesRightFast(const Ensemble& e, const TreeNode& n, double x) {
  if (kSlow && __builtin_expect((n.feature_flags & TreeNode::kSlowFlags) != 0, 0))
    return e.GoesRight(n, x);
  if (kNan)
    return (x > n.value) |
           (std::isunordered(x, x) & ((n.feature_flags & TreeNode::kDefaultLeft) == 0));
  return x > n.value;
}

/// Builds an Ensemble tree by tree, checking every node. Node numbers and children given to
/// the builder are the source's own, within the tree; EndTree checks them and lays the tree
/// out breadth-first.
class EnsembleBuilder {
 public:
  explicit EnsembleBuilder(std::vector<std::string> feature_names);
  /// Starts a tree of `nodes` nodes; nodes are then set by their index within the tree.
  void StartTree(size_t nodes);
  void SetSplit(size_t node, int32_t feature, double threshold, MissingType missing,
                bool default_left, int32_t left, int32_t right, double cover = 0);
  /// `listed_go_left`: categories in `categories` go left (LightGBM) instead of right (XGBoost).
  void SetCategoricalSplit(size_t node, int32_t feature, std::vector<uint32_t> categories,
                           bool listed_go_left, bool default_left, int32_t left, int32_t right,
                           double cover = 0);
  void SetLeaf(size_t node, double value, int32_t leaf_id, double cover = 0);
  /// Checks the tree (every node set, children in range and each reached once from the root),
  /// then lays it out. `where` names it in errors (e.g. "/learner/gradient_booster/model/trees/3").
  Status EndTree(const std::string& where);
  Result<Ensemble> Finish(double base_margin, Link link, Precision precision,
                          std::string source_format);

 private:
  struct Pending {
    bool set = false, leaf = false, categorical = false, default_left = false;
    MissingType missing = MissingType::kNan;
    int32_t feature = -1, left = -1, right = -1, leaf_id = 0;
    double value = 0, cover = 0;
    std::vector<uint32_t> categories;
  };
  Ensemble ensemble_;
  std::vector<Pending> tree_;
};

/// The largest float strictly below `t`: XGBoost's `x < t` on floats is `x <= FloatBelow(t)`.
double FloatBelow(float t);

}  // namespace fraudops
