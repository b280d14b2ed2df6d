#include "tune/study.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "core/embedded_files.h"
#include "core/files.h"
#include "core/ids.h"
#include "core/mutex.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "core/version.h"
#include "eval/metrics.h"
#include "train/trainer.h"
#include "tune/pruner.h"
#include "tune/sampler.h"
#include "tune/search_space.h"

namespace fraudops {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr TuneObjective kObjectives[] = {
    {"pr_auc", true},
    {"roc_auc", true},
    {"log_loss", false},
    {"brier", false},
    {"recall_at_fpr_1pct", true},
    {"recall_at_fpr_0_1pct", true},
    {"ks", true},
};

constexpr TuneStrategy kStrategies[] = {
    {"random", "random", "median"},
    {"tpe", "tpe", "median"},
    {"hyperband", "random", "hyperband"},
};

template <typename Entry, size_t N>
Result<Entry> FindEntry(const Entry (&table)[N], const std::string& name, const char* what) {
  std::vector<std::string> names;
  for (const Entry& entry : table) {
    if (entry.name == name) return entry;
    names.emplace_back(entry.name);
  }
  return Status::InvalidArgument(std::string(what) + " '" + name + "' is not valid; accepted: " +
                                 Join(names, ", ") + DidYouMean(name, names));
}

std::string ThisOwner() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

/// False only when the owner ran on this host and its process is gone; an owner on another
/// host is judged by its heartbeat alone.
bool OwnerMayBeAlive(const std::string& owner) {
  const std::string mine = ThisOwner();
  const size_t colon = owner.rfind(':');
  if (colon == std::string::npos || owner.substr(0, colon) != mine.substr(0, mine.rfind(':')))
    return true;
  const std::optional<long long> pid = ParseInt(owner.substr(colon + 1));
  if (!pid || *pid <= 0) return true;
  return kill(static_cast<pid_t>(*pid), 0) == 0 || errno == EPERM;
}

Status CheckStudyName(const std::string& name) {
  const bool valid =
      !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
      });
  if (valid) return Status::Ok();
  return Status::InvalidArgument("study name '" + name +
                                 "' is not valid; accepted: 1-64 letters, digits, '_', '-' or '.'");
}

double Mean(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return values.empty() ? 0 : sum / static_cast<double>(values.size());
}

double StandardDeviation(const std::vector<double>& values) {
  if (values.size() < 2) return 0;
  const double mean = Mean(values);
  double sum = 0;
  for (double v : values) sum += (v - mean) * (v - mean);
  return std::sqrt(sum / static_cast<double>(values.size() - 1));
}

/// What a study's options say, checked and resolved without any data: the trainer and its
/// tuning names, the search space (against the trainer's parameters), the objective, the
/// sampler and pruner, the base parameters.
struct StudyPlan {
  TrainerRegistry trainers;
  const Trainer* trainer = nullptr;  ///< of trainers
  TuningNames names;
  SearchSpace space;
  SamplerRegistry samplers;
  const Sampler* sampler = nullptr;  ///< of samplers
  std::unique_ptr<Pruner> pruner;
  TuneObjective objective = {"pr_auc", true};
  std::string round_metric;
  std::string pruner_name;
  nlohmann::json base;  ///< the resolved base parameters
  /// The rounds a trial trains unless its point says: the base parameters', else the trainers'
  /// default (100).
  int rounds = 100;
  /// The draws run cheapest first (SampleRequest::cheap_first): twice the trials the pruner
  /// cannot judge (median: the first 5 to complete), so those are the cheaper half of them —
  /// within the sampler's random draws (TPE: 10). 0 without such trials (hyperband: its
  /// brackets are dealt by trial number; none: no trial is ever judged).
  int cheap_first = 0;
};

/// Fills `plan` (in place: it points into its own registries) from `options`, or says what
/// in them is wrong.
Status PlanStudy(const TuneOptions& options, StudyPlan& plan) {
  FOPS_RETURN_IF_ERROR(CheckStudyName(options.study));
  if (options.trials < 1) {
    return Status::InvalidArgument("tune.trials = " + std::to_string(options.trials) +
                                   " must be at least 1");
  }
  if (options.folds == 1 || options.folds < 0) {
    return Status::InvalidArgument("tune.folds = " + std::to_string(options.folds) +
                                   ": 0 (the validation split) or at least 2");
  }
  if (options.fold_method != "stratified" && options.fold_method != "time") {
    return Status::InvalidArgument("tune.fold_method = '" + options.fold_method +
                                   "' is not valid; accepted: stratified, time");
  }
  if (options.negatives_per_positive < 0) {
    return Status::InvalidArgument(
        "tune.negatives_per_positive = " + FormatDouble(options.negatives_per_positive) +
        ": 0 (every row) or more");
  }
  RegisterBuiltinTrainers(plan.trainers);
  FOPS_ASSIGN_OR_RETURN(plan.trainer, plan.trainers.Find(options.algorithm));
  plan.names = plan.trainer->Tuning();
  FOPS_ASSIGN_OR_RETURN(plan.space,
                        SearchSpace::Parse(options.space, plan.trainer->Params(), options.algorithm,
                                           options.space_origin, {plan.names.metric}));
  FOPS_ASSIGN_OR_RETURN(plan.objective, FindTuneObjective(options.objective));
  FOPS_ASSIGN_OR_RETURN(const TuneStrategy strategy, FindTuneStrategy(options.strategy));
  FOPS_ASSIGN_OR_RETURN(plan.sampler, plan.samplers.Find(strategy.sampler));
  plan.pruner_name = options.pruner == "auto" ? strategy.pruner : options.pruner;
  auto metric = plan.names.round_metric.find(options.objective);
  if (metric == plan.names.round_metric.end())
    metric = plan.names.round_metric.find(plan.objective.maximize ? "roc_auc" : "log_loss");
  plan.round_metric = metric->second;

  // The rounds a trial trains at most: hyperband's largest resource.
  FOPS_ASSIGN_OR_RETURN(ResolvedParams base,
                        ResolveParams(plan.trainer->Params(), options.base, options.algorithm));
  plan.base = nlohmann::json(base);
  const std::string& rounds = plan.names.rounds;
  if (options.space.contains(rounds) && plan.pruner_name == "hyperband") {
    return Status::InvalidArgument(options.space_origin + " /" + rounds +
                                   ": hyperband spends rounds itself; do not tune " + rounds +
                                   " with it");
  }
  if (base.count(rounds)) plan.rounds = base[rounds].get<int>();
  PrunerSettings settings;
  settings.min_rounds = options.min_rounds;
  settings.max_rounds = plan.rounds;
  settings.eta = options.eta;
  FOPS_ASSIGN_OR_RETURN(plan.pruner, PrunerRegistry::Make(plan.pruner_name, settings));
  const int blind = plan.pruner->BlindTrials();
  if (blind > 0 && blind < std::numeric_limits<int>::max() / 2)
    plan.cheap_first = std::min(plan.sampler->RandomTrials(), 2 * blind);
  return Status::Ok();
}

