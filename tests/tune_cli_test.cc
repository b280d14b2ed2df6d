// Tuning through the real binary: `fraudops run` with a tune section registers a model trained
// with the study's best parameters; a study killed with SIGKILL resumes without running a trial
// twice or losing one; two processes share a study on PostgreSQL; mistakes in the search space
// are named.

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_util.h"
#include "processes.h"
#include "server_util.h"
#include "store/metadata_store.h"
#include "store/study_store.h"

namespace fraudops {
namespace {

using testing::CommandResult;
using testing::Fraudops;
using testing::TempDir;
using testing::WriteSmallConfig;
using testing::WriteText;

using testing::Json;

/// A small lgbm configuration: `rounds` rounds, no early stopping unless asked.
void WriteLgbmParams(const TempDir& dir, int rounds, int early_stopping) {
  WriteText(
      dir.File("models/lgbm_default.json"),
      R"({"objective": "binary", "metric": ["auc", "average_precision"], "num_iterations": )" +
          std::to_string(rounds) + R"(, "early_stopping_round": )" +
          std::to_string(early_stopping) + R"(, "learning_rate": 0.1, "num_leaves": 15})");
}

TEST(TuneCliTest, ALgbmRunWithATuneSectionRegistersAModelWithTheStudysBestParameters) {
  TempDir dir;
  WriteSmallConfig(dir, "tune:\n  enabled: true\n  trials: 5\n  strategy: random\n");
  WriteLgbmParams(dir, 40, 10);
  CommandResult run = Fraudops(dir, "run --json", "TRAINING_ALGORITHM=lgbm");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json result = Json(run);
  EXPECT_EQ(result["registered"]["version"], 1) << result.dump();
  EXPECT_EQ(result["steps"][3]["name"], "tune");
  EXPECT_EQ(result["steps"][3]["status"], "succeeded");
  nlohmann::json tuning =
      nlohmann::json::parse(testing::ReadText(result["artifacts"]["tuning"].get<std::string>()));
  nlohmann::json training =
      nlohmann::json::parse(testing::ReadText(result["artifacts"]["training"].get<std::string>()));
  ASSERT_FALSE(tuning["best_params"].empty());
  for (const auto& [name, value] : tuning["best_params"].items())
    EXPECT_EQ(training["parameters"][name], value) << name;
  EXPECT_EQ(training["algorithm"], "lgbm");

  // The study is in the store: its best trial is the one the run took.
  const std::string study = tuning["study"];
  nlohmann::json shown = Json(Fraudops(dir, "tune show " + study + " --json"));
  EXPECT_EQ(shown["trials"].size(), 5u);
  EXPECT_EQ(shown["best"]["number"], tuning["best_trial"]);
  EXPECT_EQ(shown["best"]["params"], tuning["best_params"]);
  nlohmann::json runs = Json(Fraudops(dir, "runs list --json --trials"));
  int pipeline = 0, study_runs = 0;
  for (const nlohmann::json& r : runs) {
    pipeline += r["experiment"] == "fraud-detection";
    study_runs += r["experiment"] == "fraud-detection-tuning";
  }
  EXPECT_EQ(pipeline, 1) << runs.dump();
  EXPECT_EQ(study_runs, 6) << runs.dump();  // the study's run and its 5 trials
  // Without --trials, runs list leaves the trials out and says how many it left.
  EXPECT_EQ(Json(Fraudops(dir, "runs list --json")).size(), 2u);
  CommandResult table = Fraudops(dir, "runs list");
  EXPECT_NE(table.out.find("2 run(s); 5 tuning trials not listed (--trials lists them"),
            std::string::npos)
      << table.out;
  // The study's run says where its trials are; that command lists them.
  const std::string study_run = tuning["study_run_id"];
  CommandResult study_shown = Fraudops(dir, "runs show " + study_run);
  const std::string listing =
      "runs list --trials --filter 'tags.fraudops.parent_run = " + study_run + "'";
  EXPECT_NE(
      study_shown.out.find("trials: fraudops tune show " + study + ", or fraudops " + listing),
      std::string::npos)
      << study_shown.out;
  EXPECT_NE(Fraudops(dir, listing).out.find("5 run(s)"), std::string::npos);
  CommandResult listed = Fraudops(dir, "tune list");
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(study), std::string::npos) << listed.out;
}

TEST(TuneCliTest, TuneSaysHowToTrainTheFinalModelAndThatCommandRunsNoTrialAgain) {
  TempDir dir;
  WriteSmallConfig(dir);
  WriteLgbmParams(dir, 30, 10);
  CommandResult tune =
      Fraudops(dir, "tune --algorithm lgbm --study final --trials 3 --strategy random");
  ASSERT_EQ(tune.exit_code, 0) << tune.err;
  // The last line is the command: the settings given here that the study's definition holds
  // (a resumed study must match), then `fraudops run`.
  const std::string intro = "(no trial runs again):\n  ";
  const size_t at = tune.out.find(intro);
  ASSERT_NE(at, std::string::npos) << tune.out;
  std::string command = tune.out.substr(at + intro.size());
  command = command.substr(0, command.find('\n'));
  const std::string tail = " fraudops run";
  ASSERT_TRUE(command.ends_with(tail)) << command;
  const std::string env = command.substr(0, command.size() - tail.size());
  for (const char* setting :
       {"FRAUDOPS_TUNE_ENABLED=true", "FRAUDOPS_TUNE_STUDY=final", "FRAUDOPS_TUNE_TRIALS=3",
        "FRAUDOPS_TRAIN_ALGORITHM=lgbm", "FRAUDOPS_TUNE_STRATEGY=random"})
    EXPECT_NE(env.find(setting), std::string::npos) << setting << " in " << env;

  // --json carries the same command (the study resumed: it has its trials).
  CommandResult json =
      Fraudops(dir, "tune --algorithm lgbm --study final --trials 3 --strategy random --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(Json(json)["final_model_command"], command);
  // Resumed with another strategy: refused before any data is read, and nothing recorded.
  const size_t runs_before = Json(Fraudops(dir, "runs list --json --trials")).size();
  CommandResult changed =
      Fraudops(dir, "tune --algorithm lgbm --study final --trials 3 --strategy tpe");
  EXPECT_EQ(changed.exit_code, 2) << changed.err;
  EXPECT_NE(changed.err.find("study 'final' exists with another strategy"), std::string::npos)
      << changed.err;
  EXPECT_EQ(changed.err.find("run started"), std::string::npos) << changed.err;
  EXPECT_EQ(changed.err.find("\"component\":\"ingest\""), std::string::npos) << changed.err;
  EXPECT_EQ(Json(Fraudops(dir, "runs list --json --trials")).size(), runs_before);

  CommandResult run = Fraudops(dir, "run --json", env);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json result = Json(run);
  nlohmann::json tuning =
      nlohmann::json::parse(testing::ReadText(result["artifacts"]["tuning"].get<std::string>()));
  EXPECT_EQ(tuning["study"], "final");
  EXPECT_EQ(tuning["ran_here"], 0);  // the study had its trials
  EXPECT_EQ(result["registered"]["version"], 1) << result.dump();
  nlohmann::json training =
      nlohmann::json::parse(testing::ReadText(result["artifacts"]["training"].get<std::string>()));
  EXPECT_EQ(training["algorithm"], "lgbm");
  for (const auto& [name, value] : tuning["best_params"].items())
    EXPECT_EQ(training["parameters"][name], value) << name;
  // The version's lineage names the study its parameters came from.
  CommandResult lineage = Fraudops(dir, "lineage fraud-detector@1");
  EXPECT_NE(lineage.out.find("tuned by study final, best trial " +
                             std::to_string(tuning["best_trial"].get<int>())),
            std::string::npos)
      << lineage.out;
  EXPECT_EQ(Json(Fraudops(dir, "lineage fraud-detector@1 --json"))["tuning"]["study"], "final");

  // Retraining on other data with the study's parameters, without tuning again: the run
  // takes the best trial's values and names the study.
  CommandResult retrain = Fraudops(dir, "run --json",
                                   "FRAUDOPS_TUNE_FROM_STUDY=final TRAINING_ALGORITHM=lgbm "
                                   "FRAUDOPS_GLOBAL_SEED=7 FRAUDOPS_REGISTER_CHAMPION_GATE=false");
  ASSERT_EQ(retrain.exit_code, 0) << retrain.err;
  nlohmann::json again = Json(retrain);
  nlohmann::json from =
      nlohmann::json::parse(testing::ReadText(again["artifacts"]["tuning"].get<std::string>()));
  EXPECT_EQ(from["from_study"], true);
  EXPECT_EQ(from["best_params"], tuning["best_params"]);
  nlohmann::json retrained =
      nlohmann::json::parse(testing::ReadText(again["artifacts"]["training"].get<std::string>()));
  for (const auto& [name, value] : tuning["best_params"].items())
    EXPECT_EQ(retrained["parameters"][name], value) << name;
  EXPECT_NE(Fraudops(dir, "lineage fraud-detector@2").out.find("tuned by study final"),
            std::string::npos);
  // The same number of training rows: nothing to say. On a sixth of them, a warning (in the
  // log and tuning.json), not a refusal.
  EXPECT_EQ(from["study_train_rows"], from["train_rows"]) << from.dump();
  EXPECT_FALSE(from.contains("warning")) << from.dump();
  CommandResult smaller = Fraudops(dir, "run --json",
                                   "FRAUDOPS_TUNE_FROM_STUDY=final TRAINING_ALGORITHM=lgbm "
                                   "FRAUDOPS_PREPROCESS_SYNTHETIC_ROWS=5000 "
                                   "FRAUDOPS_REGISTER_CHAMPION_GATE=false");
  ASSERT_TRUE(smaller.exit_code == 0 || smaller.exit_code == 4) << smaller.err;
  nlohmann::json small = nlohmann::json::parse(
      testing::ReadText(Json(smaller)["artifacts"]["tuning"].get<std::string>()));
  EXPECT_NE(small.value("warning", "")
                .find("study 'final' was tuned on " +
                      std::to_string(from["study_train_rows"].get<int>()) +
                      " training rows; this run trains on " +
                      std::to_string(small["train_rows"].get<int>())),
            std::string::npos)
      << small.dump();
  EXPECT_NE(smaller.err.find("tune again on this data to be sure"), std::string::npos)
      << smaller.err;
  // A study that is not there, or of another algorithm, and the two settings together.
  CommandResult missing =
      Fraudops(dir, "run", "FRAUDOPS_TUNE_FROM_STUDY=nope TRAINING_ALGORITHM=lgbm");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("study 'nope' is not in the metadata store"), std::string::npos)
      << missing.err;
  CommandResult other = Fraudops(dir, "run", "FRAUDOPS_TUNE_FROM_STUDY=final");
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find("study 'final' tuned lgbm; train.algorithm is xgboost"),
            std::string::npos)
      << other.err;
  CommandResult both =
      Fraudops(dir, "run", "FRAUDOPS_TUNE_FROM_STUDY=final FRAUDOPS_TUNE_ENABLED=true");
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("set one of them"), std::string::npos) << both.err;

  // tune show's table: a trial's parameters as name=value; its trials' runs named apart in
  // runs list.
  CommandResult shown = Fraudops(dir, "tune show final");
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const std::string table = shown.out.substr(0, shown.out.find("best: trial"));
  EXPECT_NE(table.find(" learning_rate="), std::string::npos) << shown.out;
  EXPECT_EQ(table.find("{\""), std::string::npos) << shown.out;
  CommandResult runs = Fraudops(dir, "runs list --trials");
  for (const char* name : {"final #0", "final #1", "final #2"})
    EXPECT_NE(runs.out.find(name), std::string::npos) << name << " in " << runs.out;
  // A trial's run says whose trial it is; on one validation split its value is logged once
  // (no fold1.pr_auc, no spread of one).
  std::string trial_run;
  for (const nlohmann::json& r : Json(Fraudops(dir, "runs list --json --trials"))) {
    if (r.value("name", "") == "final #0") trial_run = r["run_id"];
  }
  ASSERT_FALSE(trial_run.empty());
  CommandResult trial = Fraudops(dir, "runs show " + trial_run);
  ASSERT_EQ(trial.exit_code, 0) << trial.err;
  EXPECT_NE(trial.out.find("fraudops.study                       final"), std::string::npos)
      << trial.out;
  EXPECT_NE(trial.out.find("fraudops.trial                       0"), std::string::npos);
  const nlohmann::json metrics =
      Json(Fraudops(dir, "runs show " + trial_run + " --json"))["metrics"];
  EXPECT_TRUE(metrics.contains("pr_auc")) << metrics.dump();
  EXPECT_FALSE(metrics.contains("fold1.pr_auc")) << metrics.dump();
  EXPECT_FALSE(metrics.contains("pr_auc_std")) << metrics.dump();
}

