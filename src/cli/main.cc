/// fraudops — the command line. Thin: parses arguments, calls the modules, prints.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string_view>

#include "cli/artifacts_commands.h"
#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/features_commands.h"
#include "cli/monitor_commands.h"
#include "cli/people_commands.h"
#include "cli/predict_command.h"
#include "cli/registry_commands.h"
#include "cli/serve_commands.h"
#include "cli/stream_commands.h"
#include "cli/train_command.h"
#include "cli/tune_command.h"
#include "core/config.h"
#include "core/files.h"
#include "core/logging.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "core/version.h"
#include "data/source.h"
#include "data/synth.h"
#include "pipeline/pipeline.h"
#include "store/deployment_strategy.h"
#include "store/metadata_store.h"

namespace fraudops {
namespace {

/// libgomp, libxgboost's OpenMP, reads OMP_WAIT_POLICY when it is loaded — before main — and
/// by default its threads spin up to 300,000 times between parallel regions, fighting other
/// processes for cores on a shared machine (a run took 3.7x its quiet time beside two busy
/// processes). The commands that train re-execute themselves once with the passive policy,
/// unless the user chose a policy (OMP_WAIT_POLICY=active restores spinning; docs/pipeline.md).
void PreferPassiveOpenMp(int argc, char** argv) {
  if (argc < 2 || std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  const std::string_view command = argv[1];
  if (command != "run" && command != "train" && command != "tune" && command != "worker" &&
      command != "schedule" && command != "serve")
    return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 0) != 0) return;
  execv("/proc/self/exe", argv);  // returns only when it failed: go on as we are
}

namespace fs = std::filesystem;

struct GlobalOptions {
  std::string config_path;
  bool json = false;
};

void PrintRunSummary(const RunResult& result) {
  // Refused before it began (the configuration, a store, a study's options): no run, no
  // artifacts, only the error.
  if (result.execution_id.empty()) {
    std::printf("\nfraudops run: not started (pipeline %s)\n\n  error: %s\n\n",
                result.pipeline.c_str(), result.error.message().c_str());
    return;
  }
  std::printf("\nfraudops run %s  (pipeline %s, %s s)\n\n", result.execution_id.c_str(),
              result.pipeline.c_str(), Fixed(result.seconds, 2).c_str());
  std::printf("  %-10s %-10s %8s\n", "step", "status", "seconds");
  for (const StepRecord& step : result.steps) {
    std::printf("  %-10s %-10s %8s\n", step.name.c_str(),
                std::string(StepStatusName(step.status)).c_str(),
                step.status == StepStatus::kSkipped ? "" : Fixed(step.seconds, 2).c_str());
  }
  if (result.metrics.contains("test")) {
    std::printf("\n  %-28s %12s %12s\n", "metric", "validation", "test");
    const std::pair<const char*, const char*> rows[] = {
        {"roc_auc", "ROC AUC"},
        {"pr_auc", "PR AUC"},
        {"log_loss", "log loss"},
        {"brier", "Brier score"},
        {"ks", "KS"},
        {"recall_at_fpr_0_1pct", "recall @ FPR 0.1%"},
        {"recall_at_fpr_1pct", "recall @ FPR 1%"},
        {"threshold", "threshold"},
        {"precision", "precision"},
        {"recall", "recall"},
        {"f1", "F1"},
        {"amount_weighted_recall", "fraud amount caught"}};
    for (const auto& row : rows) {
      const char* key = row.first;
      const char* name = row.second;
      auto cell = [&](const char* split) {
        const auto& value = result.metrics[split][key];
        return value.is_number() ? Fixed(value.get<double>(), 4) : std::string("-");
      };
      std::printf("  %-28s %12s %12s\n", name, cell("validation").c_str(), cell("test").c_str());
    }
    const auto& c = result.metrics["test"]["confusion"];
    std::printf("  %-28s %25s\n", "test confusion (tp fp tn fn)",
                (std::to_string(c.value("tp", 0)) + " " + std::to_string(c.value("fp", 0)) + " " +
                 std::to_string(c.value("tn", 0)) + " " + std::to_string(c.value("fn", 0)))
                    .c_str());
  }
  if (result.gate_evaluated) {
    std::printf("\n  gate: %s\n", result.gate.passed ? "PASSED" : "FAILED");
    for (const std::string& check : result.gate.checks) std::printf("    %s\n", check.c_str());
  }
  if (!result.registered.is_null()) {
    const nlohmann::json& v = result.registered;
    std::string aliases;
    for (const auto& alias : v["aliases"])
      aliases += (aliases.empty() ? ", aliases " : ", ") + alias.get<std::string>();
    std::printf("\n  registered: %s@%lld (%s%s)\n", v["model"].get<std::string>().c_str(),
                v["version"].get<long long>(), v["approval"].get<std::string>().c_str(),
                aliases.c_str());
  }
  if (!result.deployment.is_null()) {
    const nlohmann::json& d = result.deployment;
    std::printf("  deployed:   %s@%lld to endpoint %s (%s, %s)\n",
                d["target"]["model"].get<std::string>().c_str(),
                d["target"]["version"].get<long long>(), d["endpoint"].get<std::string>().c_str(),
                d["strategy"].get<std::string>().c_str(), d["status"].get<std::string>().c_str());
  }
  if (!result.error.ok()) std::printf("\n  error: %s\n", result.error.message().c_str());
  std::printf("\n  artifacts: %s\n", result.artifact_dir.c_str());
  if (result.artifacts.contains("report")) {
    std::printf("  report:    %s\n", result.artifacts["report"].get<std::string>().c_str());
  }
  std::printf("\n");
}

int RunCommand(const GlobalOptions& global, const std::string& data, const std::string& algorithm,
               const std::string& home, RunAnnotations annotations,
               const std::vector<std::string>& tags) {
  auto parsed_tags = ParseRunTags(tags);
  if (!parsed_tags.ok()) return ReportError(parsed_tags.status());
  annotations.tags = std::move(*parsed_tags);
  auto session = OpenSession(global.config_path);
  if (!session.ok()) return ReportError(session.status());
  Config& config = (*session)->config;
  if (!data.empty()) config.preprocess.data_source = data;
  if (!algorithm.empty()) config.train.algorithm = algorithm;
  if (!home.empty()) config.global.home = home;
  if (Status valid = ValidateConfig(config); !valid.ok()) return ReportError(valid);
  if (Status valid = ValidateDeployConfig(config.deploy); !valid.ok()) return ReportError(valid);
  if (Status valid = CheckPipelineConfig(config); !valid.ok()) return ReportError(valid);
  if (global.json) (*session)->context.progress = false;

  RunResult result = RunPipeline(config, (*session)->context, annotations);
  if (global.json) {
    std::cout << result.ToJson().dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << std::endl;
  } else {
    PrintRunSummary(result);
  }
  if (!result.error.ok()) {
    if (!global.json) std::fprintf(stderr, "fraudops: error: %s\n", result.error.message().c_str());
    return ExitCodeFor(result.error);
  }
  return result.gate.passed ? kExitOk : kExitGateFailed;
}

int InitCommand(const std::string& directory) {
  fs::path dir = directory.empty() ? "." : directory;
  const std::pair<std::string, std::string> files[] = {
      {"config.yml", ConfigTemplate()},
      {".env.example", EnvTemplate()},
      {"models/xgboost_default.json", std::string(DefaultXgboostParams())},
      {"models/lgbm_default.json", std::string(DefaultLgbmParams())},
  };
  for (const auto& [name, content] : files) {
    if (FileExists((dir / name).string())) {
      return ReportError(
          Status::InvalidArgument((dir / name).string() +
                                  " already exists; fraudops init writes a new workspace and "
                                  "never overwrites (choose an empty directory)"));
    }
  }
  for (const auto& [name, content] : files) {
    if (Status written = WriteFileAtomic((dir / name).string(), content); !written.ok()) {
      return ReportError(written);
    }
    std::printf("wrote %s\n", (dir / name).string().c_str());
  }
  if (dir == ".") {
    std::printf("\nnext: fraudops run\n");
  } else {
    std::printf("\nnext: cd %s && fraudops run\n", dir.string().c_str());
  }
  return kExitOk;
}

int SynthCommand(size_t rows, uint64_t seed, double fraud_rate, size_t cards,
                 const std::string& output) {
  SynthOptions options;
  options.rows = rows;
  options.seed = seed;
  options.fraud_rate = fraud_rate;
  options.cards = cards;
  ThreadPool pool(0);
  if (Status written = WriteSyntheticCsv(options, output, &pool); !written.ok()) {
    return ReportError(written);
  }
  std::error_code error;
  auto bytes = fs::file_size(output, error);
  std::printf("wrote %zu synthetic transactions (%.1f MB) to %s\n", rows,
              error ? 0.0 : static_cast<double>(bytes) / 1e6, output.c_str());
  return kExitOk;
}

int ImportCommand(const GlobalOptions& global, const std::string& uri, const std::string& output,
                  size_t chunk_rows) {
  auto session = OpenSession(global.config_path);
  if (!session.ok()) return ReportError(session.status());
  auto options = SourceOptionsFrom((*session)->config);
  if (!options.ok()) return ReportError(options.status());
  options->sql.chunk_rows = chunk_rows;
  SourceRegistry sources;
  RegisterBuiltinSources(sources);
  auto started = std::chrono::steady_clock::now();
  auto imported = ImportToDatasetFile(sources, uri, *options, (*session)->context, output);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!imported.ok()) return ReportError(imported.status());
  nlohmann::json out = {{"source", RedactUrl(uri)},
                        {"output", output},
                        {"rows", imported->rows},
                        {"content_hash", imported->content_hash},
                        {"payload_sha256", imported->payload_sha256},
                        {"seconds", seconds}};
  if (global.json) {
    std::cout << out.dump(2) << std::endl;
  } else {
    std::printf("%s -> %s: %zu rows in %.2f s\ncontent hash: %s\n", RedactUrl(uri).c_str(),
                output.c_str(), imported->rows, seconds, imported->content_hash.c_str());
  }
  return kExitOk;
}

