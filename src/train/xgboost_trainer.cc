#include "train/xgboost_trainer.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <span>

#include "core/numbers.h"
#include "core/progress.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "train/collective.h"
#include "train/rank_areas.h"
#include "train/xgboost_scores.h"

namespace fraudops {

namespace {

struct BoosterDeleter {
  void operator()(void* handle) const {
    if (handle) XGBoosterFree(handle);
  }
};
using BoosterPtr = std::unique_ptr<void, BoosterDeleter>;

/// A dataset's feature names and XGBoost feature types ("q" numeric, "c" categorical) as the
/// C arrays libxgboost's *SetStrFeatureInfo calls take.
/// With `codes_as_numbers`, categorical columns are typed numeric: their codes split as
/// ordered numbers (external memory, where libxgboost 1.7's categorical splits go wrong).
struct FeatureInfo {
  explicit FeatureInfo(const Dataset& dataset, bool codes_as_numbers = false)
      : names(dataset.FeatureNames()) {
    for (const std::string& name : names) name_pointers.push_back(name.c_str());
    for (const ColumnSchema& column : dataset.features) {
      type_pointers.push_back(column.type == ColumnType::kCategorical && !codes_as_numbers ? "c"
                                                                                           : "q");
    }
  }
  /// Names and types on a DMatrix.
  Status SetOn(void* matrix) {
    FOPS_RETURN_IF_ERROR(XgbCheck(
        XGDMatrixSetStrFeatureInfo(matrix, "feature_name", name_pointers.data(), names.size()),
        "XGDMatrixSetStrFeatureInfo(feature_name)"));
    return XgbCheck(
        XGDMatrixSetStrFeatureInfo(matrix, "feature_type", type_pointers.data(), names.size()),
        "XGDMatrixSetStrFeatureInfo(feature_type)");
  }

  std::vector<std::string> names;
  std::vector<const char*> name_pointers, type_pointers;
};

/// Metric names whose larger values are better (early stopping direction).
bool Maximize(const std::string& metric) {
  return StartsWith(metric, "auc") || StartsWith(metric, "aucpr") || StartsWith(metric, "map") ||
         StartsWith(metric, "ndcg") || StartsWith(metric, "pre");
}

/// Parses "[3]\ttrain-auc:0.9\tvalidation-auc:0.8" into the round's metrics.
void ParseEvalLine(const std::string& line, RoundMetrics* metrics) {
  for (const std::string& token : Split(line, '\t')) {
    size_t dash = token.find('-'), colon = token.rfind(':');
    if (dash == std::string::npos || colon == std::string::npos || colon < dash) continue;
    std::string set = token.substr(0, dash), metric = token.substr(dash + 1, colon - dash - 1);
    auto value = ParseDouble(token.substr(colon + 1));
    if (!value) continue;
    (set == "train" ? metrics->train : metrics->validation)[metric] = *value;
  }
}

/// `auc` and `aucpr` computed here rather than by libxgboost, from the predictions of the
/// matrix evaluated (its prediction cache, brought up to date with the last tree):
/// - in one process, libxgboost's own definitions (train/rank_areas.h) sorted in linear time,
///   the same numbers as libxgboost's and without its comparison sort of every score a round;
/// - in a distributed run, over all workers' rows. libxgboost 1.7 combines per-worker areas
///   for its distributed auc and aucpr, which is far off when a worker's slice holds few
///   positives (aucpr 1.0 from the second round on a 2-worker run of the built-in data), and
///   early stopping on it stops at once. Here each worker bins its rows' margins (kRankBins
///   bins over [-kRankRange, kRankRange], the rest clamped to the ends), the bins' positives
///   and negatives are summed over the workers, and both metrics are read off the merged bins,
///   rows in one bin counting as tied (1/400 of a logit apart; row weights not applied).
/// Sets those of the two it was made for; NaN where they are undefined (one class only).
class RankMetrics {
 public:
  RankMetrics(bool auc, bool aucpr, Collective* collective)
      : auc_(auc), aucpr_(aucpr), collective_(collective) {}
  bool any() const { return auc_ || aucpr_; }

  Status Evaluate(void* booster, void* matrix, std::span<const float> labels,
                  std::span<const float> weights, std::map<std::string, double>& metrics) {
    if (!any()) return Status::Ok();
    if (collective_ != nullptr) {
      FOPS_ASSIGN_OR_RETURN(RankAreas areas, Merged(booster, matrix, labels));
      Set(areas, metrics);
      return Status::Ok();
    }
    FOPS_ASSIGN_OR_RETURN(const float* scores, CachedPredictions(booster, matrix, false));
    EvaluateScores({scores, labels.size()}, labels, weights, metrics);
    return Status::Ok();
  }

