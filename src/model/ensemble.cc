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
constexpr uint32_t kSlowFlags = TreeNode::kSlowFlags;

/// One step down from node `i` (a leaf steps to itself). `row` is prepared (rounded to float
/// for XGBoost models); see GoesRightFast. The fast variant is a load, a compare and an add:
/// NaN-free rows on numerical trees, nearly all of them, take no branch at all.
template <bool kNan, bool kSlow>
inline uint32_t Step(const Ensemble& e, uint32_t i, const double* row) {
  const TreeNode& n = e.nodes[i];
  return static_cast<uint32_t>(n.left) +
         static_cast<uint32_t>(GoesRightFast<kNan, kSlow>(e, n, row[n.feature()]));
}

template <bool kNan, bool kSlow>
inline uint32_t Walk(const Ensemble& e, size_t tree, const double* row) {
  uint32_t node = e.tree_begin[tree];
  for (uint32_t d = e.tree_depth[tree]; d > 0; --d) node = Step<kNan, kSlow>(e, node, row);
  return node;
}

template <Precision P>
using Accumulator = std::conditional_t<P == Precision::kFloat32, float, double>;

/// An input value as the model compares it (float-rounded for XGBoost models).
template <Precision P, typename Input>
inline double AsCompared(Input value) {
  if constexpr (P == Precision::kFloat32) return static_cast<float>(value);
  return static_cast<double>(value);
}

/// Copies `count` values to `out` as the model compares them; true when one is NaN.
template <Precision P, typename Input>
bool PrepareRow(const Input* in, size_t count, double* out) {
  bool nan = false;
  for (size_t f = 0; f < count; ++f) {
    out[f] = AsCompared<P>(in[f]);
    nan |= std::isnan(out[f]);
  }
  return nan;
}

/// One prepared row: trees walked kLanes at a time so their independent walks overlap.
template <Precision P, bool kNan>
double SumLeaves(const Ensemble& e, const double* row) {
  constexpr size_t kLanes = 16;
  auto margin = static_cast<Accumulator<P>>(e.base_margin);
  const size_t trees = e.num_trees();
  size_t t = 0;
  for (; t + kLanes <= trees; t += kLanes) {
    uint32_t node[kLanes];
    uint32_t depth = 0;
    bool slow = false;
    for (size_t k = 0; k < kLanes; ++k) {
      node[k] = e.tree_begin[t + k];
      depth = std::max(depth, e.tree_depth[t + k]);
      slow |= e.tree_has_slow_nodes[t + k] != 0;
    }
    if (slow) {
      for (uint32_t d = 0; d < depth; ++d) {
        for (size_t k = 0; k < kLanes; ++k) node[k] = Step<kNan, true>(e, node[k], row);
      }
    } else {
      for (uint32_t d = 0; d < depth; ++d) {
#pragma GCC unroll 16
        for (size_t k = 0; k < kLanes; ++k) node[k] = Step<kNan, false>(e, node[k], row);
      }
    }
    for (size_t k = 0; k < kLanes; ++k)
      margin += static_cast<Accumulator<P>>(e.leaf_value[node[k]]);
  }
  for (; t < trees; ++t)
    margin += static_cast<Accumulator<P>>(e.leaf_value[Walk<kNan, true>(e, t, row)]);
  return margin;
}

/// Rows are prepared on the stack up to this many features, else in a per-thread buffer.
constexpr size_t kStackFeatures = 256;

template <Precision P>
double PredictOne(const Ensemble& e, const double* row) {
  const size_t width = e.num_features();
  double stack[kStackFeatures];
  thread_local std::vector<double> heap;
  double* prepared = stack;
  if (width > kStackFeatures) {
    heap.resize(width);
    prepared = heap.data();
  }
  return PrepareRow<P>(row, width, prepared) ? SumLeaves<P, true>(e, prepared)
                                             : SumLeaves<P, false>(e, prepared);
}

/// Rows per block of a batch; a block is stored column by column (feature f of row r at
/// [f * kBlockRows + r]), so the lanes of a walk read one feature at adjacent addresses.
constexpr size_t kBlockRows = 64;

/// Step for a column-major block: the value of lane `offset / 8` of the block at `base`. The
/// feature's column starts at feature × kBlockRows × 8 bytes = (feature << 8) × 2, straight
/// from the node's packed feature bits; with the loop unrolled, `offset` is a constant.
template <bool kNan, bool kSlow>
inline uint32_t BlockStep(const Ensemble& e, uint32_t i, const char* base, size_t offset) {
  static_assert(kBlockRows * sizeof(double) == 512,
                "the column offset below assumes 64-row blocks");
  const TreeNode& n = e.nodes[i];
  const double x = *reinterpret_cast<const double*>(
      base + static_cast<size_t>(n.feature_flags & ~0xffu) * 2 + offset);
  return static_cast<uint32_t>(n.left) + static_cast<uint32_t>(GoesRightFast<kNan, kSlow>(e, n, x));
}

