#include "train/lgbm_params.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/numbers.h"
#include "core/strings.h"
#include "core/thread_pool.h"

namespace fraudops {

namespace {

constexpr double kIntMax = 2147483647.0;

const std::vector<std::string> kRegressionNames = {
    "regression", "regression_l2",           "l2",  "mean_squared_error", "mse",
    "l2_root",    "root_mean_squared_error", "rmse"};

/// Metric names and their aliases, by canonical name.
const std::map<std::string, std::vector<std::string>>& MetricAliases() {
  static const std::map<std::string, std::vector<std::string>> kAliases = {
      {"binary_logloss", {"binary_logloss", "binary"}},
      {"binary_error", {"binary_error"}},
      {"auc", {"auc"}},
      {"average_precision", {"average_precision"}},
      {"l2", {"l2", "mean_squared_error", "mse", "regression_l2", "regression"}},
      {"rmse", {"rmse", "root_mean_squared_error", "l2_root"}},
      {"l1", {"l1", "mean_absolute_error", "mae", "regression_l1"}},
  };
  return kAliases;
}

std::vector<std::string> MetricChoices() {
  std::vector<std::string> choices;
  for (const auto& [name, aliases] : MetricAliases())
    choices.insert(choices.end(), aliases.begin(), aliases.end());
  for (const char* none : {"None", "none", "null", "na", "custom"}) choices.emplace_back(none);
  return choices;
}

}  // namespace

const std::vector<ParamSpec>& LgbmParamSpecs() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<std::string> objectives = {"binary"};
    objectives.insert(objectives.end(), kRegressionNames.begin(), kRegressionNames.end());
    return std::vector<ParamSpec>{
        // Core.
        {"objective",
         ParamKind::kString,
         -kInf,
         kInf,
         "regression (LightGBM), binary (fraudops)",
         "binary: log loss on 0/1 labels (fraudops' default); regression: squared error.",
         {"objective_type", "app", "application", "loss"},
         objectives},
        {"boosting",
         ParamKind::kString,
         -kInf,
         kInf,
         "gbdt",
         "gbdt; goss is accepted as LightGBM 3 spelled it (same as data_sample_strategy=goss).",
         {"boosting_type", "boost"},
         {"gbdt", "gbrt", "goss"}},
        {"data_sample_strategy",
         ParamKind::kString,
         -kInf,
         kInf,
         "bagging",
         "bagging (bagging_fraction/bagging_freq) or goss (gradient-based one-side sampling).",
         {},
         {"bagging", "goss"}},
        {"tree_learner",
         ParamKind::kString,
         -kInf,
         kInf,
         "serial",
         "serial (one process) or data (data-parallel over workers: `fraudops train --workers "
         "N`, train.instance_count; the default there). In one process, data trains serially, as "
         "LightGBM does on one machine.",
         {"tree", "tree_type", "tree_learner_type"},
         {"serial", "data", "data_parallel"}},
        {"num_iterations",
         ParamKind::kInt,
         0,
         kIntMax,
         "100",
         "Boosting iterations (trees), at most with early stopping.",
         {"num_iteration", "n_iter", "num_tree", "num_trees", "num_round", "num_rounds", "nrounds",
          "num_boost_round", "n_estimators", "max_iter"}},
        {"learning_rate",
         ParamKind::kDouble,
         1e-12,
         kInf,
         "0.1",
         "Shrinkage of every tree.",
         {"shrinkage_rate", "eta"}},
        {"num_leaves",
         ParamKind::kInt,
         2,
         131072,
         "31",
         "Maximum leaves per tree (leaf-wise growth).",
         {"num_leaf", "max_leaves", "max_leaf", "max_leaf_nodes"}},
        {"num_threads",
         ParamKind::kInt,
         0,
         1024,
         "global.threads (fraudops)",
         "Threads; 0 uses every core. The model is the same for any value.",
         {"num_thread", "nthread", "nthreads", "n_jobs"}},
        {"seed",
         ParamKind::kInt,
         -kIntMax - 1,
         kIntMax,
         "global.seed (fraudops)",
         "Master seed; bagging_seed, feature_fraction_seed and data_random_seed derive from it "
         "unless set.",
         {"random_seed", "random_state"}},
        {"deterministic", ParamKind::kBool, -kInf, kInf, "false",
         "Accepted; fraudops' trainer is always deterministic."},
        {"force_row_wise", ParamKind::kBool, -kInf, kInf, "false",
         "Accepted; no effect (histograms are built per feature)."},
        {"force_col_wise", ParamKind::kBool, -kInf, kInf, "false",
         "Accepted; no effect (histograms are built per feature)."},
        {"histogram_pool_size",
         ParamKind::kDouble,
         -kInf,
         kInf,
         "-1",
         "Accepted; no effect (every leaf keeps its histogram).",
         {"hist_pool_size"}},
        // Learning control.
        {"max_depth", ParamKind::kInt, -kIntMax, kIntMax, "-1",
         "Maximum tree depth; <= 0 means no limit."},
        {"min_data_in_leaf",
         ParamKind::kInt,
         0,
         kIntMax,
         "20",
         "Minimum rows in a leaf.",
         {"min_data_per_leaf", "min_data", "min_child_samples", "min_samples_leaf"}},
        {"min_sum_hessian_in_leaf",
         ParamKind::kDouble,
         0,
         kInf,
         "0.001",
         "Minimum hessian sum in a leaf.",
         {"min_sum_hessian_per_leaf", "min_sum_hessian", "min_hessian", "min_child_weight"}},
        {"bagging_fraction",
         ParamKind::kDouble,
         1e-12,
         1,
         "1",
         "Share of rows each bagging round keeps (with bagging_freq > 0).",
         {"sub_row", "subsample", "bagging"}},
        {"pos_bagging_fraction",
         ParamKind::kDouble,
         1e-12,
         1,
         "1",
         "Share of positive rows kept (balanced bagging, with bagging_freq > 0).",
         {"pos_sub_row", "pos_subsample", "pos_bagging"}},
        {"neg_bagging_fraction",
         ParamKind::kDouble,
         1e-12,
         1,
         "1",
         "Share of negative rows kept (balanced bagging, with bagging_freq > 0).",
         {"neg_sub_row", "neg_subsample", "neg_bagging"}},
        {"bagging_freq",
         ParamKind::kInt,
         0,
         kIntMax,
         "0",
         "Draw a new bag every this many iterations; 0 disables bagging.",
         {"subsample_freq"}},
        {"bagging_seed",
         ParamKind::kInt,
         -kIntMax - 1,
         kIntMax,
         "from seed",
         "Seed of bagging.",
         {"bagging_fraction_seed"}},
        {"feature_fraction",
         ParamKind::kDouble,
         1e-12,
         1,
         "1",
         "Share of features each tree may use.",
         {"sub_feature", "colsample_bytree"}},
        {"feature_fraction_bynode",
         ParamKind::kDouble,
         1e-12,
         1,
         "1",
         "Share of the tree's features each split may use.",
         {"sub_feature_bynode", "colsample_bynode"}},
        {"feature_fraction_seed", ParamKind::kInt, -kIntMax - 1, kIntMax, "from seed",
         "Seed of feature_fraction."},
        {"early_stopping_round",
         ParamKind::kInt,
         0,
         kIntMax,
         "0",
         "Stop when a validation metric has not improved for this many iterations; the model keeps "
         "the trees up to the best iteration. 0 disables.",
         {"early_stopping_rounds", "early_stopping", "n_iter_no_change"}},
        {"early_stopping_min_delta", ParamKind::kDouble, 0, kInf, "0",
         "Smallest change that counts as an improvement."},
        {"first_metric_only", ParamKind::kBool, -kInf, kInf, "false",
         "Early stopping watches only the first metric."},
        {"max_delta_step",
         ParamKind::kDouble,
         -kInf,
         kInf,
         "0",
         "Limit on a leaf's output; <= 0 means no limit.",
         {"max_tree_output", "max_leaf_output"}},
        {"lambda_l1",
         ParamKind::kDouble,
         0,
         kInf,
         "0",
         "L1 regularization.",
         {"reg_alpha", "l1_regularization"}},
        {"lambda_l2",
         ParamKind::kDouble,
         0,
         kInf,
         "0",
         "L2 regularization.",
         {"reg_lambda", "lambda", "l2_regularization"}},
        {"min_gain_to_split",
         ParamKind::kDouble,
         0,
         kInf,
         "0",
         "Minimum gain of a split.",
         {"min_split_gain"}},
        {"top_rate", ParamKind::kDouble, 0, 1, "0.2",
         "GOSS: share of rows with the largest gradients kept."},
        {"other_rate", ParamKind::kDouble, 0, 1, "0.1",
         "GOSS: share of the other rows sampled (and up-weighted)."},
        {"min_data_per_group", ParamKind::kInt, 1, kIntMax, "100",
         "Minimum rows per categorical group of a split."},
        {"max_cat_threshold", ParamKind::kInt, 1, kIntMax, "32",
         "Maximum categories on the left of a categorical split."},
        {"cat_l2", ParamKind::kDouble, 0, kInf, "10", "L2 regularization of categorical splits."},
        {"cat_smooth", ParamKind::kDouble, 0, kInf, "10",
         "Smoothing of categorical statistics; categories with fewer rows are not split on."},
        {"max_cat_to_onehot", ParamKind::kInt, 1, kIntMax, "4",
         "Categorical features with at most this many bins split one category against the rest."},
        // Dataset.
        {"max_bin", ParamKind::kInt, 2, 65535, "255", "Maximum bins per feature.", {"max_bins"}},
        {"min_data_in_bin", ParamKind::kInt, 1, kIntMax, "3", "Minimum rows per bin."},
        {"bin_construct_sample_cnt",
         ParamKind::kInt,
         1,
         kIntMax,
         "200000",
         "Rows sampled to find bin boundaries.",
         {"subsample_for_bin"}},
        {"data_random_seed",
         ParamKind::kInt,
         -kIntMax - 1,
         kIntMax,
         "from seed",
         "Seed of the binning sample.",
         {"data_seed"}},
        {"use_missing", ParamKind::kBool, -kInf, kInf, "true",
         "Learn where missing values go; false treats NaN as zero."},
        {"zero_as_missing", ParamKind::kBool, -kInf, kInf, "false",
         "Treat zeros (and NaN) as missing, sent to the better side of each split."},
        {"feature_pre_filter", ParamKind::kBool, -kInf, kInf, "true",
         "Leave out features no split of which could have min_data_in_leaf rows on both sides."},
        {"categorical_feature",
         ParamKind::kStringList,
         -kInf,
         kInf,
         "none",
         "More categorical features by index (not counting the label) or as name:a,b; the values "
         "must be non-negative integers. Text columns are always categorical.",
         {"cat_feature", "categorical_column", "cat_column", "categorical_features"}},
        // Objective.
        {"is_unbalance",
         ParamKind::kBool,
         -kInf,
         kInf,
         "false",
         "Weigh the rarer class by the class ratio (binary).",
         {"unbalance", "unbalanced_sets"}},
        {"scale_pos_weight", ParamKind::kDouble, 1e-12, kInf, "1",
         "Weight of positive rows (binary)."},
        {"sigmoid", ParamKind::kDouble, 1e-12, kInf, "1", "Parameter of the sigmoid (binary)."},
        {"boost_from_average", ParamKind::kBool, -kInf, kInf, "true",
         "Start from the label average (log-odds for binary) instead of 0."},
        // Metrics.
        {"metric",
         ParamKind::kStringList,
         -kInf,
         kInf,
         "the objective's",
         "Metrics on validation every iteration; with early stopping, any of them not improving "
         "stops.",
         {"metrics", "metric_types"},
         MetricChoices()},
        {"metric_freq",
         ParamKind::kInt,
         1,
         kIntMax,
         "1",
         "Training metrics every this many iterations (and the last).",
         {"output_freq"}},
        {"is_provide_training_metric",
         ParamKind::kBool,
         -kInf,
         kInf,
         "false",
         "Record the metrics on the training set too.",
         {"training_metric", "is_training_metric", "train_metric"}},
        {"verbosity",
         ParamKind::kInt,
         -kIntMax,
         kIntMax,
         "1",
         "Accepted; fraudops logs through its own logger.",
         {"verbose"}},
    };
  }();
  return kSpecs;
}

