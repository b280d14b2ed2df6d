#include "pipeline/pipeline.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <filesystem>
#include <memory>

#include "core/files.h"
#include "core/ids.h"
#include "core/logging.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "data/dataset_file.h"
#include "data/source.h"
#include "data/split.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "train/trainer.h"

namespace fraudops {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// JSON documents are written with invalid UTF-8 (e.g. in an echoed error) replaced, never thrown on.
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
  std::vector<float> validation_scores, test_scores;
  nlohmann::json test_curves;
  nlohmann::json data_summary;
  std::vector<std::pair<std::string, double>> importance;

  std::string Path(const std::string& relative) const { return (fs::path(dir) / relative).string(); }
  Status Write(const std::string& name, const std::string& relative, const std::string& content) {
    std::string path = Path(relative);
    FOPS_RETURN_IF_ERROR(WriteFileAtomic(path, content));
    result.artifacts[name] = path;
    return Status::Ok();
  }
};

Status Ingest(State& s) {
  const PreprocessConfig& p = s.config.preprocess;
  FOPS_ASSIGN_OR_RETURN(SourceOptions options, SourceOptionsFrom(s.config));
  SourceRegistry sources;
  RegisterBuiltinSources(sources);
  std::string uri = p.data_source.empty() ? "synthetic" : p.data_source;
  s.context.logger->Info("ingest", "reading data", {{"source", uri}});
  FOPS_ASSIGN_OR_RETURN(LoadedData loaded, sources.Load(uri, options, s.context));
  s.data = std::move(loaded.dataset);
  s.raw_manifest = std::move(loaded.manifest);
  s.raw_manifest["source"] = uri;
  s.raw_manifest["rows"] = s.data.rows();
  s.raw_manifest["positives"] = s.data.CountPositives();
  s.raw_manifest["schema"] = s.data.SchemaJson();
  s.raw_manifest["content_hash"] = s.data.ContentHash();
  s.context.logger->Info("ingest", "read data",
                         {{"rows", s.data.rows()}, {"features", s.data.num_features()},
                          {"positives", s.data.CountPositives()},
                          {"content_hash", s.raw_manifest["content_hash"].get<std::string>()}});
  return s.Write("raw_manifest", "raw/manifest.json", Pretty(s.raw_manifest));
}

Status Validate(State& s) {
  const Dataset& d = s.data;
  nlohmann::json report = {{"rows", d.rows()}, {"positives", d.CountPositives()}};
  if (d.rows() == 0) return Status::DataError("the data has no rows");
  std::vector<std::string> warnings;
  nlohmann::json columns = nlohmann::json::array();
  for (size_t c = 0; c < d.num_features(); ++c) {
    const auto& values = d.columns[c];
    size_t missing = 0, infinite = 0;
    float low = std::numeric_limits<float>::infinity(), high = -low;
    for (float v : values) {
      if (std::isnan(v)) ++missing;
      else if (std::isinf(v)) ++infinite;
      else {
        low = std::min(low, v);
        high = std::max(high, v);
      }
    }
    const std::string& name = d.features[c].name;
    if (infinite > 0) {
      return Status::DataError("column '" + name + "' has " + std::to_string(infinite) +
                               " infinite values; accepted: finite numbers or missing values");
    }
    nlohmann::json column = {{"name", name}, {"type", ColumnTypeName(d.features[c].type)},
                             {"missing", missing}};
    if (missing < values.size()) {
      column["min"] = low;
      column["max"] = high;
    }
    if (missing == values.size()) warnings.push_back("column '" + name + "' is entirely missing");
    else if (low == high) warnings.push_back("column '" + name + "' is constant");
    columns.push_back(column);
  }
  size_t positives = d.CountPositives();
  if (positives == 0) {
    return Status::DataError("the label column '" + d.label_name + "' has no positive ('" +
                             d.label_values[1] + "') rows; a fraud model needs fraud examples "
                             "(check preprocess.positive_label)");
  }
  if (positives == d.rows()) {
    return Status::DataError("every row of the label column '" + d.label_name +
                             "' is positive; a fraud model needs legitimate examples too");
  }
  for (const std::string& warning : warnings) s.context.logger->Warn("validate", warning);
  report["columns"] = columns;
  report["warnings"] = warnings;
  s.context.logger->Info("validate", "data checked",
                         {{"columns", d.num_features()}, {"warnings", warnings.size()}});
  return s.Write("validation_report", "raw/validation.json", Pretty(report));
}