int InspectCommand(const GlobalOptions& global, const std::string& uri) {
  auto session = OpenSession(global.config_path);
  if (!session.ok()) return ReportError(session.status());
  auto options = SourceOptionsFrom((*session)->config);
  if (!options.ok()) return ReportError(options.status());
  SourceRegistry sources;
  RegisterBuiltinSources(sources);
  auto started = std::chrono::steady_clock::now();
  auto loaded = sources.Load(uri, *options, (*session)->context);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!loaded.ok()) return ReportError(loaded.status());
  const Dataset& d = loaded->dataset;
  nlohmann::json out = loaded->manifest;
  out["rows"] = d.rows();
  out["positives"] = d.CountPositives();
  out["read_seconds"] = seconds;
  out["content_hash"] = d.ContentHash();
  out["schema"] = d.SchemaJson();
  if (global.json) {
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    return kExitOk;
  }
  std::printf("%s: %zu rows, %zu features, %zu positive (%.4f %%), read in %.3f s\n",
              RedactUrl(uri).c_str(), d.rows(), d.num_features(), d.CountPositives(),
              100.0 * static_cast<double>(d.CountPositives()) /
                  static_cast<double>(std::max<size_t>(1, d.rows())),
              seconds);
  std::printf("label: %s (positive '%s', negative '%s')\ncontent hash: %s\n\n",
              d.label_name.c_str(), d.label_values[1].c_str(), d.label_values[0].c_str(),
              out["content_hash"].get<std::string>().c_str());
  std::printf("  %-24s %-12s %10s %14s %14s\n", "column", "type", "missing", "min", "max");
  for (size_t c = 0; c < d.num_features(); ++c) {
    size_t missing = 0;
    double low = INFINITY, high = -INFINITY;
    for (float v : d.columns[c]) {
      if (std::isnan(v))
        ++missing;
      else {
        low = std::min(low, static_cast<double>(v));
        high = std::max(high, static_cast<double>(v));
      }
    }
    std::string type(ColumnTypeName(d.features[c].type));
    if (d.features[c].type == ColumnType::kCategorical) {
      type += "(" + std::to_string(d.features[c].categories.size()) + ")";
    }
    std::printf("  %-24s %-12s %10zu %14.6g %14.6g\n", d.features[c].name.c_str(), type.c_str(),
                missing, low, high);
  }
  return kExitOk;
}

}  // namespace
}  // namespace fraudops

