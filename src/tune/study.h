#pragma once
/// Running a tuning study (docs/tuning.md): trials sampled from a search space by a strategy,
/// each trained in this process on the validation split or k folds, pruned from its per-round
/// validation metric, and kept in the metadata store — the study as a run, every trial a child
/// run of it (params, per-round curve, state and why), and the trials table that lets several
/// processes share one study and a killed study resume where it stopped.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/context.h"
#include "core/status.h"
#include "data/dataset.h"
#include "store/metadata_store.h"
#include "store/study_store.h"
#include "train/params.h"
#include "tune/folds.h"

namespace fraudops {

/// The metrics a study can optimize, and which way.
struct TuneObjective {
  const char* name;  ///< the evaluation module's metric name (eval/metrics.h)
  bool maximize;
};
const std::vector<TuneObjective>& TuneObjectives();
Result<TuneObjective> FindTuneObjective(const std::string& name);

/// A strategy: how trials are sampled, and the pruner "auto" stands for.
struct TuneStrategy {
  const char* name;
  const char* sampler;
  const char* pruner;
};
const std::vector<TuneStrategy>& TuneStrategies();
Result<TuneStrategy> FindTuneStrategy(const std::string& name);

struct TuneOptions {
  std::string study;  ///< the study's name (letters, digits, '_', '-', '.')
  std::string algorithm = "xgboost";
  std::string strategy = "tpe";
  std::string pruner = "auto";  ///< auto: the strategy's; median, hyperband or none
  std::string objective = "pr_auc";
  /// The study's trials in all (over every process and every resumption).
  int trials = 20;
  double time_budget_s = 0;  ///< 0: none; trials running at the deadline stop there
  int parallel = 0;          ///< trials at a time in this process; 0: cores / 2 (at least 1), blind
                             ///< trials (study.cc) up to one per core
  int folds = 0;             ///< 0: the validation split; k >= 2: k-fold cross-validation
  std::string fold_method = "stratified";  ///< stratified or time
  std::optional<double> target;            ///< stop once a trial reaches it
  int min_rounds = 10;                     ///< hyperband's smallest rung
  int eta = 3;                             ///< hyperband's reduction factor
  uint64_t seed = 42;
  std::string warm_start;  ///< an earlier study whose trials inside this space seed the sampler
  /// Trials train on every positive and this many negatives per positive, at least
  /// min_negatives (SampleNegatives, tune/folds.h); 0: on every row.
  double negatives_per_positive = 50;
  size_t min_negatives = 10000;
  nlohmann::json space;  ///< the declaration (tune/search_space.h)
  std::string space_origin = "tune.space";
  HyperParameters base;       ///< what every trial starts from (the configured parameters)
  std::string experiment;     ///< the experiment the study's runs belong to
  double heartbeat_s = 5;     ///< how often a process marks its running trials alive
  double stale_after_s = 60;  ///< a running trial silent this long is taken over
};

/// The data a study trains on: training and validation rows, or with folds the rows to fold
/// (`train` holds them all, `validation` is unused) and, for time folds, each row's time.
struct TuneData {
  const Dataset* train = nullptr;
  const Dataset* validation = nullptr;
  std::vector<double> times;  ///< fold_method time: one per row of `train`
};

struct TrialCounts {
  int complete = 0, pruned = 0, failed = 0, running = 0;
  /// "3 complete, 1 pruned, 0 failed, 0 running"
  std::string Text() const;
};

struct TuneResult {
  StudyRecord study;
  std::vector<TrialRecord> trials;  ///< all of the study's, by number
  std::optional<TrialRecord> best;
  int ran_here = 0;             ///< trials this call ran
  int warm_trials = 0;          ///< the warm-start study's complete trials inside this space
  std::string stopped_because;  ///< the trial budget, the time budget, the target
  /// The best trial's parameters over the base ones: what the final model trains with.
  HyperParameters best_params;
  TrialCounts Counts() const;
  nlohmann::json ToJson() const;
};

/// The options `config.tune` describes for `algorithm`, each trial starting from `base`: the
/// search space from tune.space_file (resolved against the configuration's directory) or the
/// algorithm's built-in one; `default_study` when tune.study is empty.
Result<TuneOptions> TuneOptionsFrom(const Config& config, const std::string& algorithm,
                                    const HyperParameters& base, const std::string& default_study);

/// What in `options` is wrong, found without any data or store: the study's name and
/// counts, the algorithm and its base parameters, the search space against the algorithm's
/// parameters, the objective, strategy, pruner and fold method. The pipeline checks them
/// before its first step, so a mistake costs no ingest.
Status CheckTuneOptions(const TuneOptions& options);

/// Whether the study `options` names can be run: it is new, or it exists with the same
/// algorithm and options (the data's hashes, compared when it opens, aside) — so a study
/// resumed with another strategy, space, objective, … is refused before any data is read.
Status CheckStudyResumable(const TuneOptions& options, MetadataStore& store);

/// Runs (or resumes) the study until it has `options.trials` trials, the time budget runs
/// out or a trial reaches the target.
Result<TuneResult> RunStudy(const TuneOptions& options, const TuneData& data, MetadataStore& store,
                            const Context& context);

/// The study and its trials as stored; NotFound naming the known studies otherwise.
Result<TuneResult> LoadStudy(MetadataStore& store, const std::string& name);

/// `base` with `params` set over it (replacing any alias of the same parameter), each value's
/// origin `origin`.
HyperParameters OverrideParams(const HyperParameters& base, const nlohmann::json& params,
                               const std::vector<ParamSpec>& specs, const std::string& origin);

}  // namespace fraudops