/// What a study asks, from its options alone: its definition but for the data's hashes and
/// the trials' sample of it, which OpenStudy adds.
nlohmann::json StudyQuestion(const TuneOptions& options, const StudyPlan& plan) {
  return {{"strategy", options.strategy},
          {"pruner", plan.pruner_name},
          {"objective", options.objective},
          {"direction", plan.objective.maximize ? "maximize" : "minimize"},
          {"round_metric", plan.round_metric},
          {"space", plan.space.ToJson()},
          {"seed", options.seed},
          {"folds", options.folds},
          {"fold_method", options.fold_method},
          {"min_rounds", options.min_rounds},
          {"eta", options.eta},
          {"base", plan.base},
          {"negatives_per_positive", options.negatives_per_positive},
          {"min_negatives", options.min_negatives}};
}

/// A study resumes only with the algorithm and each part of `definition` it was created with.
Status CheckSameDefinition(const TuneOptions& options, const StudyRecord& existing,
                           const nlohmann::json& definition) {
  std::vector<std::string> differ;
  if (existing.algorithm != options.algorithm) differ.push_back("algorithm");
  for (const auto& [key, value] : definition.items()) {
    if (existing.definition.value(key, nlohmann::json()) != value) differ.push_back(key);
  }
  if (differ.empty()) return Status::Ok();
  return Status::InvalidArgument("study '" + options.study + "' exists with another " +
                                 Join(differ, ", ") + " (see fraudops tune show " + options.study +
                                 "); name a new study, and warm-start it from this one with "
                                 "--warm-start " +
                                 options.study);
}

class StudyRunner {
 public:
  StudyRunner(const TuneOptions& options, const TuneData& data, MetadataStore& store,
              const Context& context)
      : options_(options), data_(data), store_(store), studies_(store), context_(context) {}

  Result<TuneResult> Run();

 private:
  struct FoldData {
    Dataset owned_train, owned_validation;
    const Dataset* train = nullptr;
    const Dataset* validation = nullptr;
    // What trials train on: `train`, or every positive and a weighted draw of its negatives.
    Dataset sample;
    std::vector<float> sample_weights;  ///< one per row of `sample`; empty: no sample
    size_t negatives = 0, kept_negatives = 0;
    const Dataset* TrialRows() const { return sample_weights.empty() ? train : &sample; }
  };

  Status Prepare();
  /// The warm start's complete trials inside the space (before the study is opened: a warm
  /// start that cannot be used leaves nothing behind).
  Status LoadWarmStart();
  Status OpenStudy();
  /// The trials, once the study is open.
  Result<TuneResult> RunTrials();
  Status Work();
  /// Waits for the cores of this process's next trial; the threads it gets (0: the study
  /// stopped). Blind trials run several at a time, the others `parallel_` at a time.
  int AcquireCores() EXCLUDES(cores_mutex_);
  void ReleaseCores(int threads) EXCLUDES(cores_mutex_);
  /// Whether a worker could start a trial with the free cores now (the threads it would need,
  /// and room for one more trial at a time).
  bool TrialCouldStart() const REQUIRES(cores_mutex_);
  /// A running trial holding `held` threads takes the free cores when no trial could start
  /// with them (the last trials of a phase, the end of the study); the threads it holds now.
  int LendIdleCores(int held) EXCLUDES(cores_mutex_);
  Result<std::optional<TrialRecord>> Claim();
  /// `threads`: those the trial starts with; on return, those it holds (cores lent included).
  Status Evaluate(TrialRecord trial, TrainCache* cache, int& threads);
  RunRecord ChildRun(const TrialRecord& trial) const;
  void RefreshCurves(const std::vector<TrialRecord>& trials) EXCLUDES(curves_mutex_);
  /// A trial's learning rate (TrialCurve::rate): its point's, else the base parameters'; 0
  /// when the algorithm has none.
  double RateOf(const nlohmann::json& params) const {
    const std::string& name = plan_.names.learning_rate;
    if (name.empty()) return 0;
    return NumberOr(params, name, NumberOr(plan_.base, name, 0));
  }
  /// The most rounds a trial trains: its point's, else the plan's.
  int RoundsOf(const nlohmann::json& params) const {
    return static_cast<int>(NumberOr(params, plan_.names.rounds, plan_.rounds));
  }
  /// The curve of a trial running in this process.
  TrialCurve& CurveOf(int64_t number) REQUIRES(curves_mutex_) {
    return *std::find_if(curves_.begin(), curves_.end(),
                         [&](const TrialCurve& c) { return c.number == number; });
  }
  bool PastDeadline() const {
    return options_.time_budget_s > 0 && SteadyClock::now() >= deadline_;
  }
  void Stop(const std::string& reason) EXCLUDES(stop_mutex_, cores_mutex_) {
    {
      MutexLock lock(&stop_mutex_);
      if (stop_reason_.empty()) stop_reason_ = reason;
      stop_ = true;
    }
    MutexLock lock(&cores_mutex_);  // workers waiting for cores see the stop
    cores_free_changed_.SignalAll();
  }