TEST(TuneCliTest, AStudyKilledWithSigkillResumesWithoutRunningATrialTwiceOrLosingOne) {
  TempDir dir;
  WriteSmallConfig(dir);
  WriteLgbmParams(dir, 150, 0);  // trials long enough to be killed in the middle of one
  const std::string args =
      "tune --algorithm lgbm --study k --trials 4 --strategy random "
      "--pruner none --parallel 1 --home " +
      dir.File("ws");
  testing::ChildProcess first(
      {"sh", "-c", "cd " + dir.path() + " && exec " + testing::Binary() + " " + args}, {},
      dir.File("first.log"));
  std::unique_ptr<MetadataStore> store;
  std::vector<TrialRecord> at_kill;
  ASSERT_TRUE(testing::Eventually(
      [&] {
        if (!store) {
          if (!std::filesystem::exists(dir.File("ws/fraudops.db"))) return false;
          auto opened = MetadataStore::Open(dir.File("ws/fraudops.db"), "");
          if (!opened.ok()) return false;
          store = std::move(*opened);
        }
        auto trials = StudyStore(*store).Trials("k");
        if (!trials.ok()) return false;
        int finished = 0;
        for (const TrialRecord& t : *trials) finished += t.Finished();
        at_kill = *trials;
        // Killed in the middle of a trial: its child run created (a kill between claiming the
        // number and creating the run is the other case, which leaves no run to end).
        return finished >= 2 && !trials->back().Finished() &&
               store->GetRun(trials->back().run_id).ok();
      },
      120))
      << first.log();
  first.Signal(SIGKILL);
  EXPECT_EQ(first.Wait(), 128 + SIGKILL);
  const TrialRecord killed = at_kill.back();

  CommandResult resumed = Fraudops(dir, args + " --json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  nlohmann::json study = Json(resumed);
  ASSERT_EQ(study["trials"].size(), 4u) << study.dump(1);
  std::set<std::string> runs;
  for (size_t i = 0; i < 4; ++i) {
    const nlohmann::json& trial = study["trials"][i];
    EXPECT_EQ(trial["number"], i);
    EXPECT_EQ(trial["state"], "complete") << trial.dump();
    runs.insert(trial["run_id"].get<std::string>());
    if (i < at_kill.size() && at_kill[i].Finished()) {
      // Finished before the kill: not run again.
      EXPECT_EQ(trial["run_id"], at_kill[i].run_id);
      EXPECT_EQ(trial["value"], *at_kill[i].value);
    }
  }
  EXPECT_EQ(runs.size(), 4u);
  // The trial the kill interrupted ran again with its own parameters, as a new child run.
  const nlohmann::json& again = study["trials"][static_cast<size_t>(killed.number)];
  EXPECT_EQ(again["params"], killed.params);
  EXPECT_NE(again["run_id"], killed.run_id);
  auto old_run = store->GetRun(killed.run_id);
  ASSERT_TRUE(old_run.ok());
  EXPECT_EQ(old_run->status, RunStatus::kFailed);
}

TEST(TuneCliTest, TwoProcessesSharingAPostgresStudyNeverRunTheSameTrial) {
  FOPS_NEED_SERVER(admin, "FOPS_TEST_POSTGRES_URL");
  testing::ScratchDatabase database(admin);
  ASSERT_TRUE(database.error().empty()) << database.error();
  TempDir dir;
  WriteSmallConfig(dir, "global:\n  metadata_url: " + database.url() + "\n");
  WriteLgbmParams(dir, 40, 10);
  const std::string tune =
      testing::Binary() + " tune --algorithm lgbm --study shared --trials 8 --parallel 1 --json";
  const std::string command = "cd " + dir.path() + " && (" + tune + " > a.json 2> a.err & " + tune +
                              " > b.json 2> b.err & wait)";
  ASSERT_EQ(std::system(command.c_str()), 0);
  for (const char* name : {"a", "b"}) {
    auto result = nlohmann::json::parse(testing::ReadText(dir.File(std::string(name) + ".json")),
                                        nullptr, false);
    ASSERT_FALSE(result.is_discarded()) << testing::ReadText(dir.File(std::string(name) + ".err"));
  }
  auto store = MetadataStore::Open(database.url(), "");
  ASSERT_TRUE(store.ok());
  auto trials = StudyStore(**store).Trials("shared");
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 8u);
  std::set<std::string> runs, points, owners;
  for (const TrialRecord& trial : *trials) {
    EXPECT_TRUE(trial.Finished());
    runs.insert(trial.run_id);
    points.insert(trial.params.dump());
    owners.insert(trial.owner);
  }
  EXPECT_EQ(runs.size(), 8u);
  EXPECT_EQ(points.size(), 8u);
}

