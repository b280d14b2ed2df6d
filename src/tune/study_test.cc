// Studies in the metadata store, on SQLite and PostgreSQL: trial numbers claimed once,
// abandoned trials taken over once; and whole studies with the lgbm trainer on small
// synthetic data — child runs, resuming, taking over a dead process's trial, refusing a
// changed definition, warm starts over a changed space, k-fold cross-validation, and two
// stores sharing one study without running a trial twice.
#include "tune/study.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <set>
#include <thread>

#include "../../tests/backend_store.h"
#include "core/thread_pool.h"
#include "data/split.h"
#include "data/synth.h"
#include "store/study_store.h"
#include "train/lgbm_params.h"
#include "train/lgbm_trainer.h"
#include "tune/pruner.h"
#include "tune/sampler.h"

namespace fraudops {
namespace {

using nlohmann::json;

class StudyStoreTest : public testing::BackendStoreTest {
 protected:
  void SetUp() override {
    BackendStoreTest::SetUp();
    if (NotSetUp()) return;
    studies_ = std::make_unique<StudyStore>(*store_);
    StudyRecord study;
    study.name = "s";
    study.run_id = "r";
    study.algorithm = "lgbm";
    study.created_at = UtcNow();
    study.created_by = "test";
    ASSERT_TRUE(studies_->CreateStudy(study).ok());
  }
  TrialRecord Trial(int64_t number, const std::string& owner) {
    TrialRecord trial;
    trial.study = "s";
    trial.number = number;
    trial.run_id = "run-" + std::to_string(number);
    trial.owner = owner;
    trial.params = {{"num_leaves", 7}};
    trial.started_at = trial.heartbeat_at = UtcNow();
    return trial;
  }
  std::unique_ptr<StudyStore> studies_;
};

TEST_P(StudyStoreTest, ATrialNumberIsClaimedOnceAndATrialTakenOverOnce) {
  StudyRecord again;
  again.name = "s";
  EXPECT_EQ(studies_->CreateStudy(again).code(), StatusCode::kConflict);
  EXPECT_TRUE(*studies_->InsertTrial(Trial(0, "a:1")));
  EXPECT_FALSE(*studies_->InsertTrial(Trial(0, "b:2")));  // b samples again, for number 1
  EXPECT_TRUE(*studies_->InsertTrial(Trial(1, "b:2")));
  const std::string now = UtcNow();
  EXPECT_TRUE(*studies_->TakeOver("s", 0, "a:1", "c:3", "run-0b", now));
  EXPECT_FALSE(*studies_->TakeOver("s", 0, "a:1", "d:4", "run-0c", now));  // c was first
  TrialRecord finished = Trial(0, "a:1");
  finished.state = TrialState::kComplete;
  finished.value = 0.5;
  finished.finished_at = now;
  EXPECT_EQ(studies_->FinishTrial(finished).code(), StatusCode::kConflict);  // a lost it
  finished.owner = "c:3";
  ASSERT_TRUE(studies_->FinishTrial(finished).ok());
  auto trials = studies_->Trials("s");
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 2u);
  EXPECT_EQ((*trials)[0].state, TrialState::kComplete);
  EXPECT_EQ((*trials)[0].run_id, "run-0b");
  EXPECT_EQ(*(*trials)[0].value, 0.5);
  EXPECT_EQ((*trials)[0].params["num_leaves"], 7);
  EXPECT_EQ((*trials)[1].state, TrialState::kRunning);
  EXPECT_FALSE(*studies_->TakeOver("s", 0, "c:3", "d:4", "run-0d", now));  // finished
}

INSTANTIATE_TEST_SUITE_P(Stores, StudyStoreTest, ::testing::Values("sqlite", "postgresql"));

class StudyTest : public testing::BackendStoreTest {
 protected:
  void SetUp() override {
    BackendStoreTest::SetUp();
    if (NotSetUp()) return;
    logger_.set_level(LogLevel::kError);
    context_.logger = &logger_;
    context_.pool = &pool_;
    context_.threads = 2;
    SynthOptions synth;
    synth.rows = 12000;
    synth.fraud_rate = 0.03;
    auto data = GenerateTransactions(synth, &pool_);
    ASSERT_TRUE(data.ok());
    auto split = StratifiedSplit(*data, {0.6, 0.3, 0.1}, 5);
    ASSERT_TRUE(split.ok());
    train_ = data->Take(split->train);
    validation_ = data->Take(split->validation);
  }