namespace {

int IntOr(const ResolvedParams& params, const char* name, int fallback) {
  auto it = params.find(name);
  return it == params.end() ? fallback : static_cast<int>(it->second.get<long long>());
}
double DoubleOr(const ResolvedParams& params, const char* name, double fallback) {
  auto it = params.find(name);
  return it == params.end() ? fallback : it->second.get<double>();
}
bool BoolOr(const ResolvedParams& params, const char* name, bool fallback) {
  auto it = params.find(name);
  return it == params.end() ? fallback : it->second.get<bool>();
}

/// LightGBM's own Random: a linear congruential generator; used only to derive the sub-seeds
/// from `seed` the way LightGBM does, so a seed means the same family of seeds.
uint32_t NextLcg(uint32_t& x) {
  x = 214013u * x + 2531011u;
  return ((x >> 16) & 0x7FFF) % 32767;
}

Status ResolveCategorical(const nlohmann::json& value, const Dataset& train,
                          std::vector<int>* out) {
  std::vector<std::string> items = value.get<std::vector<std::string>>();
  bool by_name = !items.empty() && StartsWith(items.front(), "name:");
  if (by_name) items.front() = items.front().substr(5);
  for (std::string item : items) {
    item = std::string(Trim(item));
    if (item.empty()) continue;
    int index = -1;
    if (by_name) {
      index = train.FeatureIndex(item);
      if (index < 0) {
        return Status::InvalidArgument("lgbm parameter 'categorical_feature': no feature named '" +
                                       item + "'" + DidYouMean(item, train.FeatureNames()));
      }
    } else {
      auto number = ParseDouble(item);
      if (!number || *number < 0 || std::floor(*number) != *number ||
          *number >= static_cast<double>(train.num_features())) {
        return Status::InvalidArgument("lgbm parameter 'categorical_feature': '" + item +
                                       "' is not a feature index (0.." +
                                       std::to_string(train.num_features() - 1) +
                                       ", not counting the label) nor a name list (name:a,b)");
      }
      index = static_cast<int>(*number);
    }
    out->push_back(index);
  }
  return Status::Ok();
}

}  // namespace