TEST(TuneCliTest, TimeFoldsTargetsAndTimeBudgetsThroughTheCommand) {
  TempDir dir;
  WriteSmallConfig(dir);
  WriteLgbmParams(dir, 30, 10);
  // Forward chaining on the time column (Time, which the model does not see).
  CommandResult folds = Fraudops(dir,
                                 "tune --algorithm lgbm --study f --trials 2 --folds 3 "
                                 "--fold-method time --pruner none --json");
  ASSERT_EQ(folds.exit_code, 0) << folds.err;
  nlohmann::json study = Json(folds);
  EXPECT_EQ(study["definition"]["fold_method"], "time");
  for (const nlohmann::json& trial : study["trials"]) {
    EXPECT_EQ(trial["detail"]["fold_values"].size(), 3u) << trial.dump();
    EXPECT_TRUE(trial["detail"].contains("std"));
  }
  // A target any trial reaches: the study stops after its first complete trial.
  CommandResult target = Fraudops(dir,
                                  "tune --algorithm lgbm --study t --trials 50 --target 0.0 "
                                  "--parallel 1 --json");
  ASSERT_EQ(target.exit_code, 0) << target.err;
  study = Json(target);
  EXPECT_EQ(study["trials"].size(), 1u);
  EXPECT_NE(study["stopped_because"].get<std::string>().find("reached the target"),
            std::string::npos)
      << study.dump();
  // A time budget: far fewer than the 100000 trials asked for, and why.
  CommandResult budget = Fraudops(dir,
                                  "tune --algorithm lgbm --study b --trials 100000 "
                                  "--time-budget 2s --json");
  ASSERT_EQ(budget.exit_code, 0) << budget.err;
  study = Json(budget);
  EXPECT_LT(study["trials"].size(), 100000u);
  EXPECT_NE(study["stopped_because"].get<std::string>().find("time budget"), std::string::npos)
      << study["stopped_because"];
  EXPECT_TRUE(std::filesystem::exists(study["report"].get<std::string>()));
  CommandResult bad_budget = Fraudops(dir, "tune --time-budget soon --trials 1");
  EXPECT_EQ(bad_budget.exit_code, 2);
  EXPECT_NE(bad_budget.err.find("tune.time_budget"), std::string::npos) << bad_budget.err;
}