  TuneOptions Options(const std::string& study, int trials) const {
    TuneOptions options;
    options.study = study;
    options.algorithm = "lgbm";
    options.strategy = "random";
    options.trials = trials;
    options.parallel = 1;
    options.experiment = "tune-test";
    options.space = {{"num_leaves", {{"type", "int"}, {"low", 4}, {"high", 32}}},
                     {"learning_rate", {{"type", "log_uniform"}, {"low", 0.02}, {"high", 0.3}}}};
    const json base = {
        {"objective", "binary"}, {"num_iterations", 25}, {"early_stopping_round", 10}};
    for (const auto& [name, value] : base.items())
      options.base[name] = HyperParameter{value, "test"};
    return options;
  }
  TuneData Data() const { return {&train_, &validation_, {}}; }
  Result<TuneResult> Run(const TuneOptions& options) {
    return RunStudy(options, Data(), *store_, context_);
  }

  Logger logger_;
  ThreadPool pool_{2};
  Context context_;
  Dataset train_, validation_;
};

TEST_P(StudyTest, EveryTrialIsAChildRunAndAStudyResumesWhereItStopped) {
  auto first = Run(Options("resumed", 3));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->trials.size(), 3u);
  EXPECT_EQ(first->ran_here, 3);
  auto second = Run(Options("resumed", 5));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ(second->trials.size(), 5u);
  EXPECT_EQ(second->ran_here, 2);  // the 3 done were not run again
  ASSERT_TRUE(second->best.has_value());
  for (size_t i = 0; i < second->trials.size(); ++i) {
    const TrialRecord& trial = second->trials[i];
    EXPECT_EQ(trial.number, static_cast<int64_t>(i));
    EXPECT_TRUE(trial.Finished());
    EXPECT_TRUE(trial.params.contains("num_leaves") && trial.params.contains("learning_rate"));
    auto run = store_->GetRun(trial.run_id);
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    EXPECT_EQ(run->tags["fraudops.parent_run"], second->study.run_id);
    EXPECT_EQ(run->tags["fraudops.trial"], std::to_string(i));
    EXPECT_EQ(run->params["train.lgbm.num_leaves"], trial.params["num_leaves"].dump());
    auto curve = store_->MetricHistory(trial.run_id, "validation-average_precision");
    ASSERT_TRUE(curve.ok());
    EXPECT_FALSE(curve->empty());
    if (trial.state == TrialState::kComplete) {
      EXPECT_EQ(run->status, RunStatus::kSucceeded);
      EXPECT_GT(*trial.value, 0.0);
      EXPECT_GE(*second->best->value, *trial.value);
      EXPECT_EQ(run->metrics["pr_auc"], *trial.value);
    }
  }
  // The best trial's values over the base parameters: what the final model trains with.
  EXPECT_EQ(second->best_params.at("num_leaves").value, second->best->params["num_leaves"]);
  EXPECT_EQ(second->best_params.at("num_iterations").value, 25);
  auto study_run = store_->GetRun(second->study.run_id);
  ASSERT_TRUE(study_run.ok());
  EXPECT_EQ(study_run->tags["fraudops.best_trial"], std::to_string(second->best->number));
  auto missing = LoadStudy(*store_, "nothing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("study 'nothing' is not in the metadata store"),
            std::string::npos)
      << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("resumed"), std::string::npos)
      << missing.status().ToString();
}

/// What a study's options get wrong is found without data or a store (the pipeline asks
/// before its first step).
TEST_P(StudyTest, MistakesInTheOptionsAreFoundBeforeAnyData) {
  EXPECT_TRUE(CheckTuneOptions(Options("fine", 3)).ok());
  auto message = [&](auto change) {
    TuneOptions options = Options("mistaken", 3);
    change(options);
    return CheckTuneOptions(options).message();
  };
  EXPECT_NE(message([](TuneOptions& o) { o.strategy = "tpee"; }).find("did you mean 'tpe'"),
            std::string::npos);
  EXPECT_NE(message([](TuneOptions& o) { o.trials = 0; }).find("tune.trials = 0"),
            std::string::npos);
  EXPECT_NE(message([](TuneOptions& o) { o.folds = 1; }).find("tune.folds = 1"), std::string::npos);
  EXPECT_NE(message([](TuneOptions& o) { o.fold_method = "random"; }).find("stratified, time"),
            std::string::npos);
  EXPECT_NE(message([](TuneOptions& o) {
              o.space["num_leafs"] = {{"type", "int"}, {"low", 4}, {"high", 8}};
            }).find("did you mean 'num_leaves'"),
            std::string::npos);
  EXPECT_NE(message([](TuneOptions& o) {
              o.base["num_leaves"] = HyperParameter{-3, "test"};
            }).find("num_leaves"),
            std::string::npos);
  EXPECT_NE(message([](TuneOptions& o) {
              o.pruner = "hyperband";
              o.space["num_iterations"] = {{"type", "int"}, {"low", 10}, {"high", 50}};
            }).find("hyperband spends rounds itself"),
            std::string::npos);
}