/// One tree over the rows of a prepared block, kLanes rows walked at once (the lanes stay in
/// registers), so the tree's nodes stay in cache while the block passes through it.
template <Precision P, bool kNan, bool kSlow>
void BlockTree(const Ensemble& e, size_t t, const double* columns, size_t count,
               Accumulator<P>* sums) {
  constexpr size_t kLanes = 16;
  const uint32_t root = e.tree_begin[t], depth = e.tree_depth[t];
  for (size_t r = 0; r < count; r += kLanes) {
    uint32_t node[kLanes];
    for (size_t k = 0; k < kLanes; ++k) node[k] = root;
    const char* base =
        reinterpret_cast<const char*>(columns + r);  // rows past `count` are zero padding
    for (uint32_t d = 0; d < depth; ++d) {
#pragma GCC unroll 16
      for (size_t k = 0; k < kLanes; ++k)
        node[k] = BlockStep<kNan, kSlow>(e, node[k], base, k * sizeof(double));
    }
    for (size_t k = 0; k < kLanes && r + k < count; ++k)
      sums[r + k] += static_cast<Accumulator<P>>(e.leaf_value[node[k]]);
  }
}

/// Copies rows into a column-major block as the model compares them, zero-padded to
/// kBlockRows; true when a value is NaN.
template <Precision P, typename Input>
bool PrepareBlock(const Input* rows, size_t count, size_t width, double* columns) {
  bool nan = false;
  for (size_t r = 0; r < count; ++r) {
    for (size_t f = 0; f < width; ++f) {
      const double x = AsCompared<P>(rows[r * width + f]);
      nan |= std::isnan(x);
      columns[f * kBlockRows + r] = x;
    }
  }
  for (size_t f = 0; f < width; ++f)
    std::fill(columns + f * kBlockRows + count, columns + (f + 1) * kBlockRows, 0.0);
  return nan;
}

/// Margins of rows [begin, end) in blocks of kBlockRows. Each row still sums its trees in
/// order, so the result equals PredictOne exactly.
template <Precision P, typename Input>
void PredictBlock(const Ensemble& e, const Input* rows, size_t begin, size_t end, double* out) {
  const size_t width = e.num_features();
  std::vector<double> columns(kBlockRows * std::max<size_t>(1, width));
  Accumulator<P> sums[kBlockRows];
  for (size_t first = begin; first < end; first += kBlockRows) {
    const size_t count = std::min(kBlockRows, end - first);
    const bool nan = PrepareBlock<P>(rows + first * width, count, width, columns.data());
    std::fill(sums, sums + count, static_cast<Accumulator<P>>(e.base_margin));
    for (size_t t = 0; t < e.num_trees(); ++t) {
      const bool slow = e.tree_has_slow_nodes[t] != 0;
      if (nan) {
        slow ? BlockTree<P, true, true>(e, t, columns.data(), count, sums)
             : BlockTree<P, true, false>(e, t, columns.data(), count, sums);
      } else {
        slow ? BlockTree<P, false, true>(e, t, columns.data(), count, sums)
             : BlockTree<P, false, false>(e, t, columns.data(), count, sums);
      }
    }
    for (size_t r = 0; r < count; ++r) out[first + r] = sums[r];
  }
}

template <typename Input>
std::vector<double> PredictBatch(const Ensemble& e, std::span<const Input> rows,
                                 const Context& context) {
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
  if (std::isnan(x)) return default_right;
  if (flags & TreeNode::kCategorical) {
    // A negative code goes the default way: XGBoost tests the value, LightGBM its int cast.
    if (precision == Precision::kFloat32 ? x < 0 : x <= -1) return default_right;
    if (x >= 2147483648.0) return false;  // beyond every listed code
    const auto code = static_cast<uint32_t>(x);
    const uint32_t* bits = category_bits.data() + static_cast<size_t>(n.value);
    const uint32_t word = code / 32;
    return word < bits[0] && ((bits[1 + word] >> (code % 32)) & 1u) != 0;
  }
  if ((flags & TreeNode::kMissingZero) && x >= -kZeroThreshold && x <= kZeroThreshold)
    return default_right;
  return x > n.value;
}

uint32_t Ensemble::LeafNode(size_t tree, const double* row) const {
  uint32_t node = tree_begin[tree];
  for (uint32_t d = tree_depth[tree]; d > 0; --d) {
    const TreeNode& n = nodes[node];
    double x = row[n.feature()];
    if (precision == Precision::kFloat32) x = static_cast<float>(x);
    node = static_cast<uint32_t>(n.left) +
           static_cast<uint32_t>(GoesRightFast<true, true>(*this, n, x));
  }
  return node;
}

double Ensemble::PredictMargin(const double* row) const {
  return precision == Precision::kFloat32 ? PredictOne<Precision::kFloat32>(*this, row)
                                          : PredictOne<Precision::kFloat64>(*this, row);
}

void Ensemble::PredictLeaves(const double* row, int32_t* out) const {
  for (size_t t = 0; t < num_trees(); ++t) out[t] = leaf_id[LeafNode(t, row)];
}

