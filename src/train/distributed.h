#pragma once
/// Training on several worker processes (docs/distributed-training.md). The leader writes
/// nothing new: the training and validation splits are dataset files already (the
/// pipeline's processed/*.fds); it starts a tracker (train/tracker.h) and N processes of
/// `fraudops worker`, each of which joins the collective (train/collective.h), takes its
/// contiguous slice of rows of both files — rank r of N the rows [r·n/N, (r+1)·n/N) — and
/// trains (or, with sharded reading, reads only its part of each data source, the parts
/// brought to one schema through the collective: data/parts.h): xgboost's `hist` reduces its
/// quantile sketch, histograms and metrics over all workers through libxgboost; the `lgbm` trainer
/// gathers its bin sample and sums its histograms through the same collective (data-parallel).
/// Either way every worker grows the same trees and decides early stopping the same way. Rank 0
/// writes the model and the training record; the leader loads them as if it had trained in-process.
/// A worker that fails fails the run, naming its rank and its last log lines; the others are
/// stopped.

#include <chrono>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/context.h"
#include "core/status.h"
#include "train/trainer.h"

namespace fraudops {

class Collective;

/// What each worker of a run that reads in parts does with its part besides training
/// (`stages` of the job; the pipeline's sharded runs: pipeline/sharded.h). RunWorker calls
/// Prepare after reading, trains on what it leaves, then calls Finish; every worker calls
/// them together, so they may use the collective.
class PartStages {
 public:
  virtual ~PartStages() = default;
  /// Turns this worker's part, as read, into its training and validation rows. false: the
  /// run stops before training on every worker (the stages decide it identically on all),
  /// rank 0 having written `stopped.json` (why) into the job's out_dir.
  virtual Result<bool> Prepare(Dataset part, Collective& collective, Dataset& train,
                               Dataset& validation) = 0;
  /// After training, with the trained model and this worker's validation rows (e.g. scores
  /// held-out rows; rank 0 writes what the leader reads into the job's out_dir).
  virtual Status Finish(const TrainedModel& model, const Dataset& validation,
                        Collective& collective) = 0;
};

struct DistributedOptions {
  int workers = 2;         ///< in all
  int remote_workers = 0;  ///< of them, joining from elsewhere (the highest ranks)
  int tracker_port = 0;    ///< 0: a free port
  int retries = 0;         ///< times a failed group is started again from scratch
  std::string executable;  ///< the fraudops binary (the workers run `<executable> worker …`)
  std::string work_dir;    ///< the workers' logs and rank 0's result
  std::string train_file, validation_file;  ///< dataset files (.fds); validation may be empty
  /// Sharded reading instead of files: each worker reads its part of these data sources
  /// (SourceRegistry::LoadPart) with these options (SourceOptionsJson).
  std::string train_source, validation_source;
  nlohmann::json source_options;
  /// Sharded reading without a validation source: each worker splits this share of its part
  /// off for validation, by `split_method` (stratified, time by `time_column`; SplitPart).
  double validation_share = 0;
  std::string split_method = "stratified", time_column;
  /// Sharded reading: what the workers' PartStages take (null: none; they train on their part).
  nlohmann::json stages;
  std::string host = "127.0.0.1";          ///< the tracker's address, as workers reach it
  std::chrono::seconds join_timeout{120};  ///< every worker must have joined by then
  int link_timeout_seconds = 300;          ///< a collective call that waits longer fails the worker
  int threads_per_worker = 1;
};

/// Trains `algorithm` with `params` on `options.workers` local worker processes. With
/// `options.stages`, null when the workers' stages stopped the run before training (rank 0's
/// `stopped.json` in work_dir says why).
Result<std::unique_ptr<TrainedModel>> TrainOnWorkers(const std::string& algorithm,
                                                     const HyperParameters& params,
                                                     const DistributedOptions& options,
                                                     const Context& context);

/// One worker's job, as the leader's tracker hands it out (`fraudops worker --tracker
/// HOST:PORT --rank R` asks for it, the leader's own workers too).
struct WorkerJob {
  std::string config;  ///< Tracker::WorkerConfig's JSON for this worker's task
  std::string algorithm;
  HyperParameters params;
  std::string train_file, validation_file;  ///< dataset files, as the leader names them
  /// Sharded reading: the sources this worker reads its part of, and how (SourceOptionsJson).
  std::string train_source, validation_source;
  nlohmann::json source_options;
  double validation_share = 0;  ///< split off each worker's part (SplitPart)
  std::string split_method, time_column;
  nlohmann::json stages;  ///< for the PartStages the worker makes of them (null: none)
  std::string out_dir;    ///< where rank 0 writes the model
  int threads = 1;
  uint64_t seed = 42;
  std::string tracker_host;  ///< where the job came from (the worker's liveness connection)
  int tracker_port = 0, task = 0;
};

/// Fetches the job of rank `rank` from the tracker at `tracker` ("IPv4:PORT"), trying to
/// connect until `timeout`.
Result<WorkerJob> FetchWorkerJob(const std::string& tracker, int rank,
                                 std::chrono::milliseconds timeout);

/// Joins, trains on this worker's slice, and (rank 0) writes `model` and `training.json`
/// into out_dir. With sharded reading, `stages` (when given) prepare the part and finish.
Status RunWorker(const WorkerJob& job, const Context& context, PartStages* stages = nullptr);

/// Rows [begin, end) of `rows` that rank `rank` of `world_size` takes.
std::pair<size_t, size_t> WorkerSlice(size_t rows, int rank, int world_size);

}  // namespace fraudops