  /// The same from the probabilities of the matrix's rows (in one process).
  void EvaluateScores(std::span<const float> scores, std::span<const float> labels,
                      std::span<const float> weights, std::map<std::string, double>& metrics) {
    if (any()) Set(LibxgboostRankAreas(scores, labels, weights, sorter_), metrics);
  }

 private:
  static constexpr int kRankBins = 16384;
  static constexpr double kRankRange = 20;

  void Set(const RankAreas& areas, std::map<std::string, double>& metrics) const {
    if (auc_) metrics["auc"] = areas.roc_auc;
    if (aucpr_) metrics["aucpr"] = areas.pr_auc;
  }

  Result<RankAreas> Merged(void* booster, void* matrix, std::span<const float> labels) {
    FOPS_ASSIGN_OR_RETURN(const float* margins, CachedPredictions(booster, matrix, true));
    std::vector<int64_t> counts(2 * kRankBins, 0);  // negatives, then positives, per bin
    for (size_t i = 0; i < labels.size(); ++i) {
      const double at = (static_cast<double>(margins[i]) + kRankRange) / (2 * kRankRange);
      const int bin = std::clamp(static_cast<int>(at * kRankBins), 0, kRankBins - 1);
      ++counts[(labels[i] > 0.5f ? kRankBins : 0) + bin];
    }
    FOPS_RETURN_IF_ERROR(collective_->Sum(counts));
    double positives = 0, negatives = 0;
    for (int b = 0; b < kRankBins; ++b) {
      negatives += static_cast<double>(counts[b]);
      positives += static_cast<double>(counts[kRankBins + b]);
    }
    RankAreas areas;
    if (positives == 0 || negatives == 0) {
      areas.roc_auc = areas.pr_auc = std::nan("");
      return areas;
    }
    // From the highest bin down: every negative is outranked by the positives above it (and
    // ties with half of those in its own bin); precision at each bin's threshold weighs its
    // share of the positives.
    double above = 0, false_above = 0, area = 0, precision_sum = 0;
    for (int b = kRankBins - 1; b >= 0; --b) {
      const double neg = static_cast<double>(counts[b]),
                   pos = static_cast<double>(counts[kRankBins + b]);
      area += neg * (above + 0.5 * pos);
      above += pos;
      false_above += neg;
      if (pos > 0) precision_sum += pos * above / (above + false_above);
    }
    areas.roc_auc = area / (positives * negatives);
    areas.pr_auc = precision_sum / positives;
    return areas;
  }

  bool auc_, aucpr_;
  Collective* collective_;
  DescendingRadixSort sorter_;
};

class XgboostModel : public TrainedModel {
 public:
  explicit XgboostModel(BoosterPtr booster, std::vector<std::string> feature_names)
      : booster_(std::move(booster)), feature_names_(std::move(feature_names)) {}

  Result<std::string> Serialize() const override {
    bst_ulong length = 0;
    const char* buffer = nullptr;
    FOPS_RETURN_IF_ERROR(XgbCheck(
        XGBoosterSaveModelToBuffer(booster_.get(), R"({"format": "json"})", &length, &buffer),
        "XGBoosterSaveModelToBuffer"));
    return std::string(buffer, length);
  }

  std::string FileName() const override { return "model.json"; }

  Result<std::vector<std::pair<std::string, double>>> FeatureImportance() const override {
    bst_ulong count = 0, dimensions = 0;
    const char** names = nullptr;
    const bst_ulong* shape = nullptr;
    const float* scores = nullptr;
    FOPS_RETURN_IF_ERROR(
        XgbCheck(XGBoosterFeatureScore(booster_.get(), R"({"importance_type": "total_gain"})",
                                       &count, &names, &dimensions, &shape, &scores),
                 "XGBoosterFeatureScore"));
    std::map<std::string, double> by_name;
    for (bst_ulong i = 0; i < count; ++i) by_name[names[i]] = scores[i];
    std::vector<std::pair<std::string, double>> importance;
    for (const std::string& name : feature_names_) importance.emplace_back(name, by_name[name]);
    return importance;
  }

 private:
  BoosterPtr booster_;
  std::vector<std::string> feature_names_;
};

}  // namespace

Status XgbCheck(int return_code, const char* call) {
  if (return_code == 0) return Status::Ok();
  // libxgboost appends its C++ stack trace ("Stack trace:\n  [bt] (0) …") to the message:
  // the cause is what comes before it.
  std::string message = XGBGetLastError();
  if (const size_t trace = message.find("Stack trace:"); trace != std::string::npos)
    message.resize(trace);
  while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back())))
    message.pop_back();
  return Status::Internal(std::string("libxgboost ") + call + " failed: " + message);
}