TEST(TuneCliTest, TrialsOnASampleOfTheNegativesThroughTheCommand) {
  TempDir dir;
  WriteSmallConfig(dir, "tune:\n  min_negatives: 100\n");
  WriteLgbmParams(dir, 20, 5);
  CommandResult sampled = Fraudops(dir,
                                   "tune --algorithm lgbm --study s --trials 2 "
                                   "--negatives-per-positive 5 --json");
  ASSERT_EQ(sampled.exit_code, 0) << sampled.err;
  nlohmann::json study = Json(sampled);
  const nlohmann::json& sample = study["definition"]["sample"];
  ASSERT_TRUE(sample.is_object()) << study["definition"].dump();
  const size_t kept = sample["kept_negatives"][0];
  const size_t negatives = sample["negatives"][0];
  EXPECT_LT(kept, negatives / 2);
  EXPECT_EQ(kept % 5, 0u) << "5 negatives a positive";
  for (const nlohmann::json& trial : study["trials"])
    EXPECT_EQ(trial["detail"]["train_rows"], kept + kept / 5) << trial.dump();
  CommandResult shown = Fraudops(dir, "tune show s");
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("trials train on every positive and " + std::to_string(kept) + " of " +
                           std::to_string(negatives) + " negative rows (5 per positive)"),
            std::string::npos)
      << shown.out;
  CommandResult negative = Fraudops(dir, "tune --negatives-per-positive -1 --trials 1");
  EXPECT_EQ(negative.exit_code, 2);
  EXPECT_NE(negative.err.find("tune.negatives_per_positive"), std::string::npos) << negative.err;
}