  const TuneOptions& options_;
  const TuneData& data_;
  MetadataStore& store_;  ///< used under store_mutex_
  StudyStore studies_;    ///< used under store_mutex_
  const Context& context_;

  StudyPlan plan_;  ///< what the options say, checked before any data (PlanStudy)
  std::vector<FoldData> folds_;
  StudyRecord study_;
  std::vector<TrialRecord> warm_;  ///< an earlier study's trials inside this space
  std::string owner_ = ThisOwner();
  int cores_ = 1, parallel_ = 1, threads_per_trial_ = 1;
  // Blind trials: the first ones this process starts while neither the sampler nor the pruner
  // can use any trial's result (TPE's random start-up trials before the median pruner has its
  // complete trials; every trial of random search without pruning). Nothing is learnt from one
  // until it ends, so they run blind_parallel_ at a time, blind_threads_ threads each.
  int blind_trials_ = 0, blind_parallel_ = 1, blind_threads_ = 1;
  SteadyClock::time_point deadline_;

  std::atomic<bool> stop_ = false;
  std::atomic<int> ran_here_ = 0, failures_in_a_row_ = 0;
  Mutex stop_mutex_;
  std::string stop_reason_ GUARDED_BY(stop_mutex_);
  Mutex store_mutex_;
  Mutex curves_mutex_;
  std::vector<TrialCurve> curves_ GUARDED_BY(curves_mutex_);
  Mutex cores_mutex_;
  CondVar cores_free_changed_{&cores_mutex_};
  int cores_free_ GUARDED_BY(cores_mutex_) = 0;
  int running_ GUARDED_BY(cores_mutex_) = 0;
  int blind_started_ GUARDED_BY(cores_mutex_) = 0;
};

Status StudyRunner::Prepare() {
  FOPS_RETURN_IF_ERROR(PlanStudy(options_, plan_));
  if (data_.train == nullptr || data_.train->rows() == 0)
    return Status::InvalidArgument("tuning needs training rows");
  if (options_.folds >= 2) {
    std::vector<Fold> folds;
    if (options_.fold_method == "time") {
      if (data_.times.size() != data_.train->rows()) {
        return Status::InvalidArgument(
            "tune.fold_method = time needs the rows' times (a time column: "
            "preprocess.time_column)");
      }
      FOPS_ASSIGN_OR_RETURN(folds, TimeFolds(data_.times, data_.train->label, options_.folds));
    } else {
      FOPS_ASSIGN_OR_RETURN(folds,
                            StratifiedFolds(data_.train->label, options_.folds, options_.seed));
    }
    for (const Fold& fold : folds) {
      FoldData f;
      f.owned_train = data_.train->Take(fold.train);
      f.owned_validation = data_.train->Take(fold.validation);
      folds_.push_back(std::move(f));
    }
    for (FoldData& f : folds_) {
      f.train = &f.owned_train;
      f.validation = &f.owned_validation;
    }
  } else {
    if (data_.validation == nullptr || data_.validation->rows() == 0) {
      return Status::InvalidArgument(
          "tuning on the validation split needs validation rows (or tune.folds >= 2)");
    }
    FoldData f;
    f.train = data_.train;
    f.validation = data_.validation;
    folds_.push_back(std::move(f));
  }
  for (FoldData& f : folds_) {
    NegativeSample sample = SampleNegatives(f.train->label, options_.negatives_per_positive,
                                            options_.min_negatives, options_.seed);
    f.negatives = f.kept_negatives = sample.negatives;
    if (sample.rows.empty()) continue;
    f.sample = f.train->Take(sample.rows);
    f.sample_weights = std::move(sample.weights);
    f.kept_negatives = sample.kept_negatives;
  }
  cores_ = ResolveThreads(context_.threads);
  parallel_ = options_.parallel > 0 ? std::min(options_.parallel, cores_) : std::max(1, cores_ / 2);
  threads_per_trial_ = std::max(1, cores_ / parallel_);
  {
    MutexLock lock(&cores_mutex_);
    cores_free_ = cores_;
  }
  deadline_ = SteadyClock::now() +
              std::chrono::milliseconds(static_cast<long long>(options_.time_budget_s * 1000.0));
  return Status::Ok();
}

