#pragma once
/// The `lgbm` algorithm's parameters: LightGBM's own names, documented aliases, defaults and
/// bounds (docs/hyperparameters.md lists them), and the checked configuration the trainer
/// reads. Parameters that only tune LightGBM's own machinery (force_row_wise, deterministic,
/// verbosity, …) are accepted so LightGBM configurations carry over, and have no effect.

#include <cstdint>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/status.h"
#include "data/dataset.h"
#include "train/params.h"

namespace fraudops {

const std::vector<ParamSpec>& LgbmParamSpecs();

enum class LgbmObjective { kBinary, kRegression };

struct LgbmConfig {
  LgbmObjective objective = LgbmObjective::kBinary;
  std::string objective_name = "binary";
  int num_iterations = 100;
  double learning_rate = 0.1;
  int num_leaves = 31;
  int max_depth = -1;
  int min_data_in_leaf = 20;
  double min_sum_hessian_in_leaf = 1e-3;
  double lambda_l1 = 0, lambda_l2 = 0, min_gain_to_split = 0, max_delta_step = 0;
  // Sampling.
  bool goss = false;
  std::string tree_learner = "serial";  ///< serial or data (data-parallel on workers)
  double top_rate = 0.2, other_rate = 0.1;
  double bagging_fraction = 1, pos_bagging_fraction = 1, neg_bagging_fraction = 1;
  int bagging_freq = 0;
  double feature_fraction = 1, feature_fraction_bynode = 1;
  uint64_t seed = 0, bagging_seed = 3, feature_fraction_seed = 2, data_random_seed = 1;
  // Binning.
  int max_bin = 255, min_data_in_bin = 3, bin_construct_sample_cnt = 200000;
  bool use_missing = true, zero_as_missing = false, feature_pre_filter = true;
  // Categorical features.
  std::vector<int> categorical_features;  ///< feature indices, resolved against the dataset
  int max_cat_to_onehot = 4, max_cat_threshold = 32, min_data_per_group = 100;
  double cat_smooth = 10, cat_l2 = 10;
  // Objective.
  bool is_unbalance = false;
  double scale_pos_weight = 1, sigmoid = 1;
  bool boost_from_average = true;
  // Metrics and early stopping.
  std::vector<std::string> metrics;  ///< canonical names: binary_logloss, auc, …
  int early_stopping_round = 0;
  double early_stopping_min_delta = 0;
  bool first_metric_only = false;
  bool provide_training_metric = false;
  int metric_freq = 1;
  int num_threads = 0;
  /// The parameters as LightGBM prints them in a model's `parameters:` section.
  std::vector<std::pair<std::string, std::string>> echo;
};

/// Checks `params` (canonical names from ResolveParams) against `train`'s columns and fills the
/// configuration: categorical_feature names or indices must name features; the dataset's own
/// categorical columns are always categorical. `context` supplies the seed and thread count
/// where the parameters do not.
Result<LgbmConfig> MakeLgbmConfig(const ResolvedParams& params, const Dataset& train,
                                  const Context& context);

}  // namespace fraudops
