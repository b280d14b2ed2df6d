#pragma once
/// The Trainer interface and the registry of training algorithms. Algorithms are registered
/// explicitly in RegisterBuiltinTrainers: xgboost (libxgboost) and lgbm (native). A trained
/// model can score datasets and serialize itself in its library's native format.

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/context.h"
#include "core/mutex.h"
#include "core/status.h"
#include "data/dataset.h"
#include "model/ensemble.h"
#include "train/params.h"

namespace fraudops {

/// Metrics of one boosting round, by metric name (as the library names them).
struct RoundMetrics {
  int round = 0;
  std::map<std::string, double> train;
  std::map<std::string, double> validation;
};

class TrainedModel {
 public:
  virtual ~TrainedModel() = default;
  /// Probability of the positive class for every row of `dataset` (same feature columns as
  /// training), scored by the native engine from the serialized model — the scores batch
  /// scoring and serving will give.
  Result<std::vector<float>> PredictProbability(const Dataset& dataset,
                                                const Context& context) const;
  /// The native engine's model (model/ensemble.h), parsed once from Serialize().
  Result<std::shared_ptr<const Ensemble>> Engine() const;
  /// The model in its native format (XGBoost JSON, LightGBM text).
  virtual Result<std::string> Serialize() const = 0;
  /// "model.json" or "model.txt".
  virtual std::string FileName() const = 0;
  /// Total gain per feature name (0 for unused features), in feature order.
  virtual Result<std::vector<std::pair<std::string, double>>> FeatureImportance() const = 0;

  std::string algorithm;
  nlohmann::json parameters;  ///< the effective hyperparameters
  /// A distributed run's rows, per worker: [{rank, host, file, rows: [begin, end), row_count,
  /// content_hash}], or with sharded reading [{rank, host, source, part: what the source
  /// says of it, row_count, content_hash}] (train/distributed.h); null in one process.
  nlohmann::json shards;
  /// A distributed run's data fingerprint: the workers' content hashes combined
  /// (CombinedContentHash, data/parts.h); empty when trained in one process.
  std::string data_fingerprint;
  /// A distributed run's training data schema as rank 0 saw it (Dataset::SchemaJson, the
  /// rows of all workers): with sharded reading, the categories of every part.
  nlohmann::json schema;
  std::vector<RoundMetrics> history;
  int rounds_trained = 0;
  int best_round = 0;  ///< 0-based; the model keeps rounds [0, best_round]
  std::string early_stopping_metric;
  double seconds = 0;

