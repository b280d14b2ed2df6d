#include "pipeline/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <thread>

#include "core/files.h"
#include "core/hash.h"
#include "core/ids.h"
#include "core/logging.h"
#include "core/sampling.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "core/version.h"
#include "data/dataset_file.h"
#include "data/parts.h"
#include "data/source.h"
#include "data/split.h"
#include "eval/bias.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "features/training_set.h"
#include "model/baseline.h"
#include "model/bundle.h"
#include "model/derived_features.h"
#include "model/global_explanations.h"
#include "pipeline/bias_facets.h"
#include "pipeline/data_validation.h"
#include "pipeline/model_card.h"
#include "pipeline/sharded.h"
#include "store/artifact_store.h"
#include "store/metadata_store.h"
#include "store/serving_store.h"
#include "train/distributed.h"
#include "train/trainer.h"
#include "tune/report.h"
#include "tune/study.h"

namespace fraudops {

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

/// JSON documents are written with invalid UTF-8 (e.g. in an echoed error) replaced, never thrown
/// on.
std::string Pretty(const nlohmann::json& json) {
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

/// What the steps hand to each other.
struct State {
  State(const Config& c, const Context& x, std::string d, RunResult& r)
      : config(c), context(x), dir(std::move(d)), result(r) {}
  const Config& config;
  const Context& context;
  std::string dir;  ///< the execution's artifact directory
  RunResult& result;

  Dataset data;
  nlohmann::json raw_manifest;
  Dataset train, validation, test;
  std::unique_ptr<TrainedModel> model;
  std::string model_sha256;  ///< of the model file the train step wrote
  std::vector<float> validation_scores, test_scores;
  nlohmann::json test_curves;
  nlohmann::json data_summary;
  nlohmann::json feature_groups = nlohmann::json::array();  ///< the store's groups the data joined
  std::vector<std::string> excluded;  ///< columns validation left out of the features
  nlohmann::json validation_report;   ///< raw/validation.json
  std::vector<std::pair<std::string, double>> importance;
  double threshold = 0.5;
  /// The champion gate's opponent (FindChampionToScore), and its scores of the test rows or
  /// why it has none.
  std::optional<ModelVersion> champion;
  std::optional<std::vector<float>> champion_scores;
  std::string champion_unscorable;

  /// The bias step's facet and group columns, set aside from the features (unless
  /// bias.keep_facets_as_features) of the training and test rows; its report and verdict.
  std::vector<std::pair<ColumnSchema, std::vector<float>>> aside_train, aside_test;
  nlohmann::json bias;
  std::vector<std::string> bias_checks, bias_reasons;
  nlohmann::json explanations;  ///< the explain step's evaluation/explanations.json
  /// evaluate.calibration: the map fitted on validation (the held-out scores went through it).
  std::optional<ScoreCalibration> calibration;
  /// bias.mitigation: the weights' table by group and label, and the model trained without
  /// them — the comparison's "before" — with its test scores, threshold and test metrics.
  nlohmann::json reweighing;
  std::unique_ptr<TrainedModel> unmitigated;
  std::vector<float> unmitigated_test_scores;
  double unmitigated_threshold = 0.5;
  nlohmann::json unmitigated_metrics;
  nlohmann::json mitigation;  ///< evaluation/mitigation.json
  /// tune.enabled: the study's best parameters, which the train step uses; the training rows'
  /// times for time folds (taken before the split drops the time column).
  std::optional<HyperParameters> tuned;
  std::vector<double> train_times;
  std::string stop_after;  ///< RunPipeline's: the last step run

  /// train.sharded: the workers did the data's work (pipeline/sharded.h); what rank 0 wrote
  /// is in workers_dir, and `stopped` says why they stopped before training (null: they did
  /// not). A step that took its time on the workers sets step_seconds.
  bool sharded = false;
  std::string workers_dir;
  nlohmann::json stopped;
  nlohmann::json worker_phases;
  std::optional<double> step_seconds;

  MetadataStore* store = nullptr;
  ArtifactStore* artifacts = nullptr;
  std::string key_prefix;  ///< <pipeline>/<execution_id>: the run's keys in the artifact store
  std::map<std::string, std::pair<uintmax_t, fs::file_time_type>> published;
  bool step_skipped = false;
  bool step_rejected = false;

  std::string Path(const std::string& relative) const {
    return (fs::path(dir) / relative).string();
  }
  Status Write(const std::string& name, const std::string& relative, const std::string& content) {
    std::string path = Path(relative);
    FOPS_RETURN_IF_ERROR(WriteFileAtomic(path, content));
    result.artifacts[name] = path;
    return Status::Ok();
  }
};

/// Stores the run's new or changed files in the artifact store and records them (name,
/// URI, size, sha256) with the run.
Status Publish(State& s) {
  if (!s.store) return Status::Ok();
  std::vector<ArtifactRecord> records;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(s.dir, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (!it->is_regular_file() || it->path().filename().string().find(".tmp") != std::string::npos)
      continue;
    std::string relative = fs::relative(it->path(), s.dir).generic_string();
    auto stamp = std::make_pair(it->file_size(), it->last_write_time());
    auto known = s.published.find(relative);
    if (known != s.published.end() && known->second == stamp) continue;
    FOPS_ASSIGN_OR_RETURN(ArtifactRecord record,
                          s.artifacts->Put(s.key_prefix + "/" + relative, it->path().string()));
    record.name = relative;
    records.push_back(std::move(record));
    s.published[relative] = stamp;
  }
  if (error) return Status::IoError("cannot list " + s.dir + ": " + error.message());
  return s.store->LogArtifacts(s.result.execution_id, records);
}

/// The feature registry's view of the run's configuration: config.yml's feature_groups
/// applied (a changed definition becomes a new version), then preprocess.features resolved.
Result<FeaturePlan> PlanRunFeatures(State& s, FeatureRegistry& registry) {
  if (!s.config.config_path.empty()) {
    FOPS_ASSIGN_OR_RETURN(std::string text, ReadFile(s.config.config_path));
    FOPS_ASSIGN_OR_RETURN(std::vector<FeatureGroup> declared,
                          ParseFeatureGroups(text, s.config.config_path));
    if (!declared.empty()) {
      FOPS_ASSIGN_OR_RETURN(std::vector<AppliedGroup> applied,
                            registry.Apply(declared, CurrentActor()));
      for (const AppliedGroup& group : applied) {
        if (group.changed) {
          s.context.logger->Info(
              "ingest", "feature group recorded",
              {{"group", group.name}, {"version", static_cast<long long>(group.version)}});
        }
      }
    }
  }
  return PlanFeatures(registry, s.config.preprocess.features, "preprocess.features");
}

/// The workers of train.instance_count as configured: this host's cores shared by the ones
/// it starts.
DistributedOptions WorkerOptions(const State& s) {
  DistributedOptions options;
  options.workers = static_cast<int>(s.config.train.instance_count);
  options.executable = std::filesystem::read_symlink("/proc/self/exe").string();
  options.work_dir = s.workers_dir;
  options.host = s.config.train.tracker_host;
  options.tracker_port = static_cast<int>(s.config.train.tracker_port);
  options.remote_workers = static_cast<int>(s.config.train.remote_workers);
  options.retries = static_cast<int>(s.config.train.worker_retries);
  options.link_timeout_seconds = static_cast<int>(s.config.train.worker_timeout_s);
  options.threads_per_worker = std::max(
      1, ResolveThreads(s.context.threads) / std::max(1, options.workers - options.remote_workers));
  return options;
}

const HyperParameters& ConfiguredParams(const Config& config) {
  return config.train.algorithm == "lgbm" ? config.train.lgbm : config.train.xgboost;
}

Result<std::optional<ModelVersion>> FindChampion(State& s);

/// Finds the champion (s.champion) and reads its model file back through its recorded
/// checksum; "" when there is no champion, or (s.champion_unscorable saying so) when it has
/// no single model file.
Result<std::string> ReadChampionModel(State& s) {
  FOPS_ASSIGN_OR_RETURN(s.champion, FindChampion(s));
  if (!s.champion) return std::string();
  FOPS_ASSIGN_OR_RETURN(RunRecord source, s.store->GetRun(s.champion->run_id));
  const ArtifactRecord* model_file = nullptr;
  for (const ArtifactRecord& a : source.artifacts) {
    if (StartsWith(a.name, "model/model.")) model_file = &a;
  }
  if (!model_file) {  // e.g. a combination of models: not one model to score here
    s.champion_unscorable =
        "has no single model file to score this run's test rows with (a combined version?)";
    return std::string();
  }
  return s.artifacts->Read(model_file->uri, model_file->sha256);
}

/// The dataset file rank 0 wrote as `name` in the workers' directory.
Result<Dataset> ReadWorkersDataset(const State& s, const char* name) {
  return ReadDatasetFile(s.workers_dir + "/" + name);
}

Result<nlohmann::json> ReadWorkersJson(const State& s, const char* name) {
  const std::string path = s.workers_dir + "/" + name;
  FOPS_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) return Status::DataError(path + ": not JSON");
  return json;
}

/// train.sharded: the workers read, validate, split, train and score their parts
/// (pipeline/sharded.h); this step and the next ones up to evaluation take what rank 0 wrote.
Status IngestInParts(State& s) {
  const PreprocessConfig& p = s.config.preprocess;
  FOPS_ASSIGN_OR_RETURN(SourceOptions options, SourceOptionsFrom(s.config));
  SourceRegistry sources;
  RegisterBuiltinSources(sources);
  const std::string uri = p.data_source.empty() ? "synthetic" : p.data_source;
  FOPS_RETURN_IF_ERROR(sources.CheckReadsInParts(uri, options)
                           .WithContext("train.sharded (preprocess.data_source)"));
  std::optional<ShardedChampion> champion;
  if (s.config.register_.champion_gate && s.store) {
    FOPS_ASSIGN_OR_RETURN(std::string model, ReadChampionModel(s));
    if (!model.empty()) {
      champion =
          ShardedChampion{.ref = s.champion->model + "@" + std::to_string(s.champion->version),
                          .algorithm = s.champion->algorithm,
                          .model = std::move(model)};
    }
  }
  DistributedOptions workers = WorkerOptions(s);
  workers.train_source = uri;
  workers.source_options = SourceOptionsJson(options);
  workers.stages = ShardedStagesJson(s.config, champion ? &*champion : nullptr);
  s.context.logger->Info("ingest", "the workers read their parts",
                         {{"source", RedactUrl(uri)}, {"workers", workers.workers}});
  FOPS_ASSIGN_OR_RETURN(s.model, TrainOnWorkers(s.config.train.algorithm,
                                                ConfiguredParams(s.config), workers, s.context));
  nlohmann::json counts;  // rows, positives, schema
  if (!s.model) {
    FOPS_ASSIGN_OR_RETURN(s.stopped, ReadWorkersJson(s, kShardedStoppedFile));
    s.worker_phases = s.stopped.value("phases", nlohmann::json::object());
    counts = s.stopped;
  } else {
    FOPS_ASSIGN_OR_RETURN(const nlohmann::json finish, ReadWorkersJson(s, kShardedFinishFile));
    s.worker_phases = finish.value("phases", nlohmann::json::object());
    if (finish["champion"].is_object() && finish["champion"].contains("error")) {
      s.champion_unscorable = "cannot score this run's test split (different features?): " +
                              finish["champion"]["error"].get<std::string>();
    }
  }
  if (std::filesystem::exists(s.workers_dir + "/" + kShardedValidationFile)) {
    FOPS_ASSIGN_OR_RETURN(counts, ReadWorkersJson(s, kShardedValidationFile));
  }
  s.raw_manifest = {{"source", RedactUrl(uri)},
                    {"sharded", true},
                    {"workers", workers.workers},
                    {"rows", counts.value("rows", int64_t{0})},
                    {"positives", counts.value("positives", int64_t{0})},
                    {"schema", counts.value("schema", nlohmann::json())},
                    {"content_hash", s.model ? s.model->data_fingerprint : ""}};
  if (s.model) s.raw_manifest["parts"] = s.model->shards;
  s.step_seconds = s.worker_phases.value("read_s", 0.0);
  s.context.logger->Info("ingest", "the workers read the data",
                         {{"rows", s.raw_manifest["rows"].get<long long>()},
                          {"positives", s.raw_manifest["positives"].get<long long>()},
                          {"fingerprint", s.raw_manifest["content_hash"].get<std::string>()}});
  FOPS_RETURN_IF_ERROR(s.Write("raw_manifest", "raw/manifest.json", Pretty(s.raw_manifest)));
  if (!s.store || !s.model) return Status::Ok();
  return s.store->LogDatasets(s.result.execution_id,
                              {{"raw", RedactUrl(uri), s.raw_manifest["rows"].get<int64_t>(),
                                s.raw_manifest["content_hash"].get<std::string>(), ""}});
}

Status Ingest(State& s) {
  if (s.sharded) return IngestInParts(s);
  const PreprocessConfig& p = s.config.preprocess;
  FOPS_ASSIGN_OR_RETURN(SourceOptions options, SourceOptionsFrom(s.config));
  SourceRegistry sources;
  RegisterBuiltinSources(sources);
  std::string uri = p.data_source.empty() ? "synthetic" : p.data_source;
  // A training set with feature store features: the keys and the time are read as their
  // exact text for the join, and kept until it (drop_columns apply after).
  std::optional<FeatureRegistry> registry;
  FeaturePlan plan;
  std::vector<std::string> dropped_after_join;
  if (!p.features.empty()) {
    if (!s.store) return Status::Internal("preprocess.features needs the metadata store");
    registry.emplace(*s.store, *s.artifacts);
    FOPS_ASSIGN_OR_RETURN(plan, PlanRunFeatures(s, *registry));
    TableOptions& table = options.csv.table;
    std::vector<std::string> text = plan.KeyColumns();
    text.push_back(p.time_column);
    for (const std::string& column : text) {
      if (std::find(table.categorical_columns.begin(), table.categorical_columns.end(), column) ==
          table.categorical_columns.end())
        table.categorical_columns.push_back(column);
      auto dropped = std::find(table.drop_columns.begin(), table.drop_columns.end(), column);
      if (dropped != table.drop_columns.end()) {
        dropped_after_join.push_back(column);
        table.drop_columns.erase(dropped);
      }
    }
    table.categorical_columns_origin =
        "preprocess.features (its entity keys) or preprocess.time_column";
  }
  s.context.logger->Info("ingest", "reading data", {{"source", RedactUrl(uri)}});
  FOPS_ASSIGN_OR_RETURN(LoadedData loaded, sources.Load(uri, options, s.context));
  s.data = std::move(loaded.dataset);
  s.raw_manifest = std::move(loaded.manifest);
  std::vector<DatasetRecord> feature_datasets;
  if (registry) {
    const bool time_is_text = std::find(p.categorical_columns.begin(), p.categorical_columns.end(),
                                        p.time_column) != p.categorical_columns.end();
    FOPS_ASSIGN_OR_RETURN(
        JoinedFeatures joined,
        JoinTrainingFeatures(*registry, plan, s.data, p.time_column, time_is_text, s.context.pool));
    for (const std::string& column : dropped_after_join) {
      const int index = s.data.FeatureIndex(column);
      if (index < 0) continue;
      s.data.features.erase(s.data.features.begin() + index);
      s.data.columns.erase(s.data.columns.begin() + index);
    }
    nlohmann::json used = nlohmann::json::array();
    for (size_t g = 0; g < joined.snapshots.size(); ++g) {
      const GroupSnapshot& snapshot = joined.snapshots[g];
      used.push_back({{"group", snapshot.group},
                      {"version", snapshot.version},
                      {"features", plan.features[g]},
                      {"segments", snapshot.segments},
                      {"rows", snapshot.rows},
                      {"hash", snapshot.hash}});
      feature_datasets.push_back(
          {"features", "feature-group:" + snapshot.group + "@v" + std::to_string(snapshot.version),
           snapshot.rows, snapshot.hash, ""});
    }
    s.raw_manifest["feature_store"] = used;
    s.feature_groups = joined.groups;
    s.context.logger->Info(
        "ingest", "joined feature store features as of each row's time",
        {{"groups", joined.snapshots.size()}, {"features", joined.columns.size()}});
  }
  if (s.raw_manifest.contains("uri"))
    uri = s.raw_manifest["uri"].get<std::string>();  // bare "s3" resolved
  s.raw_manifest["source"] = RedactUrl(uri);
  s.raw_manifest["rows"] = s.data.rows();
  s.raw_manifest["positives"] = s.data.CountPositives();
  s.raw_manifest["schema"] = s.data.SchemaJson();
  s.raw_manifest["content_hash"] = s.data.ContentHash();
  s.context.logger->Info("ingest", "read data",
                         {{"rows", s.data.rows()},
                          {"features", s.data.num_features()},
                          {"positives", s.data.CountPositives()},
                          {"content_hash", s.raw_manifest["content_hash"].get<std::string>()}});
  FOPS_RETURN_IF_ERROR(s.Write("raw_manifest", "raw/manifest.json", Pretty(s.raw_manifest)));
  if (!s.store) return Status::Ok();
  std::vector<DatasetRecord> datasets = {{"raw", RedactUrl(uri),
                                          static_cast<int64_t>(s.data.rows()),
                                          s.raw_manifest["content_hash"].get<std::string>(),
                                          s.raw_manifest.value("file_sha256", std::string())}};
  datasets.insert(datasets.end(), feature_datasets.begin(), feature_datasets.end());
  return s.store->LogDatasets(s.result.execution_id, datasets);
}

/// The newest earlier succeeded run of this pipeline that kept a validation report, and the
/// report; an empty id and null when there is none.
Result<std::pair<std::string, nlohmann::json>> PreviousValidationReport(State& s) {
  RunFilter filter;
  filter.experiment = s.config.global.pipeline_name;
  filter.limit = 20;
  FOPS_ASSIGN_OR_RETURN(std::vector<RunRecord> runs, s.store->ListRuns(filter));
  for (const RunRecord& summary : runs) {
    if (summary.run_id == s.result.execution_id || summary.status != RunStatus::kSucceeded)
      continue;
    FOPS_ASSIGN_OR_RETURN(RunRecord run, s.store->GetRun(summary.run_id));
    for (const ArtifactRecord& a : run.artifacts) {
      if (a.name != "raw/validation.json") continue;
      FOPS_ASSIGN_OR_RETURN(std::string text, s.artifacts->Read(a.uri, a.sha256));
      return std::make_pair(run.run_id, nlohmann::json::parse(text, nullptr, false));
    }
  }
  return std::make_pair(std::string(), nlohmann::json());
}

/// Records the validation report (ValidateData's, with "rows" and "positives"): compared
/// with the previous run's, written as raw/validation.json; its errors stop the run.
Status RecordValidation(State& s, nlohmann::json report) {
  s.excluded.clear();
  for (const nlohmann::json& e : report["excluded"]) s.excluded.push_back(e.at("name"));
  std::vector<std::string> warnings = report.value("warnings", std::vector<std::string>());
  const std::vector<std::string> errors = report.value("errors", std::vector<std::string>());
  // Against the previous run of this pipeline: schema, categories, label rate.
  if (s.store && s.artifacts) {
    auto previous = PreviousValidationReport(s);
    if (!previous.ok()) {
      s.context.logger->Warn("validate", "cannot read the previous run's validation report: " +
                                             previous.status().message());
    } else if (previous->second.is_object()) {
      for (std::string& w : CompareWithPreviousRun(
               report, previous->second, s.config.validate.max_label_rate_change, previous->first))
        warnings.push_back(std::move(w));
      report["warnings"] = warnings;
      report["compared_with_run"] = previous->first;
    }
  }
  for (const nlohmann::json& e : report["excluded"]) {  // the inferred ones are warnings too
    if (!e.value("inferred", false)) {
      s.context.logger->Info(
          "validate", "column '" + e.at("name").get<std::string>() +
                          "' is not used as a feature: " + e.at("reason").get<std::string>());
    }
  }
  for (const std::string& warning : warnings) s.context.logger->Warn("validate", warning);
  s.validation_report = report;
  s.data_summary["data_validation"] = {
      {"warnings", warnings}, {"excluded", report["excluded"]}, {"errors", errors}};
  FOPS_RETURN_IF_ERROR(s.Write("validation_report", "raw/validation.json", Pretty(report)));
  if (!errors.empty()) {
    std::string message;
    for (const std::string& e : errors) message += (message.empty() ? "" : "; ") + e;
    return Status::DataError("data validation: " + message + " (raw/validation.json)");
  }
  s.context.logger->Info(
      "validate", "data checked",
      {{"columns", report["columns"].size()},
       {"excluded", s.excluded.size()},
       {"warnings", warnings.size()},
       {"rows_checked", report.value("sample_rows", report["rows"].get<long long>())}});
  return Status::Ok();
}

Status Validate(State& s) {
  if (s.sharded) {  // validated on the workers (pipeline/sharded.h)
    s.step_seconds = s.worker_phases.value("validate_s", 0.0);
    if (s.stopped.contains("error"))
      return Status::DataError(s.stopped["error"].get<std::string>());
    FOPS_ASSIGN_OR_RETURN(nlohmann::json report, ReadWorkersJson(s, kShardedValidationFile));
    report.erase("schema");
    return RecordValidation(s, std::move(report));
  }
  FOPS_RETURN_IF_ERROR(AddDerivedFeatures(s.data, s.config.preprocess.derived_features));
  if (!s.config.preprocess.derived_features.empty()) {
    s.context.logger->Info("validate", "derived features added",
                           {{"features", s.config.preprocess.derived_features.size()}});
  }
  const Dataset& d = s.data;
  const size_t positives = d.CountPositives();
  if (std::string wrong = CheckRowCounts(d, static_cast<int64_t>(d.rows()),
                                         static_cast<int64_t>(positives), InfiniteCounts(d));
      !wrong.empty())
    return Status::DataError(wrong);
  const PreprocessConfig& p = s.config.preprocess;
  DataValidationOptions options;
  options.time_column = p.time_column;
  options.feature_columns = p.feature_columns;
  options.max_single_feature_auc = s.config.validate.max_single_feature_auc;
  options.max_missing_share = s.config.validate.max_missing_share;
  DataValidation validation = ValidateData(d, options);
  if (validation.excluded.size() == d.num_features()) {
    validation.errors.push_back(
        "every column was excluded from the features; name the ones to "
        "use in preprocess.feature_columns");
  }
  nlohmann::json report = validation.ToJson();
  report["rows"] = d.rows();
  report["positives"] = positives;
  return RecordValidation(s, std::move(report));
}

/// What splitting found (categories unseen in training) joins the validation report.
Status RecordSplitWarnings(State& s, const std::vector<std::string>& warnings) {
  if (warnings.empty()) return Status::Ok();
  for (const std::string& w : warnings) {
    s.context.logger->Warn("split", w);
    s.validation_report["warnings"].push_back(w);
    s.data_summary["data_validation"]["warnings"].push_back(w);
  }
  return s.Write("validation_report", "raw/validation.json", Pretty(s.validation_report));
}

/// Held-out rows the workers scored (kShardedValidationScoresFile, kShardedTestScoresFile):
/// `rows` keeps their label and amount; `scores` and `champion` (when there) take the rest.
Status TakeScored(const State& s, const char* name, Dataset& rows, std::vector<float>& scores,
                  std::optional<std::vector<float>>* champion) {
  FOPS_ASSIGN_OR_RETURN(rows, ReadWorkersDataset(s, name));
  auto take = [&](const char* column) -> std::optional<std::vector<float>> {
    const int index = rows.FeatureIndex(column);
    if (index < 0) return std::nullopt;
    std::vector<float> values = std::move(rows.columns[static_cast<size_t>(index)]);
    DropColumns(rows, {column});
    return values;
  };
  std::optional<std::vector<float>> score = take("score");
  if (!score) return Status::Internal(s.workers_dir + "/" + name + " has no scores");
  scores = std::move(*score);
  std::optional<std::vector<float>> theirs = take("champion_score");
  if (champion && theirs) *champion = std::move(theirs);
  return Status::Ok();
}

/// train.sharded: the split the workers made (pipeline/sharded.h) — its record, a sample of
/// the training rows (drift baseline, bundle schema), every held-out row's label, amount and
/// scores — taken as the steps after it need them.
Status SplitInParts(State& s) {
  const PreprocessConfig& p = s.config.preprocess;
  s.step_seconds = s.worker_phases.value("split_s", 0.0);
  FOPS_ASSIGN_OR_RETURN(const nlohmann::json record, ReadWorkersJson(s, kShardedSplitFile));
  FOPS_RETURN_IF_ERROR(
      RecordSplitWarnings(s, record.value("warnings", std::vector<std::string>())));
  const std::string& source_hash = s.raw_manifest["content_hash"].get<std::string>();
  nlohmann::json manifest = {
      {"method", p.split_method},
      {"ratios",
       {{"train", p.train_ratio}, {"validation", p.validation_ratio}, {"test", p.test_ratio}}},
      {"seed", s.config.global.seed},
      {"source_content_hash", source_hash},
      {"sharded", true},
      {"parts", record["parts"]}};
  if (p.split_method == "time") manifest["time_column"] = p.time_column;
  std::vector<DatasetRecord> records;
  for (const char* name : {"train", "validation", "test"}) {
    int64_t rows = 0, positives = 0;
    std::vector<std::pair<size_t, std::string>> hashes;
    for (const nlohmann::json& part : record["parts"]) {
      const nlohmann::json& set = part.at(name);
      rows += set.at("rows").get<int64_t>();
      positives += set.at("positives").get<int64_t>();
      hashes.emplace_back(set.at("rows").get<size_t>(), set.at("content_hash").get<std::string>());
    }
    const std::string hash = CombinedContentHash(hashes);
    manifest["splits"][name] = {{"rows", rows}, {"positives", positives}, {"content_hash", hash}};
    records.push_back({name, "split of " + source_hash, rows, hash, ""});
    s.data_summary[name] = {{"rows", rows}, {"positives", positives}};
  }
  s.data_summary["content_hash"] = source_hash;
  FOPS_ASSIGN_OR_RETURN(s.train, ReadWorkersDataset(s, kShardedBaselineFile));
  manifest["train_sample_rows"] = s.train.rows();
  FOPS_RETURN_IF_ERROR(
      TakeScored(s, kShardedValidationScoresFile, s.validation, s.validation_scores, nullptr));
  FOPS_RETURN_IF_ERROR(
      TakeScored(s, kShardedTestScoresFile, s.test, s.test_scores, &s.champion_scores));
  s.context.logger->Info("split", "the workers split the data",
                         {{"method", p.split_method},
                          {"train", manifest["splits"]["train"]["rows"].get<long long>()},
                          {"validation", s.validation.rows()},
                          {"test", s.test.rows()}});
  FOPS_RETURN_IF_ERROR(s.Write("processed_manifest", "processed/manifest.json", Pretty(manifest)));
  if (!s.store) return Status::Ok();
  return s.store->LogDatasets(s.result.execution_id, records);
}

/// The columns the bias step reads: its facets' and the group variable.
std::vector<std::string> BiasColumns(const Config& config) {
  std::vector<std::string> columns;
  for (const std::string& text : config.bias.facets) {
    Result<FacetSpec> facet = ParseFacet(text, "bias.facets");
    if (facet.ok() && std::find(columns.begin(), columns.end(), facet->column) == columns.end())
      columns.push_back(facet->column);
  }
  if (!config.bias.group_variable.empty() &&
      std::find(columns.begin(), columns.end(), config.bias.group_variable) == columns.end())
    columns.push_back(config.bias.group_variable);
  return columns;
}

/// Keeps the bias step's columns of the training and test rows (even those validation
/// excluded) and, unless bias.keep_facets_as_features, takes them out of the features.
Status SetAsideBiasColumns(State& s) {
  const BiasConfig& b = s.config.bias;
  for (const std::string& column : BiasColumns(s.config)) {
    const int index = s.train.FeatureIndex(column);
    if (index < 0) {
      std::vector<std::string> names = s.train.FeatureNames();
      return Status::InvalidArgument("bias: column '" + column + "' is not a column of the data" +
                                     DidYouMean(column, names) +
                                     " (bias.facets, bias.group_variable)");
    }
    const auto at = static_cast<size_t>(index);
    s.aside_train.emplace_back(s.train.features[at], s.train.columns[at]);
    s.aside_test.emplace_back(s.test.features[at], s.test.columns[at]);
    if (!b.keep_facets_as_features) {
      for (Dataset* part : {&s.train, &s.validation, &s.test}) DropColumns(*part, {column});
    }
  }
  return Status::Ok();
}

Status SplitStep(State& s) {
  if (s.sharded) return SplitInParts(s);
  const PreprocessConfig& p = s.config.preprocess;
  SplitRatios ratios{p.train_ratio, p.validation_ratio, p.test_ratio};
  SplitIndices split;
  if (p.split_method == "time") {
    FOPS_ASSIGN_OR_RETURN(split, TimeSplit(s.data, ratios, p.time_column));
  } else {
    FOPS_ASSIGN_OR_RETURN(
        split, StratifiedSplit(s.data, ratios, static_cast<uint64_t>(s.config.global.seed)));
  }
  s.train = s.data.Take(split.train);
  s.validation = s.data.Take(split.validation);
  s.test = s.data.Take(split.test);
  if (s.config.tune.enabled && s.config.tune.folds >= 2 && s.config.tune.fold_method == "time") {
    const int column = s.train.FeatureIndex(p.time_column);
    if (column < 0 || s.train.features[static_cast<size_t>(column)].type != ColumnType::kNumeric) {
      return Status::InvalidArgument(
          "tune.fold_method = time orders the training rows by preprocess.time_column ('" +
          p.time_column + "'), which must be a numeric column of the data");
    }
    const std::vector<float>& times = s.train.columns[static_cast<size_t>(column)];
    s.train_times.assign(times.begin(), times.end());
  }
  FOPS_RETURN_IF_ERROR(SetAsideBiasColumns(s));
  // What validation excluded (the time column among them) served the split; not the model.
  for (Dataset* part : {&s.train, &s.validation, &s.test}) DropColumns(*part, s.excluded);
  FOPS_RETURN_IF_ERROR(
      RecordSplitWarnings(s, CategoriesUnseenInTraining(s.train, s.validation, s.test)));
  nlohmann::json manifest = {
      {"method", p.split_method},
      {"ratios",
       {{"train", p.train_ratio}, {"validation", p.validation_ratio}, {"test", p.test_ratio}}},
      {"seed", s.config.global.seed},
      {"source_content_hash", s.raw_manifest["content_hash"]}};
  if (p.split_method == "time") manifest["time_column"] = p.time_column;
  const std::pair<const char*, Dataset*> parts[] = {
      {"train", &s.train}, {"validation", &s.validation}, {"test", &s.test}};
  std::vector<DatasetRecord> records;
  for (const auto& [name, part] : parts) {
    std::string relative = std::string("processed/") + name + ".fds";
    FOPS_ASSIGN_OR_RETURN(DatasetFileInfo written, WriteDatasetFile(*part, s.Path(relative)));
    s.result.artifacts[std::string(name) + "_data"] = s.Path(relative);
    manifest["splits"][name] = {{"file", relative},
                                {"rows", part->rows()},
                                {"positives", part->CountPositives()},
                                {"payload_sha256", written.payload_sha256}};
    records.push_back({name, "split of " + s.raw_manifest["content_hash"].get<std::string>(),
                       static_cast<int64_t>(part->rows()), written.content_hash, ""});
    s.data_summary[name] = {{"rows", part->rows()}, {"positives", part->CountPositives()}};
  }
  s.data_summary["content_hash"] = s.raw_manifest["content_hash"];
  s.context.logger->Info("split", "split data",
                         {{"method", p.split_method},
                          {"train", s.train.rows()},
                          {"validation", s.validation.rows()},
                          {"test", s.test.rows()}});
  s.data = Dataset();  // the splits hold what is needed now
  FOPS_RETURN_IF_ERROR(s.Write("processed_manifest", "processed/manifest.json", Pretty(manifest)));
  if (!s.store) return Status::Ok();
  return s.store->LogDatasets(s.result.execution_id, records);
}

Result<std::vector<float>> ReweighingWeights(State& s);

/// The training rows of the pipeline run that ran `study` (its run's fraudops.execution tag);
/// nullopt when that run or its record is gone.
Result<std::optional<int64_t>> StudyTrainRows(MetadataStore& store, const StudyRecord& study) {
  auto study_run = store.GetRun(study.run_id);
  if (study_run.status().code() == StatusCode::kNotFound) return std::optional<int64_t>();
  FOPS_RETURN_IF_ERROR(study_run.status());
  const auto execution = study_run->tags.find("fraudops.execution");
  if (execution == study_run->tags.end()) return std::optional<int64_t>();
  auto run = store.GetRun(execution->second);
  if (run.status().code() == StatusCode::kNotFound) return std::optional<int64_t>();
  FOPS_RETURN_IF_ERROR(run.status());
  for (const DatasetRecord& dataset : run->datasets) {
    if (dataset.role == "train") return std::optional<int64_t>(dataset.rows);
  }
  return std::optional<int64_t>();
}

/// tune.enabled: a study on the training rows (the validation split, or folds of the training
/// rows: the validation split stays unseen for the final model's early stopping, calibration
/// and threshold); the train step then trains with the best trial's parameters.
/// tune.from_study: the best trial's parameters of an earlier study, over the configured ones
/// (the run is tagged with the study, as a tuned one is).
Status ParamsFromStudy(State& s) {
  const std::string& name = s.config.tune.from_study;
  const std::string& algorithm = s.config.train.algorithm;
  FOPS_ASSIGN_OR_RETURN(TuneResult study, LoadStudy(*s.store, name));
  if (study.study.algorithm != algorithm) {
    return Status::InvalidArgument("tune.from_study: study '" + name + "' tuned " +
                                   study.study.algorithm + "; train.algorithm is " + algorithm);
  }
  if (!study.best) {
    return Status::InvalidArgument("tune.from_study: study '" + name +
                                   "' has no complete trial to take parameters from");
  }
  TrainerRegistry trainers;
  RegisterBuiltinTrainers(trainers);
  FOPS_ASSIGN_OR_RETURN(const Trainer* trainer, trainers.Find(algorithm));
  const std::string objective = study.study.definition.value("objective", "");
  s.tuned = OverrideParams(ConfiguredParams(s.config), study.best->params, trainer->Params(),
                           "study " + name + " best trial " + std::to_string(study.best->number));
  nlohmann::json tuning = {{"study", name},
                           {"study_run_id", study.study.run_id},
                           {"objective", objective},
                           {"trials", study.trials.size()},
                           {"ran_here", 0},
                           {"from_study", true},
                           {"best_trial", study.best->number},
                           {"best_value", *study.best->value},
                           {"best_params", study.best->params}};
  // Parameters tuned on much less (or more) data may not carry over (rounds, leaf sizes and
  // regularization scale with the rows): said, not refused.
  FOPS_ASSIGN_OR_RETURN(std::optional<int64_t> tuned_rows, StudyTrainRows(*s.store, study.study));
  if (tuned_rows) {
    const double ratio = static_cast<double>(s.train.rows()) / static_cast<double>(*tuned_rows);
    tuning["study_train_rows"] = *tuned_rows;
    tuning["train_rows"] = s.train.rows();
    if (ratio >= 4 || ratio <= 0.25) {
      tuning["warning"] = "study '" + name + "' was tuned on " + std::to_string(*tuned_rows) +
                          " training rows; this run trains on " + std::to_string(s.train.rows()) +
                          ": its parameters may not suit data " + FormatDouble(ratio, 2) +
                          "× the size — tune again on this data to be sure (tune.enabled)";
      s.context.logger->Warn("tune", tuning["warning"].get<std::string>());
    }
  }
  FOPS_RETURN_IF_ERROR(s.Write("tuning", "model/tuning.json", Pretty(tuning)));
  FOPS_RETURN_IF_ERROR(s.store->SetTags(
      s.result.execution_id,
      {{"fraudops.study", name}, {"fraudops.best_trial", std::to_string(study.best->number)}}));
  s.context.logger->Info("tune", "parameters from an earlier study",
                         {{"study", name},
                          {"best_trial", static_cast<long long>(study.best->number)},
                          {objective, *study.best->value}});
  return Status::Ok();
}

Status Tune(State& s) {
  if (!s.config.tune.enabled) {
    if (!s.config.tune.from_study.empty()) return ParamsFromStudy(s);
    s.step_skipped = true;
    return Status::Ok();
  }
  const std::string& algorithm = s.config.train.algorithm;
  FOPS_ASSIGN_OR_RETURN(
      TuneOptions options,
      TuneOptionsFrom(s.config, algorithm, ConfiguredParams(s.config),
                      s.config.global.pipeline_name + "-" + s.result.execution_id));
  TuneData data;
  data.train = &s.train;
  data.validation = &s.validation;
  data.times = s.train_times;
  FOPS_ASSIGN_OR_RETURN(TuneResult result, RunStudy(options, data, *s.store, s.context));
  nlohmann::json tuning = {
      {"study", result.study.name},     {"study_run_id", result.study.run_id},
      {"objective", options.objective}, {"trials", result.trials.size()},
      {"ran_here", result.ran_here},    {"stopped_because", result.stopped_because},
      {"best_trial", nullptr},          {"best_value", nullptr},
      {"best_params", nullptr}};
  if (result.best) {
    tuning["best_trial"] = result.best->number;
    tuning["best_value"] = *result.best->value;
    tuning["best_params"] = result.best->params;
  }
  FOPS_RETURN_IF_ERROR(s.Write("tuning_report", "model/tuning.html", StudyReportHtml(result)));
  FOPS_RETURN_IF_ERROR(s.Write("tuning", "model/tuning.json", Pretty(tuning)));
  std::map<std::string, std::string> tags = {{"fraudops.study", result.study.name}};
  if (result.best) tags["fraudops.best_trial"] = std::to_string(result.best->number);
  FOPS_RETURN_IF_ERROR(s.store->SetTags(s.result.execution_id, tags));
  FOPS_RETURN_IF_ERROR(
      s.store->SetTags(result.study.run_id, {{"fraudops.execution", s.result.execution_id}}));
  if (!result.best) {
    // `fraudops tune` ends here: the study is kept and says why it stopped. A run that goes
    // on to train has no parameters to train with.
    if (s.stop_after == "tune") return Status::Ok();
    return Status::InvalidArgument("study '" + result.study.name +
                                   "' has no complete trial to take parameters from (" +
                                   result.stopped_because + ")");
  }
  s.tuned = result.best_params;
  s.context.logger->Info("tune", "tuned",
                         {{"study", result.study.name},
                          {"best_trial", static_cast<long long>(result.best->number)},
                          {options.objective, *result.best->value}});
  return Status::Ok();
}

Status Train(State& s) {
  TrainerRegistry trainers;
  RegisterBuiltinTrainers(trainers);
  const std::string& algorithm = s.config.train.algorithm;
  FOPS_ASSIGN_OR_RETURN(const Trainer* trainer, trainers.Find(algorithm));
  TrainInput input;
  input.train = &s.train;
  input.validation = &s.validation;
  input.params = s.tuned ? *s.tuned : ConfiguredParams(s.config);
  if (!s.sharded) {
    s.context.logger->Info("train", "training",
                           {{"algorithm", algorithm}, {"rows", s.train.rows()}});
  }
  if (s.sharded) {
    if (!s.model) return Status::Internal("the workers stopped before training");
    s.step_seconds = s.worker_phases.value("train_s", 0.0);  // trained on the workers
  } else if (s.config.train.instance_count > 1) {
    // The splits are dataset files already (Split wrote them): each worker slices them.
    DistributedOptions options = WorkerOptions(s);
    options.train_file = s.Path("processed/train.fds");
    options.validation_file = s.validation.rows() > 0 ? s.Path("processed/validation.fds") : "";
    FOPS_ASSIGN_OR_RETURN(s.model, TrainOnWorkers(algorithm, input.params, options, s.context));
  } else if (s.config.bias.mitigation == "reweighing") {
    // The model the comparison starts from, then the one registered: the weighted one.
    FOPS_ASSIGN_OR_RETURN(s.unmitigated, trainer->Train(input, s.context));
    FOPS_ASSIGN_OR_RETURN(const std::vector<float> weights, ReweighingWeights(s));
    input.weights = weights;
    FOPS_ASSIGN_OR_RETURN(s.model, trainer->Train(input, s.context));
  } else {
    FOPS_ASSIGN_OR_RETURN(s.model, trainer->Train(input, s.context));
  }
  FOPS_ASSIGN_OR_RETURN(std::string serialized, s.model->Serialize());
  FOPS_RETURN_IF_ERROR(s.Write("model", "model/" + s.model->FileName(), serialized));
  s.model_sha256 = Sha256Hex(serialized);
  FOPS_ASSIGN_OR_RETURN(s.importance, s.model->FeatureImportance());

  nlohmann::json history = nlohmann::json::array();
  for (const RoundMetrics& round : s.model->history) {
    history.push_back(
        {{"round", round.round}, {"train", round.train}, {"validation", round.validation}});
  }
  nlohmann::json importance = nlohmann::json::array();
  for (const auto& [name, gain] : s.importance)
    importance.push_back({{"feature", name}, {"total_gain", gain}});
  nlohmann::json training = {{"algorithm", algorithm},
                             {"parameters", s.model->parameters},
                             {"rounds_trained", s.model->rounds_trained},
                             {"best_round", s.model->best_round},
                             {"early_stopping_metric", s.model->early_stopping_metric},
                             {"seconds", s.model->seconds},
                             {"features", s.train.SchemaJson()["features"]},
                             {"feature_importance", importance},
                             {"history", history}};
  if (!s.model->shards.is_null()) training["shards"] = s.model->shards;
  if (!s.model->data_fingerprint.empty()) training["data_fingerprint"] = s.model->data_fingerprint;
  s.context.logger->Info("train", "trained",
                         {{"rounds", s.model->rounds_trained},
                          {"best_round", s.model->best_round},
                          {"seconds", s.model->seconds}});
  return s.Write("training", "model/training.json", Pretty(training));
}

std::vector<float> AmountsOf(const Dataset& d, const std::string& column) {
  int index = column.empty() ? -1 : d.FeatureIndex(column);
  return index < 0 ? std::vector<float>() : d.columns[static_cast<size_t>(index)];
}

/// {"log_loss", "brier", "expected_calibration_error"} of scores.
nlohmann::json ProbabilityQuality(std::span<const float> scores, std::span<const float> labels) {
  const BinaryMetrics m = ComputeMetrics(scores, labels, 0.5);
  return {{"log_loss", m.log_loss},
          {"brier", m.brier},
          {"expected_calibration_error", m.expected_calibration_error}};
}

/// A model's held-out scores judged as the pipeline judges them: calibrated
/// (evaluate.calibration), the threshold chosen on validation, the metrics of both sets.
struct Judged {
  std::vector<float> validation, test;  ///< the scores, calibrated when configured
  std::optional<ScoreCalibration> calibration;
  /// What metrics.json records of the calibration (method, rows, the model's own probability
  /// quality) and the test rows' reliability curve before it; null without calibration.
  nlohmann::json calibration_record, uncalibrated_curve;
  double threshold = 0.5;
  BinaryMetrics validation_metrics, test_metrics;
};

/// evaluate.calibration: fits the map on the validation scores and sends both held-out sets'
/// scores through it, as the bundle will send every score.
Status Calibrate(const State& s, Judged& j) {
  const std::string& name = s.config.evaluate.calibration;
  Result<CalibrationMethod> method = ParseCalibrationMethod(name);
  if (!method.ok()) return method.status().WithContext("evaluate.calibration");
  Result<ScoreCalibration> fitted =
      ScoreCalibration::Fit(*method, j.validation, s.validation.label);
  if (!fitted.ok()) return fitted.status().WithContext("evaluate.calibration (validation rows)");
  j.calibration = std::move(*fitted);
  nlohmann::json record = j.calibration->ToJson();
  for (const char* key : {"x", "y", "a", "b"}) record.erase(key);  // the map is in the bundle
  record["fitted_on"] = "validation";
  record["uncalibrated"] = {{"validation", ProbabilityQuality(j.validation, s.validation.label)},
                            {"test", ProbabilityQuality(j.test, s.test.label)}};
  j.uncalibrated_curve = ComputeCurves(j.test, s.test.label)["calibration"];
  j.calibration->ApplyInPlace(j.validation);
  j.calibration->ApplyInPlace(j.test);
  j.calibration_record = std::move(record);
  return Status::Ok();
}

Result<Judged> Judge(const State& s, std::vector<float> validation, std::vector<float> test) {
  const EvaluateConfig& e = s.config.evaluate;
  Judged j;
  j.validation = std::move(validation);
  j.test = std::move(test);
  if (e.calibration != "none") FOPS_RETURN_IF_ERROR(Calibrate(s, j));
  FOPS_ASSIGN_OR_RETURN(ThresholdMethod method, ParseThresholdMethod(e.threshold_method));
  j.threshold =
      ChooseThreshold(j.validation, s.validation.label, method, e.target_fpr, e.fixed_threshold);
  const std::string& amount = s.config.preprocess.amount_column;
  j.validation_metrics = ComputeMetrics(j.validation, s.validation.label, j.threshold,
                                        AmountsOf(s.validation, amount));
  j.test_metrics = ComputeMetrics(j.test, s.test.label, j.threshold, AmountsOf(s.test, amount));
  return j;
}

Status EvaluateScores(State& s) {
  const EvaluateConfig& e = s.config.evaluate;
  if (!s.sharded) {  // else the workers scored their held-out rows
    FOPS_ASSIGN_OR_RETURN(s.validation_scores,
                          s.model->PredictProbability(s.validation, s.context));
    FOPS_ASSIGN_OR_RETURN(s.test_scores, s.model->PredictProbability(s.test, s.context));
  }
  FOPS_ASSIGN_OR_RETURN(Judged judged,
                        Judge(s, std::move(s.validation_scores), std::move(s.test_scores)));
  s.validation_scores = std::move(judged.validation);
  s.test_scores = std::move(judged.test);
  s.calibration = std::move(judged.calibration);
  if (s.calibration) {
    s.context.logger->Info(
        "evaluate", "calibrated",
        {{"method", e.calibration},
         {"test_ece_before",
          judged.calibration_record["uncalibrated"]["test"]["expected_calibration_error"]
              .get<double>()},
         {"test_ece_after", judged.test_metrics.expected_calibration_error}});
  }
  if (s.unmitigated) {  // bias.mitigation: the model trained without the weights, judged alike
    FOPS_ASSIGN_OR_RETURN(std::vector<float> validation,
                          s.unmitigated->PredictProbability(s.validation, s.context));
    FOPS_ASSIGN_OR_RETURN(std::vector<float> test,
                          s.unmitigated->PredictProbability(s.test, s.context));
    FOPS_ASSIGN_OR_RETURN(Judged before, Judge(s, std::move(validation), std::move(test)));
    s.unmitigated_test_scores = std::move(before.test);
    s.unmitigated_threshold = before.threshold;
    s.unmitigated_metrics = before.test_metrics.ToJson();
  }
  const double threshold = judged.threshold;
  const BinaryMetrics& validation = judged.validation_metrics;
  const BinaryMetrics& test = judged.test_metrics;
  const nlohmann::json& calibration = judged.calibration_record;
  const nlohmann::json& uncalibrated_curve = judged.uncalibrated_curve;
  s.threshold = threshold;
  s.result.metrics = {{"validation", validation.ToJson()}, {"test", test.ToJson()}};
  if (s.calibration) s.result.metrics["calibration"] = calibration;
  // How far the test metrics could move on other rows like these (the model card shows them).
  s.result.metrics["intervals"] = {
      {"test", ComputeMetricIntervals(s.test_scores, s.test.label, threshold, 200,
                                      static_cast<uint64_t>(s.config.global.seed))
                   .ToJson()}};
  nlohmann::json metrics = s.result.metrics;
  metrics["threshold_method"] = e.threshold_method;
  FOPS_RETURN_IF_ERROR(s.Write("metrics", "evaluation/metrics.json", Pretty(metrics)));
  s.test_curves = ComputeCurves(s.test_scores, s.test.label);
  if (s.calibration) s.test_curves["calibration_uncalibrated"] = uncalibrated_curve;
  nlohmann::json curves = {{"test", s.test_curves},
                           {"validation", ComputeCurves(s.validation_scores, s.validation.label)}};
  s.context.logger->Info(
      "evaluate", "evaluated",
      {{"test_roc_auc", test.roc_auc}, {"test_pr_auc", test.pr_auc}, {"threshold", threshold}});
  FOPS_RETURN_IF_ERROR(s.Write("curves", "evaluation/curves.json", Pretty(curves)));
  if (!s.store) return Status::Ok();
  std::map<std::string, double> flat;
  for (const char* part : {"validation", "test"}) {
    for (const auto& [name, value] : s.result.metrics[part].items()) {
      if (value.is_number()) flat[std::string(part) + "." + name] = value.get<double>();
    }
  }
  FOPS_RETURN_IF_ERROR(s.store->LogMetrics(s.result.execution_id, flat));
  // Per-round curves, by set and metric name.
  std::map<std::string, std::vector<std::pair<int64_t, double>>> curves_by_name;
  for (const RoundMetrics& round : s.model->history) {
    for (const auto& [name, value] : round.train)
      curves_by_name["train." + name].emplace_back(round.round, value);
    for (const auto& [name, value] : round.validation)
      curves_by_name["validation." + name].emplace_back(round.round, value);
  }
  for (const auto& [name, points] : curves_by_name) {
    FOPS_RETURN_IF_ERROR(s.store->LogMetricHistory(s.result.execution_id, name, points));
  }
  return Status::Ok();
}

Status Evaluate(State& s) {
  const auto started = SteadyClock::now();
  Status status = EvaluateScores(s);
  if (s.sharded) {  // the scoring took its time on the workers
    s.step_seconds = s.worker_phases.value("score_s", 0.0) +
                     std::chrono::duration<double>(SteadyClock::now() - started).count();
  }
  return status;
}

using AsideColumns = std::vector<std::pair<ColumnSchema, std::vector<float>>>;
Result<std::pair<const ColumnSchema*, std::span<const float>>> BiasColumn(const AsideColumns& aside,
                                                                          const Dataset& rows,
                                                                          const std::string& name);

/// explain.segments (or bias.facets): each segment's membership of the explained test rows.
Result<std::vector<ExplanationSegment>> ExplanationSegments(const State& s,
                                                            const std::vector<uint32_t>& rows) {
  const std::vector<std::string>& specs =
      s.config.explain.segments.empty() ? s.config.bias.facets : s.config.explain.segments;
  const char* key = s.config.explain.segments.empty() ? "bias.facets" : "explain.segments";
  std::vector<ExplanationSegment> out;
  for (size_t i = 0; i < specs.size(); ++i) {
    const std::string where = std::string(key) + "[" + std::to_string(i) + "]";
    FOPS_ASSIGN_OR_RETURN(const FacetSpec facet, ParseFacet(specs[i], where));
    FOPS_ASSIGN_OR_RETURN(auto column, BiasColumn(s.aside_test, s.test, facet.column));
    FOPS_ASSIGN_OR_RETURN(const std::vector<int8_t> members,
                          FacetRows(facet, *column.first, column.second, where));
    ExplanationSegment& segment = out.emplace_back();
    segment.name = facet.text;
    for (uint32_t r : rows) segment.rows.push_back(members[r]);
  }
  return out;
}

/// The explain step (docs/explanations.md): exact TreeSHAP over the test rows (or
/// explain.rows of them, evenly taken) — global importance, a summary and dependence sample,
/// partial dependence and ICE — written to evaluation/explanations.json for the report.
Status Explain(State& s) {
  const ExplainConfig& e = s.config.explain;
  if (!e.enabled) {
    s.step_skipped = true;
    return Status::Ok();
  }
  FOPS_ASSIGN_OR_RETURN(const std::shared_ptr<const Ensemble> engine, s.model->Engine());
  std::vector<uint32_t> rows;
  const size_t n = s.test.rows();
  const size_t take = e.rows > 0 ? std::min(n, static_cast<size_t>(e.rows)) : n;
  for (size_t i : EvenlySpaced(n, take)) rows.push_back(static_cast<uint32_t>(i));
  const std::vector<float> matrix = s.test.Take(rows).RowMajor();
  GlobalExplanationOptions options;
  options.top_features = static_cast<size_t>(e.top_features);
  options.partial_dependence = e.partial_dependence;
  FOPS_ASSIGN_OR_RETURN(options.segments, ExplanationSegments(s, rows));
  Result<GlobalExplanation> result = ExplainGlobally(*engine, matrix, options, s.context);
  if (!result.ok()) return result.status().WithContext("explain");
  const GlobalExplanation& explained = *result;
  s.explanations = explained.ToJson();
  s.explanations["split"] = "test";
  s.context.logger->Info(
      "explain", "explained",
      {{"rows", explained.rows},
       {"top_feature",
        explained.features.empty() ? std::string() : explained.features.front().name},
       {"max_additivity_error", explained.max_additivity_error}});
  return s.Write("explanations", "evaluation/explanations.json", Pretty(s.explanations));
}

/// `name`'s column of the rows: set aside (SetAsideBiasColumns), else still a feature.
Result<std::pair<const ColumnSchema*, std::span<const float>>> BiasColumn(const AsideColumns& aside,
                                                                          const Dataset& rows,
                                                                          const std::string& name) {
  for (const auto& [schema, values] : aside) {
    if (schema.name == name) return std::make_pair(&schema, std::span<const float>(values));
  }
  const int index = rows.FeatureIndex(name);
  if (index < 0) return Status::Internal("bias: column '" + name + "' was not kept");
  const auto at = static_cast<size_t>(index);
  return std::make_pair(&rows.features[at], std::span<const float>(rows.columns[at]));
}

/// One facet's metrics as Clarify's analysis.json lists them, with our group sizes and
/// warnings.
nlohmann::json FacetJson(const FacetSpec& facet, const BiasReport& report,
                         const std::vector<BiasMetric>& metrics) {
  nlohmann::json list = nlohmann::json::array();
  for (const BiasMetric& metric : metrics) list.push_back(BiasMetricJson(metric));
  auto groups = [](const BiasGroups& g) {
    return nlohmann::json{{"rows", g.rows},
                          {"label_positives", g.label_positives},
                          {"predicted_positives", g.predicted_positives}};
  };
  std::string value = Join(facet.values, "|");
  if (facet.threshold) value = FormatDouble(*facet.threshold, 12);
  return {{"value_or_threshold", value},
          {"facet", facet.text},
          {"metrics", list},
          {"groups", {{"d", groups(report.d)}, {"a", groups(report.a)}}},
          {"rows_left_out", report.left_out},
          {"warnings", report.warnings}};
}

/// Kamiran and Calders' reweighing (bias.mitigation: reweighing): the training rows fall in
/// groups by their membership of every facet (in, out, value missing); a row of group g and
/// label y weighs n(g)·n(y) / (N·n(g, y)), the weight that makes the label independent of
/// the group. The table of groups is kept in s.reweighing.
Result<std::vector<float>> ReweighingWeights(State& s) {
  const std::vector<std::string>& facets = s.config.bias.facets;
  const size_t n = s.train.rows();
  std::vector<uint32_t> group(n, 0);  // base 3: a digit per facet (0 out, 1 in, 2 missing)
  std::vector<FacetSpec> specs;
  for (size_t i = 0; i < facets.size(); ++i) {
    const std::string where = "bias.facets[" + std::to_string(i) + "]";
    FOPS_ASSIGN_OR_RETURN(FacetSpec facet, ParseFacet(facets[i], where));
    FOPS_ASSIGN_OR_RETURN(auto column, BiasColumn(s.aside_train, s.train, facet.column));
    FOPS_ASSIGN_OR_RETURN(const std::vector<int8_t> rows,
                          FacetRows(facet, *column.first, column.second, where));
    for (size_t r = 0; r < n; ++r) group[r] = group[r] * 3 + (rows[r] < 0 ? 2u : rows[r] ? 1u : 0u);
    specs.push_back(std::move(facet));
  }
  std::map<uint32_t, std::array<size_t, 2>> counts;  // group → rows by label
  std::array<size_t, 2> by_label = {};
  for (size_t r = 0; r < n; ++r) {
    const size_t y = s.train.label[r] > 0.5f;
    ++counts[group[r]][y];
    ++by_label[y];
  }
  std::map<uint32_t, std::array<double, 2>> weight;
  s.reweighing = nlohmann::json::array();
  for (const auto& [g, rows] : counts) {
    nlohmann::json membership = nlohmann::json::object();
    uint32_t code = g;
    for (size_t i = specs.size(); i-- > 0; code /= 3) {
      membership[specs[i].text] = code % 3 == 2 ? "missing" : code % 3 == 1 ? "in" : "out";
    }
    for (size_t y = 0; y < 2; ++y) {
      if (rows[y] == 0) continue;
      const double w = static_cast<double>(rows[0] + rows[1]) * static_cast<double>(by_label[y]) /
                       (static_cast<double>(n) * static_cast<double>(rows[y]));
      weight[g][y] = w;
      s.reweighing.push_back(
          {{"group", membership}, {"label", y}, {"rows", rows[y]}, {"weight", w}});
    }
  }
  std::vector<float> out(n);
  for (size_t r = 0; r < n; ++r)
    out[r] = static_cast<float>(weight[group[r]][s.train.label[r] > 0.5f]);
  s.context.logger->Info("train", "reweighed the training rows",
                         {{"groups", counts.size()}, {"facets", facets.size()}});
  return out;
}

/// The bias gate's rules (bias.min_metrics, bias.max_metrics) on one facet's metrics.
void JudgeBiasRules(State& s, const FacetSpec& facet, const std::vector<BiasMetric>& metrics) {
  for (const BiasMetric& metric : metrics) {
    for (const auto& [rules, key, minimum] :
         {std::tuple{&s.config.bias.min_metrics, "min_metrics", true},
          std::tuple{&s.config.bias.max_metrics, "max_metrics", false}}) {
      const auto rule = rules->find(metric.name);
      if (rule == rules->end()) continue;
      const std::string bound = std::string(minimum ? " >= " : " <= ") +
                                FormatDouble(rule->second, 6) + " (bias." + key + "." +
                                metric.name + ")";
      const std::string what = "bias gate: " + metric.name + " for facet '" + facet.text + "'";
      if (!metric.value) {
        s.bias_reasons.push_back(what + " has no value (" + metric.error + "); the rule" + bound +
                                 " cannot hold");
        continue;
      }
      const bool held = minimum ? *metric.value >= rule->second : *metric.value <= rule->second;
      const std::string line = what + " " + FormatDouble(*metric.value, 6) + bound;
      if (held) {
        s.bias_checks.push_back(line + ": passed");
      } else {
        s.bias_reasons.push_back(line + ": failed");
      }
    }
  }
}

/// The bias step (docs/bias.md): for each of bias.facets, the pre-training metrics on the
/// training rows and the post-training metrics on the test rows, predicted positive at the
/// threshold, written in the layout of Clarify's analysis.json (evaluation/bias.json); the
/// rules of bias.min_metrics and max_metrics judged for every facet (the gate applies them).
Status Bias(State& s) {
  const BiasConfig& b = s.config.bias;
  if (b.facets.empty()) {
    s.step_skipped = true;
    return Status::Ok();
  }
  const BiasOptions options{.bootstrap = static_cast<int>(b.bootstrap),
                            .seed = static_cast<uint64_t>(s.config.global.seed),
                            .flip_test_rows = static_cast<size_t>(b.flip_test_rows)};
  auto labels = [](const Dataset& rows) {
    std::vector<uint8_t> out(rows.rows());
    for (size_t r = 0; r < out.size(); ++r) out[r] = rows.label[r] > 0.5f;
    return out;
  };
  const std::vector<uint8_t> train_labels = labels(s.train), test_labels = labels(s.test);
  std::vector<uint8_t> predicted(s.test.rows());
  for (size_t r = 0; r < predicted.size(); ++r) predicted[r] = s.test_scores[r] >= s.threshold;
  // bias.mitigation: what the model trained without the weights predicted, at its threshold.
  std::vector<uint8_t> predicted_before(s.unmitigated ? s.test.rows() : 0);
  for (size_t r = 0; r < predicted_before.size(); ++r)
    predicted_before[r] = s.unmitigated_test_scores[r] >= s.unmitigated_threshold;
  nlohmann::json compared = nlohmann::json::array();
  std::vector<int32_t> train_groups, test_groups;
  if (!b.group_variable.empty()) {
    FOPS_ASSIGN_OR_RETURN(auto train_column, BiasColumn(s.aside_train, s.train, b.group_variable));
    FOPS_ASSIGN_OR_RETURN(auto test_column, BiasColumn(s.aside_test, s.test, b.group_variable));
    train_groups = GroupCodes(train_column.second);
    test_groups = GroupCodes(test_column.second);
  }
  // The flip test compares rows by the model's numeric features.
  std::vector<std::span<const float>> features;
  for (size_t c = 0; c < s.test.num_features(); ++c) {
    if (s.test.features[c].type == ColumnType::kNumeric) features.push_back(s.test.columns[c]);
  }
  nlohmann::json pre = nlohmann::json::object(), post = nlohmann::json::object();
  for (size_t i = 0; i < b.facets.size(); ++i) {
    const std::string where = "bias.facets[" + std::to_string(i) + "]";
    FOPS_ASSIGN_OR_RETURN(const FacetSpec facet, ParseFacet(b.facets[i], where));
    FOPS_ASSIGN_OR_RETURN(auto train_column, BiasColumn(s.aside_train, s.train, facet.column));
    FOPS_ASSIGN_OR_RETURN(auto test_column, BiasColumn(s.aside_test, s.test, facet.column));
    FOPS_ASSIGN_OR_RETURN(const std::vector<int8_t> train_facet,
                          FacetRows(facet, *train_column.first, train_column.second, where));
    FOPS_ASSIGN_OR_RETURN(const std::vector<int8_t> test_facet,
                          FacetRows(facet, *test_column.first, test_column.second, where));
    BiasInput before;
    before.facet = train_facet;
    before.label = train_labels;
    before.group = train_groups;
    const BiasReport pre_report = ComputeBias(before, options);
    BiasInput after;
    after.facet = test_facet;
    after.label = test_labels;
    after.predicted = predicted;
    after.group = test_groups;
    after.features = features;
    const BiasReport post_report = ComputeBias(after, options);
    pre[facet.column].push_back(FacetJson(facet, pre_report, pre_report.pre_training));
    nlohmann::json post_facet = FacetJson(facet, post_report, post_report.post_training);
    post_facet["flip_test_rows"] = {{"d", post_report.flip_test_rows_d},
                                    {"a", post_report.flip_test_rows_a}};
    if (s.unmitigated) {
      BiasInput unmitigated = after;
      unmitigated.predicted = predicted_before;
      const BiasReport before_report = ComputeBias(unmitigated, options);
      compared.push_back(
          {{"facet", facet.text},
           {"before", FacetJson(facet, before_report, before_report.post_training)["metrics"]},
           {"after", post_facet["metrics"]}});
    }
    post[facet.column].push_back(std::move(post_facet));
    JudgeBiasRules(s, facet, pre_report.pre_training);
    JudgeBiasRules(s, facet, post_report.post_training);
    for (const std::string& w : post_report.warnings)
      s.context.logger->Warn("bias", "facet '" + facet.text + "' (test rows): " + w);
  }
  const std::string label_value = s.test.label_values.size() > 1 ? s.test.label_values[1] : "1";
  s.bias = {
      {"version", "1.0"},
      {"pre_training_bias_metrics",
       {{"label", s.train.label_name}, {"label_value_or_threshold", label_value}, {"facets", pre}}},
      {"post_training_bias_metrics",
       {{"label", s.test.label_name}, {"label_value_or_threshold", label_value}, {"facets", post}}},
      {"fraudops",
       {{"pre_training_rows", "train"},
        {"post_training_rows", "test"},
        {"threshold", s.threshold},
        {"bootstrap", b.bootstrap},
        {"confidence", options.confidence},
        {"passed", s.bias_reasons.empty()},
        {"checks", s.bias_checks},
        {"reasons", s.bias_reasons}}}};
  s.context.logger->Info("bias", "bias measured",
                         {{"facets", b.facets.size()},
                          {"rules_passed", s.bias_checks.size()},
                          {"rules_failed", s.bias_reasons.size()}});
  FOPS_RETURN_IF_ERROR(s.Write("bias", "evaluation/bias.json", Pretty(s.bias)));
  if (!s.unmitigated) return Status::Ok();
  nlohmann::json before = s.unmitigated_metrics, after = s.result.metrics["test"];
  for (nlohmann::json* m : {&before, &after}) m->erase("confusion");
  s.mitigation = {{"method", b.mitigation},
                  {"weights", s.reweighing},
                  {"rows", "test"},
                  {"quality", {{"before", before}, {"after", after}}},
                  {"post_training_bias_metrics", compared}};
  return s.Write("mitigation", "evaluation/mitigation.json", Pretty(s.mitigation));
}

Status ChampionGate(State& s);

Status Gate(State& s) {
  s.result.gate = ApplyGate(s.config.evaluate, s.result.metrics["test"]);
  s.result.gate_evaluated = true;
  // The bias step's rules (docs/bias.md).
  for (const std::string& check : s.bias_checks) s.result.gate.checks.push_back(check);
  for (const std::string& reason : s.bias_reasons) s.result.gate.Fail(reason);
  if (s.result.gate.passed && s.config.register_.champion_gate && s.store)
    FOPS_RETURN_IF_ERROR(ChampionGate(s));
  // Passed: each check as information; failed: one warning naming the failed checks (every
  // check is in evaluation/gate.json and the run's summary either way).
  if (s.result.gate.passed) {
    for (const std::string& check : s.result.gate.checks) s.context.logger->Info("gate", check);
  } else {
    s.context.logger->Warn("gate", "failed: " + Join(s.result.gate.reasons, "; "));
    s.step_rejected = true;
  }
  nlohmann::json gate = {{"passed", s.result.gate.passed},
                         {"checks", s.result.gate.checks},
                         {"reasons", s.result.gate.reasons}};
  FOPS_RETURN_IF_ERROR(s.Write("gate", "evaluation/gate.json", Pretty(gate)));
  ReportInput report;
  report.title = "fraudops evaluation — " + s.config.global.pipeline_name;
  report.execution_id = s.result.execution_id;
  report.algorithm = s.config.train.algorithm;
  report.validation_metrics = s.result.metrics["validation"];
  report.test_metrics = s.result.metrics["test"];
  report.test_curves = s.test_curves;
  if (s.calibration) report.calibration = s.result.metrics["calibration"];
  report.mitigation = s.mitigation;
  report.feature_importance = s.importance;
  report.gate_passed = s.result.gate.passed;
  report.gate_reasons = s.result.gate.passed ? s.result.gate.checks : s.result.gate.reasons;
  report.data_summary = s.data_summary;
  report.bias = s.bias;
  report.explanations = s.explanations;
  return s.Write("report", "evaluation/report.html", RenderReport(report));
}

/// The champion: the version in production on deploy.endpoint_name, else the one aliased
/// register.champion_alias; nullopt when there is neither.
Result<std::optional<ModelVersion>> FindChampion(State& s) {
  const RegisterConfig& r = s.config.register_;
  ServingStore serving(*s.store);
  FOPS_ASSIGN_OR_RETURN(auto endpoint, serving.FindEndpoint(s.config.deploy.endpoint_name));
  if (endpoint && !endpoint->production.empty()) {
    FOPS_ASSIGN_OR_RETURN(ModelVersion production,
                          s.store->GetVersion(endpoint->production.model,
                                              std::to_string(endpoint->production.version)));
    return std::optional<ModelVersion>(production);
  }
  auto aliased = s.store->GetVersion(r.model_name, "@" + r.champion_alias);
  if (aliased.ok()) return std::optional<ModelVersion>(*aliased);
  if (aliased.status().code() != StatusCode::kNotFound) return aliased.status();
  return std::optional<ModelVersion>();
}

/// The champion's scores of this run's test split, in this process (s.champion_scores; or
/// s.champion_unscorable says why there are none).
Status ScoreChampion(State& s) {
  FOPS_ASSIGN_OR_RETURN(const std::string bytes, ReadChampionModel(s));
  if (bytes.empty()) return Status::Ok();
  TrainerRegistry trainers;
  RegisterBuiltinTrainers(trainers);
  FOPS_ASSIGN_OR_RETURN(const Trainer* trainer, trainers.Find(s.champion->algorithm));
  FOPS_ASSIGN_OR_RETURN(auto model, trainer->Load(bytes));
  // The champion is scored as it serves: with the bias step's columns too, which this run set
  // aside from its own features (bias.keep_facets_as_features: false) but the champion may use.
  const Dataset* rows = &s.test;
  Dataset with_aside;
  if (!s.aside_test.empty()) {
    with_aside.features = s.test.features;
    with_aside.columns = s.test.columns;
    with_aside.label = s.test.label;
    for (const auto& [schema, values] : s.aside_test) {
      if (with_aside.FeatureIndex(schema.name) >= 0) continue;
      with_aside.features.push_back(schema);
      with_aside.columns.push_back(values);
    }
    rows = &with_aside;
  }
  Result<std::vector<float>> scores = ScoreByFeatureNames(*model, *rows, s.context);
  if (scores.ok()) {
    s.champion_scores = std::move(*scores);
  } else {
    s.champion_unscorable =
        "cannot score this run's test split (different features?): " + scores.status().message();
  }
  return Status::Ok();
}

/// Sends the champion model's probabilities through the champion's calibration, when its
/// bundle.json (read back through its recorded checksum) has one: its threshold is on them.
Status CalibrateAsChampion(const State& s, std::vector<float>& scores) {
  FOPS_ASSIGN_OR_RETURN(RunRecord source, s.store->GetRun(s.champion->run_id));
  for (const ArtifactRecord& a : source.artifacts) {
    if (a.name != "model/bundle.json") continue;
    FOPS_ASSIGN_OR_RETURN(const std::string text, s.artifacts->Read(a.uri, a.sha256));
    const nlohmann::json bundle = nlohmann::json::parse(text, nullptr, false);
    if (bundle.is_discarded()) return Status::DataError(a.uri + ": not JSON");
    auto it = bundle.find("calibration");
    if (it == bundle.end()) return Status::Ok();
    Result<ScoreCalibration> calibration = ScoreCalibration::FromJson(*it, "/calibration");
    if (!calibration.ok()) return calibration.status().WithContext(a.uri);
    calibration->ApplyInPlace(scores);
  }
  return Status::Ok();
}

/// The champion/challenger gate: the champion's scores of this run's test split (its model
/// read back through its recorded checksum; with train.sharded, scored on the workers)
/// compared in champion_metric: the new version may be worse by at most champion_margin.
Status ChampionGate(State& s) {
  const RegisterConfig& r = s.config.register_;
  if (!s.sharded) FOPS_RETURN_IF_ERROR(ScoreChampion(s));
  if (!s.champion) {
    s.result.gate.checks.push_back("champion gate: nothing in production on " +
                                   s.config.deploy.endpoint_name + " and no '" + r.champion_alias +
                                   "' version yet; the first passes");
    s.result.metrics["champion_gate"] = {
        {"passed", true}, {"summary", s.result.gate.checks.back()}, {"against", nullptr}};
    return Status::Ok();
  }
  const ModelVersion* champion = &*s.champion;
  const std::string champion_ref = champion->model + "@" + std::to_string(champion->version);
  if (!s.champion_scores) {  // not comparable: a person decides, the gate does not wave it through
    s.result.gate.Fail("champion gate: the champion " + champion_ref + " " + s.champion_unscorable +
                       "; compare them by hand, then run again with "
                       "register.champion_gate: false");
    return Status::Ok();
  }
  FOPS_RETURN_IF_ERROR(CalibrateAsChampion(s, *s.champion_scores));
  const std::vector<float>* scores = &*s.champion_scores;
  const std::string& amount = s.config.preprocess.amount_column;
  nlohmann::json theirs =
      ComputeMetrics(*scores, s.test.label, champion->threshold, AmountsOf(s.test, amount))
          .ToJson();
  const nlohmann::json& ours = s.result.metrics["test"];
  const std::string& metric = r.champion_metric;
  if (!ours[metric].is_number() || !theirs[metric].is_number()) {
    return Status::InvalidArgument("register.champion_metric '" + metric +
                                   "' is not available for this data");
  }
  double mine = ours[metric].get<double>(), best = theirs[metric].get<double>();
  std::string line = "champion gate: " + metric + " " + FormatDouble(mine, 6) + " vs champion " +
                     champion_ref + " " + FormatDouble(best, 6) +
                     " on the same test rows, margin " + FormatDouble(r.champion_margin, 6);
  s.result.metrics["champion"] = {
      {"model", champion->model}, {"version", champion->version}, {"test", theirs}};
  const bool passed = mine >= best - r.champion_margin;
  s.result.metrics["champion_gate"] = {
      {"passed", passed}, {"summary", line}, {"against", champion_ref}};
  if (passed) {
    s.result.gate.checks.push_back(line + ": passed");
  } else {
    s.result.gate.Fail(line + ": the new model is worse than the champion by more " +
                       "than the margin");
  }
  return Status::Ok();
}

/// model/model_card.{json,md,html} of the version just created, published with the run.
Status WriteModelCard(State& s, const ModelVersion& version) {
  FOPS_ASSIGN_OR_RETURN(const nlohmann::json card,
                        BuildModelCard(*s.store, *s.artifacts, version, UtcNow()));
  FOPS_RETURN_IF_ERROR(s.Write("model_card", "model/model_card.json", Pretty(card)));
  FOPS_RETURN_IF_ERROR(s.Write("model_card_md", "model/model_card.md", ModelCardMarkdown(card)));
  FOPS_RETURN_IF_ERROR(s.Write("model_card_html", "model/model_card.html", ModelCardHtml(card)));
  return Publish(s);
}

/// Registers the gated model: the bundle description, every artifact stored and checksummed,
/// then one transaction that creates the version (and its audit entries). A crash before
/// the commit leaves no version; after it, the version's artifacts are all in place.
Status Register(State& s) {
  if (!s.result.gate.passed) {
    s.step_skipped = true;
    return Status::Ok();
  }
  const RegisterConfig& r = s.config.register_;
  const std::string& hash = s.raw_manifest["content_hash"].get<std::string>();
  BundleInfo info;
  info.algorithm = s.config.train.algorithm;
  info.model_file = s.model->FileName();
  info.model_format = s.model->FileName() == "model.json" ? "xgboost-json" : "lightgbm-text";
  info.model_sha256 = s.model_sha256;
  info.missing_values = s.config.preprocess.missing_values;
  info.threshold = s.threshold;
  info.metrics = s.result.metrics;
  info.lineage = {{"pipeline", s.config.global.pipeline_name},
                  {"model", r.model_name},
                  {"run_id", s.result.execution_id},
                  {"data_hash", hash},
                  {"code_version", CodeVersion()}};
  // A distributed run names every worker's rows (file, range, content hash).
  if (!s.model->shards.is_null()) info.lineage["shards"] = s.model->shards;
  if (!s.model->data_fingerprint.empty())
    info.lineage["data_fingerprint"] = s.model->data_fingerprint;
  info.baseline_file = "baseline.json";
  info.calibration = s.calibration;
  info.ignored_inputs = s.excluded;
  if (!s.config.bias.keep_facets_as_features) {  // set aside for the bias step, not features
    for (const auto& column : s.aside_train) {
      const std::string& name = column.first.name;
      if (std::find(info.ignored_inputs.begin(), info.ignored_inputs.end(), name) ==
          info.ignored_inputs.end())
        info.ignored_inputs.push_back(name);
    }
  }
  if (!s.feature_groups.empty()) {
    info.feature_groups = s.feature_groups;
    info.feature_time = s.config.preprocess.time_column;
  }
  // Drift monitoring's reference: the training rows, and scores on held-out validation rows.
  FOPS_RETURN_IF_ERROR(s.Write("baseline", "model/baseline.json",
                               Pretty(MakeBaseline(s.train, s.validation_scores))));
  std::string policy;
  if (!r.policy.empty()) {  // refused with file:line:column before anything is registered
    const std::string path = s.config.Resolve(r.policy);
    FOPS_ASSIGN_OR_RETURN(policy, ReadFile(path));
    FOPS_RETURN_IF_ERROR(
        DecisionPolicy::Parse(policy, path).status().WithContext("register.policy"));
    FOPS_RETURN_IF_ERROR(s.Write("policy", std::string("model/") + kPolicyFileName, policy));
  }
  nlohmann::json bundle = MakeBundleJson(s.train, info);
  FOPS_RETURN_IF_ERROR(s.Write("bundle", "model/bundle.json", Pretty(bundle)));
  FOPS_RETURN_IF_ERROR(Publish(s));
  FaultPoint("register.after_publish");
  NewVersion version;
  version.model = r.model_name;
  version.run_id = s.result.execution_id;
  version.algorithm = s.config.train.algorithm;
  version.bundle_uri = s.artifacts->Uri(s.key_prefix + "/model");
  version.threshold = s.threshold;
  version.metrics = s.result.metrics;
  version.description = r.description;
  version.data_hash = hash;
  version.approve = r.approval == "auto";
  version.aliases = r.aliases;
  version.policy = policy;
  version.before_commit = [] { FaultPoint("register.before_commit"); };
  FOPS_ASSIGN_OR_RETURN(ModelVersion created, s.store->CreateVersion(version, CurrentActor()));
  s.result.registered = created.ToJson();
  // The model card, stored with the bundle (`fraudops models card` builds it again later, with
  // the approvals and deployments since). The version stands without it: a failure is logged.
  if (Status carded = WriteModelCard(s, created); !carded.ok())
    s.context.logger->Warn("register", "no model card: " + carded.message());
  s.context.logger->Info("register", "registered",
                         {{"model", created.model},
                          {"version", static_cast<long long>(created.version)},
                          {"approval", created.approval}});
  return Status::Ok();
}

/// Deploys the registered version to deploy.endpoint_name with deploy.strategy, when it was
/// approved (register.approval: auto) and deploy.enabled. A running `fraudops serve` picks
/// the deployment up; canary and linear deployments are judged there.
Status Deploy(State& s) {
  const DeployConfig& d = s.config.deploy;
  if (!d.enabled || s.result.registered.is_null() ||
      s.result.registered.value("approval", "") != "approved") {
    s.step_skipped = true;
    if (!s.result.registered.is_null() && d.enabled) {
      s.context.logger->Info(
          "deploy",
          "not deployed: the version waits for approval (fraudops models approve, then "
          "fraudops deploy)");
    }
    return Status::Ok();
  }
  ServingStore serving(*s.store);
  const VariantRef target{s.result.registered["model"].get<std::string>(),
                          s.result.registered["version"].get<int64_t>()};
  FOPS_ASSIGN_OR_RETURN(DeployRules rules, DeployRulesFrom(s.config));
  // An endpoint under a promotion policy (staged promotion) takes the version once the policy
  // holds: the run registered it, and `fraudops promote` deploys it then.
  FOPS_ASSIGN_OR_RETURN(auto endpoint, serving.FindEndpoint(d.endpoint_name));
  if (endpoint && !endpoint->environment.empty() && d.strategy != "shadow") {
    if (const PromotionPolicy* policy = rules.PolicyFor(endpoint->environment)) {
      FOPS_ASSIGN_OR_RETURN(PromotionCheck check, serving.CheckPromotion(target, *policy));
      if (!check.allowed()) {
        s.step_skipped = true;
        s.context.logger->Warn(
            "deploy", "not deployed: endpoint " + d.endpoint_name + " is " + endpoint->environment +
                          " and its promotion policy is not met: " + check.Unmet() +
                          " (fraudops promote " + target.ToString() + " --to " +
                          endpoint->environment + " once it is)");
        return Status::Ok();
      }
    }
  }
  FOPS_ASSIGN_OR_RETURN(DeploymentRecord deployed,
                        serving.Deploy(d.endpoint_name, target, d.strategy, DeploymentParamsFrom(d),
                                       CurrentActor(), rules));
  s.result.deployment = deployed.ToJson();
  s.context.logger->Info("deploy", "deployed",
                         {{"endpoint", d.endpoint_name},
                          {"model", target.ToString()},
                          {"strategy", deployed.strategy},
                          {"status", DeploymentStatusName(deployed.status)}});
  return Status::Ok();
}

using StepFunction = Status (*)(State&);
struct StepDefinition {
  const char* name;
  StepFunction run;
};

constexpr StepDefinition kSteps[] = {
    {"ingest", Ingest}, {"validate", Validate}, {"split", SplitStep}, {"tune", Tune},
    {"train", Train},   {"evaluate", Evaluate}, {"explain", Explain}, {"bias", Bias},
    {"gate", Gate},     {"register", Register}, {"deploy", Deploy},
};

/// The run as the metadata store records it when it starts: every configuration key and
/// hyperparameter as a parameter (JSON text), and tags.
RunRecord RunRecordFor(const Config& config, const RunResult& result, const State& state) {
  RunRecord run;
  run.run_id = result.execution_id;
  run.experiment = config.global.pipeline_name;
  run.start_time = UtcNow();
  run.code_version = std::string(CodeVersion());
  std::string actor = CurrentActor();
  run.user = actor.substr(0, actor.find('@'));
  run.host = actor.substr(actor.find('@') + 1);
  run.artifact_uri = state.artifacts->Uri(state.key_prefix);
  auto text = [](const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  const nlohmann::json effective = config.ToJson();
  for (const auto& [group, keys] : effective.items()) {
    for (const auto& [key, value] : keys.items()) {
      if (group == "train" && (key == "xgboost" || key == "lgbm") && value.is_object()) {
        for (const auto& [param, setting] : value.items())
          run.params[group + "." + key + "." + param] = text(setting);
      } else {
        run.params[group + "." + key] = text(value);
      }
    }
  }
  run.tags["algorithm"] = config.train.algorithm;
  run.tags["threads"] = std::to_string(ResolveThreads(static_cast<int>(config.global.threads)));
  run.tags["data_source"] = config.preprocess.data_source.empty()
                                ? "synthetic"
                                : RedactUrl(config.preprocess.data_source);
  return run;
}

}  // namespace

Result<SourceOptions> SourceOptionsFrom(const Config& config) {
  const PreprocessConfig& p = config.preprocess;
  SourceOptions options;
  TableOptions& table = options.csv.table;
  table.label_column = p.label_column;
  table.positive_label = p.positive_label;
  table.missing_values = p.missing_values;
  table.categorical_columns = p.categorical_columns;
  table.drop_columns = p.drop_columns;
  FOPS_ASSIGN_OR_RETURN(options.csv.delimiter, ParseDelimiterSetting(p.delimiter));
  options.sql.table_name = p.sql_table;
  options.sql.query = p.sql_query;
  options.sql.shard_key = p.shard_key;
  options.s3_bucket = p.s3_bucket;
  options.s3_key = p.s3_raw_data_key;
  options.synth.rows = static_cast<size_t>(p.synthetic_rows);
  options.synth.seed = static_cast<uint64_t>(config.global.seed);
  options.synth.fraud_rate = p.synthetic_fraud_rate;
  options.synth.cards = static_cast<size_t>(p.synthetic_cards);
  return options;
}

std::string_view StepStatusName(StepStatus status) {
  switch (status) {
    case StepStatus::kPending:
      return "pending";
    case StepStatus::kSucceeded:
      return "succeeded";
    case StepStatus::kFailed:
      return "failed";
    case StepStatus::kSkipped:
      return "skipped";
    case StepStatus::kRejected:
      return "rejected";
  }
  return "pending";
}

nlohmann::json RunResult::ToJson() const {
  nlohmann::json out;
  out["execution_id"] = execution_id;
  out["pipeline"] = pipeline;
  out["status"] = RunStatusName(status);
  out["seconds"] = seconds;
  out["steps"] = nlohmann::json::array();
  for (const StepRecord& step : steps) {
    nlohmann::json entry = {
        {"name", step.name}, {"status", StepStatusName(step.status)}, {"seconds", step.seconds}};
    if (!step.log.empty()) entry["log"] = step.log;
    if (!step.error.empty()) entry["error"] = step.error;
    out["steps"].push_back(entry);
  }
  out["metrics"] = metrics;
  if (gate_evaluated) {
    out["gate"] = {{"passed", gate.passed}, {"reasons", gate.reasons}, {"checks", gate.checks}};
  } else {
    out["gate"] = {{"passed", false},
                   {"reasons", {"the gate was not reached"}},
                   {"checks", nlohmann::json::array()}};
  }
  out["artifacts"] = artifacts;
  if (!registered.is_null()) out["registered"] = registered;
  if (!deployment.is_null()) out["deployment"] = deployment;
  out["artifact_dir"] = artifact_dir;
  if (!error.ok())
    out["error"] = {{"code", StatusCodeName(error.code())}, {"message", error.message()}};
  return out;
}

/// The bias and explain settings that need no data: the gate's metric names, each facet's
/// and segment's form (the columns are checked against the data at the bias step).
Status CheckBiasConfig(const Config& config) {
  const std::vector<std::string> known = BiasMetricNames();
  for (const auto& [rules, key] : {std::pair{&config.bias.min_metrics, "bias.min_metrics"},
                                   std::pair{&config.bias.max_metrics, "bias.max_metrics"}}) {
    for (const auto& [name, bound] : *rules) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        return Status::InvalidArgument(std::string(key) + "." + name + ": '" + name +
                                       "' is not a bias metric" + DidYouMean(name, known) +
                                       "; accepted: " + Join(known, ", "));
      }
    }
  }
  for (const auto& [specs, key] : {std::pair{&config.bias.facets, "bias.facets"},
                                   std::pair{&config.explain.segments, "explain.segments"}}) {
    for (size_t i = 0; i < specs->size(); ++i) {
      FOPS_RETURN_IF_ERROR(
          ParseFacet((*specs)[i], std::string(key) + "[" + std::to_string(i) + "]").status());
    }
  }
  return Status::Ok();
}

