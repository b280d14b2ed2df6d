#include "cli/train_command.h"

#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "core/files.h"
#include "core/logging.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "data/dataset_file.h"
#include "data/source.h"
#include "model/bundle.h"
#include "pipeline/pipeline.h"
#include "pipeline/sharded.h"
#include "train/distributed.h"
#include "train/lgbm_params.h"
#include "train/trainer.h"
#include "train/xgboost_trainer.h"

namespace fraudops {

namespace {

struct TrainArgs {
  std::string algorithm = "lgbm", data, valid, label, output, config_path;
  std::vector<std::string> params;
  bool library_defaults = false, json = false, external_memory = false, sharded = false;
  int workers = 1;
  size_t batch_rows = 0;   ///< external memory; 0: about 1 MiB of values a batch
  double valid_ratio = 0;  ///< sharded reading: the share of each part split off to validate
};

struct WorkerCommandArgs {
  std::string tracker, train_file, validation_file;
  int rank = -1;
  int threads = 0;  ///< 0: as the leader says
  int join_timeout_s = 120;
};

/// KEY=VALUE as a hyperparameter: the value read as JSON when it parses (numbers, true,
/// ["a","b"]), else as text.
Result<std::pair<std::string, HyperParameter>> ParseParam(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Status::InvalidArgument("--param '" + text +
                                   "': expected KEY=VALUE, e.g. --param num_leaves=63");
  }
  std::string key(Trim(text.substr(0, eq))), raw(text.substr(eq + 1));
  nlohmann::json value = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || value.is_object()) value = raw;
  return std::make_pair(key, HyperParameter{value, "--param " + key});
}

/// Whether the parameters ask for a regression objective (the label is then a number).
Result<bool> WantsRegression(const std::string& algorithm, const HyperParameters& params) {
  const std::vector<ParamSpec>& specs =
      algorithm == "lgbm" ? LgbmParamSpecs() : XgboostParamSpecs();
  FOPS_ASSIGN_OR_RETURN(ResolvedParams resolved, ResolveParams(specs, params, algorithm));
  if (!resolved.count("objective")) return false;
  const std::string objective = resolved["objective"].get<std::string>();
  if (algorithm == "lgbm") return objective != "binary";
  return objective == "reg:squarederror" || objective == "reg:pseudohubererror" ||
         objective == "reg:absoluteerror";
}

/// This process's peak resident memory so far (getrusage's maximum resident set size).
double PeakMemoryMib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

/// External memory: the data at `uri` as a dataset file to read in pieces — a dataset file
/// as it is (its checksum verified), any other source imported into `scratch` first
/// (streamed: CSV and SQL sources never whole in memory).
Result<std::unique_ptr<DatasetFileReader>> OpenExternal(const SourceRegistry& sources,
                                                        const std::string& uri,
                                                        const SourceOptions& options, Session& s,
                                                        const std::string& scratch) {
  FOPS_ASSIGN_OR_RETURN(auto parsed, sources.Parse(uri));
  if (parsed.first == "fds") {
    FOPS_ASSIGN_OR_RETURN(std::unique_ptr<DatasetFileReader> reader,
                          DatasetFileReader::Open(parsed.second));
    FOPS_RETURN_IF_ERROR(reader->Verify());
    return reader;
  }
  s.logger.Info("train", "importing into a dataset file for external memory",
                {{"data", uri}, {"file", scratch}});
  FOPS_RETURN_IF_ERROR(ImportToDatasetFile(sources, uri, options, s.context, scratch).status());
  return DatasetFileReader::Open(scratch);
}

int Report(const TrainArgs& args, const TrainedModel& m, const Dataset& schema, size_t rows);

/// The distributed options the configuration gives for `args.workers` workers.
DistributedOptions DistributedFrom(const TrainArgs& args, const Session& s,
                                   const std::string& work_dir) {
  DistributedOptions distributed;
  distributed.workers = args.workers;
  distributed.executable = std::filesystem::read_symlink("/proc/self/exe").string();
  distributed.work_dir = work_dir;
  distributed.host = s.config.train.tracker_host;
  distributed.tracker_port = static_cast<int>(s.config.train.tracker_port);
  distributed.remote_workers = static_cast<int>(s.config.train.remote_workers);
  distributed.retries = static_cast<int>(s.config.train.worker_retries);
  distributed.link_timeout_seconds = static_cast<int>(s.config.train.worker_timeout_s);
  distributed.threads_per_worker =
      std::max(1, ResolveThreads(s.context.threads) /
                      std::max(1, args.workers - distributed.remote_workers));
  return distributed;
}