TEST_P(StudyTest, ATrialOfADeadProcessIsRunAgainUnderItsNumberAndNoneIsLost) {
  ASSERT_TRUE(Run(Options("taken-over", 2)).ok());
  // A process on this host that died while it ran trial 2.
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  waitpid(dead, nullptr, 0);
  StudyStore studies(*store_);
  TrialRecord abandoned;
  abandoned.study = "taken-over";
  abandoned.number = 2;
  abandoned.run_id = "abandoned-run";
  abandoned.owner = std::string(host) + ":" + std::to_string(dead);
  abandoned.params = {{"num_leaves", 9}, {"learning_rate", 0.1}};
  abandoned.started_at = abandoned.heartbeat_at = UtcNow();
  RunRecord run;
  run.run_id = "abandoned-run";
  run.experiment = "tune-test";
  run.start_time = UtcNow();
  ASSERT_TRUE(store_->CreateRun(run).ok());
  ASSERT_TRUE(*studies.InsertTrial(abandoned));
  // And one that died between claiming trial 3 and creating its child run.
  TrialRecord unstarted = abandoned;
  unstarted.number = 3;
  unstarted.run_id = "never-created";
  unstarted.params = {{"num_leaves", 5}, {"learning_rate", 0.2}};
  ASSERT_TRUE(*studies.InsertTrial(unstarted));

  auto result = Run(Options("taken-over", 5));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->trials.size(), 5u);
  EXPECT_TRUE(result->trials[3].Finished());
  EXPECT_EQ(result->trials[3].params, unstarted.params);
  EXPECT_NE(result->trials[3].run_id, "never-created");
  EXPECT_EQ(store_->GetRun("never-created").status().code(), StatusCode::kNotFound);
  const TrialRecord& again = result->trials[2];
  EXPECT_TRUE(again.Finished());
  EXPECT_EQ(again.params, abandoned.params);  // the same trial, not a new sample
  EXPECT_NE(again.run_id, "abandoned-run");
  auto old_run = store_->GetRun("abandoned-run");
  ASSERT_TRUE(old_run.ok());
  EXPECT_EQ(old_run->status, RunStatus::kFailed);
  EXPECT_NE(old_run->error.find("abandoned"), std::string::npos) << old_run->error;
}

TEST_P(StudyTest, AStudyIsResumedOnlyWithItsOwnDefinitionAndWarmStartedAcrossSpaces) {
  auto first = Run(Options("wide", 6));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  TuneOptions changed = Options("wide", 8);
  changed.space["learning_rate"]["low"] = 0.1;
  auto refused = Run(changed);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("exists with another space"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("--warm-start wide"), std::string::npos);

  changed.study = "narrow";
  changed.warm_start = "wide";
  changed.strategy = "tpe";
  auto warm = Run(changed);
  ASSERT_TRUE(warm.ok()) << warm.status().ToString();
  int inside = 0;
  for (const TrialRecord& trial : first->trials) {
    inside +=
        trial.state == TrialState::kComplete && trial.params["learning_rate"].get<double>() >= 0.1;
  }
  EXPECT_EQ(warm->warm_trials, inside);
  for (const TrialRecord& trial : warm->trials)
    EXPECT_GE(trial.params["learning_rate"].get<double>(), 0.1);

  TuneOptions other_objective = Options("other", 2);
  other_objective.objective = "roc_auc";
  other_objective.warm_start = "wide";
  auto mismatch = Run(other_objective);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("same algorithm and objective"), std::string::npos);
  // A warm start that cannot be used (another objective, no such study) leaves no study.
  TuneOptions nowhere = Options("from-nowhere", 2);
  nowhere.warm_start = "nope";
  EXPECT_FALSE(Run(nowhere).ok());
  EXPECT_FALSE(LoadStudy(*store_, "other").ok());
  EXPECT_FALSE(LoadStudy(*store_, "from-nowhere").ok());
}

