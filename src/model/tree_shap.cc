#include "model/tree_shap.h"

#include <algorithm>
#include <array>
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
void Extend(PathElement* path, size_t depth, double zero_fraction, double one_fraction, int64_t feature,
            const double* reciprocal) {
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
      next = weight - path[i].weight * zero * static_cast<double>(depth - i) * reciprocal[depth + 1];
    }
  } else {
    const double inverse_zero = 1 / zero;
    for (size_t i = depth; i-- > 0;) path[i].weight = path[i].weight * d1 * inverse_zero * reciprocal[depth - i];
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
      next = path[i].weight - weight * zero * static_cast<double>(depth - i) * reciprocal[depth + 1];
    }
  } else {
    const double inverse_zero = 1 / zero;
    for (size_t i = depth; i-- > 0;) total += path[i].weight * inverse_zero * d1 * reciprocal[depth - i];
  }
  return total;
}

}  // namespace

Result<TreeShap> TreeShap::Create(const Ensemble& ensemble) {
  TreeShap shap(ensemble);
  if (ensemble.cover.size() != ensemble.nodes.size()) return Status::Internal("TreeShap: covers missing");
  // The bias: the base margin plus each tree's cover-weighted mean leaf value, computed
  // bottom-up (breadth-first layout: children after parents, so walk backwards).
  std::vector<double> mean(ensemble.nodes.size());
  shap.bias_ = ensemble.base_margin;
  for (size_t t = 0; t < ensemble.num_trees(); ++t) {
    for (uint32_t n = ensemble.tree_begin[t + 1]; n-- > ensemble.tree_begin[t];) {
      const TreeNode& node = ensemble.nodes[n];
      if (!(ensemble.cover[n] > 0) && !(node.is_leaf() && n == ensemble.tree_begin[t])) {
        return Status::InvalidArgument("tree " + std::to_string(t) +
                                       " has a node without training cover (a model saved without statistics); "
                                       "explanations need it");
      }
      if (node.is_leaf()) {
        mean[n] = ensemble.leaf_value[n];
      } else {
        const auto left = static_cast<uint32_t>(node.left);
        mean[n] = (mean[left] * ensemble.cover[left] + mean[left + 1] * ensemble.cover[left + 1]) / ensemble.cover[n];
      }
    }
    shap.bias_ += mean[ensemble.tree_begin[t]];
  }
  if (ensemble.max_depth() + 2 > kMaxDepth) {
    return Status::InvalidArgument("explanations support trees up to " + std::to_string(kMaxDepth - 2) +
                                   " levels deep; this model has " + std::to_string(ensemble.max_depth()));
  }
  const size_t depth = ensemble.max_depth() + 2;
  shap.path_size_ = (depth + 1) * (depth + 2) / 2;
  return shap;
}

void TreeShap::Recurse(uint32_t node, const double* row, double* phi, PathElement* parent_path, size_t depth,
                       double zero_fraction, double one_fraction, int64_t feature) const {
  const Ensemble& e = *ensemble_;
  PathElement* path = parent_path + depth + 1;
  std::copy(parent_path, parent_path + depth + 1, path);
  const double* reciprocal = Reciprocals().data();
  Extend(path, depth, zero_fraction, one_fraction, feature, reciprocal);
  const TreeNode& n = e.nodes[node];
  if (n.is_leaf()) {
    for (size_t i = 1; i <= depth; ++i) {
      const double weight = UnwoundSum(path, depth, i, reciprocal);
      phi[path[i].feature] += weight * (path[i].one_fraction - path[i].zero_fraction) * e.leaf_value[node];
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

void TreeShap::Contributions(const double* row, double* out, Workspace& workspace) const {
  const Ensemble& e = *ensemble_;
  const size_t features = e.num_features();
  std::fill(out, out + features + 1, 0.0);
  workspace.path.resize(path_size_);
  for (size_t t = 0; t < e.num_trees(); ++t) {
    if (e.nodes[e.tree_begin[t]].is_leaf()) continue;  // a single leaf only adds to the bias
    Recurse(e.tree_begin[t], row, out, workspace.path.data(), 0, 1, 1, -1);
  }
  out[features] = bias_;
}

std::vector<double> TreeShap::Contributions(const double* row) const {
  std::vector<double> out(ensemble_->num_features() + 1);
  Workspace workspace;
  Contributions(row, out.data(), workspace);
  return out;
}

std::vector<ReasonCode> TreeShap::TopReasons(const double* row, const double* contributions, size_t features,
                                             size_t k) {
  std::vector<ReasonCode> reasons;
  reasons.reserve(features);
  for (size_t f = 0; f < features; ++f) reasons.push_back({f, row[f], contributions[f]});
  k = std::min(k, features);
  std::partial_sort(reasons.begin(), reasons.begin() + static_cast<std::ptrdiff_t>(k), reasons.end(),
                    [](const ReasonCode& a, const ReasonCode& b) {
                      const double x = std::abs(a.contribution), y = std::abs(b.contribution);
                      return x != y ? x > y : a.feature < b.feature;
                    });
  reasons.resize(k);
  return reasons;
}

}  // namespace fraudops