Status StudyRunner::OpenStudy() {
  nlohmann::json data = {{"train", data_.train->ContentHash()}};
  if (options_.folds < 2) data["validation"] = data_.validation->ContentHash();
  // The trials' sample, per fold: derived from the data, the seed and the two settings.
  nlohmann::json sample = nullptr;
  if (std::any_of(folds_.begin(), folds_.end(),
                  [](const FoldData& f) { return !f.sample_weights.empty(); })) {
    sample = {{"negatives", nlohmann::json::array()}, {"kept_negatives", nlohmann::json::array()}};
    for (const FoldData& f : folds_) {
      sample["negatives"].push_back(f.negatives);
      sample["kept_negatives"].push_back(f.kept_negatives);
    }
  }
  nlohmann::json definition = StudyQuestion(options_, plan_);
  definition["data"] = data;
  definition["sample"] = sample;
  MutexLock lock(&store_mutex_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    FOPS_ASSIGN_OR_RETURN(std::optional<StudyRecord> existing, studies_.GetStudy(options_.study));
    if (existing) {
      // Resuming: the same question on the same data, or the trials would not compare.
      FOPS_RETURN_IF_ERROR(CheckSameDefinition(options_, *existing, definition));
      study_ = std::move(*existing);
      // Its own order: cheapest first as planned, unless it began without (no key).
      if (!study_.definition.contains("cheap_first")) plan_.cheap_first = 0;
      context_.logger->Info("tune", "resuming study", {{"study", study_.name}});
      return Status::Ok();
    }
    StudyRecord study;
    study.name = options_.study;
    study.run_id = NewUuidV7();
    study.algorithm = options_.algorithm;
    study.definition = definition;
    // How many of the first draws run cheapest first: recorded, not compared, so a study begun
    // by a fraudops that drew them in number order (no key) resumes in that order — each trial
    // number keeps its point, and no point is run twice.
    study.definition["cheap_first"] = plan_.cheap_first;
    study.created_at = UtcNow();
    study.created_by = CurrentActor();
    RunRecord run;
    run.run_id = study.run_id;
    run.experiment = options_.experiment;
    run.start_time = study.created_at;
    run.code_version = std::string(CodeVersion());
    run.user = study.created_by.substr(0, study.created_by.find('@'));
    run.host = study.created_by.substr(study.created_by.find('@') + 1);
    run.tags = {{kRunNameTag, "study " + study.name},
                {kRunKindTag, kStudyRunKind},
                {"fraudops.study", study.name},
                {"algorithm", options_.algorithm}};
    for (const auto& [key, value] : study.definition.items())
      run.params["tune." + key] = value.dump();
    Status created = studies_.CreateStudy(study);
    if (created.code() == StatusCode::kConflict) continue;  // another process was first
    FOPS_RETURN_IF_ERROR(created);
    FOPS_RETURN_IF_ERROR(store_.CreateRun(run));
    study_ = std::move(study);
    context_.logger->Info("tune", "study created", {{"study", study_.name}});
    return Status::Ok();
  }
  return Status::Internal("study '" + options_.study + "' could neither be created nor read");
}

RunRecord StudyRunner::ChildRun(const TrialRecord& trial) const {
  RunRecord run;
  run.run_id = trial.run_id;
  run.experiment = options_.experiment;
  run.start_time = UtcNow();
  run.code_version = std::string(CodeVersion());
  const std::string actor = CurrentActor();
  run.user = actor.substr(0, actor.find('@'));
  run.host = actor.substr(actor.find('@') + 1);
  for (const auto& [name, value] : trial.params.items())
    run.params["train." + options_.algorithm + "." + name] = value.dump();
  run.tags = {{kRunNameTag, study_.name + " #" + std::to_string(trial.number)},
              {kRunKindTag, kTrialRunKind},
              {"fraudops.parent_run", study_.run_id},
              {"fraudops.study", study_.name},
              {"fraudops.trial", std::to_string(trial.number)},
              {"algorithm", options_.algorithm}};
  return run;
}

void StudyRunner::RefreshCurves(const std::vector<TrialRecord>& trials) {
  MutexLock lock(&curves_mutex_);
  for (const TrialRecord& trial : trials) {
    if (!trial.Finished()) continue;
    auto known = std::find_if(curves_.begin(), curves_.end(),
                              [&](const TrialCurve& c) { return c.number == trial.number; });
    if (known != curves_.end()) {
      known->state = trial.state;
      continue;
    }
    TrialCurve curve;
    curve.number = trial.number;
    curve.state = trial.state;
    curve.rate = RateOf(trial.params);
    for (const nlohmann::json& point : trial.detail.value("curve", nlohmann::json::array())) {
      const size_t round = point[0].get<size_t>();
      if (curve.values.size() <= round) curve.values.resize(round + 1, std::nan(""));
      curve.values[round] = point[1].get<double>();
    }
    curves_.push_back(std::move(curve));
  }
}

Result<std::optional<TrialRecord>> StudyRunner::Claim() {
  MutexLock lock(&store_mutex_);
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (stop_) return std::optional<TrialRecord>();
    FOPS_ASSIGN_OR_RETURN(std::vector<TrialRecord> trials, studies_.Trials(study_.name));
    RefreshCurves(trials);
    const auto now = std::chrono::system_clock::now();
    const std::string now_text = FormatUtc(now);
    // A trial whose process died is run again, under its number and with its parameters.
    for (const TrialRecord& trial : trials) {
      if (trial.Finished() || trial.owner == owner_) continue;
      const std::optional<std::chrono::system_clock::time_point> heartbeat =
          ParseUtcTime(trial.heartbeat_at);
      const bool silent =
          !heartbeat ||
          now - *heartbeat >
              std::chrono::milliseconds(static_cast<long long>(options_.stale_after_s * 1000.0));
      if (!silent && OwnerMayBeAlive(trial.owner)) continue;
      TrialRecord taken = trial;
      taken.owner = owner_;
      taken.run_id = NewUuidV7();
      taken.started_at = taken.heartbeat_at = now_text;
      FOPS_ASSIGN_OR_RETURN(bool took, studies_.TakeOver(study_.name, trial.number, trial.owner,
                                                         owner_, taken.run_id, now_text));
      if (!took) continue;
      // Its child run, unless the process died between claiming the number and creating it.
      Status ended = store_.EndRun(
          trial.run_id, RunStatus::kFailed,
          "abandoned: its process (" + trial.owner + ") stopped; trial taken over by " + owner_);
      if (!ended.ok() && ended.code() != StatusCode::kNotFound) return ended;
      FOPS_RETURN_IF_ERROR(store_.CreateRun(ChildRun(taken)));
      context_.logger->Info("tune", "taking over an abandoned trial",
                            {{"study", study_.name},
                             {"trial", static_cast<long long>(trial.number)},
                             {"from", trial.owner}});
      return std::optional<TrialRecord>(std::move(taken));
    }
    if (PastDeadline()) {
      Stop("the time budget (" + FormatDouble(options_.time_budget_s) + " s) ran out");
      return std::optional<TrialRecord>();
    }
    if (trials.size() >= static_cast<size_t>(options_.trials)) {
      Stop("the study has its " + std::to_string(options_.trials) + " trials");
      return std::optional<TrialRecord>();
    }
    TrialRecord trial;
    trial.study = study_.name;
    trial.number = trials.empty() ? 0 : trials.back().number + 1;
    trial.run_id = NewUuidV7();
    trial.owner = owner_;
    trial.started_at = trial.heartbeat_at = now_text;
    std::vector<TrialRecord> seen = warm_;
    seen.insert(seen.end(), trials.begin(), trials.end());
    SampleRequest request;
    request.space = &plan_.space;
    request.trials = seen;
    request.maximize = plan_.objective.maximize;
    request.seed = options_.seed;
    request.number = trial.number;
    request.cheap_first = plan_.cheap_first;
    request.cost = [this](const nlohmann::json& point) {
      nlohmann::json params = plan_.base;
      for (const auto& [name, value] : point.items()) params[name] = value;
      return plan_.trainer->TrialCost(params);
    };
    trial.params = plan_.sampler->Suggest(request);
    FOPS_ASSIGN_OR_RETURN(bool inserted, studies_.InsertTrial(trial));
    if (!inserted) continue;  // another process took this number: sample again
    FOPS_RETURN_IF_ERROR(store_.CreateRun(ChildRun(trial)));
    return std::optional<TrialRecord>(std::move(trial));
  }
  return Status::Internal("could not claim a trial of study '" + study_.name + "' in 100 attempts");
}