const std::vector<ParamSpec>& XgboostParamSpecs() {
  static const std::vector<ParamSpec> kSpecs = {
      // Read by fraudops' training loop.
      {"num_round",
       ParamKind::kInt,
       1,
       100000,
       "10",
       "Boosting rounds (at most, with early stopping).",
       {"n_estimators", "num_boost_round"}},
      {"early_stopping_rounds", ParamKind::kInt, 0, 100000, "none",
       "Stop after this many rounds without improvement of the last eval_metric on validation; 0 "
       "disables."},
      {"train_metrics_every", ParamKind::kInt, 1, 100000, "10 (fraudops)",
       "Evaluate eval_metric on the training set every this many rounds (and on the last); "
       "validation is evaluated every round. Ranking metrics on a large training set cost as "
       "much as the boosting itself, hence the default of 10; 1 records every round."},
      // Passed to libxgboost.
      {"objective",
       ParamKind::kString,
       -kInf,
       kInf,
       "reg:squarederror",
       "Learning objective.",
       {},
       {"binary:logistic", "binary:logitraw", "binary:hinge", "reg:squarederror", "reg:logistic",
        "reg:pseudohubererror", "reg:absoluteerror", "rank:pairwise"}},
      {"eval_metric",
       ParamKind::kStringList,
       -kInf,
       kInf,
       "objective's",
       "Metrics per round on train and validation; the last one drives early stopping.",
       {},
       {"logloss", "auc", "aucpr", "error", "rmse", "mae", "map", "ndcg"}},
      {"tree_method",
       ParamKind::kString,
       -kInf,
       kInf,
       "auto",
       "Tree construction algorithm.",
       {},
       {"hist", "approx", "exact", "auto"}},
      {"eta", ParamKind::kDouble, 0, 1, "0.3", "Learning rate (shrinkage).", {"learning_rate"}},
      {"max_depth", ParamKind::kInt, 0, 64, "6",
       "Maximum tree depth (0: no limit, lossguide only)."},
      {"max_leaves", ParamKind::kInt, 0, 1 << 30, "0", "Maximum leaves per tree (0: no limit)."},
      {"grow_policy",
       ParamKind::kString,
       -kInf,
       kInf,
       "depthwise",
       "How trees grow.",
       {},
       {"depthwise", "lossguide"}},
      {"min_child_weight", ParamKind::kDouble, 0, kInf, "1", "Minimum hessian sum in a child."},
      {"gamma",
       ParamKind::kDouble,
       0,
       kInf,
       "0",
       "Minimum loss reduction to split.",
       {"min_split_loss"}},
      {"max_delta_step", ParamKind::kDouble, 0, kInf, "0", "Maximum leaf output step."},
      {"subsample", ParamKind::kDouble, 1e-6, 1, "1", "Row sampling per tree."},
      {"colsample_bytree", ParamKind::kDouble, 1e-6, 1, "1", "Column sampling per tree."},
      {"colsample_bylevel", ParamKind::kDouble, 1e-6, 1, "1", "Column sampling per level."},
      {"colsample_bynode", ParamKind::kDouble, 1e-6, 1, "1", "Column sampling per split."},
      {"lambda",
       ParamKind::kDouble,
       0,
       kInf,
       "1",
       "L2 regularization on leaf weights.",
       {"reg_lambda"}},
      {"alpha",
       ParamKind::kDouble,
       0,
       kInf,
       "0",
       "L1 regularization on leaf weights.",
       {"reg_alpha"}},
      {"scale_pos_weight", ParamKind::kDouble, 0, kInf, "negatives/positives (fraudops)",
       "Weight of positive rows; fraudops sets it from the class balance unless given."},
      {"max_bin", ParamKind::kInt, 2, 65536, "256", "Histogram bins per feature (hist)."},
      {"max_cat_to_onehot", ParamKind::kInt, 1, 1 << 30, "4",
       "Categories below this split one-hot."},
      {"max_cat_threshold", ParamKind::kInt, 1, 1 << 30, "64",
       "Maximum categories on one side of a split."},
      {"base_score", ParamKind::kDouble, -kInf, kInf, "0.5", "Initial prediction."},
      {"num_parallel_tree", ParamKind::kInt, 1, 10000, "1",
       "Trees per round (boosted random forest)."},
      {"seed",
       ParamKind::kInt,
       0,
       4294967295.0,
       "global.seed (fraudops)",
       "Random seed.",
       {"random_state"}},
      {"nthread",
       ParamKind::kInt,
       0,
       1024,
       "global.threads (fraudops)",
       "Threads; 0 uses every core.",
       {"n_jobs"}},
      {"verbosity", ParamKind::kInt, 0, 3, "1", "libxgboost's own log level."},
      {"monotone_constraints", ParamKind::kString, -kInf, kInf, "()",
       "Monotone constraints, e.g. (0,1,-1)."},
      {"interaction_constraints", ParamKind::kString, -kInf, kInf, "[]",
       "Interaction constraints, e.g. [[0,1],[2]]."},
  };
  return kSpecs;
}