TEST(TuneCliTest, MistakesInTheSearchSpaceAreNamedAndNothingIsRun) {
  TempDir dir;
  WriteSmallConfig(dir);
  WriteText(dir.File("space.json"),
            R"({"eta": {"type": "log_uniform", "low": 0.01, "high": 0.3},
                "max_dept": {"type": "int", "low": 3, "high": 9}})");
  CommandResult bad = Fraudops(dir, "tune --space space.json --trials 2");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("space.json /max_dept"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("did you mean 'max_depth'"), std::string::npos) << bad.err;
  WriteText(dir.File("broken.json"), R"({"eta": {"type": )");
  CommandResult broken = Fraudops(dir, "tune --space broken.json --trials 2");
  EXPECT_EQ(broken.exit_code, 2) << broken.err;
  EXPECT_NE(broken.err.find("broken.json"), std::string::npos) << broken.err;
  CommandResult strategy = Fraudops(dir, "tune --strategy tp --trials 2");
  EXPECT_EQ(strategy.exit_code, 2) << strategy.err;
  EXPECT_NE(strategy.err.find("tpe"), std::string::npos) << strategy.err;
  CommandResult trials = Fraudops(dir, "tune --trials 0");
  EXPECT_EQ(trials.exit_code, 2) << trials.err;
  EXPECT_NE(trials.err.find("tune.trials = 0 must be at least 1"), std::string::npos) << trials.err;
  // Each found before any data is read or anything written.
  for (const CommandResult* mistake : {&bad, &broken, &strategy, &trials}) {
    EXPECT_EQ(mistake->err.find("\"component\":\"ingest\""), std::string::npos) << mistake->err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.File("fraudops-home")));
  CommandResult missing = Fraudops(dir, "tune show nothing");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no metadata store"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace fraudops