Status StudyRunner::Evaluate(TrialRecord trial, TrainCache* cache, int& threads) {
  const auto started = SteadyClock::now();
  const int started_threads = threads;
  const std::string origin = "study " + study_.name + " trial " + std::to_string(trial.number);
  nlohmann::json fixed = trial.params;
  fixed[plan_.names.metric] = nlohmann::json::array({plan_.round_metric});
  for (const auto& [name, value] : plan_.names.quiet) fixed[name] = value;
  const HyperParameters params =
      OverrideParams(options_.base, fixed, plan_.trainer->Params(), origin);
  Context context = context_;
  context.threads = threads;
  context.progress = false;

  {
    MutexLock lock(&curves_mutex_);
    curves_.push_back({trial.number, TrialState::kRunning, {}, RateOf(trial.params)});
  }
  // A stop ends the trial: pruned, or complete at its best round (TrialStop::complete), when the
  // later folds train at most the rounds the first one did (its curve's).
  std::optional<TrialStop> stop;
  auto pruned = [&] { return stop && !stop->complete; };
  const int trial_rounds = RoundsOf(trial.params);
  std::string error;
  std::vector<double> fold_values, curve_values;
  std::vector<int> rounds;
  auto last_heartbeat = SteadyClock::now();
  for (size_t f = 0; f < folds_.size() && !pruned() && error.empty(); ++f) {
    TrainInput input;
    input.train = folds_[f].TrialRows();
    input.weights = folds_[f].sample_weights;
    input.validation = folds_[f].validation;
    input.params = params;
    if (f > 0 && stop) {
      input.params = OverrideParams(params, {{plan_.names.rounds, curve_values.size()}},
                                    plan_.trainer->Params(), origin);
    }
    input.cache = cache;
    input.round_threads = [&] { return threads = LendIdleCores(threads); };
    input.on_round = [&, f](const RoundMetrics& round) -> bool {
      if (SteadyClock::now() - last_heartbeat >
          std::chrono::milliseconds(static_cast<long long>(options_.heartbeat_s * 1000.0))) {
        last_heartbeat = SteadyClock::now();
        MutexLock lock(&store_mutex_);
        Status beat = studies_.Heartbeat(study_.name, owner_, UtcNow());
        if (!beat.ok()) {
          context_.logger->Warn("tune", "heartbeat failed", {{"error", beat.message()}});
        }
      }
      if (PastDeadline()) {
        stop = TrialStop{"the study's time budget (" + FormatDouble(options_.time_budget_s) +
                         " s) ran out at round " + std::to_string(round.round + 1)};
        return false;
      }
      if (f != 0) return true;  // pruning judges the first fold's curve
      auto value = round.validation.find(plan_.round_metric);
      const double v = value == round.validation.end() ? std::nan("") : value->second;
      curve_values.push_back(v);
      MutexLock lock(&curves_mutex_);
      TrialCurve& own = CurveOf(trial.number);
      own.values = curve_values;
      PruneRequest request;
      request.number = trial.number;
      request.round = round.round;
      request.values = curve_values;
      request.rate = own.rate;
      request.rounds = trial_rounds;
      request.others = curves_;
      request.maximize = plan_.objective.maximize;
      stop = plan_.pruner->ShouldStop(request);
      return !stop;
    };
    Result<std::unique_ptr<TrainedModel>> model = plan_.trainer->Train(input, context);
    if (!model.ok()) {
      error = model.status().message();
      break;
    }
    if (pruned()) break;
    Result<std::vector<float>> scores =
        (*model)->PredictProbability(*folds_[f].validation, context);
    if (!scores.ok()) {
      error = scores.status().message();
      break;
    }
    const nlohmann::json metrics =
        ComputeMetrics(*scores, folds_[f].validation->label, 0.5).ToJson();
    fold_values.push_back(metrics.value(plan_.objective.name, std::nan("")));
    rounds.push_back((*model)->best_round + 1);
  }

  trial.finished_at = UtcNow();
  trial.state = !error.empty() ? TrialState::kFailed
                : pruned()     ? TrialState::kPruned
                               : TrialState::kComplete;
  nlohmann::json curve = nlohmann::json::array();
  for (size_t r = 0; r < curve_values.size(); ++r) curve.push_back({r, curve_values[r]});
  trial.detail = {{"curve", curve},
                  {"fold_values", fold_values},
                  {"rounds", rounds},
                  {"seconds", std::chrono::duration<double>(SteadyClock::now() - started).count()},
                  {"threads", started_threads},
                  {"lent_threads", threads - started_threads},
                  {"train_rows", folds_.front().TrialRows()->rows()}};
  if (trial.state == TrialState::kComplete) {
    trial.value = Mean(fold_values);
    trial.detail["std"] = StandardDeviation(fold_values);
  }
  if (stop) trial.detail["reason"] = stop->reason;
  if (!error.empty()) trial.detail["reason"] = error;
  {
    MutexLock lock(&curves_mutex_);
    CurveOf(trial.number).state = trial.state;
  }
  {
    MutexLock lock(&store_mutex_);
    FOPS_RETURN_IF_ERROR(studies_.FinishTrial(trial));
    std::map<std::string, double> logged;
    if (trial.value) logged[options_.objective] = *trial.value;
    if (folds_.size() >= 2) {  // one validation split: its value is the objective's
      if (trial.detail.contains("std")) logged[options_.objective + "_std"] = trial.detail["std"];
      for (size_t f = 0; f < fold_values.size(); ++f)
        logged["fold" + std::to_string(f + 1) + "." + options_.objective] = fold_values[f];
    }
    if (!rounds.empty()) logged["rounds"] = Mean(std::vector<double>(rounds.begin(), rounds.end()));
    FOPS_RETURN_IF_ERROR(store_.LogMetrics(trial.run_id, logged));
    std::vector<std::pair<int64_t, double>> history;
    for (size_t r = 0; r < curve_values.size(); ++r) {
      if (!std::isnan(curve_values[r]))
        history.emplace_back(static_cast<int64_t>(r), curve_values[r]);
    }
    FOPS_RETURN_IF_ERROR(
        store_.LogMetricHistory(trial.run_id, "validation-" + plan_.round_metric, history));
    FOPS_RETURN_IF_ERROR(store_.EndRun(trial.run_id,
                                       trial.state == TrialState::kComplete ? RunStatus::kSucceeded
                                       : trial.state == TrialState::kPruned ? RunStatus::kPruned
                                                                            : RunStatus::kFailed,
                                       trial.detail.value("reason", "")));
  }
  ++ran_here_;
  context_.logger->Info("tune", "trial " + std::string(TrialStateName(trial.state)),
                        {{"study", study_.name},
                         {"trial", static_cast<long long>(trial.number)},
                         {"value", trial.value ? FormatDouble(*trial.value, 6) : std::string("-")},
                         {"params", trial.params.dump()},
                         {"reason", trial.detail.value("reason", "")}});
  if (trial.state == TrialState::kFailed) {
    // A failure every trial meets (the data, a parameter the space always sets) ends the study.
    if (++failures_in_a_row_ >= std::max(3, parallel_)) {
      Stop("trials keep failing: " + error);
      return Status::InvalidArgument("study '" + study_.name +
                                     "': " + std::to_string(failures_in_a_row_.load()) +
                                     " trials in a row failed; the last: " + error);
    }
  } else {
    failures_in_a_row_ = 0;
  }
  if (trial.value && options_.target) {
    const bool reached = plan_.objective.maximize ? *trial.value >= *options_.target
                                                  : *trial.value <= *options_.target;
    if (reached) {
      Stop("trial " + std::to_string(trial.number) + " reached the target " +
           FormatDouble(*options_.target));
    }
  }
  return Status::Ok();
}

