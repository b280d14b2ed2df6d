#pragma once
/// The tracker of a distributed training run (docs/distributed-training.md): the rendezvous
/// that the workers of libxgboost's collective (Rabit, XGBoost 1.7: XGCommunicatorInit with
/// DMLC_TRACKER_URI and DMLC_TRACKER_PORT) connect to. It gives each worker its rank — by task
/// id, so a given partitioning always gives the same ranks — and tells it its neighbours in
/// the tree and the ring the collective reduces over, and where they listen; then it waits
/// for every worker's shutdown. The protocol is the one XGBoost's own Python tracker speaks
/// (native 32-bit integers, strings as a length and bytes); a test proves it against
/// python3-xgboost's workers.
///
/// Every exchange with a worker is bounded (io_timeout), and so is the wait for all workers
/// to join (join_timeout): a tracker never hangs on a worker that died or never came, and its
/// error names which did not.

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/logging.h"
#include "core/mutex.h"
#include "core/status.h"

namespace fraudops {

struct TrackerOptions {
  std::string host = "127.0.0.1";  ///< the IPv4 address it listens on, as workers reach it
  int port = 0;                    ///< 0: a free port
  int world_size = 1;              ///< how many workers take part
  std::chrono::milliseconds join_timeout{60000};  ///< until every worker has started
  std::chrono::milliseconds io_timeout{10000};    ///< one exchange with one worker
  Logger* logger = nullptr;  ///< workers' print messages and the tracker's progress
  /// What `fraudops worker --tracker HOST:PORT --rank R` asks for before it joins (a JSON
  /// object: the algorithm, parameters, data, …); the tracker adds "config", the worker's
  /// WorkerConfig for task R with `link_timeout_seconds`. Empty: such requests are refused.
  std::string job = {};
  int link_timeout_seconds = 300;
};

/// A fraudops worker's open connection to its tracker while it lives (closed by the kernel
/// when the process dies): the tracker names the worker that vanished. Opened once the job
/// is fetched; a tracker that is not fraudops' (or has gone) leaves it empty.
class WorkerLiveness {
 public:
  static WorkerLiveness Open(const std::string& host, int port, int task);
  WorkerLiveness() = default;
  WorkerLiveness(WorkerLiveness&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  WorkerLiveness& operator=(WorkerLiveness&&) = delete;
  ~WorkerLiveness();

 private:
  explicit WorkerLiveness(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/// Sends `message` to the tracker at host:port to be logged by its leader (the `print`
/// command of the tracker protocol), as task `task`; bounded by `io_timeout`.
Status PrintToTracker(const std::string& host, int port, int task, const std::string& message,
                      std::chrono::milliseconds io_timeout = std::chrono::seconds(2));

/// Asks the tracker at host:port (an IPv4 address or a name) for the job of task `task`
/// (TrackerOptions::job with its "config"); resolution and connection are retried until
/// `timeout` (the tracker may start later than the worker), each exchange bounded by
/// `io_timeout`.
Result<std::string> FetchTrackerJob(
    const std::string& host, int port, int task, std::chrono::milliseconds timeout,
    std::chrono::milliseconds io_timeout = std::chrono::seconds(10));

/// The rank layout the tracker hands out: a binary tree over ranks (parent (r+1)/2-1) and a
/// ring that follows the tree's depth-first order, renumbered so that the ring is 0, 1, …,
/// n-1 (each rank's ring neighbours are rank±1). Exposed for tests.
struct RabitLinks {
  std::vector<std::vector<int>> tree;     ///< per rank: its tree neighbours (parent, children)
  std::vector<int> parent;                ///< per rank: -1 for the root
  std::vector<std::pair<int, int>> ring;  ///< per rank: (previous, next)
};
RabitLinks MakeRabitLinks(int world_size);

class Tracker {
 public:
  /// Listens (errors: the address cannot be bound) and starts serving workers.
  static Result<std::unique_ptr<Tracker>> Start(TrackerOptions options);
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  const std::string& host() const { return options_.host; }
  int port() const { return port_; }
  /// What a worker passes to XGCommunicatorInit (JSON), for the worker of `task_id`.
  std::string WorkerConfig(const std::string& task_id, int timeout_seconds) const;

  /// Until every worker has started and shut down: OK; or why not (workers that did not join
  /// in time, by task id; a worker that broke the protocol, by address; cancelled).
  Status Wait();
  /// Stops serving (the run failed elsewhere); Wait returns Cancelled.
  void Cancel();

  struct Worker {
    int rank = -1;
    std::string task_id;
    std::string host;  ///< the address it connected from (where its peers reach it)
  };
  /// The workers that have a rank, by rank.
  std::vector<Worker> workers() const;
  /// fraudops workers whose liveness connection (WorkerLiveness) closed before they shut
  /// down — died, or cut off — in the order the tracker saw it: the first is the likely cause
  /// of a failed run. `rank` is -1 for one that had not joined yet.
  std::vector<Worker> lost() const;

 private:
  Tracker(TrackerOptions options, int listen_fd, int port, int wake_fd);
  void Serve();
  Status ServeLoop();
  /// The job (TrackerOptions::job) for task `task_id`, or {"error": why not}.
  std::string JobFor(const std::string& task_id) const;

  const TrackerOptions options_;
  const int listen_fd_, port_, wake_fd_;
  mutable Mutex mutex_;
  std::vector<Worker> workers_ GUARDED_BY(mutex_);
  std::vector<Worker> lost_ GUARDED_BY(mutex_);
  bool done_ GUARDED_BY(mutex_) = false;
  Status result_ GUARDED_BY(mutex_);
  CondVar done_changed_;
  std::thread thread_;
};

}  // namespace fraudops
