#include "train/distributed.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "core/files.h"
#include "core/mutex.h"
#include "core/strings.h"
#include "data/dataset_file.h"
#include "data/parts.h"
#include "data/source.h"
#include "data/split.h"
#include "train/collective.h"
#include "train/tracker.h"

namespace fraudops {

namespace {

/// The last `count` lines of a worker's log, for an error message.
std::string Tail(const std::string& path, size_t count) {
  const std::string text = ReadFile(path).value_or("");
  std::vector<std::string> lines = Split(text, '\n');
  while (!lines.empty() && Trim(lines.back()).empty()) lines.pop_back();
  std::string out;
  for (size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i)
    out += (out.empty() ? "" : " | ") + lines[i];
  return out;
}

nlohmann::json ParamsJson(const HyperParameters& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, param] : params)
    out[name] = {{"value", param.value}, {"origin", param.origin}};
  return out;
}

/// The worker processes: started with their logs in files, each waited for by a thread;
/// the first that fails stops the others.
class WorkerGroup {
 public:
  ~WorkerGroup() {
    StopAll();
    for (std::thread& waiter : waiters_) waiter.join();
  }

  Status Start(const std::vector<std::string>& argv, const std::string& log_file) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) return Status::IoError("cannot start a worker: " + std::string(strerror(errno)));
    if (pid == 0) {
      const int out = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    size_t index = 0;
    {
      MutexLock lock(&mutex_);
      index = pids_.size();
      pids_.push_back(pid);
      exits_.push_back(std::nullopt);
    }
    waiters_.emplace_back([this, pid, index] {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      MutexLock lock(&mutex_);
      exits_[index] = status;
      exit_order_.push_back(index);
      changed_.SignalAll();
    });
    return Status::Ok();
  }

  /// Until every worker exited (-1) or one failed: the index of the first to fail (the
  /// others may have failed because of it, or been stopped after it).
  int WaitForAll() {
    MutexLock lock(&mutex_);
    while (true) {
      for (size_t index : exit_order_) {
        if (!WIFEXITED(*exits_[index]) || WEXITSTATUS(*exits_[index]) != 0)
          return static_cast<int>(index);
      }
      if (exit_order_.size() == exits_.size()) return -1;
      changed_.Wait();
    }
  }

  /// How worker `index` ended, in words.
  std::string Ending(int index) {
    MutexLock lock(&mutex_);
    const int status = exits_[index].value_or(0);
    if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
    return "exited with code " + std::to_string(WEXITSTATUS(status));
  }

  void StopAll() {
    MutexLock lock(&mutex_);
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (!exits_[i]) ::kill(pids_[i], SIGKILL);
    }
  }

 private:
  Mutex mutex_;
  CondVar changed_{&mutex_};
  std::vector<pid_t> pids_ GUARDED_BY(mutex_);
  std::vector<std::optional<int>> exits_ GUARDED_BY(mutex_);
  std::vector<size_t> exit_order_ GUARDED_BY(mutex_);
  std::vector<std::thread> waiters_;
};