Result<LgbmConfig> MakeLgbmConfig(const ResolvedParams& params, const Dataset& train,
                                  const Context& context) {
  LgbmConfig c;
  std::string objective =
      params.count("objective") ? params.at("objective").get<std::string>() : "binary";
  bool regression = std::find(kRegressionNames.begin(), kRegressionNames.end(), objective) !=
                    kRegressionNames.end();
  c.objective = regression ? LgbmObjective::kRegression : LgbmObjective::kBinary;
  c.objective_name = regression ? "regression" : "binary";
  if (params.count("boosting") && params.at("boosting").get<std::string>() == "goss") c.goss = true;
  if (params.count("data_sample_strategy"))
    c.goss = params.at("data_sample_strategy").get<std::string>() == "goss";
  if (params.count("tree_learner"))
    c.tree_learner = params.at("tree_learner").get<std::string>() == "serial" ? "serial" : "data";
  c.num_iterations = IntOr(params, "num_iterations", 100);
  c.learning_rate = DoubleOr(params, "learning_rate", 0.1);
  c.num_leaves = IntOr(params, "num_leaves", 31);
  c.max_depth = IntOr(params, "max_depth", -1);
  c.min_data_in_leaf = IntOr(params, "min_data_in_leaf", 20);
  c.min_sum_hessian_in_leaf = DoubleOr(params, "min_sum_hessian_in_leaf", 1e-3);
  c.lambda_l1 = DoubleOr(params, "lambda_l1", 0);
  c.lambda_l2 = DoubleOr(params, "lambda_l2", 0);
  c.min_gain_to_split = DoubleOr(params, "min_gain_to_split", 0);
  c.max_delta_step = DoubleOr(params, "max_delta_step", 0);
  c.top_rate = DoubleOr(params, "top_rate", 0.2);
  c.other_rate = DoubleOr(params, "other_rate", 0.1);
  c.bagging_fraction = DoubleOr(params, "bagging_fraction", 1);
  c.pos_bagging_fraction = DoubleOr(params, "pos_bagging_fraction", 1);
  c.neg_bagging_fraction = DoubleOr(params, "neg_bagging_fraction", 1);
  c.bagging_freq = IntOr(params, "bagging_freq", 0);
  c.feature_fraction = DoubleOr(params, "feature_fraction", 1);
  c.feature_fraction_bynode = DoubleOr(params, "feature_fraction_bynode", 1);
  c.max_bin = IntOr(params, "max_bin", 255);
  c.min_data_in_bin = IntOr(params, "min_data_in_bin", 3);
  c.bin_construct_sample_cnt = IntOr(params, "bin_construct_sample_cnt", 200000);
  c.use_missing = BoolOr(params, "use_missing", true);
  c.zero_as_missing = BoolOr(params, "zero_as_missing", false);
  c.feature_pre_filter = BoolOr(params, "feature_pre_filter", true);
  c.max_cat_to_onehot = IntOr(params, "max_cat_to_onehot", 4);
  c.max_cat_threshold = IntOr(params, "max_cat_threshold", 32);
  c.min_data_per_group = IntOr(params, "min_data_per_group", 100);
  c.cat_smooth = DoubleOr(params, "cat_smooth", 10);
  c.cat_l2 = DoubleOr(params, "cat_l2", 10);
  c.is_unbalance = BoolOr(params, "is_unbalance", false);
  c.scale_pos_weight = DoubleOr(params, "scale_pos_weight", 1);
  c.sigmoid = DoubleOr(params, "sigmoid", 1);
  c.boost_from_average = BoolOr(params, "boost_from_average", true);
  c.early_stopping_round = IntOr(params, "early_stopping_round", 0);
  c.early_stopping_min_delta = DoubleOr(params, "early_stopping_min_delta", 0);
  c.first_metric_only = BoolOr(params, "first_metric_only", false);
  c.provide_training_metric = BoolOr(params, "is_provide_training_metric", false);
  c.metric_freq = IntOr(params, "metric_freq", 1);
  c.num_threads = IntOr(params, "num_threads", context.threads);

  if (c.is_unbalance && params.count("scale_pos_weight") && c.scale_pos_weight != 1) {
    return Status::InvalidArgument(
        "lgbm parameters 'is_unbalance' and 'scale_pos_weight' cannot be used together; give one");
  }
  if (c.goss && c.bagging_freq > 0 && c.bagging_fraction < 1) {
    return Status::InvalidArgument(
        "lgbm: data_sample_strategy=goss cannot be combined with bagging (bagging_fraction < 1 "
        "and bagging_freq > 0); use one of them");
  }
  if (c.goss && c.top_rate + c.other_rate > 1) {
    return Status::InvalidArgument("lgbm: top_rate + other_rate must be at most 1 for goss (got " +
                                   FormatDouble(c.top_rate + c.other_rate, 6) + ")");
  }
  if (c.objective == LgbmObjective::kRegression &&
      (c.is_unbalance || params.count("scale_pos_weight"))) {
    return Status::InvalidArgument(
        "lgbm: is_unbalance and scale_pos_weight apply to objective=binary only");
  }

  // Seeds: `seed` derives the others as LightGBM does, unless they are set.
  long long seed = params.count("seed") ? params.at("seed").get<long long>()
                                        : static_cast<long long>(context.seed & 0x7FFFFFFF);
  c.seed = static_cast<uint64_t>(seed);
  uint32_t lcg = static_cast<uint32_t>(seed);
  int64_t derived[6];
  for (int64_t& value : derived) value = NextLcg(lcg);
  // LightGBM's order: data_random_seed, bagging_seed, drop_seed, feature_fraction_seed,
  // objective_seed, extra_seed (seed=7 gives 61, 17422, 15215, 7040, 15521, 6516).
  c.data_random_seed = static_cast<uint64_t>(params.count("data_random_seed")
                                                 ? params.at("data_random_seed").get<long long>()
                                                 : derived[0]);
  c.bagging_seed = static_cast<uint64_t>(
      params.count("bagging_seed") ? params.at("bagging_seed").get<long long>() : derived[1]);
  c.feature_fraction_seed = static_cast<uint64_t>(
      params.count("feature_fraction_seed") ? params.at("feature_fraction_seed").get<long long>()
                                            : derived[3]);

  // Metrics: canonical names, default from the objective.
  if (params.count("metric")) {
    for (const std::string& name : params.at("metric").get<std::vector<std::string>>()) {
      for (const auto& [canonical, aliases] : MetricAliases()) {
        if (std::find(aliases.begin(), aliases.end(), name) != aliases.end() &&
            std::find(c.metrics.begin(), c.metrics.end(), canonical) == c.metrics.end()) {
          c.metrics.push_back(canonical);
        }
      }
    }
  } else {
    c.metrics.push_back(regression ? "l2" : "binary_logloss");
  }
  for (const std::string& metric : c.metrics) {
    bool binary_metric = metric == "binary_logloss" || metric == "binary_error" ||
                         metric == "auc" || metric == "average_precision";
    if (regression && binary_metric) {
      return Status::InvalidArgument("lgbm metric '" + metric + "' needs objective=binary");
    }
  }

  // Categorical features: the dataset's own, plus categorical_feature.
  for (size_t f = 0; f < train.num_features(); ++f) {
    if (train.features[f].type == ColumnType::kCategorical)
      c.categorical_features.push_back(static_cast<int>(f));
  }
  if (params.count("categorical_feature")) {
    FOPS_RETURN_IF_ERROR(
        ResolveCategorical(params.at("categorical_feature"), train, &c.categorical_features));
  }
  std::sort(c.categorical_features.begin(), c.categorical_features.end());
  c.categorical_features.erase(
      std::unique(c.categorical_features.begin(), c.categorical_features.end()),
      c.categorical_features.end());

  // The parameters section of the model file, in LightGBM's order and spelling.
  auto text = [](double v) { return FormatDouble(v, 17); };
  std::string metrics = Join(c.metrics, ",");
  std::vector<std::string> categorical;
  for (int f : c.categorical_features) categorical.push_back(std::to_string(f));
  c.echo = {
      {"boosting", "gbdt"},
      {"objective", c.objective_name},
      {"metric", metrics},
      {"tree_learner", c.tree_learner},
      {"device_type", "cpu"},
      {"data_sample_strategy", c.goss ? "goss" : "bagging"},
      {"num_iterations", std::to_string(c.num_iterations)},
      {"learning_rate", text(c.learning_rate)},
      {"num_leaves", std::to_string(c.num_leaves)},
      {"num_threads", std::to_string(c.num_threads)},
      {"seed", std::to_string(seed)},
      {"deterministic", "1"},
      {"max_depth", std::to_string(c.max_depth)},
      {"min_data_in_leaf", std::to_string(c.min_data_in_leaf)},
      {"min_sum_hessian_in_leaf", text(c.min_sum_hessian_in_leaf)},
      {"bagging_fraction", text(c.bagging_fraction)},
      {"pos_bagging_fraction", text(c.pos_bagging_fraction)},
      {"neg_bagging_fraction", text(c.neg_bagging_fraction)},
      {"bagging_freq", std::to_string(c.bagging_freq)},
      {"bagging_seed", std::to_string(c.bagging_seed)},
      {"feature_fraction", text(c.feature_fraction)},
      {"feature_fraction_bynode", text(c.feature_fraction_bynode)},
      {"feature_fraction_seed", std::to_string(c.feature_fraction_seed)},
      {"early_stopping_round", std::to_string(c.early_stopping_round)},
      {"early_stopping_min_delta", text(c.early_stopping_min_delta)},
      {"first_metric_only", c.first_metric_only ? "1" : "0"},
      {"max_delta_step", text(c.max_delta_step)},
      {"lambda_l1", text(c.lambda_l1)},
      {"lambda_l2", text(c.lambda_l2)},
      {"min_gain_to_split", text(c.min_gain_to_split)},
      {"top_rate", text(c.top_rate)},
      {"other_rate", text(c.other_rate)},
      {"min_data_per_group", std::to_string(c.min_data_per_group)},
      {"max_cat_threshold", std::to_string(c.max_cat_threshold)},
      {"cat_l2", text(c.cat_l2)},
      {"cat_smooth", text(c.cat_smooth)},
      {"max_cat_to_onehot", std::to_string(c.max_cat_to_onehot)},
      {"max_bin", std::to_string(c.max_bin)},
      {"min_data_in_bin", std::to_string(c.min_data_in_bin)},
      {"bin_construct_sample_cnt", std::to_string(c.bin_construct_sample_cnt)},
      {"data_random_seed", std::to_string(c.data_random_seed)},
      {"use_missing", c.use_missing ? "1" : "0"},
      {"zero_as_missing", c.zero_as_missing ? "1" : "0"},
      {"feature_pre_filter", c.feature_pre_filter ? "1" : "0"},
      {"categorical_feature", Join(categorical, ",")},
      {"is_unbalance", c.is_unbalance ? "1" : "0"},
      {"scale_pos_weight", text(c.scale_pos_weight)},
      {"sigmoid", text(c.sigmoid)},
      {"boost_from_average", c.boost_from_average ? "1" : "0"},
  };
  c.num_threads = ResolveThreads(c.num_threads);
  return c;
}

}  // namespace fraudops