/// The study the configuration names (tune.study), when it exists, must have been created with
/// the same options: a resume with another strategy, space, … is refused before any data is
/// read (its data's hashes are compared when the study opens, after the split).
Status CheckStudyToResume(const Config& config, MetadataStore& store) {
  if (!config.tune.enabled || config.tune.study.empty()) return Status::Ok();
  FOPS_ASSIGN_OR_RETURN(
      TuneOptions options,
      TuneOptionsFrom(config, config.train.algorithm, ConfiguredParams(config), config.tune.study));
  return CheckStudyResumable(options, store);
}

Status CheckPipelineConfig(const Config& config) {
  FOPS_RETURN_IF_ERROR(ValidateGateConfig(config.evaluate));
  FOPS_RETURN_IF_ERROR(CheckBiasConfig(config));
  TrainerRegistry trainers;
  RegisterBuiltinTrainers(trainers);
  const std::string& algorithm = config.train.algorithm;
  FOPS_ASSIGN_OR_RETURN(const Trainer* trainer, trainers.Find(algorithm));
  FOPS_RETURN_IF_ERROR(
      ResolveParams(trainer->Params(), ConfiguredParams(config), algorithm).status());
  if (!config.tune.from_study.empty()) {
    if (config.tune.enabled) {
      return Status::InvalidArgument(
          "tune.from_study takes an earlier study's best parameters and tune.enabled runs a new "
          "study: set one of them");
    }
    if (config.train.sharded) {
      return Status::InvalidArgument(
          "tune.from_study does not combine with train.sharded yet (the workers train with the "
          "configured parameters)");
    }
  }
  if (!config.tune.enabled) return Status::Ok();
  if (config.train.sharded || config.train.instance_count > 1) {
    return Status::InvalidArgument(
        "tune.enabled tunes in this process; it does not combine with train.instance_count > 1 "
        "yet (tune, then train on workers with the study's best parameters)");
  }
  if (config.bias.mitigation != "none") {
    return Status::InvalidArgument(
        "tune.enabled does not combine with bias.mitigation yet (trials are unweighted)");
  }
  // The study a run names by default: the pipeline and an execution id (a new one here).
  FOPS_ASSIGN_OR_RETURN(TuneOptions options,
                        TuneOptionsFrom(config, algorithm, ConfiguredParams(config),
                                        config.global.pipeline_name + "-" + NewUuidV7()));
  return CheckTuneOptions(options);
}