/// This worker's part of `uri`, in the one schema all workers' parts agree on (data/parts.h):
/// each reads its part, the parts' schemas are gathered, and all re-code into the unified
/// one — after reading again, with the columns some part read as text made categorical, when
/// the parts disagree on a type. Every worker takes the same decisions from the same
/// gathered schemas, so they stay in step. A part with no rows is an error naming it.
Result<LoadedData> ReadPartTogether(const SourceRegistry& sources, const std::string& uri,
                                    SourceOptions options, Collective& collective,
                                    const Context& context) {
  const int rank = collective.rank(), world = collective.world_size();
  for (int round = 0;; ++round) {
    FOPS_ASSIGN_OR_RETURN(LoadedData mine, sources.LoadPart(uri, options, rank, world, context));
    if (mine.dataset.rows() == 0) {
      return Status::DataError("worker " + std::to_string(rank) + "'s part (" +
                               std::to_string(rank + 1) + " of " + std::to_string(world) + ") of " +
                               uri + " holds no rows (" + mine.manifest.dump() +
                               "): use fewer workers or more data");
    }
    const std::string source =
        uri + " part " + std::to_string(rank + 1) + " of " + std::to_string(world);
    FOPS_ASSIGN_OR_RETURN(const std::string gathered,
                          collective.AllGather(PartSchema(mine.dataset, source).dump() + "\n"));
    std::vector<nlohmann::json> parts;
    for (const std::string& line : Split(gathered, '\n')) {
      if (!line.empty()) parts.push_back(nlohmann::json::parse(line, nullptr, false));
    }
    if (parts.size() != static_cast<size_t>(world)) {
      return Status::Internal("gathered " + std::to_string(parts.size()) + " part schemas of " +
                              uri + " from " + std::to_string(world) + " workers");
    }
    FOPS_ASSIGN_OR_RETURN(UnifiedSchema unified,
                          UnifyParts(parts, options.csv.table.numeric_label));
    if (unified.make_categorical.empty()) {
      RecodePart(mine.dataset, unified, static_cast<size_t>(rank));
      context.logger->Info("train", "read my part",
                           {{"data", uri},
                            {"rank", rank},
                            {"rows", mine.dataset.rows()},
                            {"part", mine.manifest.dump()}});
      return mine;
    }
    if (round > 0) {
      return Status::Internal("the parts of " + uri + " still disagree on the types of " +
                              Join(unified.make_categorical, ", "));
    }
    context.logger->Info("train", "parts disagree on column types; reading again",
                         {{"data", uri}, {"categorical", Join(unified.make_categorical, ", ")}});
    auto& forced = options.csv.table.categorical_columns;
    forced.insert(forced.end(), unified.make_categorical.begin(), unified.make_categorical.end());
  }
}

}  // namespace

std::pair<size_t, size_t> WorkerSlice(size_t rows, int rank, int world_size) {
  const size_t n = static_cast<size_t>(world_size), r = static_cast<size_t>(rank);
  return {rows * r / n, rows * (r + 1) / n};
}

