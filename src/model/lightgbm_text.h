#pragma once
/// Loads LightGBM's text model format (`version=v3` and `v4`, what `save_model` and the CLI
/// write): numerical splits with `decision_type` bits (bit 0 categorical, bit 1 default left,
/// bits 2–3 missing type None/Zero/NaN), categorical splits as `cat_boundaries` /
/// `cat_threshold` bitsets, single-leaf trees, objectives binary (`sigmoid:k`),
/// cross_entropy, the regression family (identity) and poisson/gamma/tweedie (exp),
/// `feature_names`, `feature_infos` (categorical features listed by code), and the
/// `pandas_categorical` line the Python package appends. Scores equal LightGBM's bit for bit.
/// Errors name the file and line.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "model/ensemble.h"

namespace fraudops {

Result<Ensemble> LoadLightgbmText(std::string_view text, const std::string& source);

}  // namespace fraudops

namespace fraudops {

/// One tree as LightGBM's text format stores it. Internal node i has children left_child[i]
/// and right_child[i]: a node index ≥ 0 or ~leaf for a leaf. A categorical node's threshold is
/// the index of its bitset in `category_bitsets` (32-bit words over category values, the
/// categories that go left).
struct LightgbmTextTree {
  int num_leaves = 1;
  std::vector<int> split_feature;
  std::vector<double> split_gain;
  std::vector<double> threshold;
  std::vector<int> decision_type;
  std::vector<int> left_child, right_child;
  std::vector<double> leaf_value, leaf_weight;
  std::vector<int64_t> leaf_count;
  std::vector<double> internal_value, internal_weight;
  std::vector<int64_t> internal_count;
  std::vector<std::vector<uint32_t>> category_bitsets;
  double shrinkage = 1;
};

/// A whole model for WriteLightgbmText: one tree per iteration (binary or regression).
struct LightgbmTextModel {
  std::string objective;  ///< as the header writes it: "binary sigmoid:1", "regression"
  int label_index = 0;
  std::vector<std::string> feature_names;
  std::vector<std::string> feature_infos;  ///< "[min:max]", "-1:0:1", "none"
  std::vector<LightgbmTextTree> trees;
  std::vector<std::pair<std::string, std::string>> parameters;  ///< the `parameters:` section
  /// The category names of each categorical feature, in feature order (code i is the i-th
  /// name), written as the Python package's `pandas_categorical:` line so the file scores
  /// text categories; empty: none (no line).
  std::vector<std::vector<std::string>> pandas_categorical;
};

/// The model in LightGBM's text format v4, as LightGBM's save_model writes it: the header with
/// tree_sizes, the trees, feature_importances (split counts) and the parameters.
std::string WriteLightgbmText(const LightgbmTextModel& model);

}  // namespace fraudops