/// The iterator XGDMatrixCreateFromCallback calls: each call of Next hands the proxy the next
/// `batch_rows` rows of the file, transposed to row-major. libxgboost's callbacks cannot
/// return an error: a failed read ends the data and is kept in `error`. Categorical columns
/// go in as numeric codes: libxgboost 1.7's external-memory matrix trains categorical splits
/// badly (ROC AUC 0.69 where the same data in memory gives 0.88, its Python package alike),
/// while ordered codes train as they do in memory.
struct XgbMatrix::Batches {
  const DatasetFileView* file = nullptr;
  void* proxy = nullptr;
  size_t batch_rows = 0, next_row = 0;
  std::vector<float> column, rows, labels;
  FeatureInfo info;
  Status error;

  static void Reset(void* self) { static_cast<Batches*>(self)->next_row = 0; }
  static int Next(void* self) {
    Batches& b = *static_cast<Batches*>(self);
    if (!b.error.ok() || b.next_row >= b.file->rows()) return 0;
    b.error = b.Hand();
    return b.error.ok() ? 1 : 0;
  }

  explicit Batches(const DatasetFileView& view)
      : file(&view), info(view.schema(), /*codes_as_numbers=*/true) {}

  Status Hand() {
    const size_t begin = next_row, n = std::min(batch_rows, file->rows() - next_row);
    const size_t features = file->schema().num_features();
    column.resize(n);
    rows.resize(n * features);
    labels.resize(n);
    for (size_t f = 0; f < features; ++f) {
      FOPS_RETURN_IF_ERROR(file->ReadFeature(f, begin, column));
      for (size_t r = 0; r < n; ++r) rows[r * features + f] = column[r];
    }
    FOPS_RETURN_IF_ERROR(file->ReadLabels(begin, labels));
    const nlohmann::json interface = {{"data", {reinterpret_cast<uintptr_t>(rows.data()), true}},
                                      {"shape", {n, features}},
                                      {"typestr", "<f4"},
                                      {"version", 3}};
    FOPS_RETURN_IF_ERROR(XgbCheck(XGProxyDMatrixSetDataDense(proxy, interface.dump().c_str()),
                                  "XGProxyDMatrixSetDataDense"));
    FOPS_RETURN_IF_ERROR(XgbCheck(XGDMatrixSetFloatInfo(proxy, "label", labels.data(), n),
                                  "XGDMatrixSetFloatInfo(label)"));
    FOPS_RETURN_IF_ERROR(XgbCheck(
        XGDMatrixSetStrFeatureInfo(proxy, "feature_type", info.type_pointers.data(), features),
        "XGDMatrixSetStrFeatureInfo(feature_type)"));
    next_row += n;
    return Status::Ok();
  }
};

XgbMatrix::XgbMatrix() = default;
XgbMatrix::XgbMatrix(XgbMatrix&& other) noexcept { *this = std::move(other); }
XgbMatrix& XgbMatrix::operator=(XgbMatrix&& other) noexcept {
  std::swap(handle_, other.handle_);
  std::swap(proxy_, other.proxy_);
  std::swap(batches_, other.batches_);
  return *this;
}

XgbMatrix::~XgbMatrix() {
  if (handle_) XGDMatrixFree(handle_);
  if (proxy_) XGDMatrixFree(proxy_);
}

Status XgbMatrix::status() const { return batches_ ? batches_->error : Status::Ok(); }

Result<XgbMatrix> XgbMatrix::FromDatasetFile(const DatasetFileView& file,
                                             const std::string& cache_prefix, size_t batch_rows,
                                             int threads) {
  XgbMatrix out;
  out.batches_ = std::make_unique<Batches>(file);
  out.batches_->batch_rows = std::max<size_t>(1, batch_rows);
  FOPS_RETURN_IF_ERROR(XgbCheck(XGProxyDMatrixCreate(&out.proxy_), "XGProxyDMatrixCreate"));
  out.batches_->proxy = out.proxy_;
  // libxgboost's JSON reads NaN as the missing value, as its Python package writes it.
  const std::string config = R"({"missing": NaN, "cache_prefix": )" +
                             nlohmann::json(cache_prefix).dump() +
                             ", \"nthread\": " + std::to_string(threads) + "}";
  const int created = XGDMatrixCreateFromCallback(out.batches_.get(), out.proxy_, &Batches::Reset,
                                                  &Batches::Next, config.c_str(), &out.handle_);
  FOPS_RETURN_IF_ERROR(out.batches_->error);
  FOPS_RETURN_IF_ERROR(XgbCheck(created, "XGDMatrixCreateFromCallback"));
  FOPS_RETURN_IF_ERROR(out.batches_->info.SetOn(out.handle_));
  return out;
}