Status SplitStep(State& s) {
  const PreprocessConfig& p = s.config.preprocess;
  SplitRatios ratios{p.train_ratio, p.validation_ratio, p.test_ratio};
  SplitIndices split;
  if (p.split_method == "time") {
    FOPS_ASSIGN_OR_RETURN(split, TimeSplit(s.data, ratios, p.time_column));
  } else {
    FOPS_ASSIGN_OR_RETURN(split, StratifiedSplit(s.data, ratios, static_cast<uint64_t>(s.config.global.seed)));
  }
  s.train = s.data.Take(split.train);
  s.validation = s.data.Take(split.validation);
  s.test = s.data.Take(split.test);
  nlohmann::json manifest = {{"method", p.split_method},
                             {"ratios", {{"train", p.train_ratio}, {"validation", p.validation_ratio}, {"test", p.test_ratio}}},
                             {"seed", s.config.global.seed},
                             {"source_content_hash", s.raw_manifest["content_hash"]}};
  if (p.split_method == "time") manifest["time_column"] = p.time_column;
  const std::pair<const char*, Dataset*> parts[] = {
      {"train", &s.train}, {"validation", &s.validation}, {"test", &s.test}};
  for (const auto& [name, part] : parts) {
    std::string relative = std::string("processed/") + name + ".fds";
    FOPS_ASSIGN_OR_RETURN(std::string sha, WriteDatasetFile(*part, s.Path(relative)));
    s.result.artifacts[std::string(name) + "_data"] = s.Path(relative);
    manifest["splits"][name] = {{"file", relative}, {"rows", part->rows()},
                                {"positives", part->CountPositives()}, {"payload_sha256", sha}};
    s.data_summary[name] = {{"rows", part->rows()}, {"positives", part->CountPositives()}};
  }
  s.data_summary["content_hash"] = s.raw_manifest["content_hash"];
  s.context.logger->Info("split", "split data",
                         {{"method", p.split_method}, {"train", s.train.rows()},
                          {"validation", s.validation.rows()}, {"test", s.test.rows()}});
  s.data = Dataset();  // the splits hold what is needed now
  return s.Write("processed_manifest", "processed/manifest.json", Pretty(manifest));
}

Status Train(State& s) {
  TrainerRegistry trainers;
  RegisterBuiltinTrainers(trainers);
  const std::string& algorithm = s.config.train.algorithm;
  FOPS_ASSIGN_OR_RETURN(const Trainer* trainer, trainers.Find(algorithm));
  TrainInput input;
  input.train = &s.train;
  input.validation = &s.validation;
  input.params = algorithm == "lgbm" ? s.config.train.lgbm : s.config.train.xgboost;
  s.context.logger->Info("train", "training", {{"algorithm", algorithm}, {"rows", s.train.rows()}});
  FOPS_ASSIGN_OR_RETURN(s.model, trainer->Train(input, s.context));
  FOPS_ASSIGN_OR_RETURN(std::string serialized, s.model->Serialize());
  FOPS_RETURN_IF_ERROR(s.Write("model", "model/" + s.model->FileName(), serialized));
  FOPS_ASSIGN_OR_RETURN(s.importance, s.model->FeatureImportance());

  nlohmann::json history = nlohmann::json::array();
  for (const RoundMetrics& round : s.model->history) {
    history.push_back({{"round", round.round}, {"train", round.train}, {"validation", round.validation}});
  }
  nlohmann::json importance = nlohmann::json::array();
  for (const auto& [name, gain] : s.importance) importance.push_back({{"feature", name}, {"total_gain", gain}});
  nlohmann::json training = {{"algorithm", algorithm},
                             {"parameters", s.model->parameters},
                             {"rounds_trained", s.model->rounds_trained},
                             {"best_round", s.model->best_round},
                             {"early_stopping_metric", s.model->early_stopping_metric},
                             {"seconds", s.model->seconds},
                             {"features", s.train.SchemaJson()["features"]},
                             {"feature_importance", importance},
                             {"history", history}};
  s.context.logger->Info("train", "trained",
                         {{"rounds", s.model->rounds_trained}, {"best_round", s.model->best_round},
                          {"seconds", s.model->seconds}});
  return s.Write("training", "model/training.json", Pretty(training));
}