bool StudyRunner::TrialCouldStart() const {
  const bool blind = blind_started_ < blind_trials_;
  return !stop_ && running_ < (blind ? blind_parallel_ : parallel_) &&
         cores_free_ >= (blind ? blind_threads_ : threads_per_trial_);
}

int StudyRunner::AcquireCores() {
  MutexLock lock(&cores_mutex_);
  while (!stop_) {
    if (TrialCouldStart()) {
      const bool blind = blind_started_ < blind_trials_;
      const int threads = blind ? blind_threads_ : threads_per_trial_;
      cores_free_ -= threads;
      ++running_;
      if (blind) ++blind_started_;
      return threads;
    }
    cores_free_changed_.Wait();
  }
  return 0;
}

int StudyRunner::LendIdleCores(int held) {
  MutexLock lock(&cores_mutex_);
  if (cores_free_ > 0 && !TrialCouldStart()) {  // stopped: no trial starts any more
    held += cores_free_;
    cores_free_ = 0;
  }
  return held;
}

void StudyRunner::ReleaseCores(int threads) {
  MutexLock lock(&cores_mutex_);
  cores_free_ += threads;
  --running_;
  cores_free_changed_.SignalAll();
}

Status StudyRunner::Work() {
  // This thread's trials train on the same rows: what the trainer prepares of them is kept.
  const std::unique_ptr<TrainCache> cache = plan_.trainer->MakeCache();
  while (!stop_) {
    int threads = AcquireCores();  // and, after the trial, the cores it was lent
    if (threads == 0) break;
    Result<std::optional<TrialRecord>> trial = Claim();
    Status evaluated =
        trial.ok() && *trial ? Evaluate(std::move(**trial), cache.get(), threads) : trial.status();
    ReleaseCores(threads);
    FOPS_RETURN_IF_ERROR(evaluated);
    if (!*trial) break;
  }
  return Status::Ok();
}

Result<TuneResult> StudyRunner::Run() {
  FOPS_RETURN_IF_ERROR(Prepare());
  FOPS_RETURN_IF_ERROR(LoadWarmStart());
  FOPS_RETURN_IF_ERROR(OpenStudy());
  Result<TuneResult> result = RunTrials();
  if (!result.ok()) {
    // The study's run says why it stopped, unless trials still run in another process.
    MutexLock lock(&store_mutex_);
    Result<std::vector<TrialRecord>> trials = studies_.Trials(study_.name);
    const bool elsewhere =
        trials.ok() && std::any_of(trials->begin(), trials->end(), [](const TrialRecord& t) {
          return t.state == TrialState::kRunning;
        });
    if (!elsewhere) {
      if (Status ended =
              store_.EndRun(study_.run_id, RunStatus::kFailed, result.status().message());
          !ended.ok()) {
        context_.logger->Warn("tune", "cannot record the study's run as failed",
                              {{"study", study_.name}, {"error", ended.message()}});
      }
    }
  }
  return result;
}