/// The features and label of a schema as Dataset::SchemaJson writes it (no rows).
Dataset SchemaFromJson(const nlohmann::json& json) {
  Dataset schema;
  if (!json.is_object()) return schema;
  schema.label_name = json.at("label").value("name", "");
  schema.label_values = json.at("label").value("values", std::vector<std::string>{"0", "1"});
  for (const nlohmann::json& feature : json.at("features")) {
    ColumnSchema column;
    column.name = feature.at("name").get<std::string>();
    column.type = feature.value("type", "") == "categorical" ? ColumnType::kCategorical
                                                             : ColumnType::kNumeric;
    column.categories = feature.value("categories", std::vector<std::string>{});
    schema.features.push_back(std::move(column));
  }
  return schema;
}

/// Sharded reading: this process reads nothing; each worker reads its part of the sources.
int TrainSharded(const TrainArgs& args, Session& s, const HyperParameters& params,
                 const SourceRegistry& sources, const SourceOptions& options) {
  if (args.workers < 2) {
    return Fail(Status::InvalidArgument(
        "--sharded has each of the --workers read its part of the data; it needs --workers 2 "
        "or more"));
  }
  if (args.external_memory) {
    return Fail(Status::InvalidArgument(
        "--sharded does not combine with --external-memory (the workers hold their parts in "
        "memory)"));
  }
  if (args.valid_ratio > 0 && !args.valid.empty()) {
    return Fail(Status::InvalidArgument(
        "--valid-ratio splits validation rows off --data; it does not combine with --valid"));
  }
  for (const std::string& uri : {args.data, args.valid}) {
    if (uri.empty()) continue;
    if (Status readable = sources.CheckReadsInParts(uri, options); !readable.ok())
      return Fail(readable);
  }
  TempDirectory scratch;
  DistributedOptions distributed = DistributedFrom(args, s, scratch.path() + "/workers");
  distributed.train_source = args.data;
  distributed.validation_source = args.valid;
  distributed.source_options = SourceOptionsJson(options);
  distributed.validation_share = args.valid_ratio;
  distributed.split_method = s.config.preprocess.split_method;
  distributed.time_column = s.config.preprocess.time_column;
  Result<std::unique_ptr<TrainedModel>> model =
      TrainOnWorkers(args.algorithm, params, distributed, s.context);
  if (!model.ok()) return Fail(model.status());
  Dataset schema;
  size_t rows = 0;
  try {
    schema = SchemaFromJson((*model)->schema);
    rows = (*model)->schema.value("rows", size_t{0});
  } catch (const nlohmann::json::exception& e) {
    return Fail(
        Status::Internal(std::string("rank 0's training record has no schema: ") + e.what()));
  }
  return Report(args, **model, schema, rows);
}