double Ensemble::ApplyLink(double margin) const {
  switch (link) {
    case Link::kSigmoid:
      return 1.0 / (1.0 + std::exp(-link_scale * margin));
    case Link::kExp:
      return std::exp(margin);
    case Link::kIdentity:
      break;
  }
  return margin;
}

std::vector<double> Ensemble::PredictMargins(std::span<const double> rows,
                                             const Context& context) const {
  return PredictBatch(*this, rows, context);
}

std::vector<double> Ensemble::PredictMargins(std::span<const float> rows,
                                             const Context& context) const {
  return PredictBatch(*this, rows, context);
}

size_t Ensemble::MemoryBytes() const {
  auto bytes = [](const auto& v) { return v.capacity() * sizeof(v[0]); };
  size_t total = bytes(nodes) + bytes(tree_begin) + bytes(category_bits) + bytes(cover) +
                 bytes(leaf_value) + bytes(leaf_id) + bytes(tree_depth) +
                 bytes(tree_has_slow_nodes) + bytes(feature_is_categorical);
  for (const std::string& name : feature_names) total += sizeof(name) + name.capacity();
  for (const auto& categories : feature_categories) {
    total += sizeof(categories);
    for (const std::string& name : categories) total += sizeof(name) + name.capacity();
  }
  return total;
}

size_t Ensemble::max_depth() const {
  return tree_depth.empty() ? 0 : *std::max_element(tree_depth.begin(), tree_depth.end());
}

EnsembleBuilder::EnsembleBuilder(std::vector<std::string> feature_names) {
  ensemble_.feature_names = std::move(feature_names);
  ensemble_.feature_categories.resize(ensemble_.feature_names.size());
  ensemble_.feature_is_categorical.resize(ensemble_.feature_names.size(), 0);
  ensemble_.tree_begin.push_back(0);
}

void EnsembleBuilder::StartTree(size_t nodes) { tree_.assign(nodes, Pending{}); }

void EnsembleBuilder::SetSplit(size_t node, int32_t feature, double threshold, MissingType missing,
                               bool default_left, int32_t left, int32_t right, double cover) {
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

void EnsembleBuilder::SetCategoricalSplit(size_t node, int32_t feature,
                                          std::vector<uint32_t> categories, bool listed_go_left,
                                          bool default_left, int32_t left, int32_t right,
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
      return Status::DataError(at + " splits on feature " + std::to_string(p.feature) +
                               ", but the model has " + std::to_string(features) + " features");
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
        return Status::DataError(where + ": node " + std::to_string(child) +
                                 " is reached twice (from node " + std::to_string(order[i]) + ")");
      }
      placed[static_cast<size_t>(child)] = static_cast<int64_t>(order.size());
      order.push_back(static_cast<size_t>(child));
    }
  }
  if (order.size() != count) {
    for (size_t node = 0; node < count; ++node) {
      if (placed[node] < 0)
        return Status::DataError(where + ": node " + std::to_string(node) + " is unreachable");
    }
  }
  const auto base = static_cast<uint32_t>(ensemble_.nodes.size());
  std::vector<uint32_t> depth(count, 0);  // by layout position
  uint32_t deepest = 0;
  for (size_t position = 0; position < order.size(); ++position) {
    const Pending& p = tree_[order[position]];
    TreeNode n{};
    uint32_t flags = 0;
    deepest = std::max(deepest, depth[position]);
    if (p.leaf) {
      // A leaf steps to itself: +inf never sends a value right, and NaN defaults left.
      n.value = std::numeric_limits<double>::infinity();
      n.left = static_cast<int32_t>(base + position);
      flags = TreeNode::kLeaf | TreeNode::kDefaultLeft;
    } else {
      const auto left = static_cast<size_t>(placed[static_cast<size_t>(p.left)]);
      depth[left] = depth[left + 1] = depth[position] + 1;
      n.left = static_cast<int32_t>(base + left);
      bool default_left = p.default_left;
      // Nothing missing (LightGBM's MissingType None): NaN reads as 0, i.e. goes right
      // exactly when the threshold is below 0 — a default direction.
      if (p.missing == MissingType::kNone && !p.categorical) default_left = !(p.value < 0);
      if (default_left) flags |= TreeNode::kDefaultLeft;
      if (p.missing == MissingType::kZero && !p.categorical) flags |= TreeNode::kMissingZero;
      if (p.categorical) {
        flags |= TreeNode::kCategorical;
        const uint32_t largest =
            p.categories.empty() ? 0 : *std::max_element(p.categories.begin(), p.categories.end());
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
    ensemble_.leaf_value.push_back(p.leaf ? p.value : 0.0);
    ensemble_.leaf_id.push_back(p.leaf ? p.leaf_id : -1);
  }
  ensemble_.tree_begin.push_back(static_cast<uint32_t>(ensemble_.nodes.size()));
  ensemble_.tree_depth.push_back(deepest);
  bool slow = false;
  for (size_t i = base; i < ensemble_.nodes.size(); ++i)
    slow |= (ensemble_.nodes[i].feature_flags & kSlowFlags) != 0;
  ensemble_.tree_has_slow_nodes.push_back(slow ? 1 : 0);
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
