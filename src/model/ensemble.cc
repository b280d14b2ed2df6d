#include "model/ensemble.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"

namespace fraudops {

double Ensemble::PredictMargin(const float* row) const {
  // Summed in float, tree by tree from the base margin, as libxgboost sums (parity to 1e-6).
  float margin = static_cast<float>(base_margin);
  const size_t trees = num_trees();
  for (size_t t = 0; t < trees; ++t) {
    int32_t node = static_cast<int32_t>(tree_begin[t]);
    while (left[static_cast<size_t>(node)] >= 0) {
      const auto n = static_cast<size_t>(node);
      const float x = row[feature[n]];
      bool go_left;
      if (std::isnan(x)) {
        go_left = default_left[n] != 0;
      } else if (categorical[n]) {
        // As libxgboost 1.7: listed categories go right, every other code left (also one above
        // every listed code); a negative code goes the default way; a fraction is truncated.
        if (x < 0) {
          go_left = default_left[n] != 0;
        } else {
          const uint32_t* first = categories.data() + category_begin[n];
          const uint32_t* last = categories.data() + category_end[n];
          go_left = !std::binary_search(first, last, static_cast<uint32_t>(x));
        }
      } else {
        go_left = x < value[n];
      }
      node = go_left ? left[n] : right[n];
    }
    margin += value[static_cast<size_t>(node)];
  }
  return margin;
}

double Ensemble::ApplyLink(double margin) const {
  return link == Link::kSigmoid ? 1.0 / (1.0 + std::exp(-margin)) : margin;
}

std::vector<double> Ensemble::PredictMargins(std::span<const float> rows, const Context& context) const {
  const size_t width = std::max<size_t>(1, num_features());
  const size_t count = rows.size() / width;
  std::vector<double> out(count);
  constexpr size_t kBlock = 1024;
  const size_t blocks = (count + kBlock - 1) / kBlock;
  auto body = [&](size_t block) {
    const size_t end = std::min(count, (block + 1) * kBlock);
    for (size_t r = block * kBlock; r < end; ++r) out[r] = PredictMargin(rows.data() + r * width);
  };
  if (context.pool != nullptr) {
    context.pool->ParallelFor(blocks, body);
  } else {
    for (size_t b = 0; b < blocks; ++b) body(b);
  }
  return out;
}

EnsembleBuilder::EnsembleBuilder(std::vector<std::string> feature_names) {
  ensemble_.feature_names = std::move(feature_names);
  ensemble_.tree_begin.push_back(0);
}

void EnsembleBuilder::StartTree(size_t nodes) {
  tree_start_ = ensemble_.left.size();
  const size_t total = tree_start_ + nodes;
  ensemble_.left.resize(total, -1);
  ensemble_.right.resize(total, -1);
  ensemble_.feature.resize(total, -1);
  ensemble_.value.resize(total, 0.0f);
  ensemble_.default_left.resize(total, 0);
  ensemble_.categorical.resize(total, 0);
  set_.assign(nodes, 0);
  pending_categories_.assign(nodes, {});
}

void EnsembleBuilder::SetSplit(size_t node, int32_t feature, float threshold, bool default_left, int32_t left,
                               int32_t right) {
  if (node >= set_.size()) return;  // EndTree reports the unset nodes
  const size_t n = tree_start_ + node;
  ensemble_.feature[n] = feature;
  ensemble_.value[n] = threshold;
  ensemble_.default_left[n] = default_left ? 1 : 0;
  // Children are stored relative to the tree until EndTree checks them.
  ensemble_.left[n] = left;
  ensemble_.right[n] = right;
  set_[node] = 1;
}

void EnsembleBuilder::SetCategoricalSplit(size_t node, int32_t feature, std::vector<uint32_t> categories,
                                          bool default_left, int32_t left, int32_t right) {
  std::sort(categories.begin(), categories.end());
  SetSplit(node, feature, 0.0f, default_left, left, right);
  if (node >= set_.size()) return;
  ensemble_.categorical[tree_start_ + node] = 1;
  pending_categories_[node] = std::move(categories);
}

void EnsembleBuilder::SetLeaf(size_t node, float value) {
  if (node >= set_.size()) return;
  const size_t n = tree_start_ + node;
  ensemble_.left[n] = ensemble_.right[n] = ensemble_.feature[n] = -1;
  ensemble_.value[n] = value;
  set_[node] = 1;
}

Status EnsembleBuilder::EndTree(const std::string& where) {
  const size_t nodes = set_.size();
  if (nodes == 0) return Status::DataError(where + ": a tree has no nodes");
  const auto features = static_cast<int32_t>(ensemble_.feature_names.size());
  std::vector<uint8_t> reached(nodes, 0);
  reached[0] = 1;
  for (size_t node = 0; node < nodes; ++node) {
    const std::string at = where + ": node " + std::to_string(node);
    if (!set_[node]) return Status::DataError(at + " is not defined");
    const size_t n = tree_start_ + node;
    if (ensemble_.left[n] < 0 && ensemble_.right[n] < 0) continue;  // a leaf
    if (ensemble_.feature[n] < 0 || ensemble_.feature[n] >= features) {
      return Status::DataError(at + " splits on feature " + std::to_string(ensemble_.feature[n]) +
                               ", but the model has " + std::to_string(features) + " features");
    }
    for (int32_t* child : {&ensemble_.left[n], &ensemble_.right[n]}) {
      // Children come after their parent: no cycles, and every node is reached once at most.
      if (*child <= static_cast<int32_t>(node) || *child >= static_cast<int32_t>(nodes)) {
        return Status::DataError(at + " has child " + std::to_string(*child) + "; accepted: a node after it, below " +
                                 std::to_string(nodes));
      }
      if (reached[static_cast<size_t>(*child)]++) {
        return Status::DataError(at + ": node " + std::to_string(*child) + " has two parents");
      }
      *child += static_cast<int32_t>(tree_start_);
    }
  }
  for (size_t node = 0; node < nodes; ++node) {
    if (!reached[node]) return Status::DataError(where + ": node " + std::to_string(node) + " is unreachable");
    ensemble_.category_begin.push_back(static_cast<uint32_t>(ensemble_.categories.size()));
    ensemble_.categories.insert(ensemble_.categories.end(), pending_categories_[node].begin(),
                                pending_categories_[node].end());
    ensemble_.category_end.push_back(static_cast<uint32_t>(ensemble_.categories.size()));
  }
  ensemble_.tree_begin.push_back(static_cast<uint32_t>(ensemble_.left.size()));
  set_.clear();
  return Status::Ok();
}

Result<Ensemble> EnsembleBuilder::Finish(double base_margin, Link link, std::string source_format) {
  if (!set_.empty()) return Status::Internal("EnsembleBuilder::Finish inside an unfinished tree");
  ensemble_.base_margin = base_margin;
  ensemble_.link = link;
  ensemble_.source_format = std::move(source_format);
  return std::move(ensemble_);
}

}  // namespace fraudops