int Train(const TrainArgs& args) {
  auto session = OpenSession(args.config_path);
  if (!session.ok()) return Fail(session.status());
  Session& s = **session;
  TrainerRegistry trainers;
  RegisterBuiltinTrainers(trainers);
  auto trainer = trainers.Find(args.algorithm);
  if (!trainer.ok()) return Fail(trainer.status());

  // Parameters: the configured ones (or none: the library's defaults), then --param.
  HyperParameters params;
  if (!args.library_defaults)
    params = args.algorithm == "lgbm" ? s.config.train.lgbm : s.config.train.xgboost;
  for (const std::string& text : args.params) {
    auto param = ParseParam(text);
    if (!param.ok()) return Fail(param.status());
    params[param->first] = param->second;
  }
  // Early stopping from the configuration needs validation data; without --valid it is off
  // (asked for with --param, it stays and the trainer says what is missing).
  if (args.valid.empty() && args.valid_ratio == 0) {
    for (const char* name :
         {"early_stopping_round", "early_stopping_rounds", "early_stopping", "n_iter_no_change"}) {
      auto it = params.find(name);
      if (it != params.end() && !StartsWith(it->second.origin, "--param")) {
        s.logger.Info("train", "early stopping is off: no --valid data",
                      {{"parameter", name}, {"from", it->second.origin}});
        params.erase(it);
      }
    }
  }
  auto regression = WantsRegression(args.algorithm, params);
  if (!regression.ok()) return Fail(regression.status());

  auto options = SourceOptionsFrom(s.config);
  if (!options.ok()) return Fail(options.status());
  if (!args.label.empty()) options->csv.table.label_column = args.label;
  options->csv.table.numeric_label = *regression;
  SourceRegistry sources;
  RegisterBuiltinSources(sources);
  if (args.external_memory && args.workers > 1) {
    return Fail(Status::InvalidArgument(
        "--external-memory trains in this one process; it does not combine with --workers " +
        std::to_string(args.workers)));
  }
  if (args.sharded) return TrainSharded(args, s, params, sources, *options);
  if (args.valid_ratio > 0) {
    return Fail(Status::InvalidArgument(
        "--valid-ratio splits each worker's part with --sharded; without it, give --valid"));
  }
  // In memory: the datasets. External memory: dataset files and views of them.
  std::optional<LoadedData> train, valid;
  TempDirectory scratch;
  std::unique_ptr<DatasetFileReader> train_file, valid_file;
  std::optional<DatasetFileView> train_view, valid_view;
  if (args.external_memory) {
    auto opened = OpenExternal(sources, args.data, *options, s, scratch.path() + "/train.fds");
    if (!opened.ok()) return Fail(opened.status());
    train_file = std::move(*opened);
    auto view = DatasetFileView::Make(*train_file, options->csv.table.drop_columns);
    if (!view.ok()) return Fail(view.status());
    train_view = std::move(*view);
  } else {
    auto loaded = sources.Load(args.data, *options, s.context);
    if (!loaded.ok()) return Fail(loaded.status());
    train = std::move(*loaded);
  }
  const Dataset& schema = train ? train->dataset : train_view->schema();
  const size_t rows = train ? train->dataset.rows() : train_view->rows();
  if (!args.valid.empty()) {
    const Dataset* valid_schema = nullptr;
    if (args.external_memory) {
      auto opened =
          OpenExternal(sources, args.valid, *options, s, scratch.path() + "/validation.fds");
      if (!opened.ok()) return Fail(opened.status());
      valid_file = std::move(*opened);
      auto view = DatasetFileView::Make(*valid_file, options->csv.table.drop_columns);
      if (!view.ok()) return Fail(view.status());
      valid_view = std::move(*view);
      valid_schema = &valid_view->schema();
    } else {
      auto loaded = sources.Load(args.valid, *options, s.context);
      if (!loaded.ok()) return Fail(loaded.status());
      valid = std::move(*loaded);
      valid_schema = &valid->dataset;
    }
    if (valid_schema->FeatureNames() != schema.FeatureNames()) {
      return Fail(Status::InvalidArgument(
          args.valid + ": its feature columns (" + Join(valid_schema->FeatureNames(), ", ") +
          ") differ from " + args.data + "'s (" + Join(schema.FeatureNames(), ", ") + ")"));
    }
    // One dictionary: the training file's categories code the validation file too.
    Status aligned = valid_view ? valid_view->AlignTo(*train_view)
                                : AlignCategories(train->dataset, valid->dataset, args.valid);
    if (!aligned.ok()) return Fail(aligned);
  }

  TrainInput input;
  input.params = params;
  ExternalMemory external;
  if (args.external_memory) {
    external.train = &*train_view;
    external.validation = valid_view ? &*valid_view : nullptr;
    external.cache_dir = scratch.path();
    // By default about 1 MiB of values per read: xgboost reads every feature of a batch of
    // rows, lgbm one feature's rows at a time (on each thread).
    const size_t features_per_read =
        args.algorithm == "xgboost" ? std::max<size_t>(1, schema.num_features()) : 1;
    external.batch_rows =
        args.batch_rows > 0
            ? args.batch_rows
            : std::max<size_t>(1024, (1u << 20) / (sizeof(float) * features_per_read));
    input.external = &external;
    s.logger.Info("train", "external memory",
                  {{"rows", rows}, {"batch_rows", external.batch_rows}, {"cache", scratch.path()}});
  } else {
    input.train = &train->dataset;
    input.validation = valid ? &valid->dataset : nullptr;
  }
  Result<std::unique_ptr<TrainedModel>> model = Status::Internal("not trained");
  if (args.workers > 1) {
    // The workers slice dataset files: the data as read here, written once.
    DistributedOptions distributed = DistributedFrom(args, s, scratch.path() + "/workers");
    distributed.train_file = scratch.path() + "/train.fds";
    if (auto written = WriteDatasetFile(train->dataset, distributed.train_file); !written.ok())
      return Fail(written.status());
    if (valid) {
      distributed.validation_file = scratch.path() + "/validation.fds";
      if (auto written = WriteDatasetFile(valid->dataset, distributed.validation_file);
          !written.ok())
        return Fail(written.status());
    }
    model = TrainOnWorkers(args.algorithm, params, distributed, s.context);
  } else {
    model = (*trainer)->Train(input, s.context);
  }
  if (!model.ok()) return Fail(model.status());
  return Report(args, **model, schema, rows);
}