TEST_P(StudyTest, AStudyIsDeterministicGivenItsSeedAndTrialOrder) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "the store plays no part in it: SQLite suffices";
  // TPE past its random start-up trials: each point depends on the values before it.
  std::vector<TuneResult> twice;
  for (const char* name : {"first", "second"}) {
    TuneOptions options = Options(name, kTpeStartupTrials + 3);
    options.strategy = "tpe";
    auto result = Run(options);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    twice.push_back(std::move(*result));
  }
  ASSERT_EQ(twice[0].trials.size(), twice[1].trials.size());
  for (size_t i = 0; i < twice[0].trials.size(); ++i) {
    EXPECT_EQ(twice[0].trials[i].params, twice[1].trials[i].params) << i;
    EXPECT_EQ(twice[0].trials[i].value, twice[1].trials[i].value) << i;
    EXPECT_EQ(twice[0].trials[i].state, twice[1].trials[i].state) << i;
  }
  TuneOptions reseeded = Options("third", 2);
  reseeded.seed = 43;
  auto other = Run(reseeded);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->trials[0].params, twice[0].trials[0].params);
}

TEST_P(StudyTest, KFoldTrialsReportEachFoldTheirMeanAndSpread) {
  TuneOptions options = Options("folds", 2);
  options.folds = 3;
  options.pruner = "none";
  auto result = Run(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  for (const TrialRecord& trial : result->trials) {
    ASSERT_EQ(trial.state, TrialState::kComplete);
    const std::vector<double> folds = trial.detail["fold_values"];
    ASSERT_EQ(folds.size(), 3u);
    EXPECT_NEAR(*trial.value, (folds[0] + folds[1] + folds[2]) / 3, 1e-12);
    EXPECT_GE(trial.detail["std"].get<double>(), 0.0);
    auto run = store_->GetRun(trial.run_id);
    ASSERT_TRUE(run.ok());
    EXPECT_EQ(run->metrics["fold2.pr_auc"], folds[1]);
  }
}

TEST_P(StudyTest, AStartUpTrialOutOfReachOfTheBestEndsCompleteAndItsFoldsTrainNoFurther) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "the store plays no part in it: SQLite suffices";
  // Trees that can barely split (1,000 rows a leaf) level off far below ordinary ones: once an
  // ordinary trial has finished, such a trial is out of reach as soon as its pace can be read
  // (an ordinary one may be too, near its end).
  TuneOptions options = Options("reach", 4);
  options.folds = 3;
  options.space = {{"min_data_in_leaf", {{"type", "categorical"}, {"choices", {20, 1000}}}}};
  const json base = {{"objective", "binary"},
                     {"num_iterations", 120},
                     {"early_stopping_round", 0},
                     {"learning_rate", 0.1}};
  options.base.clear();
  for (const auto& [name, value] : base.items()) options.base[name] = HyperParameter{value, "test"};
  auto result = Run(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  int out_of_reach = 0;
  for (const TrialRecord& trial : result->trials) {
    const std::string reason = trial.detail.value("reason", "");
    if (reason.find("out of reach") == std::string::npos) continue;
    out_of_reach += trial.params["min_data_in_leaf"] == 1000;
    // Complete, with a value from every fold; the first stopped where the curve ends, the
    // later ones trained no further.
    ASSERT_EQ(trial.state, TrialState::kComplete) << reason;
    ASSERT_TRUE(trial.value.has_value());
    const size_t stopped_after = trial.detail["curve"].size();
    EXPECT_LT(stopped_after, 120u);
    EXPECT_EQ(trial.detail["fold_values"].size(), 3u);
    for (int rounds : trial.detail["rounds"].get<std::vector<int>>())
      EXPECT_LE(static_cast<size_t>(rounds), stopped_after) << reason;
    ASSERT_TRUE(result->best.has_value());
    EXPECT_LT(*trial.value, *result->best->value);
  }
  EXPECT_GE(out_of_reach, 1);
}

TEST_P(StudyTest, TrialsTrainOnEveryPositiveAndAWeightedSampleOfTheNegatives) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "the store plays no part in it: SQLite suffices";
  const size_t positives = train_.CountPositives();
  const size_t negatives = train_.rows() - positives;
  TuneOptions options = Options("sampled", 3);
  options.pruner = "none";  // every trial complete, with its value
  options.negatives_per_positive = 5;
  options.min_negatives = 100;
  auto sampled = Run(options);
  ASSERT_TRUE(sampled.ok()) << sampled.status().ToString();
  const json& sample = sampled->study.definition["sample"];
  ASSERT_TRUE(sample.is_object()) << sampled->study.definition.dump();
  EXPECT_EQ(sample["negatives"], json::array({negatives}));
  EXPECT_EQ(sample["kept_negatives"], json::array({5 * positives}));
  for (const TrialRecord& trial : sampled->trials) {
    EXPECT_EQ(trial.detail["train_rows"], 6 * positives) << trial.number;
    EXPECT_TRUE(trial.value.has_value()) << trial.detail.dump();
  }
  // Resuming asks the same sample; trials on every row are another study.
  TuneOptions every_row = Options("sampled", 4);
  every_row.pruner = "none";
  every_row.negatives_per_positive = 0;
  auto refused = Run(every_row);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("negatives_per_positive"), std::string::npos)
      << refused.status().message();
  every_row.study = "every-row";
  auto plain = Run(every_row);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_TRUE(plain->study.definition["sample"].is_null());
  for (const TrialRecord& trial : plain->trials)
    EXPECT_EQ(trial.detail["train_rows"], train_.rows());
  // The same points were drawn (same seed): the sample changes what they score, not the draws.
  for (size_t i = 0; i < sampled->trials.size(); ++i)
    EXPECT_EQ(sampled->trials[i].params, plain->trials[i].params) << i;
}