Status StudyRunner::LoadWarmStart() {
  if (!options_.warm_start.empty()) {
    FOPS_ASSIGN_OR_RETURN(TuneResult earlier, LoadStudy(store_, options_.warm_start));
    if (earlier.study.algorithm != options_.algorithm ||
        earlier.study.definition.value("objective", "") != options_.objective) {
      return Status::InvalidArgument("--warm-start " + options_.warm_start + ": that study tuned " +
                                     earlier.study.algorithm + " for " +
                                     earlier.study.definition.value("objective", "") +
                                     "; a warm start needs the same algorithm and objective");
    }
    int64_t number = -1;
    for (TrialRecord& trial : earlier.trials) {
      if (trial.state != TrialState::kComplete || !plan_.space.Contains(trial.params)) continue;
      trial.number = number--;  // below this study's numbers: seen by the sampler only
      warm_.push_back(std::move(trial));
    }
    context_.logger->Info("tune", "warm start",
                          {{"from", options_.warm_start},
                           {"trials_inside_the_space", warm_.size()},
                           {"trials", earlier.trials.size()}});
  }
  return Status::Ok();
}

Result<TuneResult> StudyRunner::RunTrials() {
  {
    // The blind trials still to run: a resumed study has run some (or all) of them.
    MutexLock lock(&store_mutex_);
    FOPS_ASSIGN_OR_RETURN(std::vector<TrialRecord> trials, studies_.Trials(study_.name));
    // Only when tune.parallel is left to fraudops (0): a number given is kept to. A warm
    // start's trials teach the sampler from the first trial on.
    const int before_learning = warm_.empty() && options_.parallel == 0
                                    ? std::min({plan_.sampler->RandomTrials(),
                                                plan_.pruner->BlindTrials(), options_.trials})
                                    : 0;
    blind_trials_ = std::max(0, before_learning - static_cast<int>(trials.size()));
    // At least parallel_: the workers started are enough for either phase.
    blind_parallel_ = std::max(parallel_, std::min(blind_trials_, cores_));
    blind_threads_ = std::max(1, cores_ / blind_parallel_);
  }
  context_.logger->Info("tune", "tuning",
                        {{"study", study_.name},
                         {"algorithm", options_.algorithm},
                         {"strategy", options_.strategy},
                         {"pruner", plan_.pruner_name},
                         {"objective", options_.objective},
                         {"folds", std::max<int>(1, options_.folds)},
                         {"parallel", parallel_},
                         {"threads_per_trial", threads_per_trial_},
                         {"blind_trials", blind_trials_},
                         {"blind_parallel", blind_parallel_},
                         {"trial_rows", folds_.front().TrialRows()->rows()},
                         {"training_rows", folds_.front().train->rows()}});
  std::vector<Status> outcomes(static_cast<size_t>(blind_parallel_));
  {
    std::vector<std::thread> workers;
    for (int w = 0; w < blind_parallel_; ++w) {
      workers.emplace_back([this, w, &outcomes] {
        Status s = Work();
        if (!s.ok()) Stop(s.message());
        outcomes[static_cast<size_t>(w)] = s;
      });
    }
    for (std::thread& worker : workers) worker.join();
  }
  for (const Status& s : outcomes) FOPS_RETURN_IF_ERROR(s);

  FOPS_ASSIGN_OR_RETURN(TuneResult result, LoadStudy(store_, study_.name));
  result.ran_here = ran_here_;
  result.warm_trials = static_cast<int>(warm_.size());
  {
    MutexLock lock(&stop_mutex_);
    result.stopped_because = stop_reason_;
  }
  std::map<std::string, double> summary;
  const TrialCounts counts = result.Counts();
  summary["trials_complete"] = counts.complete;
  summary["trials_pruned"] = counts.pruned;
  summary["trials_failed"] = counts.failed;
  if (result.best) {
    summary["best." + options_.objective] = *result.best->value;
    result.best_params = OverrideParams(
        options_.base, result.best->params, plan_.trainer->Params(),
        "study " + study_.name + " best trial " + std::to_string(result.best->number));
  }
  FOPS_RETURN_IF_ERROR(store_.LogMetrics(study_.run_id, summary));
  if (result.best) {
    FOPS_RETURN_IF_ERROR(store_.SetTags(
        study_.run_id, {{"fraudops.best_trial", std::to_string(result.best->number)}}));
  }
  // Still running elsewhere: the study's run ends with the last process.
  if (counts.running == 0) {
    FOPS_RETURN_IF_ERROR(store_.EndRun(study_.run_id, RunStatus::kSucceeded, ""));
  }
  return result;
}

}  // namespace

const std::vector<TuneObjective>& TuneObjectives() {
  static const std::vector<TuneObjective> kAll(std::begin(kObjectives), std::end(kObjectives));
  return kAll;
}

Result<TuneObjective> FindTuneObjective(const std::string& name) {
  return FindEntry(kObjectives, name, "tune.objective");
}

const std::vector<TuneStrategy>& TuneStrategies() {
  static const std::vector<TuneStrategy> kAll(std::begin(kStrategies), std::end(kStrategies));
  return kAll;
}

Result<TuneStrategy> FindTuneStrategy(const std::string& name) {
  return FindEntry(kStrategies, name, "tune.strategy");
}

HyperParameters OverrideParams(const HyperParameters& base, const nlohmann::json& params,
                               const std::vector<ParamSpec>& specs, const std::string& origin) {
  HyperParameters out = base;
  for (const auto& [name, value] : params.items()) {
    const ParamSpec* spec = nullptr;
    for (const ParamSpec& candidate : specs) {
      if (candidate.name == name) spec = &candidate;
    }
    for (auto it = out.begin(); it != out.end();) {
      const bool same = it->first == name ||
                        (spec && std::find(spec->aliases.begin(), spec->aliases.end(), it->first) !=
                                     spec->aliases.end());
      it = same ? out.erase(it) : std::next(it);
    }
    out[name] = HyperParameter{value, origin};
  }
  return out;
}