/// Writes the model (and xgboost's category names beside it) and says what was trained.
int Report(const TrainArgs& args, const TrainedModel& m, const Dataset& schema, size_t rows) {
  auto serialized = m.Serialize();
  if (!serialized.ok()) return Fail(serialized.status());
  if (Status written = WriteFileAtomic(args.output, *serialized); !written.ok())
    return Fail(written);
  if (args.algorithm == "xgboost") {
    // XGBoost's file keeps codes, not names: the names go beside it, for fraudops predict.
    std::vector<FeatureSpec> specs;
    for (const ColumnSchema& column : schema.features) {
      FeatureSpec spec;
      spec.name = column.name;
      spec.categorical = column.type == ColumnType::kCategorical;
      spec.categories = column.categories;
      specs.push_back(std::move(spec));
    }
    const std::string sidecar = CategoriesSidecarPath(args.output);
    const std::string names = CategoriesSidecarJson(specs);
    if (!names.empty()) {
      if (Status written = WriteFileAtomic(sidecar, names); !written.ok()) return Fail(written);
    } else {
      std::error_code ignored;
      std::filesystem::remove(sidecar, ignored);  // a stale one from an earlier model
    }
  }

  const double peak_mib = PeakMemoryMib();
  nlohmann::json out = {{"algorithm", args.algorithm},
                        {"output", args.output},
                        {"rows", rows},
                        {"features", schema.num_features()},
                        {"rounds_trained", m.rounds_trained},
                        {"best_round", m.best_round},
                        {"seconds", m.seconds},
                        {"external_memory", args.external_memory},
                        {"peak_memory_mib", std::round(peak_mib * 10) / 10},
                        {"parameters", m.parameters}};
  if (!m.data_fingerprint.empty()) {
    out["data_fingerprint"] = m.data_fingerprint;
    out["shards"] = m.shards;
  }
  if (!m.history.empty() && m.best_round >= 0 &&
      static_cast<size_t>(m.best_round) < m.history.size()) {
    out["validation"] = m.history[static_cast<size_t>(m.best_round)].validation;
  }
  if (args.json) {
    PrintJson(out);
    return kExitOk;
  }
  std::printf(
      "trained %s on %zu rows x %zu features%s: %d rounds (kept %d) in %.2f s, peak memory %.0f "
      "MiB\nwrote %s\n",
      args.algorithm.c_str(), rows, schema.num_features(),
      args.external_memory ? " (external memory)"
      : args.sharded       ? " (sharded reading)"
                           : "",
      m.rounds_trained, m.best_round + 1, m.seconds, peak_mib, args.output.c_str());
  if (!m.data_fingerprint.empty())
    std::printf("  data fingerprint %s\n", m.data_fingerprint.c_str());
  if (out.contains("validation")) {
    for (const auto& [name, value] : out["validation"].items()) {
      std::printf("  validation %-20s %.6f\n", name.c_str(), value.get<double>());
    }
  }
  return kExitOk;
}

}  // namespace