namespace {

/// One attempt: a tracker, the local workers, the remote ones awaited; rank 0's model.
Result<std::unique_ptr<TrainedModel>> TrainOnce(const Trainer& trainer,
                                                const std::string& algorithm,
                                                const HyperParameters& params,
                                                const DistributedOptions& options,
                                                const Context& context) {
  std::error_code error;
  std::filesystem::remove(options.work_dir + "/model", error);
  std::filesystem::remove(options.work_dir + "/training.json", error);
  std::filesystem::remove(options.work_dir + "/stopped.json", error);
  const nlohmann::json job = {{"algorithm", algorithm},
                              {"params", ParamsJson(params)},
                              {"train_file", options.train_file},
                              {"validation_file", options.validation_file},
                              {"train_source", options.train_source},
                              {"validation_source", options.validation_source},
                              {"source_options", options.source_options},
                              {"validation_share", options.validation_share},
                              {"split_method", options.split_method},
                              {"time_column", options.time_column},
                              {"stages", options.stages},
                              {"out_dir", options.work_dir},
                              {"threads", options.threads_per_worker},
                              {"seed", context.seed}};
  FOPS_ASSIGN_OR_RETURN(auto tracker,
                        Tracker::Start({.host = options.host,
                                        .port = options.tracker_port,
                                        .world_size = options.workers,
                                        .join_timeout = options.join_timeout,
                                        .logger = context.logger,
                                        .job = job.dump(),
                                        .link_timeout_seconds = options.link_timeout_seconds}));
  const std::string address = options.host + ":" + std::to_string(tracker->port());
  const int local = options.workers - options.remote_workers;
  context.logger->Info(
      "train", "training on workers",
      {{"workers", options.workers}, {"local_workers", local}, {"tracker", address}});
  if (options.remote_workers > 0) {
    context.logger->Info(
        "train", "waiting for remote workers",
        {{"run_on_each_host", "fraudops worker --tracker " + address + " --rank R"},
         {"ranks", std::to_string(local) + ".." + std::to_string(options.workers - 1)},
         {"join_timeout_s", static_cast<long long>(options.join_timeout.count())}});
  }
  const auto started = std::chrono::steady_clock::now();
  WorkerGroup group;
  for (int task = 0; task < local; ++task) {
    std::vector<std::string> argv = {options.executable,  "worker", "--tracker", address, "--rank",
                                     std::to_string(task)};
    FOPS_RETURN_IF_ERROR(
        group.Start(argv, options.work_dir + "/worker-" + std::to_string(task) + ".log"));
  }
  // The tracker ends when all workers shut down (or when one never came: then the others
  // are stopped too). A remote worker that fails makes its local peers fail.
  std::thread tracker_watch([&] {
    if (!tracker->Wait().ok()) group.StopAll();
  });
  const int failed = group.WaitForAll();
  if (failed >= 0) {
    group.StopAll();
    tracker->Cancel();
    tracker_watch.join();
    const std::string log = options.work_dir + "/worker-" + std::to_string(failed) + ".log";
    std::string host = options.host;
    int rank = failed;
    for (const Tracker::Worker& worker : tracker->workers()) {
      if (worker.task_id == std::to_string(failed)) {
        host = worker.host;
        rank = worker.rank;
      }
    }
    Status tracker_status = tracker->Wait();
    // A worker on another host that vanished first is the cause; the local one failed on it.
    std::string first_lost;
    const std::vector<Tracker::Worker> lost = tracker->lost();
    if (!lost.empty() && lost.front().task_id != std::to_string(failed)) {
      first_lost = "worker " + lost.front().task_id + " (rank " +
                   std::to_string(lost.front().rank) + ", host " + lost.front().host +
                   ") disconnected before finishing (it died or was cut off); then ";
    }
    return Status::Internal(
        first_lost + "worker " + std::to_string(failed) + " (rank " + std::to_string(rank) +
        ", host " + host + ") " + group.Ending(failed) + ": " + Tail(log, 3) +
        (tracker_status.ok() ? "" : " [tracker: " + tracker_status.message() + "]") +
        " (its log: " + log + ")");
  }
  tracker_watch.join();
  FOPS_RETURN_IF_ERROR(tracker->Wait());

  // Rank 0's result (a local worker: task 0), loaded as if trained here.
  // A missing file reads as empty: the error below says what is missing.
  if (!options.stages.is_null() && std::filesystem::exists(options.work_dir + "/stopped.json"))
    return std::unique_ptr<TrainedModel>();  // the stages stopped the run before training
  const std::string serialized = ReadFile(options.work_dir + "/model").value_or("");
  const nlohmann::json training = nlohmann::json::parse(
      ReadFile(options.work_dir + "/training.json").value_or(""), nullptr, false);
  if (serialized.empty() || !training.is_object()) {
    return Status::Internal("the workers finished but rank 0 left no model in " + options.work_dir);
  }
  FOPS_ASSIGN_OR_RETURN(std::unique_ptr<TrainedModel> model, trainer.Load(serialized));
  model->parameters = training["parameters"];
  model->rounds_trained = training["rounds_trained"];
  model->best_round = training["best_round"];
  model->early_stopping_metric = training["early_stopping_metric"];
  model->shards = training.value("shards", nlohmann::json());
  model->data_fingerprint = training.value("data_fingerprint", "");
  model->schema = training.value("schema", nlohmann::json());
  for (const nlohmann::json& round : training["history"]) {
    model->history.push_back(
        {.round = round["round"],
         .train = round["train"].get<std::map<std::string, double>>(),
         .validation = round["validation"].get<std::map<std::string, double>>()});
  }
  model->parameters["workers"] = options.workers;
  model->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return model;
}

}  // namespace

