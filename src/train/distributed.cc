#include "train/distributed.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "core/files.h"
#include "core/mutex.h"
#include "core/strings.h"
#include "data/dataset_file.h"
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

Result<HyperParameters> ParamsFromJson(const std::string& path) {
  FOPS_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) return Status::DataError(path + ": not the leader's parameters (JSON)");
  HyperParameters params;
  for (const auto& [name, entry] : json.items()) {
    if (!entry.is_object() || !entry.contains("value"))
      return Status::DataError(path + ": parameter '" + name + "' has no value");
    params[name] = {entry["value"], entry.value("origin", "leader")};
  }
  return params;
}

/// The rows of `dataset` this worker takes.
Dataset Slice(const Dataset& dataset, int rank, int world_size) {
  const auto [begin, end] = WorkerSlice(dataset.rows(), rank, world_size);
  std::vector<uint32_t> rows(end - begin);
  for (size_t i = begin; i < end; ++i) rows[i - begin] = static_cast<uint32_t>(i);
  return dataset.Take(rows);
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

}  // namespace

std::pair<size_t, size_t> WorkerSlice(size_t rows, int rank, int world_size) {
  const size_t n = static_cast<size_t>(world_size), r = static_cast<size_t>(rank);
  return {rows * r / n, rows * (r + 1) / n};
}

Result<std::unique_ptr<TrainedModel>> TrainOnWorkers(const std::string& algorithm,
                                                     const HyperParameters& params,
                                                     const DistributedOptions& options,
                                                     const Context& context) {
  TrainerRegistry trainers;
  RegisterBuiltinTrainers(trainers);
  FOPS_ASSIGN_OR_RETURN(const Trainer* trainer, trainers.Find(algorithm));
  if (options.workers < 2)
    return Status::InvalidArgument("distributed training needs 2 or more workers");
  std::error_code error;
  std::filesystem::create_directories(options.work_dir, error);
  if (error) return Status::IoError("cannot create " + options.work_dir + ": " + error.message());
  const std::string params_file = options.work_dir + "/params.json";
  FOPS_RETURN_IF_ERROR(WriteFileAtomic(params_file, ParamsJson(params).dump()));
  std::filesystem::remove(options.work_dir + "/model", error);
  std::filesystem::remove(options.work_dir + "/training.json", error);

  FOPS_ASSIGN_OR_RETURN(auto tracker, Tracker::Start({.host = options.host,
                                                      .world_size = options.workers,
                                                      .join_timeout = options.join_timeout,
                                                      .logger = context.logger}));
  context.logger->Info("train", "training on workers",
                       {{"workers", options.workers},
                        {"tracker", options.host + ":" + std::to_string(tracker->port())}});
  const auto started = std::chrono::steady_clock::now();
  WorkerGroup group;
  for (int task = 0; task < options.workers; ++task) {
    std::vector<std::string> argv = {
        options.executable,
        "worker",
        "--config-json",
        tracker->WorkerConfig(std::to_string(task), options.link_timeout_seconds),
        "--algorithm",
        algorithm,
        "--params",
        params_file,
        "--train",
        options.train_file,
        "--out",
        options.work_dir,
        "--threads",
        std::to_string(options.threads_per_worker),
        "--seed",
        std::to_string(context.seed)};
    if (!options.validation_file.empty()) {
      argv.push_back("--valid");
      argv.push_back(options.validation_file);
    }
    FOPS_RETURN_IF_ERROR(
        group.Start(argv, options.work_dir + "/worker-" + std::to_string(task) + ".log"));
  }
  // The tracker ends when all workers shut down (or when one never came: then the others
  // are stopped too).
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
    for (const Tracker::Worker& worker : tracker->workers()) {
      if (worker.task_id == std::to_string(failed)) host = worker.host;
    }
    Status tracker_status = tracker->Wait();
    return Status::Internal(
        "worker " + std::to_string(failed) + " (rank " + std::to_string(failed) + ", host " + host +
        ") " + group.Ending(failed) + ": " + Tail(log, 3) +
        (tracker_status.ok() ? "" : " [tracker: " + tracker_status.message() + "]") +
        " (its log: " + log + ")");
  }
  tracker_watch.join();
  FOPS_RETURN_IF_ERROR(tracker->Wait());

  // Rank 0's result, loaded as if trained here.
  // A missing file reads as empty: the error below says what is missing.
  const std::string serialized = ReadFile(options.work_dir + "/model").value_or("");
  const nlohmann::json training = nlohmann::json::parse(
      ReadFile(options.work_dir + "/training.json").value_or(""), nullptr, false);
  if (serialized.empty() || !training.is_object()) {
    return Status::Internal("the workers finished but rank 0 left no model in " + options.work_dir);
  }
  FOPS_ASSIGN_OR_RETURN(std::unique_ptr<TrainedModel> model, trainer->Load(serialized));
  model->parameters = training["parameters"];
  model->rounds_trained = training["rounds_trained"];
  model->best_round = training["best_round"];
  model->early_stopping_metric = training["early_stopping_metric"];
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

Status RunWorker(const WorkerArgs& args, const Context& context) {
  FOPS_ASSIGN_OR_RETURN(HyperParameters params, ParamsFromJson(args.params_file));
  TrainerRegistry trainers;
  RegisterBuiltinTrainers(trainers);
  FOPS_ASSIGN_OR_RETURN(const Trainer* trainer, trainers.Find(args.algorithm));
  FOPS_ASSIGN_OR_RETURN(std::unique_ptr<Collective> collective, Collective::Join(args.config));
  const int rank = collective->rank(), world = collective->world_size();
  FOPS_ASSIGN_OR_RETURN(Dataset train_all, ReadDatasetFile(args.train_file));
  Dataset train = Slice(train_all, rank, world);
  train_all = Dataset();
  Dataset validation;
  if (!args.validation_file.empty()) {
    FOPS_ASSIGN_OR_RETURN(Dataset validation_all, ReadDatasetFile(args.validation_file));
    validation = Slice(validation_all, rank, world);
  }
  context.logger->Info("train", "worker training",
                       {{"rank", rank},
                        {"workers", world},
                        {"train_rows", train.rows()},
                        {"validation_rows", validation.rows()}});
  TrainInput input;
  input.train = &train;
  input.validation = args.validation_file.empty() ? nullptr : &validation;
  input.params = std::move(params);
  input.collective = collective.get();
  FOPS_ASSIGN_OR_RETURN(std::unique_ptr<TrainedModel> model, trainer->Train(input, context));
  if (rank == 0) {
    FOPS_ASSIGN_OR_RETURN(std::string serialized, model->Serialize());
    nlohmann::json history = nlohmann::json::array();
    for (const RoundMetrics& round : model->history) {
      history.push_back(
          {{"round", round.round}, {"train", round.train}, {"validation", round.validation}});
    }
    const nlohmann::json training = {{"parameters", model->parameters},
                                     {"rounds_trained", model->rounds_trained},
                                     {"best_round", model->best_round},
                                     {"early_stopping_metric", model->early_stopping_metric},
                                     {"history", history}};
    // The record first, the model last: the leader reads a model only once both are there.
    FOPS_RETURN_IF_ERROR(WriteFileAtomic(args.out_dir + "/training.json", training.dump()));
    FOPS_RETURN_IF_ERROR(WriteFileAtomic(args.out_dir + "/model", serialized));
  }
  return Status::Ok();
}

}  // namespace fraudops