Result<XgbMatrix> XgbMatrix::FromDataset(const Dataset& dataset, int threads) {
  std::vector<float> matrix = dataset.RowMajor();
  XgbMatrix out;
  FOPS_RETURN_IF_ERROR(
      XgbCheck(XGDMatrixCreateFromMat_omp(matrix.data(), dataset.rows(), dataset.num_features(),
                                          kMissing, &out.handle_, threads),
               "XGDMatrixCreateFromMat"));
  FOPS_RETURN_IF_ERROR(
      XgbCheck(XGDMatrixSetFloatInfo(out.handle_, "label", dataset.label.data(), dataset.rows()),
               "XGDMatrixSetFloatInfo(label)"));
  FOPS_RETURN_IF_ERROR(FeatureInfo(dataset).SetOn(out.handle_));
  return out;
}

namespace {

/// The matrix of `dataset` with `weights` (one per row, or empty) set on it.
Result<XgbMatrix> WeightedMatrix(const Dataset& dataset, std::span<const float> weights,
                                 int threads) {
  FOPS_ASSIGN_OR_RETURN(XgbMatrix matrix, XgbMatrix::FromDataset(dataset, threads));
  if (!weights.empty()) {
    FOPS_RETURN_IF_ERROR(
        XgbCheck(XGDMatrixSetFloatInfo(matrix.handle(), "weight", weights.data(), weights.size()),
                 "XGDMatrixSetFloatInfo(weight)"));
  }
  return matrix;
}

}  // namespace

Result<const XgbMatrix*> XgbTrainCache::Matrix(const Dataset& dataset,
                                               std::span<const float> weights, int threads) {
  const std::pair<const Dataset*, const float*> key = {&dataset,
                                                       weights.empty() ? nullptr : weights.data()};
  auto kept = matrices_.find(key);
  if (kept == matrices_.end()) {
    FOPS_ASSIGN_OR_RETURN(XgbMatrix matrix, WeightedMatrix(dataset, weights, threads));
    kept = matrices_.emplace(key, std::move(matrix)).first;
  }
  return &kept->second;
}

double XgboostTrainer::TrialCost(const nlohmann::json& params) const {
  // Tree depth: max_depth, or with lossguide the depth max_leaves fills when it is smaller
  // (max_depth 0: no limit).
  double levels = NumberOr(params, "max_depth", 6);
  const auto policy = params.find("grow_policy");
  const double leaves = NumberOr(params, "max_leaves", 0);
  if (policy != params.end() && *policy == "lossguide" && leaves > 1) {
    const double filled = std::log2(leaves);
    levels = levels > 0 ? std::min(levels, filled) : filled;
  }
  const TuningNames names = Tuning();
  return BoostingTrialCost(NumberOr(params, names.rounds, 100),
                           NumberOr(params, names.early_stopping, 0),
                           NumberOr(params, names.learning_rate, 0.3), levels);
}

std::unique_ptr<TrainCache> XgboostTrainer::MakeCache() const {
  return std::make_unique<XgbTrainCache>();
}

