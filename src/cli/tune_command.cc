#include "cli/tune_command.h"

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "core/files.h"
#include "core/strings.h"
#include "pipeline/pipeline.h"
#include "tune/report.h"
#include "tune/study.h"

namespace fraudops {

namespace {

struct TuneArgs {
  std::string config_path, home, data, algorithm, study, strategy, pruner, objective, time_budget,
      fold_method, target, warm_start, space;
  std::optional<long long> trials, parallel, folds;
  std::optional<double> negatives_per_positive;
  bool json = false;
};

std::string Value(const TrialRecord& trial) {
  return trial.value ? FormatDouble(*trial.value, 5) : "-";
}

/// `text` as one shell word.
std::string ShellWord(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                              "0123456789_./:=@%+,-") == std::string::npos)
    return text;
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

/// The command that trains the final model with `study`'s best trial: `fraudops run` with the
/// tune section this command ran with (what a study's definition holds must match to resume it;
/// with its trials done, none runs again).
std::string FinalModelCommand(const TuneArgs& args, const Config& config, const std::string& study,
                              size_t trials) {
  std::vector<std::string> env = {"FRAUDOPS_TUNE_ENABLED=true",
                                  "FRAUDOPS_TUNE_STUDY=" + ShellWord(study),
                                  "FRAUDOPS_TUNE_TRIALS=" + std::to_string(trials)};
  const TuneConfig& t = config.tune;
  const std::pair<bool, std::string> given[] = {
      {!args.home.empty(), "FRAUDOPS_GLOBAL_HOME=" + ShellWord(config.global.home)},
      {!args.data.empty(),
       "FRAUDOPS_PREPROCESS_DATA_SOURCE=" + ShellWord(config.preprocess.data_source)},
      {!args.algorithm.empty(), "FRAUDOPS_TRAIN_ALGORITHM=" + ShellWord(config.train.algorithm)},
      {!args.strategy.empty(), "FRAUDOPS_TUNE_STRATEGY=" + ShellWord(t.strategy)},
      {!args.pruner.empty(), "FRAUDOPS_TUNE_PRUNER=" + ShellWord(t.pruner)},
      {!args.objective.empty(), "FRAUDOPS_TUNE_OBJECTIVE=" + ShellWord(t.objective)},
      {args.folds.has_value(), "FRAUDOPS_TUNE_FOLDS=" + std::to_string(t.folds)},
      {!args.fold_method.empty(), "FRAUDOPS_TUNE_FOLD_METHOD=" + ShellWord(t.fold_method)},
      {!args.space.empty(), "FRAUDOPS_TUNE_SPACE_FILE=" + ShellWord(t.space_file)},
      {!args.warm_start.empty(), "FRAUDOPS_TUNE_WARM_START=" + ShellWord(t.warm_start)},
      {args.negatives_per_positive.has_value(),
       "FRAUDOPS_TUNE_NEGATIVES_PER_POSITIVE=" + FormatDouble(t.negatives_per_positive)}};
  for (const auto& [set, assignment] : given) {
    if (set) env.push_back(assignment);
  }
  std::string command = Join(env, " ") + " fraudops run";
  if (!args.config_path.empty()) command += " --config " + ShellWord(args.config_path);
  return command;
}

void PrintStudy(const TuneResult& result, bool with_trials) {
  const nlohmann::json& d = result.study.definition;
  std::printf("study %s (%s, %s, pruner %s): %s %s", result.study.name.c_str(),
              result.study.algorithm.c_str(), d.value("strategy", "").c_str(),
              d.value("pruner", "").c_str(), d.value("direction", "").c_str(),
              d.value("objective", "").c_str());
  const int folds = d.value("folds", 0);
  if (folds >= 2) std::printf(" over %d %s folds", folds, d.value("fold_method", "").c_str());
  std::printf("\n");
  const nlohmann::json sample = d.value("sample", nlohmann::json());
  if (sample.is_object()) {
    // "19150 of 198982", or with folds "1000 of 4000, 2000 of 8000, …" (one per fold).
    std::vector<std::string> parts;
    const nlohmann::json& kept = sample["kept_negatives"];
    const nlohmann::json& all = sample["negatives"];
    for (size_t f = 0; f < kept.size() && f < all.size(); ++f)
      parts.push_back(kept[f].dump() + " of " + all[f].dump());
    std::printf("trials train on every positive and %s negative rows%s (%s per positive)\n",
                Join(parts, ", ").c_str(), parts.size() > 1 ? ", fold by fold" : "",
                FormatDouble(d.value("negatives_per_positive", 0.0)).c_str());
  }
  std::printf("trials: %zu (%s)\n", result.trials.size(), result.Counts().Text().c_str());
  if (!result.stopped_because.empty()) std::printf("stopped: %s\n", result.stopped_because.c_str());
  if (with_trials) {
    std::printf("\n%6s  %-9s  %10s  %7s  %s\n", "trial", "state", "value", "rounds", "params");
    for (const TrialRecord& trial : result.trials) {
      const nlohmann::json& rounds = trial.detail.value("rounds", nlohmann::json::array());
      const nlohmann::json& curve = trial.detail.value("curve", nlohmann::json::array());
      const size_t trained = !rounds.empty() ? rounds[0].get<size_t>() : curve.size();
      std::printf("%6lld  %-9s  %10s  %7zu  %s\n", static_cast<long long>(trial.number),
                  std::string(TrialStateName(trial.state)).c_str(), Value(trial).c_str(), trained,
                  ParamsForPeople(trial.params).c_str());
    }
  }
  if (result.best) {
    std::printf("\nbest: trial %lld, %s %s", static_cast<long long>(result.best->number),
                d.value("objective", "").c_str(), Value(*result.best).c_str());
    if (result.best->detail.contains("std") && folds >= 2)
      std::printf(" ± %s", FormatDouble(result.best->detail["std"].get<double>(), 4).c_str());
    std::printf("\n  %s\n", result.best->params.dump().c_str());
  } else {
    std::printf("\nno complete trial yet\n");
  }
}

int TuneRun(const TuneArgs& args) {
  auto session = OpenSession(args.config_path);
  if (!session.ok()) return Fail(session.status());
  Config& config = (*session)->config;
  if (!args.data.empty()) config.preprocess.data_source = args.data;
  if (!args.algorithm.empty()) config.train.algorithm = args.algorithm;
  if (!args.home.empty()) config.global.home = args.home;
  TuneConfig& t = config.tune;
  t.enabled = true;
  t.from_study.clear();  // this command tunes: an earlier study's parameters are not asked for
  const std::pair<const std::string*, std::string*> texts[] = {{&args.study, &t.study},
                                                               {&args.strategy, &t.strategy},
                                                               {&args.pruner, &t.pruner},
                                                               {&args.objective, &t.objective},
                                                               {&args.time_budget, &t.time_budget},
                                                               {&args.fold_method, &t.fold_method},
                                                               {&args.target, &t.target},
                                                               {&args.warm_start, &t.warm_start}};
  for (const auto& [given, field] : texts) {
    if (!given->empty()) *field = *given;
  }
  if (args.trials) t.trials = *args.trials;
  if (args.parallel) t.parallel = *args.parallel;
  if (args.folds) t.folds = *args.folds;
  if (args.negatives_per_positive) t.negatives_per_positive = *args.negatives_per_positive;
  // A path given here is relative to here, not to the configuration file.
  if (!args.space.empty()) t.space_file = std::filesystem::absolute(args.space).string();
  if (Status valid = ValidateConfig(config); !valid.ok()) return Fail(valid);
  if (Status valid = CheckPipelineConfig(config); !valid.ok()) return Fail(valid);
  if (args.json) (*session)->context.progress = false;

  RunResult run = RunPipeline(config, (*session)->context, {}, "tune");
  if (!run.error.ok()) {
    if (args.json) PrintJson(run.ToJson());
    return Fail(run.error);
  }
  auto stores = OpenStoresFor(config, /*need_artifacts=*/false);
  if (!stores.ok()) return Fail(stores.status());
  const std::string study =
      t.study.empty() ? config.global.pipeline_name + "-" + run.execution_id : t.study;
  auto result = LoadStudy(*stores->metadata, study);
  if (!result.ok()) return Fail(result.status());
  // Why this call stopped, as the tune step recorded it.
  if (run.artifacts.contains("tuning")) {
    auto text = ReadFile(run.artifacts["tuning"].get<std::string>());
    if (text.ok()) {
      const nlohmann::json tuning = nlohmann::json::parse(*text, nullptr, false);
      if (tuning.is_object()) result->stopped_because = tuning.value("stopped_because", "");
    }
  }
  if (args.json) {
    nlohmann::json out = result->ToJson();
    out["execution_id"] = run.execution_id;
    out["report"] = run.artifacts.value("tuning_report", "");
    if (result->best)
      out["final_model_command"] = FinalModelCommand(args, config, study, result->trials.size());
    PrintJson(out);
  } else {
    PrintStudy(*result, /*with_trials=*/false);
    std::printf("\nreport: %s\nfraudops tune show %s lists every trial\n",
                run.artifacts.value("tuning_report", "").c_str(), study.c_str());
    if (result->best) {
      std::printf(
          "train, gate and register the final model with the best trial's parameters (no trial "
          "runs again):\n  %s\n",
          FinalModelCommand(args, config, study, result->trials.size()).c_str());
    }
  }
  return kExitOk;
}

int TuneShow(const std::string& config_path, const std::string& home, const std::string& study,
             const std::string& report, bool json) {
  auto stores = OpenStores(config_path, home, /*need_artifacts=*/false);
  if (!stores.ok()) return Fail(stores.status());
  auto result = LoadStudy(*stores->metadata, study);
  if (!result.ok()) return Fail(result.status());
  if (!report.empty()) {
    if (Status written = WriteFileAtomic(report, StudyReportHtml(*result)); !written.ok())
      return Fail(written);
    if (!json) std::printf("wrote %s\n", report.c_str());
  }
  if (json) {
    PrintJson(result->ToJson());
  } else {
    PrintStudy(*result, /*with_trials=*/true);
  }
  return kExitOk;
}

int TuneList(const std::string& config_path, const std::string& home, bool json) {
  auto stores = OpenStores(config_path, home, /*need_artifacts=*/false);
  if (!stores.ok()) return Fail(stores.status());
  StudyStore studies(*stores->metadata);
  auto all = studies.ListStudies();
  if (!all.ok()) return Fail(all.status());
  nlohmann::json out = nlohmann::json::array();
  int width = 5;  // names whole: they are what tune show takes
  for (const StudyRecord& study : *all)
    width = std::max(width, static_cast<int>(study.name.size()));
  if (!json)
    std::printf("%-*s  %-8s  %-9s  %-10s  %6s  %10s\n", width, "study", "algo", "strategy",
                "objective", "trials", "best");
  for (const StudyRecord& study : *all) {
    auto loaded = LoadStudy(*stores->metadata, study.name);
    if (!loaded.ok()) return Fail(loaded.status());
    const nlohmann::json& d = study.definition;
    if (json) {
      out.push_back({{"study", study.name},
                     {"algorithm", study.algorithm},
                     {"strategy", d.value("strategy", "")},
                     {"objective", d.value("objective", "")},
                     {"trials", loaded->trials.size()},
                     {"best_value", loaded->best ? nlohmann::json(*loaded->best->value)
                                                 : nlohmann::json(nullptr)},
                     {"created_at", study.created_at}});
    } else {
      std::printf("%-*s  %-8s  %-9s  %-10s  %6zu  %10s\n", width, study.name.c_str(),
                  study.algorithm.c_str(), d.value("strategy", "").c_str(),
                  d.value("objective", "").c_str(), loaded->trials.size(),
                  loaded->best ? Value(*loaded->best).c_str() : "-");
    }
  }
  if (json) PrintJson(out);
  return kExitOk;
}

}  // namespace