std::function<int()> AddTrainCommand(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* command = app.add_subcommand("train",
                                     "Train one model from a data file and write the library's own "
                                     "model file (LightGBM text or XGBoost JSON).");
  command->add_option("--algorithm", args->algorithm, "lgbm (default) or xgboost")
      ->check(CLI::IsMember({"lgbm", "xgboost"}));
  command->add_option("--data", args->data, "Training data: a CSV path or any data source URI")
      ->required();
  command->add_option("--label", args->label, "Label column (default: preprocess.label_column)");
  command->add_option("--valid", args->valid,
                      "Validation data (early stopping, per-round metrics)");
  command->add_option("--param", args->params,
                      "KEY=VALUE hyperparameter, repeatable (LightGBM or XGBoost names)");
  command->add_option("--output", args->output, "Model file to write")->required();
  command->add_option("--config", args->config_path,
                      "Configuration file (hyperparameter files, label, missing markers)");
  command->add_flag("--library-defaults", args->library_defaults,
                    "Start from the library's defaults instead of the configured hyperparameters");
  command->add_flag("--json", args->json, "Print one JSON object");
  command
      ->add_option("--workers", args->workers,
                   "Worker processes that train together (xgboost, lgbm; default 1: this process)")
      ->check(CLI::Range(1, 256));
  command->add_flag("--external-memory", args->external_memory,
                    "Train from disk in pieces, for data larger than memory "
                    "(docs/external-memory.md)");
  command
      ->add_option("--valid-ratio", args->valid_ratio,
                   "With --sharded and no --valid: the share of each worker's part split off for "
                   "validation, by preprocess.split_method (stratified, or time by "
                   "preprocess.time_column) as one split of all the data would")
      ->check(CLI::Range(0.0, 0.9));
  command->add_flag("--sharded", args->sharded,
                    "With --workers: each worker reads only its part of --data and --valid (a "
                    "CSV by byte ranges, a directory or S3 prefix by files, a dataset file by "
                    "rows, SQL by preprocess.shard_key; docs/distributed-training.md)");
  command
      ->add_option("--batch-rows", args->batch_rows,
                   "Rows read at a time with --external-memory (default: about 1 MiB of values)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30));
  return [command, args]() { return command->parsed() ? Train(*args) : -1; };
}

namespace {

int Worker(const WorkerCommandArgs& args) {
  Logger logger;
  logger.AddSink(MakeStreamSink(stderr, LogFormat::kAuto));
  Result<WorkerJob> job =
      FetchWorkerJob(args.tracker, args.rank, std::chrono::seconds(args.join_timeout_s));
  if (!job.ok()) return Fail(job.status());
  // This host may see the data under other names than the leader's.
  // With sharded reading they name the data sources.
  if (!args.train_file.empty())
    (job->train_source.empty() ? job->train_file : job->train_source) = args.train_file;
  if (!args.validation_file.empty()) {
    (job->validation_source.empty() ? job->validation_file : job->validation_source) =
        args.validation_file;
  }
  if (args.threads > 0) job->threads = args.threads;
  logger.Info("train", "worker job",
              {{"rank", args.rank},
               {"algorithm", job->algorithm},
               {"train", job->train_source.empty() ? job->train_file : job->train_source},
               {"threads", job->threads},
               {"validation_share", job->validation_share}});
  ThreadPool pool(job->threads);
  Context context{.logger = &logger, .pool = &pool, .threads = job->threads, .seed = job->seed};
  // A pipeline's sharded run: the worker validates, splits and scores its part too.
  std::unique_ptr<PartStages> stages;
  if (!job->stages.is_null()) {
    auto made = MakeShardedStages(job->stages, job->out_dir, context);
    if (!made.ok()) return Fail(made.status());
    stages = std::move(*made);
  }
  Status status = RunWorker(*job, context, stages.get());
  return status.ok() ? kExitOk : Fail(status);
}

}  // namespace

std::function<int()> AddWorkerCommand(CLI::App& app) {
  auto args = std::make_shared<WorkerCommandArgs>();
  auto* command = app.add_subcommand(
      "worker",
      "Train as one worker of a distributed run (started by `fraudops train --workers` or "
      "train.instance_count; docs/distributed-training.md).");
  command
      ->add_option("--tracker", args->tracker,
                   "The leader's tracker, IPv4:PORT (train.tracker_host, train.tracker_port)")
      ->required();
  command
      ->add_option("--rank", args->rank,
                   "This worker's rank (its task id): the leader starts 0.."
                   "instance_count-remote_workers-1, remote hosts take the rest")
      ->required()
      ->check(CLI::Range(0, 255));
  command->add_option("--train", args->train_file,
                      "The training dataset file (.fds), or with sharded reading the training "
                      "data source, as this host sees it (default: the leader's; a shared "
                      "filesystem)");
  command->add_option("--valid", args->validation_file,
                      "The validation dataset file or data source as this host sees it");
  command->add_option("--threads", args->threads, "Threads of this worker (default: the leader's)")
      ->check(CLI::Range(1, 1024));
  command
      ->add_option("--join-timeout", args->join_timeout_s,
                   "Seconds to keep trying to reach the tracker (default 120)")
      ->check(CLI::Range(1, 86400));
  return [command, args]() { return command->parsed() ? Worker(*args) : -1; };
}

}  // namespace fraudops
