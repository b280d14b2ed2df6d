#include "cli/predict_command.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/registry_commands.h"
#include "core/files.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "features/enricher.h"
#include "features/feature_store.h"
#include "model/batch_scoring.h"

namespace fraudops {

namespace {

namespace fs = std::filesystem;

struct PredictArgs {
  std::string model, config_path, home, keep, policy;
  BatchScoringOptions options;
  double threshold = -1;
  int threads = 0;
  bool json = false;
};

/// The model: a bundle directory or model file when `model` names one, else NAME[@VERSION|@ALIAS]
/// from the registry (exported to `scratch` with checksums verified).
Result<ModelBundle> ResolveModel(const PredictArgs& args, const TempDirectory& scratch) {
  std::error_code error;
  if (fs::exists(args.model, error)) return LoadModel(args.model);
  if (args.model.find('/') != std::string::npos || args.model.ends_with(".json") ||
      args.model.ends_with(".txt")) {
    return Status::NotFound(args.model + ": no such model file or bundle directory");
  }
  if (scratch.path().empty())
    return Status::IoError("cannot create a temporary directory for the model");
  FOPS_ASSIGN_OR_RETURN(std::string version,
                        ExportModelBundle(args.config_path, args.home, args.model, scratch.path()));
  FOPS_ASSIGN_OR_RETURN(ModelBundle bundle, LoadBundle(scratch.path()));
  bundle.source = version;
  return bundle;
}

int Predict(PredictArgs& args) {
  auto fail = [](const Status& status) {
    std::fprintf(stderr, "error: %s\n", status.message().c_str());
    return ExitCodeFor(status);
  };
  TempDirectory scratch;
  auto bundle = ResolveModel(args, scratch);
  if (!bundle.ok()) return fail(bundle.status());
  if (!args.keep.empty()) {
    for (const std::string& column : Split(args.keep, ',')) {
      if (!Trim(column).empty()) args.options.keep.emplace_back(Trim(column));
    }
  }
  if (args.threshold >= 0) args.options.threshold = args.threshold;
  std::optional<DecisionPolicy> policy;
  if (!args.policy.empty()) {
    auto text = ReadFile(args.policy);
    if (!text.ok()) return fail(text.status());
    auto parsed = DecisionPolicy::Parse(*text, args.policy);
    if (!parsed.ok()) return fail(parsed.status());
    policy.emplace(std::move(*parsed));
    args.options.policy = &*policy;
  } else {
    args.options.policy = bundle->policy.get();  // the version's or the bundle's, if any
  }
  ThreadPool pool(args.threads);
  Logger logger(LogLevel::kOff);
  Context context;
  context.logger = &logger;
  context.pool = &pool;
  context.threads = args.threads;
  // A model trained on feature store features reads them from the workspace's offline
  // store, as of each row's time (docs/features.md, "Batch scoring").
  FeatureEncoder encoder(bundle->input);
  std::unique_ptr<FeatureEnricher> enricher;
  std::vector<FeatureTable> tables;
  std::vector<const FeatureTable*> table_pointers;
  BatchScoringOptions::Enrichment enrichment;
  const EventTime now = EventTimeNow();  // rows without a time are scored as of now
  if (encoder.has_store_features()) {
    auto created = FeatureEnricher::Create(bundle->input, encoder);
    if (!created.ok()) return fail(created.status());
    enricher = std::move(*created);
    auto stores = OpenStores(args.config_path, args.home, true);
    if (!stores.ok()) return fail(stores.status());
    FeatureRegistry registry(*stores->metadata, *stores->artifacts);
    for (const std::string& name : enricher->groups()) {
      auto group = registry.Get(name);
      if (!group.ok()) return fail(group.status());
      auto table = registry.Load(*group);
      if (!table.ok()) return fail(table.status());
      tables.push_back(std::move(*table));
    }
    for (const FeatureTable& table : tables) table_pointers.push_back(&table);
    enrichment.fields = enricher->fields();
    enrichment.fill = [&](std::span<const PolicyInput> fields, size_t stride,
                          std::span<const int> slots, size_t rows, double* values) {
      return enricher->EnrichAsOf(table_pointers, fields, stride, slots, rows, values, now, &pool);
    };
    args.options.enrichment = &enrichment;
  }
  auto result = ScoreFile(*bundle, args.options, context);
  if (!result.ok()) return fail(result.status());
  const double rate = result->seconds > 0 ? static_cast<double>(result->rows) / result->seconds : 0;
  const bool labelled = args.options.threshold.has_value() || bundle->threshold.has_value();
  if (args.json) {
    nlohmann::json out = {{"model", bundle->source},
                          {"rows", result->rows},
                          {"seconds", result->seconds},
                          {"rows_per_second", rate},
                          {"output", args.options.output}};
    if (labelled) out["positives"] = result->positives;
    std::fprintf(stderr, "%s\n", out.dump().c_str());
  } else {
    std::fprintf(
        stderr, "scored %zu rows with %s in %.2f s (%.0f rows/s)%s -> %s\n", result->rows,
        bundle->source.c_str(), result->seconds, rate,
        labelled ? (", " + std::to_string(result->positives) + " labelled positive").c_str() : "",
        args.options.output.c_str());
  }
  return kExitOk;
}

}  // namespace

std::function<int()> AddPredictCommand(CLI::App& app) {
  auto args = std::make_shared<PredictArgs>();
  auto* predict = app.add_subcommand("predict",
                                     "Score a CSV or JSON Lines file: probability, margin, label "
                                     "at the threshold, optional reason codes.");
  predict
      ->add_option("--model", args->model,
                   "A bundle directory, a model file (XGBoost JSON, LightGBM text), or "
                   "NAME[@VERSION|@ALIAS] from the registry")
      ->required();
  predict
      ->add_option("--input", args->options.input,
                   "CSV or JSON Lines file to score ('-': standard input)")
      ->required();
  predict
      ->add_option("--output", args->options.output,
                   "File to write, CSV or JSON Lines by its extension ('-': standard output, in "
                   "the input's format)")
      ->required();
  predict
      ->add_option("--explain", args->options.explain,
                   "Add the top K reason codes (TreeSHAP) per row")
      ->check(CLI::Range(size_t{0}, size_t{1000}));
  predict->add_option("--threads", args->threads, "Threads (default: all cores)")
      ->check(CLI::Range(0, 1024));
  predict->add_option(
      "--keep", args->keep,
      "Input columns to copy to the output, comma-separated (e.g. transaction_id,Amount)");
  predict
      ->add_option("--threshold", args->threshold,
                   "Decision threshold for `label` (default: the bundle's)")
      ->check(CLI::Range(0.0, 1.0));
  predict->add_option("--policy", args->policy,
                      "A decision policy (docs/decision-policies.md): decision and rule columns "
                      "(default: the model version's or bundle's policy.txt, if any)");
  predict->add_option("--input-format", args->options.input_format,
                      "csv or jsonl (default: from the input's extension)");
  predict->add_option("--output-format", args->options.output_format,
                      "csv or jsonl (default: from the output's extension)");
  predict
      ->add_option("--chunk-rows", args->options.chunk_rows,
                   "Rows read, scored and written at a time (default 65536)")
      ->check(CLI::Range(size_t{1}, size_t{10000000}));
  predict->add_option("--config", args->config_path,
                      "Configuration file naming the stores (for NAME@VERSION)");
  predict->add_option("--home", args->home,
                      "Workspace directory (for NAME@VERSION; overrides global.home)");
  predict->add_flag("--json", args->json, "Print the summary as JSON (on standard error)");
  return [args, predict]() { return *predict ? Predict(*args) : -1; };
}

}  // namespace fraudops