std::function<int()> AddTuneCommands(CLI::App& app) {
  auto args = std::make_shared<TuneArgs>();
  auto* tune = app.add_subcommand(
      "tune",
      "Tune hyperparameters: ingest, validate and split as the pipeline does, then a study of "
      "trials kept in the metadata store (docs/tuning.md).");
  tune->add_option("--config", args->config_path, "Configuration file");
  tune->add_option("--data", args->data, "Data source URI (overrides preprocess.data_source)");
  tune->add_option("--algorithm", args->algorithm, "xgboost or lgbm (overrides train.algorithm)");
  tune->add_option("--home", args->home, "Workspace directory (overrides global.home)");
  tune->add_option("--study", args->study, "The study's name (an existing study is resumed)");
  tune->add_option("--trials", args->trials, "The study's trials in all (tune.trials)");
  tune->add_option("--time-budget", args->time_budget, "Stop after this long, e.g. 20m");
  tune->add_option("--strategy", args->strategy, "random, tpe or hyperband");
  tune->add_option("--pruner", args->pruner, "auto, median, hyperband or none");
  tune->add_option("--objective", args->objective, "The validation metric to optimize");
  tune->add_option("--folds", args->folds, "k >= 2: k-fold cross-validation; 0: validation split");
  tune->add_option("--fold-method", args->fold_method, "stratified or time");
  tune->add_option("--parallel", args->parallel, "Trials at a time in this process");
  tune->add_option("--negatives-per-positive", args->negatives_per_positive,
                   "Trials train on every positive and this many negatives per positive; 0: "
                   "every row (tune.negatives_per_positive)");
  tune->add_option("--target", args->target, "Stop once a trial reaches this value");
  tune->add_option("--warm-start", args->warm_start, "An earlier study to start from");
  tune->add_option("--space", args->space, "Search space file (JSON; tune.space_file)");
  tune->add_flag("--json", args->json, "Print the study as JSON");
  tune->fallthrough();

  auto show_study = std::make_shared<std::string>();
  auto show_report = std::make_shared<std::string>();
  auto* show = tune->add_subcommand("show", "A study's definition, trials and best trial.");
  show->add_option("study", *show_study, "The study's name")->required();
  show->add_option("--report", *show_report,
                   "Also write the study's HTML report (history, parallel coordinates, parameter "
                   "importance, curves) to this file");
  auto* list = tune->add_subcommand("list", "The studies in the metadata store.");
  for (CLI::App* sub : {show, list}) {
    sub->add_option("--config", args->config_path, "Configuration file");
    sub->add_option("--home", args->home, "Workspace directory (overrides global.home)");
    sub->add_flag("--json", args->json, "Print JSON");
  }
  return [=]() -> int {
    if (*show)
      return TuneShow(args->config_path, args->home, *show_study, *show_report, args->json);
    if (*list) return TuneList(args->config_path, args->home, args->json);
    if (*tune) return TuneRun(*args);
    return -1;
  };
}

}  // namespace fraudops