Result<std::unique_ptr<TrainedModel>> TrainOnWorkers(const std::string& algorithm,
                                                     const HyperParameters& params,
                                                     const DistributedOptions& options,
                                                     const Context& context) {
  TrainerRegistry trainers;
  RegisterBuiltinTrainers(trainers);
  FOPS_ASSIGN_OR_RETURN(const Trainer* trainer, trainers.Find(algorithm));
  if (options.workers < 2)
    return Status::InvalidArgument("distributed training needs 2 or more workers");
  if (options.remote_workers < 0 || options.remote_workers >= options.workers) {
    return Status::InvalidArgument(
        "train.remote_workers = " + std::to_string(options.remote_workers) +
        ": at most train.instance_count - 1 = " + std::to_string(options.workers - 1) +
        " (rank 0, which writes the model, runs on this host)");
  }
  if (options.remote_workers > 0 && options.tracker_port == 0) {
    return Status::InvalidArgument(
        "train.remote_workers needs train.tracker_port: the port remote workers reach the "
        "tracker at (and train.tracker_host an address they can reach, not 127.0.0.1)");
  }
  std::error_code error;
  std::filesystem::create_directories(options.work_dir, error);
  if (error) return Status::IoError("cannot create " + options.work_dir + ": " + error.message());
  for (int attempt = 0;; ++attempt) {
    Result<std::unique_ptr<TrainedModel>> model =
        TrainOnce(*trainer, algorithm, params, options, context);
    if (model.ok() || attempt >= options.retries) {
      if (model.ok() && attempt > 0) (*model)->parameters["worker_attempts"] = attempt + 1;
      return model;
    }
    // Nothing of the failed attempt is kept: the next one starts from the data files.
    context.logger->Warn("train", "the worker group failed; starting it again from scratch",
                         {{"attempt", attempt + 1},
                          {"of", options.retries + 1},
                          {"error", model.status().message()}});
  }
}

Result<WorkerJob> FetchWorkerJob(const std::string& tracker, int rank,
                                 std::chrono::milliseconds timeout) {
  const size_t colon = tracker.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      std::from_chars(tracker.data() + colon + 1, tracker.data() + tracker.size(), port).ec !=
          std::errc()) {
    return Status::InvalidArgument("--tracker '" + tracker +
                                   "': expected HOST:PORT (the leader's address and its "
                                   "train.tracker_port), e.g. 10.0.0.5:9091");
  }
  FOPS_ASSIGN_OR_RETURN(const std::string text,
                        FetchTrackerJob(tracker.substr(0, colon), port, rank, timeout));
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object())
    return Status::DataError("the tracker at " + tracker + " sent a job that is not JSON");
  if (json.contains("error")) {
    return Status::InvalidArgument("the tracker at " + tracker + " refused rank " +
                                   std::to_string(rank) + ": " + json.value("error", ""));
  }
  WorkerJob job;
  job.tracker_host = tracker.substr(0, colon);
  job.tracker_port = port;
  job.task = rank;
  try {
    job.config = json.at("config").get<std::string>();
    job.algorithm = json.at("algorithm").get<std::string>();
    job.train_file = json.at("train_file").get<std::string>();
    job.validation_file = json.value("validation_file", "");
    job.train_source = json.value("train_source", "");
    job.validation_source = json.value("validation_source", "");
    job.source_options = json.value("source_options", nlohmann::json());
    job.validation_share = json.value("validation_share", 0.0);
    job.split_method = json.value("split_method", "stratified");
    job.time_column = json.value("time_column", "");
    job.stages = json.value("stages", nlohmann::json());
    job.out_dir = json.at("out_dir").get<std::string>();
    job.threads = json.value("threads", 1);
    job.seed = json.value("seed", uint64_t{42});
    for (const auto& [name, entry] : json.at("params").items())
      job.params[name] = {entry.at("value"), entry.value("origin", "leader")};
  } catch (const nlohmann::json::exception& e) {
    return Status::DataError("the job from the tracker at " + tracker +
                             " is incomplete: " + e.what());
  }
  return job;
}