 private:
  mutable Mutex engine_mutex_;
  mutable std::shared_ptr<const Ensemble> engine_
      GUARDED_BY(engine_mutex_);  ///< parsed once from Serialize()
};

class Collective;
class DatasetFileView;

/// Training data read from dataset files in batches instead of held in memory
/// (docs/external-memory.md).
struct ExternalMemory {
  const DatasetFileView* train = nullptr;
  const DatasetFileView* validation = nullptr;  ///< or null
  /// Where the trainer keeps what it builds from the files (libxgboost's pages, lgbm's bin
  /// columns); removed by the caller.
  std::string cache_dir;
  /// Rows read at a time: xgboost reads all features of a batch, lgbm one feature's rows.
  size_t batch_rows = 0;
};

/// What a trainer may keep between trainings on the same rows, so that training many models on
/// them (tuning's trials) prepares the rows once: xgboost keeps its DMatrix, and with it
/// libxgboost's quantile sketch; lgbm its bins. Not shared between threads: one per thread of
/// trials.
class TrainCache {
 public:
  virtual ~TrainCache() = default;
};

struct TrainInput {
  const Dataset* train = nullptr;
  const Dataset* validation = nullptr;  ///< early stopping and per-round metrics
  HyperParameters params;
  /// Set on a worker of a distributed run (train/distributed.h): `train` and `validation`
  /// are this worker's slices, and what depends on all rows is reduced over the workers.
  Collective* collective = nullptr;
  /// Set for external-memory training: `train` and `validation` are then unused. Not with
  /// `collective`.
  const ExternalMemory* external = nullptr;
  /// A weight per training row (bias mitigation's reweighing: docs/bias.md): each row's
  /// gradient and hessian are multiplied by it. Empty: every row weighs 1. In memory and in
  /// one process only.
  std::span<const float> weights = {};
  /// Called after each round with its metrics; returning false stops training there (the
  /// tuner prunes a trial this way: docs/tuning.md). The model keeps the rounds trained.
  std::function<bool(const RoundMetrics&)> on_round = {};
  /// Asked before each round after the first by trainers that can change their threads
  /// between rounds (xgboost; lgbm keeps the threads it started with): how many the next
  /// rounds may use. The tuner lends a trial the cores no other trial can use this way
  /// (docs/tuning.md). Unset, or no more than now: unchanged.
  std::function<int()> round_threads = {};
  /// Set by callers that train repeatedly on the same datasets and weights
  /// (Trainer::MakeCache); unused with external memory or a collective.
  TrainCache* cache = nullptr;
};

/// What the tuner needs to know of an algorithm's parameters (docs/tuning.md): the names of
/// the parameters it sets for every trial, and the per-round metric that stands for each of
/// the evaluation module's metrics (for pruning and early stopping).
struct TuningNames {
  std::string rounds;          ///< num_round, num_iterations
  std::string early_stopping;  ///< early_stopping_rounds, early_stopping_round
  /// eta, learning_rate: the shrinkage of a round, by which the tuner compares trials at equal
  /// progress (rounds × rate; docs/tuning.md); empty when the algorithm has none.
  std::string learning_rate;
  std::string metric;  ///< eval_metric, metric: the metrics evaluated each round
  /// Ours (roc_auc, pr_auc, log_loss) → the library's per-round name (auc, aucpr, …).
  std::map<std::string, std::string> round_metric;
  /// Set for every trial: no per-round metrics on the training rows (only validation counts).
  std::map<std::string, nlohmann::json> quiet;
};

class Trainer {
 public:
  virtual ~Trainer() = default;
  virtual std::string name() const = 0;
  virtual Result<std::unique_ptr<TrainedModel>> Train(const TrainInput& input,
                                                      const Context& context) const = 0;
  /// A model this trainer serialized (TrainedModel::Serialize), ready to score.
  virtual Result<std::unique_ptr<TrainedModel>> Load(std::string_view serialized) const = 0;
  /// The algorithm's parameter table (names, kinds, bounds, aliases; train/params.h).
  virtual const std::vector<ParamSpec>& Params() const = 0;
  virtual TuningNames Tuning() const = 0;
  /// A cache for TrainInput::cache, or null when this trainer keeps nothing between trainings.
  virtual std::unique_ptr<TrainCache> MakeCache() const { return nullptr; }
  /// A rough relative cost of training with `params` (canonical names: the resolved base
  /// parameters with a trial's over them), by which the tuner runs the trials a pruner cannot
  /// judge yet cheapest first (docs/tuning.md). Only the order matters; 1 when not estimated.
  virtual double TrialCost(const nlohmann::json& /*params*/) const { return 1; }
};

/// A boosting trial's rough cost: the rounds it is expected to train — without early stopping
/// (`patience` 0) all `rounds`, else the patience plus 12 / learning rate, at most all (what
/// the tuning benchmarks' trials ran, roughly) — times a round's work, 1 + levels / 4 for trees
/// `levels` deep (one pass over the rows a level, plus the fixed cost of a round).
double BoostingTrialCost(double rounds, double patience, double learning_rate, double levels);

/// `params[name]` when it is a number, else `otherwise`.
double NumberOr(const nlohmann::json& params, const std::string& name, double otherwise);

class TrainerRegistry {
 public:
  void Register(std::unique_ptr<Trainer> trainer);
  /// The trainer named `name`, or an error listing the registered names.
  Result<const Trainer*> Find(const std::string& name) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, std::unique_ptr<Trainer>> trainers_;
};

void RegisterBuiltinTrainers(TrainerRegistry& registry);

}  // namespace fraudops