Result<std::unique_ptr<TrainedModel>> XgboostTrainer::Train(const TrainInput& input,
                                                            const Context& context) const {
  auto started = std::chrono::steady_clock::now();
  const ExternalMemory* external = input.external;
  if (external != nullptr && (external->train == nullptr || input.collective != nullptr)) {
    return Status::Internal("xgboost external memory needs a training file and one process");
  }
  if (external == nullptr && input.train == nullptr)
    return Status::Internal("xgboost trainer needs a training dataset");
  if (!input.weights.empty() && (external != nullptr || input.collective != nullptr ||
                                 input.weights.size() != input.train->rows())) {
    return Status::Internal("xgboost: row weights need one weight per training row, in memory");
  }
  FOPS_ASSIGN_OR_RETURN(ResolvedParams params,
                        ResolveParams(XgboostParamSpecs(), input.params, "xgboost"));
  // In memory, the datasets; in external memory, the files' schemas.
  const Dataset& train = external ? external->train->schema() : *input.train;
  // Without validation data the training set stands in for per-round metrics. On workers,
  // validation data is given to all or none (a worker's part may hold no rows): every worker
  // takes the same branch.
  const bool has_validation =
      external ? external->validation != nullptr && external->validation->rows() > 0
               : input.validation != nullptr &&
                     (input.collective != nullptr || input.validation->rows() > 0);
  // The labels the rank metrics of a distributed run need (workers train in memory).
  static const std::vector<float> kNoLabels;
  const std::vector<float>& train_labels = external ? kNoLabels : input.train->label;
  const std::vector<float>& validation_labels = external         ? kNoLabels
                                                : has_validation ? input.validation->label
                                                                 : input.train->label;

  // Our defaults for what the user left unset.
  if (!params.count("objective")) params["objective"] = "binary:logistic";
  if (!params.count("tree_method")) params["tree_method"] = "hist";
  if (!params.count("eval_metric")) params["eval_metric"] = {"logloss", "auc"};
  if (!params.count("seed")) params["seed"] = static_cast<long long>(context.seed & 0x7FFFFFFF);
  // The cores this process may use, not every core of the machine.
  if (!params.count("nthread")) params["nthread"] = ResolveThreads(context.threads);
  if (!params.count("verbosity")) params["verbosity"] = 1;
  if (!params.count("scale_pos_weight")) {
    // Over all workers' rows in a distributed run, so that every worker sets the same.
    std::array<double, 2> counts = {};
    if (external) {
      FOPS_ASSIGN_OR_RETURN(size_t positives, external->train->CountPositives());
      counts = {static_cast<double>(positives), static_cast<double>(external->train->rows())};
    } else if (input.weights.empty()) {
      counts = {static_cast<double>(input.train->CountPositives()),
                static_cast<double>(input.train->rows())};
    } else {
      // By weight: a sample whose negatives weigh more (tuning's) keeps the ratio of all rows.
      for (size_t r = 0; r < input.weights.size(); ++r) {
        if (input.train->label[r] > 0.5f) counts[0] += input.weights[r];
        counts[1] += input.weights[r];
      }
    }
    if (input.collective) FOPS_RETURN_IF_ERROR(input.collective->Sum(counts));
    const double positives = counts[0], negatives = counts[1] - counts[0];
    params["scale_pos_weight"] = positives > 0 ? negatives / positives : 1.0;
  }
  int rounds = params.count("num_round") ? params["num_round"].get<int>() : 100;
  int patience =
      params.count("early_stopping_rounds") ? params["early_stopping_rounds"].get<int>() : 0;
  int train_every =
      params.count("train_metrics_every") ? params["train_metrics_every"].get<int>() : 10;
  if (patience > 0 && !has_validation) {
    return Status::InvalidArgument(
        "xgboost: early_stopping_rounds = " + std::to_string(patience) +
        " needs validation data (--valid FILE, or the pipeline's validation split)");
  }

  const int threads = params["nthread"].get<int>();
  // The matrices: built here, or kept by the caller's cache between trainings on the same rows.
  XgbMatrix owned_train, owned_validation;
  const XgbMatrix* train_matrix = &owned_train;
  const XgbMatrix* validation_matrix = &owned_validation;
  auto* cache = dynamic_cast<XgbTrainCache*>(input.cache);
  if (external != nullptr) {
    FOPS_ASSIGN_OR_RETURN(
        owned_train, XgbMatrix::FromDatasetFile(*external->train, external->cache_dir + "/train",
                                                external->batch_rows, threads));
    if (has_validation) {
      FOPS_ASSIGN_OR_RETURN(
          owned_validation,
          XgbMatrix::FromDatasetFile(*external->validation, external->cache_dir + "/validation",
                                     external->batch_rows, threads));
    }
  } else if (cache != nullptr && input.collective == nullptr) {
    FOPS_ASSIGN_OR_RETURN(train_matrix, cache->Matrix(*input.train, input.weights, threads));
    if (has_validation) {
      FOPS_ASSIGN_OR_RETURN(validation_matrix, cache->Matrix(*input.validation, {}, threads));
    }
  } else {
    FOPS_ASSIGN_OR_RETURN(owned_train, WeightedMatrix(*input.train, input.weights, threads));
    if (has_validation) {
      FOPS_ASSIGN_OR_RETURN(owned_validation, XgbMatrix::FromDataset(*input.validation, threads));
    }
  }
  // Without validation data the training matrix itself is evaluated.
  void* const validation_handle =
      has_validation ? validation_matrix->handle() : train_matrix->handle();

  void* matrices[] = {train_matrix->handle(), validation_handle};
  const std::span<const float> train_weights = input.weights;
  const std::span<const float> validation_weights =
      has_validation ? std::span<const float>() : train_weights;

  // auc and aucpr are computed here (RankMetrics): in one process where libxgboost's numbers
  // would be the same (the probabilities of binary:logistic, in memory), and in every
  // distributed run, where libxgboost's are wrong. libxgboost evaluates the other metrics.
  const std::vector<std::string> metrics = params["eval_metric"].get<std::vector<std::string>>();
  const bool rank_here = input.collective != nullptr ||
                         (external == nullptr && params["objective"] == "binary:logistic");
  auto named = [&](const char* name) {
    return std::find(metrics.begin(), metrics.end(), name) != metrics.end();
  };
  RankMetrics rank(rank_here && named("auc"), rank_here && named("aucpr"), input.collective);
  std::vector<std::string> library_metrics;
  for (const std::string& metric : metrics) {
    if (!rank_here || (metric != "auc" && metric != "aucpr")) library_metrics.push_back(metric);
  }

  // The validation scores for the rank metrics kept here (train/xgboost_scores.h) when
  // libxgboost evaluates nothing itself: with a library metric it brings its cache up to date
  // anyway.
  std::optional<XgbValidationScores> validation_scores;
  if (has_validation && external == nullptr && input.collective == nullptr && rank.any() &&
      library_metrics.empty() && params["objective"] == "binary:logistic" &&
      (!params.count("booster") || params["booster"] == "gbtree")) {
    validation_scores.emplace(*input.validation);
  }

  void* raw_booster = nullptr;
  FOPS_RETURN_IF_ERROR(XgbCheck(XGBoosterCreate(matrices, 2, &raw_booster), "XGBoosterCreate"));
  BoosterPtr booster(raw_booster);
  for (const auto& [name, value] : params) {
    if (name == "num_round" || name == "early_stopping_rounds" || name == "train_metrics_every")
      continue;
    if (name == "eval_metric") {
      for (const std::string& metric : library_metrics) {
        FOPS_RETURN_IF_ERROR(XgbCheck(
            XGBoosterSetParam(booster.get(), "eval_metric", metric.c_str()), "XGBoosterSetParam"));
      }
      continue;
    }
    if (value.is_array()) {
      for (const auto& item : value) {
        FOPS_RETURN_IF_ERROR(
            XgbCheck(XGBoosterSetParam(booster.get(), name.c_str(), ParamText(item).c_str()),
                     "XGBoosterSetParam"));
      }
    } else {
      FOPS_RETURN_IF_ERROR(
          XgbCheck(XGBoosterSetParam(booster.get(), name.c_str(), ParamText(value).c_str()),
                   "XGBoosterSetParam"));
    }
  }

  std::vector<RoundMetrics> history;
  const std::string stop_metric = metrics.back();
  const bool maximize = Maximize(stop_metric);
  double best = maximize ? -kInf : kInf;
  int best_round = 0;
  const char* set_names[] = {"train", "validation"};
  ProgressBar progress(context.progress, "train xgboost", rounds);
  int round = 0;
  int round_threads = threads;
  for (; round < rounds; ++round) {
    if (round > 0 && input.round_threads) {
      // More cores lent: libxgboost's models do not depend on the threads (a test checks).
      if (const int allowed = input.round_threads(); allowed > round_threads) {
        round_threads = allowed;
        FOPS_RETURN_IF_ERROR(XgbCheck(
            XGBoosterSetParam(booster.get(), "nthread", std::to_string(round_threads).c_str()),
            "XGBoosterSetParam"));
      }
    }
    FOPS_RETURN_IF_ERROR(
        XgbCheck(XGBoosterUpdateOneIter(booster.get(), round, train_matrix->handle()),
                 "XGBoosterUpdateOneIter"));
    // Validation every round; the training set on every train_every-th round and the last.
    bool with_train = (round + 1) % train_every == 0 || round + 1 == rounds;
    const char* evaluation = nullptr;
    RoundMetrics round_metrics;
    round_metrics.round = round;
    if (!library_metrics.empty()) {
      FOPS_RETURN_IF_ERROR(
          XgbCheck(XGBoosterEvalOneIter(booster.get(), round, with_train ? matrices : matrices + 1,
                                        with_train ? set_names : set_names + 1, with_train ? 2 : 1,
                                        &evaluation),
                   "XGBoosterEvalOneIter"));
      ParseEvalLine(evaluation, &round_metrics);
    }
    // Without validation data, what is filed under "validation" is the training set's (moved
    // to "train" after the loop).
    if (validation_scores) {
      FOPS_ASSIGN_OR_RETURN(std::span<const float> scores,
                            validation_scores->After(booster.get(), validation_handle, round,
                                                     round_threads, context.pool));
      rank.EvaluateScores(scores, validation_labels, validation_weights, round_metrics.validation);
    } else {
      FOPS_RETURN_IF_ERROR(rank.Evaluate(booster.get(), validation_handle, validation_labels,
                                         validation_weights, round_metrics.validation));
    }
    if (with_train && has_validation) {
      FOPS_RETURN_IF_ERROR(rank.Evaluate(booster.get(), train_matrix->handle(), train_labels,
                                         train_weights, round_metrics.train));
    }
    double value = round_metrics.validation.count(stop_metric)
                       ? round_metrics.validation[stop_metric]
                       : std::nan("");
    if (!std::isnan(value) && (maximize ? value > best : value < best)) {
      best = value;
      best_round = round;
    }
    history.push_back(std::move(round_metrics));
    progress.Update(round + 1, "validation-" + stop_metric + " " + FormatDouble(value, 5));
    if (input.on_round && !input.on_round(history.back())) {
      ++round;
      break;
    }
    if (patience > 0 && round - best_round >= patience) {
      if (!with_train) {
        if (!library_metrics.empty()) {
          FOPS_RETURN_IF_ERROR(XgbCheck(
              XGBoosterEvalOneIter(booster.get(), round, matrices, set_names, 1, &evaluation),
              "XGBoosterEvalOneIter"));
          ParseEvalLine(evaluation, &history.back());
        }
        FOPS_RETURN_IF_ERROR(rank.Evaluate(booster.get(), train_matrix->handle(), train_labels,
                                           train_weights, history.back().train));
      }
      ++round;
      break;
    }
  }
  progress.Finish();
  // A read that failed in a later pass over an external-memory file ended that pass early.
  FOPS_RETURN_IF_ERROR(train_matrix->status());
  FOPS_RETURN_IF_ERROR(validation_matrix->status());
  if (patience == 0) best_round = round - 1;
  if (!has_validation) {
    for (RoundMetrics& metrics_of_round : history) {
      metrics_of_round.train = std::move(metrics_of_round.validation);
      metrics_of_round.validation.clear();
    }
  }

  // Keep the trees up to the best round.
  void* sliced = nullptr;
  if (best_round + 1 < round) {
    FOPS_RETURN_IF_ERROR(
        XgbCheck(XGBoosterSlice(booster.get(), 0, best_round + 1, 1, &sliced), "XGBoosterSlice"));
    booster.reset(sliced);
  }
  // Names and types on the booster itself: feature importance and the saved model.json
  // (feature_names, feature_types) refer to columns by name, not f0, f1, ….
  FeatureInfo info(train, /*codes_as_numbers=*/external != nullptr);
  FOPS_RETURN_IF_ERROR(
      XgbCheck(XGBoosterSetStrFeatureInfo(booster.get(), "feature_name", info.name_pointers.data(),
                                          info.names.size()),
               "XGBoosterSetStrFeatureInfo(feature_name)"));
  FOPS_RETURN_IF_ERROR(
      XgbCheck(XGBoosterSetStrFeatureInfo(booster.get(), "feature_type", info.type_pointers.data(),
                                          info.names.size()),
               "XGBoosterSetStrFeatureInfo(feature_type)"));
  auto model = std::make_unique<XgboostModel>(std::move(booster), train.FeatureNames());
  model->history = std::move(history);
  model->algorithm = "xgboost";
  model->rounds_trained = round;
  model->best_round = best_round;
  model->early_stopping_metric = patience > 0 ? "validation-" + stop_metric : "";
  nlohmann::json effective(params);
  effective["num_round"] = rounds;
  effective["early_stopping_rounds"] = patience;
  model->parameters = effective;
  model->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return std::unique_ptr<TrainedModel>(std::move(model));
}

Result<std::unique_ptr<TrainedModel>> XgboostTrainer::Load(std::string_view serialized) const {
  void* raw_booster = nullptr;
  FOPS_RETURN_IF_ERROR(XgbCheck(XGBoosterCreate(nullptr, 0, &raw_booster), "XGBoosterCreate"));
  BoosterPtr booster(raw_booster);
  FOPS_RETURN_IF_ERROR(
      XgbCheck(XGBoosterLoadModelFromBuffer(booster.get(), serialized.data(), serialized.size()),
               "XGBoosterLoadModelFromBuffer"));
  bst_ulong count = 0;
  const char** names = nullptr;
  FOPS_RETURN_IF_ERROR(
      XgbCheck(XGBoosterGetStrFeatureInfo(booster.get(), "feature_name", &count, &names),
               "XGBoosterGetStrFeatureInfo(feature_name)"));
  std::vector<std::string> feature_names(names, names + count);
  auto model = std::make_unique<XgboostModel>(std::move(booster), std::move(feature_names));
  model->algorithm = "xgboost";
  return std::unique_ptr<TrainedModel>(std::move(model));
}

}  // namespace fraudops
