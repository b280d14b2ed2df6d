#pragma once
/// The training pipeline: ingest -> validate -> split -> train -> evaluate -> gate -> register
/// -> deploy.
/// Each run is recorded in the metadata store (global.metadata_url) and its files in the
/// artifact store (global.artifact_url). Each run
/// has a time-ordered execution id (UUIDv7) and writes everything under
/// <home>/artifacts/<pipeline>/<execution_id>/ (raw/, processed/, model/, evaluation/,
/// logs/ and run.json), every file atomically. Each step records status, duration and its
/// own log. See docs/pipeline.md.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/context.h"
#include "core/status.h"
#include "data/source.h"
#include "pipeline/gate.h"
#include "store/metadata_store.h"

namespace fraudops {

/// Where a step of a run is (its name at the edges: run.json, --json, the summary). Rejected:
/// the step ran and said no (the gate, when the model does not pass it).
enum class StepStatus { kPending, kSucceeded, kFailed, kSkipped, kRejected };
std::string_view StepStatusName(StepStatus status);

struct StepRecord {
  std::string name;
  StepStatus status = StepStatus::kPending;
  double seconds = 0;
  std::string log;  ///< the step's log file
  std::string error;
};

struct RunResult {
  std::string execution_id;
  std::string pipeline;
  /// kSucceeded, kGateFailed or kFailed.
  RunStatus status = RunStatus::kFailed;
  std::vector<StepRecord> steps;
  nlohmann::json metrics = nlohmann::json::object();  ///< {"validation": {...}, "test": {...}}
  GateResult gate;
  bool gate_evaluated = false;
  nlohmann::json artifacts = nlohmann::json::object();  ///< name -> path
  nlohmann::json registered;  ///< the model version the register step created, if any
  nlohmann::json deployment;  ///< the deployment the deploy step started, if any
  std::string artifact_dir;
  Status error;  ///< why the run failed (OK when it succeeded or only the gate failed)
  double seconds = 0;

  /// The document `fraudops run --json` prints and run.json holds.
  nlohmann::json ToJson() const;
};

/// The source options the configuration describes (label, missing markers, delimiter,
/// SQLite table or query, synthetic size and seed); shared by `run` and `data inspect`.
Result<SourceOptions> SourceOptionsFrom(const Config& config);

/// What a person says of a run when starting it (fraudops run --name, --tag, --note), kept
/// with the run as tags (kRunNameTag, kRunNoteTag and theirs).
struct RunAnnotations {
  std::string name, note;
  std::map<std::string, std::string> tags;
};

/// What in `config` would stop a run, found before any data is read or anything written:
/// the gate's settings, the algorithm and its configured parameters (names, bounds) and, with
/// tune.enabled, the study's options (search space, strategy, pruner, objective, counts).
/// RunPipeline checks it first; the CLI checks it with the rest of the configuration.
Status CheckPipelineConfig(const Config& config);

/// Runs the whole pipeline, or its steps up to and including `stop_after` (a step's name;
/// `fraudops tune` stops after "tune"): the later steps are skipped and the run succeeds.
/// Never throws; a failure is reported in the result.
RunResult RunPipeline(const Config& config, const Context& context,
                      const RunAnnotations& annotations = {}, const std::string& stop_after = "");

}  // namespace fraudops