TEST_P(StudyTest, AStudyResumesWithTheOrderOfDrawsItBeganWith) {
  // Resumed, a study's trials keep the order of draws it was created with: cheapest first
  // (recorded in its definition) gives the same points as one run of all its trials; a study
  // created before that order (no key in its definition) goes on with each trial's own draw.
  auto whole = Run(Options("order-whole", 4));
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->study.definition["cheap_first"], 10);
  ASSERT_TRUE(Run(Options("order-resumed", 2)).ok());
  auto resumed = Run(Options("order-resumed", 4));
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  ASSERT_EQ(resumed->trials.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(resumed->trials[i].params, whole->trials[i].params);

  ASSERT_TRUE(Run(Options("order-old", 2)).ok());
  StudyStore studies(*store_);
  auto old = studies.GetStudy("order-old");
  ASSERT_TRUE(old.ok() && old->has_value());
  json definition = (*old)->definition;
  definition.erase("cheap_first");
  SqlValue update[] = {SqlValue(definition.dump()), SqlValue(std::string("order-old"))};
  ASSERT_TRUE(
      store_->connection().Exec("UPDATE studies SET definition = ? WHERE name = ?", update).ok());
  auto continued = Run(Options("order-old", 4));
  ASSERT_TRUE(continued.ok()) << continued.status().ToString();
  ASSERT_EQ(continued->trials.size(), 4u);
  const TuneOptions options = Options("order-old", 4);
  auto space = SearchSpace::Parse(options.space, LgbmParamSpecs(), "lgbm", "test", {"metric"});
  ASSERT_TRUE(space.ok()) << space.status().ToString();
  // (Its first two trials were drawn cheapest first here, by this fraudops; an old study's
  // were its own draws, which the later ones now continue.)
  for (int64_t n = 2; n < 4; ++n) {
    std::mt19937_64 rng(TrialSeed(options.seed, n));
    EXPECT_EQ(continued->trials[static_cast<size_t>(n)].params, space->SampleRandom(rng)) << n;
  }
}

