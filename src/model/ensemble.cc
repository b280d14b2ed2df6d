#include "model/ensemble.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/thread_pool.h"

namespace fraudops {

namespace {

/// LightGBM's kZeroThreshold: |x| up to this counts as zero for zero-as-missing splits.
constexpr double kZeroThreshold = static_cast<double>(1e-35f);

template <Precision P>
inline double ReadFeature(const double* row, uint32_t feature) {
  if constexpr (P == Precision::kFloat32) return static_cast<float>(row[feature]);
  return row[feature];
}

template <Precision P>
inline uint32_t FindLeaf(const Ensemble& e, uint32_t node, const double* row) {
  const TreeNode* nodes = e.nodes.data();
  while (!nodes[node].is_leaf()) {
    const TreeNode& n = nodes[node];
    const double x = ReadFeature<P>(row, n.feature());
    // The common case first: a numerical split on a present value.
    bool right = (n.feature_flags & (TreeNode::kCategorical | TreeNode::kMissingZero)) == 0 && !std::isnan(x)
                     ? !(x <= n.value)
                     : e.GoesRight(n, x);
    node = static_cast<uint32_t>(n.left) + (right ? 1u : 0u);
  }
  return node;
}

template <Precision P>
double SumLeaves(const Ensemble& e, const double* row) {
  using Accumulator = std::conditional_t<P == Precision::kFloat32, float, double>;
  auto margin = static_cast<Accumulator>(e.base_margin);
  const size_t trees = e.num_trees();
  for (size_t t = 0; t < trees; ++t) margin += static_cast<Accumulator>(e.nodes[FindLeaf<P>(e, e.tree_begin[t], row)].value);
  return margin;
}

/// Margins of rows [begin, end), tree by tree over blocks of rows so a tree's nodes stay in
/// cache while the block passes through it. Each row still sums its trees in order, so the
/// result equals SumLeaves exactly.
template <Precision P, typename Input>
void PredictBlock(const Ensemble& e, const Input* rows, size_t begin, size_t end, double* out) {
  using Accumulator = std::conditional_t<P == Precision::kFloat32, float, double>;
  constexpr size_t kRows = 64;
  const size_t width = e.num_features();
  std::vector<double> converted;
  Accumulator sums[kRows];
  for (size_t first = begin; first < end; first += kRows) {
    const size_t count = std::min(kRows, end - first);
    const double* block;
    if constexpr (std::is_same_v<Input, double>) {
      block = rows + first * width;
    } else {
      converted.assign(rows + first * width, rows + (first + count) * width);
      block = converted.data();
    }
    std::fill(sums, sums + count, static_cast<Accumulator>(e.base_margin));
    for (size_t t = 0; t < e.num_trees(); ++t) {
      const uint32_t root = e.tree_begin[t];
      for (size_t r = 0; r < count; ++r) {
        sums[r] += static_cast<Accumulator>(e.nodes[FindLeaf<P>(e, root, block + r * width)].value);
      }
    }
    for (size_t r = 0; r < count; ++r) out[first + r] = sums[r];
  }
}

template <typename Input>
std::vector<double> PredictBatch(const Ensemble& e, std::span<const Input> rows, const Context& context) {
  const size_t width = std::max<size_t>(1, e.num_features());
  const size_t count = rows.size() / width;
  std::vector<double> out(count);
  constexpr size_t kTask = 1024;
  const size_t tasks = (count + kTask - 1) / kTask;
  auto body = [&](size_t task) {
    const size_t begin = task * kTask, end = std::min(count, begin + kTask);
    if (e.precision == Precision::kFloat32) {
      PredictBlock<Precision::kFloat32>(e, rows.data(), begin, end, out.data());
    } else {
      PredictBlock<Precision::kFloat64>(e, rows.data(), begin, end, out.data());
    }
  };
  if (context.pool != nullptr && tasks > 1) {
    context.pool->ParallelFor(tasks, body);
  } else {
    for (size_t task = 0; task < tasks; ++task) body(task);
  }
  return out;
}

}  // namespace

double FloatBelow(float t) { return std::nextafter(t, -std::numeric_limits<float>::infinity()); }

bool Ensemble::GoesRight(const TreeNode& n, double x) const {
  const uint8_t flags = n.flags();
  const bool default_right = (flags & TreeNode::kDefaultLeft) == 0;
  if (std::isnan(x)) {
    if (flags & (TreeNode::kMissingNan | TreeNode::kMissingZero | TreeNode::kCategorical)) return default_right;
    x = 0.0;  // nothing is missing at this node: NaN reads as zero (LightGBM's MissingType None)
  }
  if (flags & TreeNode::kCategorical) {
    // A negative code goes the default way: XGBoost tests the value, LightGBM its int cast.
    if (precision == Precision::kFloat32 ? x < 0 : x <= -1) return default_right;
    if (x >= 2147483648.0) return false;  // beyond every listed code
    const auto code = static_cast<uint32_t>(x);
    const uint32_t* bits = category_bits.data() + static_cast<size_t>(n.value);
    const uint32_t word = code / 32;
    return word < bits[0] && ((bits[1 + word] >> (code % 32)) & 1u) != 0;
  }
  if ((flags & TreeNode::kMissingZero) && x >= -kZeroThreshold && x <= kZeroThreshold) return default_right;
  return !(x <= n.value);
}

uint32_t Ensemble::LeafNode(size_t tree, const double* row) const {
  return precision == Precision::kFloat32 ? FindLeaf<Precision::kFloat32>(*this, tree_begin[tree], row)
                                          : FindLeaf<Precision::kFloat64>(*this, tree_begin[tree], row);
}

double Ensemble::PredictMargin(const double* row) const {
  return precision == Precision::kFloat32 ? SumLeaves<Precision::kFloat32>(*this, row)
                                          : SumLeaves<Precision::kFloat64>(*this, row);
}

void Ensemble::PredictLeaves(const double* row, int32_t* out) const {
  for (size_t t = 0; t < num_trees(); ++t) out[t] = nodes[LeafNode(t, row)].left;
}

double Ensemble::ApplyLink(double margin) const {
  switch (link) {
    case Link::kSigmoid: return 1.0 / (1.0 + std::exp(-link_scale * margin));
    case Link::kExp: return std::exp(margin);
    case Link::kIdentity: break;
  }
  return margin;
}

std::vector<double> Ensemble::PredictMargins(std::span<const double> rows, const Context& context) const {
  return PredictBatch(*this, rows, context);
}

std::vector<double> Ensemble::PredictMargins(std::span<const float> rows, const Context& context) const {
  return PredictBatch(*this, rows, context);
}

size_t Ensemble::max_depth() const {
  size_t deepest = 0;
  for (size_t t = 0; t < num_trees(); ++t) {
    // Breadth-first layout: a child's index is above its parent's, one pass gives depths.
    std::vector<uint32_t> depth(tree_begin[t + 1] - tree_begin[t], 0);
    for (uint32_t n = tree_begin[t]; n < tree_begin[t + 1]; ++n) {
      const uint32_t d = depth[n - tree_begin[t]];
      deepest = std::max<size_t>(deepest, d);
      if (!nodes[n].is_leaf()) {
        depth[static_cast<uint32_t>(nodes[n].left) - tree_begin[t]] = d + 1;
        depth[static_cast<uint32_t>(nodes[n].left) + 1 - tree_begin[t]] = d + 1;
      }
    }
  }
  return deepest;
}

EnsembleBuilder::EnsembleBuilder(std::vector<std::string> feature_names) {
  ensemble_.feature_names = std::move(feature_names);
  ensemble_.feature_categories.resize(ensemble_.feature_names.size());
  ensemble_.feature_is_categorical.resize(ensemble_.feature_names.size(), 0);
  ensemble_.tree_begin.push_back(0);
}

void EnsembleBuilder::StartTree(size_t nodes) { tree_.assign(nodes, Pending{}); }

void EnsembleBuilder::SetSplit(size_t node, int32_t feature, double threshold, MissingType missing, bool default_left,
                               int32_t left, int32_t right, double cover) {
  if (node >= tree_.size()) return;  // EndTree reports the unset nodes
  Pending& p = tree_[node];
  p = Pending{};
  p.set = true;
  p.feature = feature;
  p.value = threshold;
  p.missing = missing;
  p.default_left = default_left;
  p.left = left;
  p.right = right;
  p.cover = cover;
}

void EnsembleBuilder::SetCategoricalSplit(size_t node, int32_t feature, std::vector<uint32_t> categories,
                                          bool listed_go_left, bool default_left, int32_t left, int32_t right,
                                          double cover) {
  if (node >= tree_.size()) return;
  // Stored as "listed go right": a left-listing split is mirrored, default side included.
  if (listed_go_left) {
    std::swap(left, right);
    default_left = !default_left;
  }
  SetSplit(node, feature, 0.0, MissingType::kNan, default_left, left, right, cover);
  tree_[node].categorical = true;
  tree_[node].categories = std::move(categories);
}

void EnsembleBuilder::SetLeaf(size_t node, double value, int32_t leaf_id, double cover) {
  if (node >= tree_.size()) return;
  Pending& p = tree_[node];
  p = Pending{};
  p.set = p.leaf = true;
  p.value = value;
  p.leaf_id = leaf_id;
  p.cover = cover;
}

Status EnsembleBuilder::EndTree(const std::string& where) {
  const size_t count = tree_.size();
  if (count == 0) return Status::DataError(where + ": a tree has no nodes");
  const auto features = static_cast<int64_t>(ensemble_.feature_names.size());
  for (size_t node = 0; node < count; ++node) {
    const Pending& p = tree_[node];
    const std::string at = where + ": node " + std::to_string(node);
    if (!p.set) return Status::DataError(at + " is not defined");
    if (p.leaf) continue;
    if (p.feature < 0 || p.feature >= features || p.feature >= (1 << 24)) {
      return Status::DataError(at + " splits on feature " + std::to_string(p.feature) + ", but the model has " +
                               std::to_string(features) + " features");
    }
    if (p.categorical && !p.categories.empty() &&
        *std::max_element(p.categories.begin(), p.categories.end()) >= (1u << 24)) {
      return Status::DataError(at + " lists a category code above 16777215");
    }
    for (int32_t child : {p.left, p.right}) {
      if (child < 0 || child >= static_cast<int32_t>(count)) {
        return Status::DataError(at + " has child " + std::to_string(child) + "; accepted: 0.." +
                                 std::to_string(count - 1));
      }
    }
  }
  // Breadth-first layout with siblings adjacent; reaching a node twice (a cycle or a shared
  // child) or never is an error.
  std::vector<int64_t> placed(count, -1);
  std::vector<size_t> order{0};
  placed[0] = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const Pending& p = tree_[order[i]];
    if (p.leaf) continue;
    for (int32_t child : {p.left, p.right}) {
      if (placed[static_cast<size_t>(child)] >= 0) {
        return Status::DataError(where + ": node " + std::to_string(child) + " is reached twice (from node " +
                                 std::to_string(order[i]) + ")");
      }
      placed[static_cast<size_t>(child)] = static_cast<int64_t>(order.size());
      order.push_back(static_cast<size_t>(child));
    }
  }
  if (order.size() != count) {
    for (size_t node = 0; node < count; ++node) {
      if (placed[node] < 0) return Status::DataError(where + ": node " + std::to_string(node) + " is unreachable");
    }
  }
  const auto base = static_cast<uint32_t>(ensemble_.nodes.size());
  for (size_t old : order) {
    const Pending& p = tree_[old];
    TreeNode n{};
    uint32_t flags = 0;
    if (p.leaf) {
      n.value = p.value;
      n.left = p.leaf_id;
      flags = TreeNode::kLeaf;
    } else {
      n.left = static_cast<int32_t>(base + static_cast<uint32_t>(placed[static_cast<size_t>(p.left)]));
      if (p.default_left) flags |= TreeNode::kDefaultLeft;
      if (p.missing == MissingType::kZero) flags |= TreeNode::kMissingZero;
      if (p.missing == MissingType::kNan) flags |= TreeNode::kMissingNan;
      if (p.categorical) {
        flags |= TreeNode::kCategorical;
        const uint32_t largest = p.categories.empty() ? 0 : *std::max_element(p.categories.begin(), p.categories.end());
        const uint32_t words = p.categories.empty() ? 0 : largest / 32 + 1;
        n.value = static_cast<double>(ensemble_.category_bits.size());
        ensemble_.category_bits.push_back(words);
        const size_t first = ensemble_.category_bits.size();
        ensemble_.category_bits.resize(first + words, 0);
        for (uint32_t c : p.categories) ensemble_.category_bits[first + c / 32] |= 1u << (c % 32);
      } else {
        n.value = p.value;
      }
      n.feature_flags = static_cast<uint32_t>(p.feature) << 8;
    }
    n.feature_flags |= flags;
    ensemble_.nodes.push_back(n);
    ensemble_.cover.push_back(p.cover);
  }
  ensemble_.tree_begin.push_back(static_cast<uint32_t>(ensemble_.nodes.size()));
  tree_.clear();
  return Status::Ok();
}

Result<Ensemble> EnsembleBuilder::Finish(double base_margin, Link link, Precision precision,
                                         std::string source_format) {
  if (!tree_.empty()) return Status::Internal("EnsembleBuilder::Finish inside an unfinished tree");
  ensemble_.base_margin = base_margin;
  ensemble_.link = link;
  ensemble_.precision = precision;
  ensemble_.source_format = std::move(source_format);
  return std::move(ensemble_);
}

}  // namespace fraudops