std::vector<float> AmountsOf(const Dataset& d, const std::string& column) {
  int index = column.empty() ? -1 : d.FeatureIndex(column);
  return index < 0 ? std::vector<float>() : d.columns[static_cast<size_t>(index)];
}

Status Evaluate(State& s) {
  const EvaluateConfig& e = s.config.evaluate;
  FOPS_ASSIGN_OR_RETURN(s.validation_scores, s.model->PredictProbability(s.validation, s.context));
  FOPS_ASSIGN_OR_RETURN(s.test_scores, s.model->PredictProbability(s.test, s.context));
  FOPS_ASSIGN_OR_RETURN(ThresholdMethod method, ParseThresholdMethod(e.threshold_method));
  double threshold = ChooseThreshold(s.validation_scores, s.validation.label, method, e.target_fpr,
                                     e.fixed_threshold);
  const std::string& amount = s.config.preprocess.amount_column;
  BinaryMetrics validation = ComputeMetrics(s.validation_scores, s.validation.label, threshold,
                                            AmountsOf(s.validation, amount));
  BinaryMetrics test = ComputeMetrics(s.test_scores, s.test.label, threshold, AmountsOf(s.test, amount));
  s.result.metrics = {{"validation", validation.ToJson()}, {"test", test.ToJson()}};
  nlohmann::json metrics = s.result.metrics;
  metrics["threshold_method"] = e.threshold_method;
  FOPS_RETURN_IF_ERROR(s.Write("metrics", "evaluation/metrics.json", Pretty(metrics)));
  s.test_curves = ComputeCurves(s.test_scores, s.test.label);
  nlohmann::json curves = {{"test", s.test_curves},
                           {"validation", ComputeCurves(s.validation_scores, s.validation.label)}};
  s.context.logger->Info("evaluate", "evaluated",
                         {{"test_roc_auc", test.roc_auc}, {"test_pr_auc", test.pr_auc},
                          {"threshold", threshold}});
  return s.Write("curves", "evaluation/curves.json", Pretty(curves));
}

Status Gate(State& s) {
  s.result.gate = ApplyGate(s.config.evaluate, s.result.metrics["test"]);
  s.result.gate_evaluated = true;
  for (const std::string& check : s.result.gate.checks) s.context.logger->Info("gate", check);
  nlohmann::json gate = {{"passed", s.result.gate.passed}, {"checks", s.result.gate.checks},
                         {"reasons", s.result.gate.reasons}};
  FOPS_RETURN_IF_ERROR(s.Write("gate", "evaluation/gate.json", Pretty(gate)));
  ReportInput report;
  report.title = "fraudops evaluation — " + s.config.global.pipeline_name;
  report.execution_id = s.result.execution_id;
  report.algorithm = s.config.train.algorithm;
  report.validation_metrics = s.result.metrics["validation"];
  report.test_metrics = s.result.metrics["test"];
  report.test_curves = s.test_curves;
  report.feature_importance = s.importance;
  report.gate_passed = s.result.gate.passed;
  report.gate_reasons = s.result.gate.passed ? s.result.gate.checks : s.result.gate.reasons;
  report.data_summary = s.data_summary;
  return s.Write("report", "evaluation/report.html", RenderReport(report));
}

using StepFunction = Status (*)(State&);
struct StepDefinition {
  const char* name;
  StepFunction run;
};

constexpr StepDefinition kSteps[] = {
    {"ingest", Ingest}, {"validate", Validate}, {"split", SplitStep},
    {"train", Train},   {"evaluate", Evaluate}, {"gate", Gate},
};

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
  options.synth.rows = static_cast<size_t>(p.synthetic_rows);
  options.synth.seed = static_cast<uint64_t>(config.global.seed);
  options.synth.fraud_rate = p.synthetic_fraud_rate;
  return options;
}