int main(int argc, char** argv) {
  using namespace fraudops;
  PreferPassiveOpenMp(argc, argv);
  CLI::App app{
      "fraudops — from transaction data to an evaluated, gated, served fraud model.\n"
      "Exit codes: 0 ok, 1 internal error, 2 usage/configuration error or refused (not signed "
      "in, not allowed, conflicting state), 3 data error, "
      "4 quality gate failed, 5 the monitor raised alerts."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "fraudops " + std::string(CodeVersion()));
  GlobalOptions global;

  auto* run = app.add_subcommand(
      "run",
      "Run the whole pipeline: ingest, validate, split, tune, train, evaluate, explain, bias, "
      "gate, register, deploy (tune, explain, bias and deploy when configured; docs/pipeline.md).");
  std::string data, algorithm, home;
  run->add_option("--config", global.config_path,
                  "Configuration file (default: $FRAUDOPS_CONFIG, else ./config.yml if present)");
  run->add_option("--data", data,
                  "Data source URI: a CSV path, csv:PATH, sqlite:PATH, postgresql://…, mysql://…, "
                  "s3://BUCKET/KEY, or synthetic (overrides preprocess.data_source)");
  run->add_option("--algorithm", algorithm,
                  "Training algorithm: xgboost or lgbm (overrides train.algorithm)");
  run->add_option("--home", home, "Workspace directory (overrides global.home)");
  RunAnnotations annotations;
  std::vector<std::string> run_tags;
  run->add_option("--name", annotations.name, "A name for the run (runs list shows it)");
  run->add_option("--tag", run_tags, "KEY=VALUE, kept with the run (repeatable)");
  run->add_option("--note", annotations.note, "A note kept with the run");
  run->add_flag("--json", global.json, "Print one JSON object instead of the summary table");

  auto* init = app.add_subcommand("init",
                                  "Write a commented config.yml, .env.example and default "
                                  "hyperparameter files into a new workspace.");
  std::string directory = ".";
  init->add_option("DIR", directory, "Workspace directory (created; default: the current one)");

  auto* data_command = app.add_subcommand("data", "Work with datasets.");
  data_command->require_subcommand(1);
  auto* synth = data_command->add_subcommand(
      "synth", "Write the synthetic transaction dataset as CSV in the reference format.");
  size_t rows = 284807;
  uint64_t seed = 42;
  double fraud_rate = 0.001727;
  std::string output;
  synth->add_option("--rows", rows, "Rows (default 284807)")
      ->check(CLI::Range(size_t{10}, size_t{1000000000}));
  synth->add_option("--seed", seed, "Seed (default 42)");
  synth->add_option("--fraud-rate", fraud_rate, "Share of fraud rows (default 0.001727)")
      ->check(CLI::Range(1e-5, 0.5));
  size_t cards = 0;
  synth
      ->add_option("--cards", cards,
                   "Add a card_id column among this many cards, frauds in bursts on "
                   "compromised cards (default 0: the reference schema)")
      ->check(CLI::Range(size_t{0}, size_t{100000000}));
  synth->add_option("--output", output, "CSV file to write")->required();

  auto* inspect = data_command->add_subcommand(
      "inspect", "Read a data source and print its schema, row counts and content hash.");
  std::string uri;
  inspect
      ->add_option("SOURCE", uri,
                   "Data source URI (CSV path, csv:PATH, sqlite:PATH, postgresql://…, mysql://…, "
                   "s3://…, synthetic)")
      ->required();
  inspect->add_option("--config", global.config_path,
                      "Configuration file (label column, missing markers, …)");
  inspect->add_flag("--json", global.json, "Print JSON");

  auto registry_command = AddRegistryCommands(app);
  auto predict_command = AddPredictCommand(app);
  auto train_command = AddTrainCommand(app);
  auto tune_command = AddTuneCommands(app);
  auto worker_command = AddWorkerCommand(app);
  auto serve_command = AddServeCommands(app);
  auto monitor_command = AddMonitorCommands(app);
  auto people_command = AddPeopleCommands(app);
  auto features_command = AddFeaturesCommands(app);
  auto stream_command = AddStreamCommands(app);
  auto artifacts_command = AddArtifactsCommands(app);

  auto* import =
      data_command->add_subcommand("import",
                                   "Write a data source as a dataset file (.fds); SQL tables and "
                                   "CSV files stream in chunks, so they may exceed memory.");
  std::string import_uri, import_output;
  size_t chunk_rows = 10000;
  import
      ->add_option("SOURCE", import_uri,
                   "Data source URI (sqlite:PATH, postgresql://…, mysql://…, CSV, s3://…)")
      ->required();
  import->add_option("--output", import_output, "Dataset file to write (.fds)")->required();
  import->add_option("--chunk-rows", chunk_rows, "Rows per chunk from SQL sources (default 10000)")
      ->check(CLI::Range(size_t{1}, size_t{10000000}));
  import->add_option("--config", global.config_path,
                     "Configuration file (label column, table or query, …)");
  import->add_flag("--json", global.json, "Print JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (*run) return RunCommand(global, data, algorithm, home, annotations, run_tags);
  if (*init) return InitCommand(directory);
  if (*synth) return SynthCommand(rows, seed, fraud_rate, cards, output);
  if (*inspect) return InspectCommand(global, uri);
  if (*import) return ImportCommand(global, import_uri, import_output, chunk_rows);
  if (int code = registry_command(); code >= 0) return code;
  if (int code = people_command(); code >= 0) return code;
  if (int code = features_command(); code >= 0) return code;
  if (int code = stream_command(); code >= 0) return code;
  if (int code = artifacts_command(); code >= 0) return code;
  if (int code = predict_command(); code >= 0) return code;
  if (int code = train_command(); code >= 0) return code;
  if (int code = tune_command(); code >= 0) return code;
  if (int code = worker_command(); code >= 0) return code;
  if (int code = serve_command(); code >= 0) return code;
  if (int code = monitor_command(); code >= 0) return code;
  return kExitUsage;
}
