#pragma once
/// A team of threads for fine-grained parallel loops, as OpenMP runs them: the caller and
/// `threads - 1` helpers share each loop's tasks; between loops the helpers spin briefly, then
/// sleep, so a loop of a few microseconds' work costs about a microsecond to start (the
/// ThreadPool's queue and condition variables cost tens). The owner waiting for the helpers
/// to finish a loop spins as briefly, then sleeps: nobody spins for long on a machine where
/// a thread is not getting a core. For the trainer's thousands of small loops per model; a
/// team belongs to one owner thread, which alone calls For.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fraudops {

class ParallelTeam {
 public:
  /// `threads` <= 0: one per hardware thread.
  explicit ParallelTeam(int threads);
  ~ParallelTeam();
  ParallelTeam(const ParallelTeam&) = delete;
  ParallelTeam& operator=(const ParallelTeam&) = delete;

  int size() const { return static_cast<int>(helpers_.size()) + 1; }

  /// Runs `body(task)` for every task in [0, tasks) and returns when all are done. Tasks are
  /// taken in any order by any thread: each must write only its own outputs. `body` must not
  /// throw.
  void For(size_t tasks, const std::function<void(size_t)>& body);

 private:
  void HelperLoop();
  void RunTasks();

  std::atomic<uint64_t> epoch_{0};  ///< bumped per loop (release); helpers wait for a change
  std::atomic<size_t> next_task_{0};
  std::atomic<size_t> pending_helpers_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> owner_sleeping_{false};            ///< the owner waits on done_
  size_t tasks_ = 0;                                   ///< published by epoch_
  const std::function<void(size_t)>* body_ = nullptr;  ///< published by epoch_
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> helpers_;
};

}  // namespace fraudops