nlohmann::json RunResult::ToJson() const {
  nlohmann::json out;
  out["execution_id"] = execution_id;
  out["pipeline"] = pipeline;
  out["status"] = status;
  out["seconds"] = seconds;
  out["steps"] = nlohmann::json::array();
  for (const StepRecord& step : steps) {
    nlohmann::json entry = {{"name", step.name}, {"status", step.status}, {"seconds", step.seconds}};
    if (!step.log.empty()) entry["log"] = step.log;
    if (!step.error.empty()) entry["error"] = step.error;
    out["steps"].push_back(entry);
  }
  out["metrics"] = metrics;
  if (gate_evaluated) {
    out["gate"] = {{"passed", gate.passed}, {"reasons", gate.reasons}, {"checks", gate.checks}};
  } else {
    out["gate"] = {{"passed", false}, {"reasons", {"the gate was not reached"}}, {"checks", nlohmann::json::array()}};
  }
  out["artifacts"] = artifacts;
  out["artifact_dir"] = artifact_dir;
  if (!error.ok()) out["error"] = {{"code", StatusCodeName(error.code())}, {"message", error.message()}};
  return out;
}

RunResult RunPipeline(const Config& config, const Context& context) {
  auto started = Clock::now();
  RunResult result;
  result.execution_id = NewUuidV7();
  result.pipeline = config.global.pipeline_name;
  for (const StepDefinition& step : kSteps) {
    StepRecord record;
    record.name = step.name;
    result.steps.push_back(record);
  }
  result.artifact_dir = (fs::absolute(config.Resolve(config.global.home)).lexically_normal() /
                         "artifacts" / config.global.pipeline_name / result.execution_id)
                            .string();
  State state(config, context, result.artifact_dir, result);
  Logger& logger = *context.logger;

  auto finish = [&]() -> RunResult {
    result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    Status written = WriteFileAtomic(state.Path("run.json"), Pretty(result.ToJson()));
    if (!written.ok()) logger.Error("pipeline", "cannot write run.json: " + written.message());
    return std::move(result);
  };

  if (Status gate_config = ValidateGateConfig(config.evaluate); !gate_config.ok()) {
    result.error = gate_config;
    return finish();
  }
  if (Status created = MakeDirectories(state.Path("logs")); !created.ok()) {
    result.error = created;
    return finish();
  }
  if (Status written = state.Write("config", "config.json", Pretty(config.ToJson())); !written.ok()) {
    result.error = written;
    return finish();
  }
  logger.Info("pipeline", "run started",
              {{"execution_id", result.execution_id}, {"pipeline", result.pipeline},
               {"artifacts", result.artifact_dir}});

  for (size_t i = 0; i < std::size(kSteps); ++i) {
    StepRecord& record = result.steps[i];
    record.log = state.Path("logs/" + record.name + ".log");
    int sink = -1;
    if (auto file_sink = MakeFileSink(record.log)) sink = logger.AddSink(std::move(file_sink));
    auto step_started = Clock::now();
    Status status;
    try {
      status = kSteps[i].run(state);
    } catch (const std::exception& exception) {  // a library threw: keep it inside the run
      status = Status::Internal(std::string("step ") + record.name + " threw: " + exception.what());
    }
    record.seconds = std::chrono::duration<double>(Clock::now() - step_started).count();
    record.status = status.ok() ? "succeeded" : "failed";
    if (!status.ok()) {
      record.error = status.message();
      logger.Error(record.name, status.message());
    }
    if (sink >= 0) logger.RemoveSink(sink);
    if (!status.ok()) {
      result.error = status;
      for (size_t j = i + 1; j < std::size(kSteps); ++j) result.steps[j].status = "skipped";
      return finish();
    }
  }
  result.status = result.gate.passed ? "succeeded" : "gate_failed";
  logger.Info("pipeline", "run finished", {{"status", result.status}});
  return finish();
}

}  // namespace fraudops