RunResult RunPipeline(const Config& config, const Context& context,
                      const RunAnnotations& annotations, const std::string& stop_after) {
  auto started = SteadyClock::now();
  RunResult result;
  result.pipeline = config.global.pipeline_name;
  for (const StepDefinition& step : kSteps) {
    StepRecord record;
    record.name = step.name;
    result.steps.push_back(record);
  }
  // A mistake in the configuration stops the run before any work, and nothing is written:
  // no execution id either (the scheduler's history would name a run that does not exist).
  if (Status checked = CheckPipelineConfig(config); !checked.ok()) {
    result.error = checked;
    for (StepRecord& step : result.steps) step.status = StepStatus::kSkipped;
    return result;
  }
  const fs::path home = fs::absolute(config.Resolve(config.global.home)).lexically_normal();
  Logger& logger = *context.logger;

  // The stores come first: a wrong URL or an unreachable server fails before any work, and
  // before an execution id (there is nowhere to record the run).
  auto metadata = MetadataStore::Open(config.global.metadata_url, (home / "fraudops.db").string());
  auto artifact_store = OpenArtifactStore(config.global.artifact_url, (home / "artifacts").string(),
                                          config.artifacts);
  std::optional<Status> refused;
  if (!metadata.ok()) {
    refused = metadata.status();
  } else if (!artifact_store.ok()) {
    refused = artifact_store.status();
  } else if (Status resumable = CheckStudyToResume(config, **metadata); !resumable.ok()) {
    refused = resumable;
  }
  if (refused) {
    result.error = *refused;
    for (StepRecord& step : result.steps) step.status = StepStatus::kSkipped;
    return result;
  }
  result.execution_id = NewUuidV7();
  const std::string key_prefix = config.global.pipeline_name + "/" + result.execution_id;
  // The run works in the local artifact store, or in a local copy that goes to S3.
  auto* local = dynamic_cast<LocalArtifactStore*>(artifact_store->get());
  result.artifact_dir =
      ((local ? fs::path(local->root()) : home / "artifacts") / key_prefix).string();
  State state(config, context, result.artifact_dir, result);
  state.key_prefix = key_prefix;
  state.stop_after = stop_after;
  state.sharded = config.train.sharded;
  state.workers_dir = state.Path("train_workers");

  auto finish = [&]() -> RunResult {
    result.seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
    Status written = WriteFileAtomic(state.Path("run.json"), Pretty(result.ToJson()));
    if (!written.ok()) logger.Error("pipeline", "cannot write run.json: " + written.message());
    if (state.store) {
      Status recorded = Publish(state);
      if (recorded.ok()) {
        recorded = state.store->EndRun(result.execution_id, result.status,
                                       result.error.ok() ? "" : result.error.message());
      }
      if (!recorded.ok()) logger.Error("pipeline", "cannot record the run: " + recorded.message());
    }
    return std::move(result);
  };

  state.store = metadata->get();
  state.artifacts = artifact_store->get();

  if (Status created = MakeDirectories(state.Path("logs")); !created.ok()) {
    result.error = created;
    return finish();
  }
  if (Status written = state.Write("config", "config.json", Pretty(config.ToJson()));
      !written.ok()) {
    result.error = written;
    return finish();
  }
  RunRecord tracked_run = RunRecordFor(config, result, state);
  for (const auto& [key, value] : annotations.tags) tracked_run.tags[key] = value;
  if (!annotations.name.empty()) tracked_run.tags[kRunNameTag] = annotations.name;
  if (!annotations.note.empty()) tracked_run.tags[kRunNoteTag] = annotations.note;
  if (Status tracked = state.store->CreateRun(tracked_run); !tracked.ok()) {
    result.error = tracked;
    state.store = nullptr;  // the run is not there to end
    return finish();
  }
  logger.Info("pipeline", "run started",
              {{"execution_id", result.execution_id},
               {"pipeline", result.pipeline},
               {"artifacts", result.artifact_dir}});

  for (size_t i = 0; i < std::size(kSteps); ++i) {
    StepRecord& record = result.steps[i];
    record.log = state.Path("logs/" + record.name + ".log");
    int sink = -1;
    if (auto file_sink = MakeFileSink(record.log)) sink = logger.AddSink(std::move(file_sink));
    auto step_started = SteadyClock::now();
    Status status;
    try {
      status = kSteps[i].run(state);
    } catch (const std::exception& exception) {  // a library threw: keep it inside the run
      status = Status::Internal(std::string("step ") + record.name + " threw: " + exception.what());
    }
    record.seconds = state.step_seconds.value_or(
        std::chrono::duration<double>(SteadyClock::now() - step_started).count());
    state.step_seconds.reset();
    record.status = !status.ok()          ? StepStatus::kFailed
                    : state.step_skipped  ? StepStatus::kSkipped
                    : state.step_rejected ? StepStatus::kRejected
                                          : StepStatus::kSucceeded;
    state.step_skipped = state.step_rejected = false;
    if (!status.ok()) {
      record.error = status.message();
      logger.Error(record.name, status.message());
    }
    if (sink >= 0) logger.RemoveSink(sink);
    if (!status.ok() || record.name == stop_after) {
      result.error = status;
      for (size_t j = i + 1; j < std::size(kSteps); ++j)
        result.steps[j].status = StepStatus::kSkipped;
      if (status.ok()) result.status = RunStatus::kSucceeded;
      return finish();
    }
  }
  result.status = result.gate.passed ? RunStatus::kSucceeded : RunStatus::kGateFailed;
  logger.Info("pipeline", "run finished", {{"status", RunStatusName(result.status)}});
  return finish();
}

}  // namespace fraudops