Status RunWorker(const WorkerJob& job, const Context& context, PartStages* stages) {
  // Open while this process lives (closed after the collective's shutdown): if it dies, the
  // tracker names it.
  const WorkerLiveness alive = WorkerLiveness::Open(job.tracker_host, job.tracker_port, job.task);
  TrainerRegistry trainers;
  RegisterBuiltinTrainers(trainers);
  FOPS_ASSIGN_OR_RETURN(const Trainer* trainer, trainers.Find(job.algorithm));
  FOPS_ASSIGN_OR_RETURN(std::unique_ptr<Collective> collective, Collective::Join(job.config));
  const int rank = collective->rank(), world = collective->world_size();
  Dataset train, validation;
  nlohmann::json part;  // which rows of the data this worker trains on
  const bool has_validation = stages || !job.validation_file.empty() ||
                              !job.validation_source.empty() || job.validation_share > 0;
  if (!job.train_source.empty()) {
    FOPS_ASSIGN_OR_RETURN(SourceOptions options, SourceOptionsFromJson(job.source_options));
    SourceRegistry sources;
    RegisterBuiltinSources(sources);
    FOPS_ASSIGN_OR_RETURN(LoadedData mine, ReadPartTogether(sources, job.train_source, options,
                                                            *collective, context));
    part = {{"source", job.train_source}, {"part", std::move(mine.manifest)}};
    if (stages) {
      // The part as read is this worker's share of the data (its hash: the lineage's); the
      // stages make its training and validation rows.
      part["row_count"] = mine.dataset.rows();
      part["content_hash"] = mine.dataset.ContentHash();
      FOPS_ASSIGN_OR_RETURN(const bool go_on, stages->Prepare(std::move(mine.dataset), *collective,
                                                              train, validation));
      if (!go_on) return Status::Ok();
    } else if (train = std::move(mine.dataset); !job.validation_source.empty()) {
      FOPS_ASSIGN_OR_RETURN(LoadedData theirs, ReadPartTogether(sources, job.validation_source,
                                                                options, *collective, context));
      validation = std::move(theirs.dataset);
      if (validation.FeatureNames() != train.FeatureNames()) {
        return Status::DataError(job.validation_source + ": its feature columns (" +
                                 Join(validation.FeatureNames(), ", ") + ") differ from " +
                                 job.train_source + "'s (" + Join(train.FeatureNames(), ", ") +
                                 ")");
      }
      // One dictionary: the training data's categories code the validation data too.
      FOPS_RETURN_IF_ERROR(AlignCategories(train, validation, job.validation_source));
    } else if (job.validation_share > 0) {
      // Validation split off every part as one split of the whole would (data/split.h).
      const PartExchange exchange{
          .part = rank, .parts = world, .sum = [&](std::span<int64_t> values) {
            return collective->Sum(values);
          }};
      FOPS_ASSIGN_OR_RETURN(SplitIndices split,
                            SplitPart(train, job.split_method,
                                      {1.0 - job.validation_share, job.validation_share, 0.0},
                                      job.time_column, job.seed, exchange));
      validation = train.Take(split.validation);
      train = train.Take(split.train);
      part["split"] = {{"method", job.split_method},
                       {"validation_share", job.validation_share},
                       {"validation_rows", validation.rows()}};
    }
  } else {
    // Only this worker's rows of the leader's dataset files.
    auto read_slice = [&](const std::string& path, Dataset& out) -> Result<nlohmann::json> {
      FOPS_ASSIGN_OR_RETURN(std::unique_ptr<DatasetFileReader> reader,
                            DatasetFileReader::Open(path));
      const auto [begin, end] = WorkerSlice(reader->rows(), rank, world);
      FOPS_ASSIGN_OR_RETURN(out, ReadDatasetFileRows(*reader, begin, end));
      return nlohmann::json{{"file", path}, {"rows", {begin, end}}};
    };
    FOPS_ASSIGN_OR_RETURN(part, read_slice(job.train_file, train));
    if (!job.validation_file.empty()) {
      FOPS_RETURN_IF_ERROR(read_slice(job.validation_file, validation).status());
    }
  }
  context.logger->Info("train", "worker training",
                       {{"rank", rank},
                        {"workers", world},
                        {"train_rows", train.rows()},
                        {"validation_rows", validation.rows()}});
  TrainInput input;
  input.train = &train;
  input.validation = has_validation ? &validation : nullptr;
  input.params = job.params;
  input.collective = collective.get();
  // Rank 0 tells the leader how training goes: after the first round, then every 10 s (the
  // leader's log is otherwise silent until the model comes back).
  std::chrono::steady_clock::time_point last_report{};
  if (rank == 0) {
    input.on_round = [&](const RoundMetrics& round) {
      if (round.round > 0 &&
          std::chrono::steady_clock::now() - last_report < std::chrono::seconds(10))
        return true;
      last_report = std::chrono::steady_clock::now();
      std::string text = "round " + std::to_string(round.round + 1);
      // Without validation rows the trainers file the training set's metrics there.
      const std::string set = input.validation ? ", validation-" : ", train-";
      for (const auto& [metric, value] : round.validation)
        text += set + metric + " " + FormatDouble(value, 5);
      if (Status sent = PrintToTracker(job.tracker_host, job.tracker_port, job.task, text);
          !sent.ok()) {
        context.logger->Warn("train", "cannot tell the tracker how training goes",
                             {{"error", sent.message()}});
      }
      return true;
    };
  }
  FOPS_ASSIGN_OR_RETURN(std::unique_ptr<TrainedModel> model, trainer->Train(input, context));
  // Which rows each worker trained on, for the model's lineage: gathered on every worker.
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  nlohmann::json mine = {{"rank", rank}, {"host", host}};
  mine["row_count"] = train.rows();
  mine["content_hash"] = train.ContentHash();
  mine.update(part);
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);  // the worker's peak resident memory, KiB on Linux
  mine["peak_memory_mib"] = std::round(static_cast<double>(usage.ru_maxrss) / 102.4) / 10;
  FOPS_ASSIGN_OR_RETURN(const std::string shards, collective->AllGather(mine.dump() + "\n"));
  if (stages) FOPS_RETURN_IF_ERROR(stages->Finish(*model, validation, *collective));
  if (rank == 0) {
    FOPS_ASSIGN_OR_RETURN(std::string serialized, model->Serialize());
    nlohmann::json history = nlohmann::json::array();
    for (const RoundMetrics& round : model->history) {
      history.push_back(
          {{"round", round.round}, {"train", round.train}, {"validation", round.validation}});
    }
    nlohmann::json shard_list = nlohmann::json::array();
    std::vector<std::pair<size_t, std::string>> hashes;
    size_t rows = 0;
    for (const std::string& line : Split(shards, '\n')) {
      if (line.empty()) continue;
      shard_list.push_back(nlohmann::json::parse(line));
      hashes.emplace_back(shard_list.back()["row_count"].get<size_t>(),
                          shard_list.back()["content_hash"].get<std::string>());
      rows += hashes.back().first;
    }
    nlohmann::json schema = train.SchemaJson();
    schema["rows"] = rows;
    const nlohmann::json training = {{"parameters", model->parameters},
                                     {"shards", shard_list},
                                     {"data_fingerprint", CombinedContentHash(hashes)},
                                     {"schema", schema},
                                     {"rounds_trained", model->rounds_trained},
                                     {"best_round", model->best_round},
                                     {"early_stopping_metric", model->early_stopping_metric},
                                     {"history", history}};
    // The record first, the model last: the leader reads a model only once both are there.
    FOPS_RETURN_IF_ERROR(WriteFileAtomic(job.out_dir + "/training.json", training.dump()));
    FOPS_RETURN_IF_ERROR(WriteFileAtomic(job.out_dir + "/model", serialized));
  }
  return Status::Ok();
}

}  // namespace fraudops