TEST_P(StudyTest, TrialsNothingLearnsFromRunTogetherAndTheOthersOneAtATime) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "the store plays no part in it: SQLite suffices";
  // TPE draws its first trials at random and the median pruner judges none before 5 are
  // complete: with tune.parallel left to fraudops (one trial at a time on two cores), those 5
  // run two at a time, one thread each; the trials after them, which TPE and the pruner learn
  // from, one at a time with both cores.
  TuneOptions options = Options("blind", kMedianStartupTrials + 3);
  options.parallel = 0;
  options.strategy = "tpe";
  options.pruner = "median";
  auto result = Run(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->trials.size(), static_cast<size_t>(kMedianStartupTrials + 3));
  auto overlap = [](const TrialRecord& a, const TrialRecord& b) {
    return a.started_at < b.finished_at && b.started_at < a.finished_at;
  };
  bool blind_overlapped = false;
  for (const TrialRecord& trial : result->trials) {
    const bool blind = trial.number < kMedianStartupTrials;
    EXPECT_EQ(trial.detail["threads"], blind ? 1 : 2) << trial.number;
    for (const TrialRecord& other : result->trials) {
      if (other.number <= trial.number) continue;
      if (blind && other.number < kMedianStartupTrials && overlap(trial, other))
        blind_overlapped = true;
      if (!blind || other.number >= kMedianStartupTrials) {
        EXPECT_FALSE(overlap(trial, other)) << trial.number << " and " << other.number;
      }
    }
  }
  EXPECT_TRUE(blind_overlapped);
  // Those 5 are the cheapest of TPE's 10 random draws: the trials come in the order of the
  // trainer's cost estimate (here the trials' num_leaves: 25 rounds are fewer than the rates
  // would need).
  const LgbmTrainer lgbm;
  double previous_cost = 0;
  std::set<int64_t> leaves;
  for (const TrialRecord& trial : result->trials) {
    json params = {{"num_iterations", 25}, {"early_stopping_round", 10}};
    params.update(trial.params);
    const double cost = lgbm.TrialCost(params);
    EXPECT_LE(previous_cost, cost) << trial.number << ": " << trial.params.dump();
    previous_cost = cost;
    leaves.insert(trial.params["num_leaves"].get<int64_t>());
  }
  EXPECT_GT(leaves.size(), 3u);
  // No trial is blind with hyperband, which judges from the first rung on, and a number of
  // parallel trials given is kept to: each trial has both cores.
  options.trials = 3;
  for (const auto& [pruner, parallel] : {std::pair{"hyperband", 0}, std::pair{"median", 1}}) {
    options.study = std::string("not-blind-") + pruner;
    options.pruner = pruner;
    options.parallel = parallel;
    auto result_here = Run(options);
    ASSERT_TRUE(result_here.ok()) << result_here.status().ToString();
    for (const TrialRecord& trial : result_here->trials)
      EXPECT_EQ(trial.detail["threads"], 2) << pruner;
  }
}

TEST_P(StudyTest, ATrialIsLentTheCoresNoOtherTrialCanUse) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "the store plays no part in it: SQLite suffices";
  // Two trials at a time of one thread each, and one trial: the worker that finds nothing to
  // claim leaves its core to the trial, which trains its later rounds (xgboost) with two.
  TuneOptions options = Options("lent", 1);
  options.algorithm = "xgboost";
  options.parallel = 2;
  options.pruner = "none";
  options.space = {{"eta", {{"type", "log_uniform"}, {"low", 0.01}, {"high", 0.02}}},
                   {"max_depth", {{"type", "int"}, {"low", 5}, {"high", 6}}}};
  options.base.clear();
  const json base = {{"objective", "binary:logistic"}, {"num_round", 300}};
  for (const auto& [name, value] : base.items()) options.base[name] = HyperParameter{value, "test"};
  auto result = Run(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->trials.size(), 1u);
  const TrialRecord& trial = result->trials[0];
  EXPECT_EQ(trial.state, TrialState::kComplete);
  EXPECT_EQ(trial.detail["threads"], 1);
  EXPECT_EQ(trial.detail["lent_threads"], 1);
}

TEST_P(StudyTest, TwoStoresSharingAStudyNeverRunTheSameTrial) {
  // Two connections (as two processes would have) take trials of one study at once.
  std::vector<Result<TuneResult>> results(2, Status::Internal("not run"));
  {
    std::vector<std::thread> workers;
    for (size_t w = 0; w < 2; ++w) {
      workers.emplace_back([&, w] {
        auto store = MetadataStore::Open(url_, "");
        if (!store.ok()) {
          results[w] = store.status();
          return;
        }
        results[w] = RunStudy(Options("shared", 8), Data(), **store, context_);
      });
    }
    for (std::thread& worker : workers) worker.join();
  }
  int ran = 0;
  for (auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    ran += result->ran_here;
  }
  EXPECT_EQ(ran, 8);
  auto trials = StudyStore(*store_).Trials("shared");
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 8u);
  std::set<std::string> runs;
  for (const TrialRecord& trial : *trials) {
    EXPECT_TRUE(trial.Finished());
    runs.insert(trial.run_id);
  }
  EXPECT_EQ(runs.size(), 8u);
}

INSTANTIATE_TEST_SUITE_P(Stores, StudyTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace fraudops