std::string TrialCounts::Text() const {
  return std::to_string(complete) + " complete, " + std::to_string(pruned) + " pruned, " +
         std::to_string(failed) + " failed, " + std::to_string(running) + " running";
}

TrialCounts TuneResult::Counts() const {
  TrialCounts counts;
  for (const TrialRecord& trial : trials) {
    counts.complete += trial.state == TrialState::kComplete;
    counts.pruned += trial.state == TrialState::kPruned;
    counts.failed += trial.state == TrialState::kFailed;
    counts.running += trial.state == TrialState::kRunning;
  }
  return counts;
}

nlohmann::json TuneResult::ToJson() const {
  nlohmann::json trials_json = nlohmann::json::array();
  for (const TrialRecord& trial : trials) trials_json.push_back(trial.ToJson());
  nlohmann::json out = {{"study", study.name},
                        {"run_id", study.run_id},
                        {"algorithm", study.algorithm},
                        {"definition", study.definition},
                        {"created_at", study.created_at},
                        {"created_by", study.created_by},
                        {"trials", trials_json},
                        {"best", best ? best->ToJson() : nlohmann::json(nullptr)}};
  if (!stopped_because.empty()) out["stopped_because"] = stopped_because;
  return out;
}

Result<TuneOptions> TuneOptionsFrom(const Config& config, const std::string& algorithm,
                                    const HyperParameters& base, const std::string& default_study) {
  const TuneConfig& t = config.tune;
  TuneOptions options;
  options.study = t.study.empty() ? default_study : t.study;
  options.algorithm = algorithm;
  options.strategy = t.strategy;
  options.pruner = t.pruner;
  options.objective = t.objective;
  options.trials = static_cast<int>(t.trials);
  if (!t.time_budget.empty()) {
    const std::optional<long long> seconds = ParseDurationSeconds(t.time_budget);
    if (!seconds) {
      return Status::InvalidArgument("tune.time_budget = '" + t.time_budget +
                                     "' is not a duration (e.g. 90s, 20m, 1h)");
    }
    options.time_budget_s = static_cast<double>(*seconds);
  }
  options.parallel = static_cast<int>(t.parallel);
  options.folds = static_cast<int>(t.folds);
  options.fold_method = t.fold_method;
  if (!t.target.empty()) {
    options.target = ParseDouble(t.target);
    if (!options.target)
      return Status::InvalidArgument("tune.target = '" + t.target + "' is not a number");
  }
  options.min_rounds = static_cast<int>(t.min_rounds);
  options.eta = static_cast<int>(t.eta);
  options.seed = static_cast<uint64_t>(config.global.seed);
  options.warm_start = t.warm_start;
  options.negatives_per_positive = t.negatives_per_positive;
  options.min_negatives = static_cast<size_t>(t.min_negatives);
  options.base = base;
  // Beside the pipeline's runs, not among them: a study's dozens of runs would push the
  // pipeline's own out of the "previous run" lookups (data validation's comparison).
  options.experiment = config.global.pipeline_name + "-tuning";
  std::string text;
  if (t.space_file.empty()) {
    text = std::string(algorithm == "lgbm" ? embedded::lgbm_space_json()
                                           : embedded::xgboost_space_json());
    options.space_origin = "the built-in " + algorithm + " search space";
  } else {
    const std::string path = config.Resolve(t.space_file);
    FOPS_ASSIGN_OR_RETURN(text, ReadFile(path));
    options.space_origin = "tune.space_file " + path;
  }
  try {
    options.space = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Status::InvalidArgument(options.space_origin + " is not valid JSON at byte " +
                                   std::to_string(e.byte) +
                                   " (docs/tuning.md shows the format): " + e.what());
  }
  return options;
}

Status CheckTuneOptions(const TuneOptions& options) {
  StudyPlan plan;
  return PlanStudy(options, plan);
}

Status CheckStudyResumable(const TuneOptions& options, MetadataStore& store) {
  StudyPlan plan;
  FOPS_RETURN_IF_ERROR(PlanStudy(options, plan));
  StudyStore studies(store);
  FOPS_ASSIGN_OR_RETURN(std::optional<StudyRecord> existing, studies.GetStudy(options.study));
  if (!existing) return Status::Ok();
  return CheckSameDefinition(options, *existing, StudyQuestion(options, plan));
}

Result<TuneResult> RunStudy(const TuneOptions& options, const TuneData& data, MetadataStore& store,
                            const Context& context) {
  StudyRunner runner(options, data, store, context);
  return runner.Run();
}

Result<TuneResult> LoadStudy(MetadataStore& store, const std::string& name) {
  StudyStore studies(store);
  FOPS_ASSIGN_OR_RETURN(std::optional<StudyRecord> study, studies.GetStudy(name));
  if (!study) {
    FOPS_ASSIGN_OR_RETURN(std::vector<StudyRecord> all, studies.ListStudies());
    std::vector<std::string> names;
    for (const StudyRecord& s : all) names.push_back(s.name);
    return Status::NotFound(
        "study '" + name + "' is not in the metadata store" +
        (names.empty() ? std::string(" (it has no study)") : "; studies: " + Join(names, ", ")) +
        DidYouMean(name, names));
  }
  TuneResult result;
  result.study = std::move(*study);
  FOPS_ASSIGN_OR_RETURN(result.trials, studies.Trials(name));
  const bool maximize = result.study.definition.value("direction", "maximize") == "maximize";
  for (const TrialRecord& trial : result.trials) {
    if (trial.state != TrialState::kComplete || !trial.value) continue;
    if (!result.best ||
        (maximize ? *trial.value > *result.best->value : *trial.value < *result.best->value))
      result.best = trial;
  }
  return result;
}

}  // namespace fraudops
