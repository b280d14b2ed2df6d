#include "model/tree_shap.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

namespace fraudops {

namespace {

using PathElement = TreeShap::PathElement;

/// 1/k for the small integers the path weights divide by (paths are at most kMaxDepth long);
/// multiplying by these instead of dividing makes the walk several times faster.
constexpr size_t kMaxDepth = 256;
const std::array<double, kMaxDepth + 2>& Reciprocals() {
  static const auto table = [] {
    std::array<double, kMaxDepth + 2> r{};
    for (size_t k = 1; k < r.size(); ++k) r[k] = 1.0 / static_cast<double>(k);
    return r;
  }();
  return table;
}

/// Adds a split on `feature` to the path: each subset size's weight is shared between the
/// subsets that include the feature (one_fraction) and those that do not (zero_fraction).
void Extend(PathElement* path, size_t depth, double zero_fraction, double one_fraction,
            int64_t feature, const double* reciprocal) {
  path[depth] = {feature, zero_fraction, one_fraction, depth == 0 ? 1.0 : 0.0};
  const double scale = reciprocal[depth + 1];
  for (size_t i = depth; i-- > 0;) {
    path[i + 1].weight += one_fraction * path[i].weight * static_cast<double>(i + 1) * scale;
    path[i].weight = zero_fraction * path[i].weight * static_cast<double>(depth - i) * scale;
  }
}

/// Undoes Extend for the element at `index` (a feature split on again further down).
void Unwind(PathElement* path, size_t depth, size_t index, const double* reciprocal) {
  const double one = path[index].one_fraction, zero = path[index].zero_fraction;
  const auto d1 = static_cast<double>(depth + 1);
  double next = path[depth].weight;
  if (one != 0) {
    const double inverse_one = 1 / one;
    for (size_t i = depth; i-- > 0;) {
      const double weight = path[i].weight;
      path[i].weight = next * d1 * reciprocal[i + 1] * inverse_one;
      next =
          weight - path[i].weight * zero * static_cast<double>(depth - i) * reciprocal[depth + 1];
    }
  } else {
    const double inverse_zero = 1 / zero;
    for (size_t i = depth; i-- > 0;)
      path[i].weight = path[i].weight * d1 * inverse_zero * reciprocal[depth - i];
  }
  for (size_t i = index; i < depth; ++i) {
    path[i].feature = path[i + 1].feature;
    path[i].zero_fraction = path[i + 1].zero_fraction;
    path[i].one_fraction = path[i + 1].one_fraction;
  }
}

/// The total weight the path would have with the element at `index` unwound.
double UnwoundSum(const PathElement* path, size_t depth, size_t index, const double* reciprocal) {
  const double one = path[index].one_fraction, zero = path[index].zero_fraction;
  const auto d1 = static_cast<double>(depth + 1);
  double total = 0;
  if (one != 0) {
    const double inverse_one = 1 / one;
    double next = path[depth].weight;
    for (size_t i = depth; i-- > 0;) {
      const double weight = next * d1 * reciprocal[i + 1] * inverse_one;
      total += weight;
      next =
          path[i].weight - weight * zero * static_cast<double>(depth - i) * reciprocal[depth + 1];
    }
  } else {
    const double inverse_zero = 1 / zero;
    for (size_t i = depth; i-- > 0;)
      total += path[i].weight * inverse_zero * d1 * reciprocal[depth - i];
  }
  return total;
}

}  // namespace

Result<TreeShap> TreeShap::Create(const Ensemble& ensemble, size_t table_budget_bytes) {
  TreeShap shap(ensemble);
  if (ensemble.cover.size() != ensemble.nodes.size())
    return Status::Internal("TreeShap: covers missing");
  // The bias: the base margin plus each tree's cover-weighted mean leaf value, computed
  // bottom-up (breadth-first layout: children after parents, so walk backwards).
  std::vector<double> mean(ensemble.nodes.size());
  shap.bias_ = ensemble.base_margin;
  for (size_t t = 0; t < ensemble.num_trees(); ++t) {
    for (uint32_t n = ensemble.tree_begin[t + 1]; n-- > ensemble.tree_begin[t];) {
      const TreeNode& node = ensemble.nodes[n];
      if (!(ensemble.cover[n] > 0) && !(node.is_leaf() && n == ensemble.tree_begin[t])) {
        return Status::InvalidArgument(
            "tree " + std::to_string(t) +
            " has a node without training cover (a model saved without statistics); "
            "explanations need it");
      }
      if (node.is_leaf()) {
        mean[n] = ensemble.leaf_value[n];
      } else {
        const auto left = static_cast<uint32_t>(node.left);
        mean[n] = (mean[left] * ensemble.cover[left] + mean[left + 1] * ensemble.cover[left + 1]) /
                  ensemble.cover[n];
      }
    }
    shap.bias_ += mean[ensemble.tree_begin[t]];
  }
  if (ensemble.max_depth() + 2 > kMaxDepth) {
    return Status::InvalidArgument("explanations support trees up to " +
                                   std::to_string(kMaxDepth - 2) + " levels deep; this model has " +
                                   std::to_string(ensemble.max_depth()));
  }
  const size_t depth = ensemble.max_depth() + 2;
  shap.path_size_ = (depth + 1) * (depth + 2) / 2;
  shap.tree_leaves_.assign(ensemble.num_trees(), {-1, 0});
  size_t budget = table_budget_bytes;
  for (size_t t = 0; t < ensemble.num_trees(); ++t)
    shap.tabulated_trees_ += shap.Tabulate(t, budget);
  return shap;
}

void TreeShap::Recurse(uint32_t node, const double* row, double* phi, PathElement* parent_path,
                       size_t depth, double zero_fraction, double one_fraction,
                       int64_t feature) const {
  const Ensemble& e = *ensemble_;
  PathElement* path = parent_path + depth + 1;
  std::copy(parent_path, parent_path + depth + 1, path);
  const double* reciprocal = Reciprocals().data();
  Extend(path, depth, zero_fraction, one_fraction, feature, reciprocal);
  const TreeNode& n = e.nodes[node];
  if (n.is_leaf()) {
    for (size_t i = 1; i <= depth; ++i) {
      const double weight = UnwoundSum(path, depth, i, reciprocal);
      phi[path[i].feature] +=
          weight * (path[i].one_fraction - path[i].zero_fraction) * e.leaf_value[node];
    }
    return;
  }
  const uint32_t hot = e.Child(n, row);
  const uint32_t cold = hot == static_cast<uint32_t>(n.left) ? hot + 1 : hot - 1;
  const double cover = e.cover[node];
  const double hot_fraction = e.cover[hot] / cover, cold_fraction = e.cover[cold] / cover;
  double incoming_zero = 1, incoming_one = 1;
  const auto split = static_cast<int64_t>(n.feature());
  // A feature split on again: its earlier element leaves the path, its fractions carry on.
  for (size_t k = 0; k <= depth; ++k) {
    if (path[k].feature == split) {
      incoming_zero = path[k].zero_fraction;
      incoming_one = path[k].one_fraction;
      Unwind(path, depth, k, reciprocal);
      --depth;
      break;
    }
  }
  Recurse(hot, row, phi, path, depth + 1, hot_fraction * incoming_zero, incoming_one, split);
  Recurse(cold, row, phi, path, depth + 1, cold_fraction * incoming_zero, 0, split);
}

namespace {

/// e[r] = the elementary symmetric polynomial of degree r of `values` (e[0] = 1).
void ElementarySymmetric(const double* values, size_t count, std::vector<double>& e) {
  e.assign(count + 1, 0.0);
  e[0] = 1;
  for (size_t i = 0; i < count; ++i) {
    for (size_t r = i + 1; r > 0; --r) e[r] += values[i] * e[r - 1];
  }
}

/// One leaf's table. For distinct path features U (m of them, zero fractions z) and the set A
/// of those the row agrees with, the leaf adds to feature i (Lundberg et al.'s sum over the
/// subsets S of the other features, weight |S|!(m-|S|-1)!/m!):
///   i in A:      v (1 - z_i) prod_{j not in A} z_j  sum_s w(s) e_{|A|-1-s}(z over A - {i})
///   i not in A: -v          prod_{j not in A} z_j  sum_s w(s) e_{|A|-s}(z over A)
/// (the row cannot follow the path through a feature it disagrees with, so only the subsets
/// of A count, and for i outside A the z_i of its own edges completes the product).
/// Stored compactly: for each A, first the one value every feature outside A gets, then the
/// values of A's features in feature order (`offsets[A]` says where A's entries start).
void FillLeafTable(double value, const std::vector<double>& z, const std::vector<uint32_t>& offsets,
                   double* table) {
  const size_t m = z.size();
  std::vector<double> weight(m);  // w(s) = 1 / (m * C(m-1, s))
  double binomial = 1;
  for (size_t s = 0; s < m; ++s) {
    weight[s] = 1 / (static_cast<double>(m) * binomial);
    binomial = binomial * static_cast<double>(m - 1 - s) / static_cast<double>(s + 1);
  }
  std::vector<double> in, e;
  for (size_t agree = 0; agree < (size_t{1} << m); ++agree) {
    double outside = 1;
    in.clear();
    for (size_t k = 0; k < m; ++k) {
      if (agree >> k & 1)
        in.push_back(z[k]);
      else
        outside *= z[k];
    }
    const size_t a = in.size();
    double* entries = table + offsets[agree];
    entries[0] = 0;
    if (a < m) {
      ElementarySymmetric(in.data(), a, e);
      double h = 0;
      for (size_t s = 0; s <= a; ++s) h += weight[s] * e[a - s];
      entries[0] = -value * outside * h;
    }
    std::vector<double> others;
    for (size_t k = 0, position = 0; k < m; ++k) {
      if (!(agree >> k & 1)) continue;
      others = in;
      others.erase(others.begin() + static_cast<std::ptrdiff_t>(position));
      ElementarySymmetric(others.data(), a - 1, e);
      double g = 0;
      for (size_t s = 0; s < a; ++s) g += weight[s] * e[a - 1 - s];
      entries[1 + position++] = value * (1 - z[k]) * outside * g;
    }
  }
}

/// Entries of a leaf table for m features: per A, 1 + |A|.
size_t TableSize(size_t m) { return (size_t{1} << m) + (m << m) / 2; }

/// One split over a block's rows: each row's disagreement set at the node's children is the node's
/// plus this split's bit on the side the row does not go. Without a branch on the direction (as
/// good as random to a predictor).
template <bool kNan, bool kSlow>
inline void SplitRows(const Ensemble& e, const TreeNode& node, uint32_t bit, const double* x,
                      const uint32_t* above, uint32_t* left, uint32_t* right, size_t block) {
  for (size_t r = 0; r < block; ++r) {
    const uint32_t goes_right =
        bit & (0u - static_cast<uint32_t>(GoesRightFast<kNan, kSlow>(e, node, x[r])));
    left[r] = above[r] | goes_right;
    right[r] = above[r] | (goes_right ^ bit);
  }
}

/// Adds one tabulated leaf's contributions to each row of a block: the row's agreement set
/// picks the table entries. kFeatures: the leaf's feature count, unrolled (0: `features`).
template <uint32_t kFeatures>
inline void AddLeafRows(const double* table, const uint32_t* offsets, const uint32_t* leaf_features,
                        uint32_t features, const uint32_t* disagree, size_t block, double* out,
                        size_t width) {
  if constexpr (kFeatures != 0) features = kFeatures;
  const uint32_t all = (1u << features) - 1;
  for (size_t r = 0; r < block; ++r) {
    const uint32_t agree = all & ~disagree[r];
    const double* entries = table + offsets[agree];
    double* phi = out + r * width;
    // Without a branch (agreement is as good as random: a branch mispredicts half the time):
    // pick between the feature's own entry and the common one. Reading entries[position] for
    // a feature outside A stays inside the table (the next set's entries; the last set, all
    // features, has none outside).
    const double outside = entries[0];
    uint32_t position = 1;
#pragma GCC unroll 16
    for (uint32_t k = 0; k < features; ++k) {
      const uint32_t in = agree >> k & 1;
      const double pick[2] = {outside, entries[position]};
      phi[leaf_features[k]] += pick[in];
      position += in;
    }
  }
}

}  // namespace

const std::vector<uint32_t>& TreeShap::Offsets(size_t m) {
  if (offsets_.size() <= m) offsets_.resize(m + 1);
  std::vector<uint32_t>& offsets = offsets_[m];
  if (offsets.empty()) {
    offsets.resize(size_t{1} << m);
    uint32_t at = 0;
    for (size_t agree = 0; agree < offsets.size(); ++agree) {
      offsets[agree] = at;
      at += 1 + static_cast<uint32_t>(std::popcount(agree));
    }
  }
  return offsets;
}

bool TreeShap::Tabulate(size_t tree, size_t& budget) {
  constexpr uint32_t kMaxFeatures = 16;  // 2^16 cases per leaf at most
  const Ensemble& e = *ensemble_;
  const uint32_t begin = e.tree_begin[tree], end = e.tree_begin[tree + 1];
  if (e.nodes[begin].is_leaf()) return false;  // a single leaf only adds to the bias
  // Parents from the breadth-first layout (children come after their parent).
  std::vector<uint32_t> parent(end - begin, 0);
  for (uint32_t n = begin; n < end; ++n) {
    if (e.nodes[n].is_leaf()) continue;
    const auto left = static_cast<uint32_t>(e.nodes[n].left);
    parent[left - begin] = parent[left + 1 - begin] = n;
  }
  struct Path {
    uint32_t leaf;
    std::vector<uint32_t> features;  ///< distinct, by first appearance from the root
    std::vector<double> zero_fractions;
  };
  std::vector<Path> paths;
  std::vector<std::pair<uint32_t, uint8_t>> node_bits;  // (node, bit), the same from every leaf
  size_t doubles = 0;
  std::vector<uint32_t> upward;
  for (uint32_t n = begin; n < end; ++n) {
    if (!e.nodes[n].is_leaf()) continue;
    Path path{n, {}, {}};
    upward.clear();
    for (uint32_t child = n; child != begin; child = parent[child - begin]) upward.push_back(child);
    for (auto child = upward.rbegin(); child != upward.rend(); ++child) {  // from the root
      const uint32_t up = parent[*child - begin];
      const uint32_t feature = e.nodes[up].feature();
      auto it = std::find(path.features.begin(), path.features.end(), feature);
      const double fraction = e.cover[*child] / e.cover[up];
      if (it == path.features.end()) {
        path.features.push_back(feature);
        path.zero_fractions.push_back(fraction);
        it = path.features.end() - 1;
      } else {
        path.zero_fractions[static_cast<size_t>(it - path.features.begin())] *= fraction;
      }
      node_bits.emplace_back(up, static_cast<uint8_t>(it - path.features.begin()));
    }
    if (path.features.size() > kMaxFeatures) return false;
    doubles += TableSize(path.features.size());
    paths.push_back(std::move(path));
  }
  if (doubles * sizeof(double) > budget) return false;
  budget -= doubles * sizeof(double);
  tree_leaves_[tree] = {static_cast<int64_t>(leaves_.size()), static_cast<uint32_t>(paths.size())};
  if (node_bit_.size() < e.nodes.size()) node_bit_.resize(e.nodes.size(), 0);
  for (const auto& [node, bit] : node_bits) node_bit_[node] = bit;
  for (const Path& path : paths) {
    Leaf leaf;
    leaf.node = path.leaf;
    leaf.feature_begin = static_cast<uint32_t>(leaf_features_.size());
    leaf.features = static_cast<uint32_t>(path.features.size());
    leaf_features_.insert(leaf_features_.end(), path.features.begin(), path.features.end());
    leaf.table = table_.size();
    table_.resize(table_.size() + TableSize(path.features.size()));
    FillLeafTable(e.leaf_value[path.leaf], path.zero_fractions, Offsets(path.features.size()),
                  table_.data() + leaf.table);
    leaves_.push_back(leaf);
  }
  return true;
}

void TreeShap::Contributions(const double* row, double* out, Workspace& workspace) const {
  Contributions(row, 1, out, workspace);
}

void TreeShap::Contributions(const double* rows, size_t count, double* out,
                             Workspace& workspace) const {
  const Ensemble& e = *ensemble_;
  const size_t features = e.num_features(), width = features + 1;
  std::fill(out, out + count * width, 0.0);
  workspace.path.resize(path_size_);
  // The rows block by block, column by column, as the model compares values.
  const size_t blocks = (count + kBlockRows - 1) / kBlockRows;
  workspace.columns.resize(blocks * features * kBlockRows);
  workspace.block_nan.assign(blocks, 0);
  uint8_t* block_nan = workspace.block_nan.data();
  for (size_t r = 0; r < count; ++r) {
    double* column = workspace.columns.data() + (r / kBlockRows) * features * kBlockRows;
    bool nan = false;
    for (size_t f = 0; f < features; ++f) {
      double x = rows[r * features + f];
      if (e.precision == Precision::kFloat32) x = static_cast<float>(x);
      column[f * kBlockRows + r % kBlockRows] = x;
      nan |= std::isnan(x);
    }
    block_nan[r / kBlockRows] |= nan;
  }
  // Tree by tree (its tables stay in cache while the rows pass through it), block by block of
  // rows; within a block, node by node and leaf by leaf over the block's rows, so consecutive
  // additions go to different rows' contributions (one row's leaves would add to the same few
  // features one after another, each waiting for the last).
  for (size_t t = 0; t < e.num_trees(); ++t) {
    if (e.nodes[e.tree_begin[t]].is_leaf()) continue;  // a single leaf only adds to the bias
    const auto [first, leaves] = tree_leaves_[t];
    if (first < 0) {
      for (size_t r = 0; r < count; ++r) {
        Recurse(e.tree_begin[t], rows + r * features, out + r * width, workspace.path.data(), 0, 1,
                1, -1);
      }
      continue;
    }
    const uint32_t begin = e.tree_begin[t], end = e.tree_begin[t + 1];
    workspace.disagree.resize(size_t{end - begin} * kBlockRows);
    uint32_t* disagree = workspace.disagree.data();
    for (size_t first_row = 0; first_row < count; first_row += kBlockRows) {
      const size_t block = std::min(kBlockRows, count - first_row);
      const double* columns = workspace.columns.data() + first_row * features;
      double* block_out = out + first_row * width;
      // One pass down the tree carries, to every node, the path features each row disagrees
      // with above it (a split the row goes the other way at); then one table entry per leaf.
      std::fill(disagree, disagree + block, 0u);
      for (uint32_t n = begin; n < end; ++n) {
        const TreeNode& node = e.nodes[n];
        if (node.is_leaf()) continue;
        const uint32_t bit = 1u << node_bit_[n];
        const uint32_t* above = disagree + size_t{n - begin} * kBlockRows;
        uint32_t* left = disagree + (static_cast<size_t>(node.left) - begin) * kBlockRows;
        const double* x = columns + size_t{node.feature()} * kBlockRows;
        if ((node.feature_flags & TreeNode::kSlowFlags) != 0)
          SplitRows<true, true>(e, node, bit, x, above, left, left + kBlockRows, block);
        else if (block_nan[first_row / kBlockRows])
          SplitRows<true, false>(e, node, bit, x, above, left, left + kBlockRows, block);
        else
          SplitRows<false, false>(e, node, bit, x, above, left, left + kBlockRows, block);
      }
      for (uint32_t l = 0; l < leaves; ++l) {
        const Leaf& leaf = leaves_[static_cast<size_t>(first) + l];
        const double* table = table_.data() + leaf.table;
        const uint32_t* offsets = offsets_[leaf.features].data();
        const uint32_t* features_of_leaf = leaf_features_.data() + leaf.feature_begin;
        const uint32_t* leaf_disagree = disagree + size_t{leaf.node - begin} * kBlockRows;
        switch (leaf.features) {  // unrolled for the usual path lengths
#define FOPS_LEAF_CASE(m)                                                                        \
  case m:                                                                                        \
    AddLeafRows<m>(table, offsets, features_of_leaf, m, leaf_disagree, block, block_out, width); \
    break;
          FOPS_LEAF_CASE(1)
          FOPS_LEAF_CASE(2)
          FOPS_LEAF_CASE(3)
          FOPS_LEAF_CASE(4)
          FOPS_LEAF_CASE(5)
          FOPS_LEAF_CASE(6)
          FOPS_LEAF_CASE(7)
          FOPS_LEAF_CASE(8)
#undef FOPS_LEAF_CASE
          default:
            AddLeafRows<0>(table, offsets, features_of_leaf, leaf.features, leaf_disagree, block,
                           block_out, width);
        }
      }
    }
  }
  for (size_t r = 0; r < count; ++r) out[r * width + features] = bias_;
}

std::vector<double> TreeShap::Contributions(const double* row) const {
  std::vector<double> out(ensemble_->num_features() + 1);
  Workspace workspace;
  Contributions(row, out.data(), workspace);
  return out;
}

std::vector<ReasonCode> TreeShap::TopReasons(const double* row, const double* contributions,
                                             size_t features, size_t k) {
  std::vector<ReasonCode> reasons;
  reasons.reserve(features);
  for (size_t f = 0; f < features; ++f) reasons.push_back({f, row[f], contributions[f]});
  k = std::min(k, features);
  std::partial_sort(reasons.begin(), reasons.begin() + static_cast<std::ptrdiff_t>(k),
                    reasons.end(), [](const ReasonCode& a, const ReasonCode& b) {
                      const double x = std::abs(a.contribution), y = std::abs(b.contribution);
                      return x != y ? x > y : a.feature < b.feature;
                    });
  reasons.resize(k);
  return reasons;
}

}  // namespace fraudops
