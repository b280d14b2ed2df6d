#pragma once
/// A fixed pool of worker threads and a blocking ParallelFor over index ranges. Tasks must
/// not throw; they report failures through the Status they write to their own slot.

#include <cstddef>
#include <functional>
#include <queue>
#include <string_view>
#include <thread>
#include <vector>

#include "core/mutex.h"

namespace fraudops {

class ThreadPool {
 public:
  /// `threads` <= 0 means one per hardware thread.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }

  /// Runs `body(task_index)` for every index in [0, tasks) on the pool and waits for all.
  void ParallelFor(size_t tasks, const std::function<void(size_t)>& body) EXCLUDES(mutex_);

 private:
  void WorkerLoop() EXCLUDES(mutex_);

  Mutex mutex_;
  CondVar wake_{&mutex_};
  std::queue<std::function<void()>> queue_ GUARDED_BY(mutex_);
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::vector<std::thread> workers_;
};

/// The number of threads `requested` resolves to (<= 0: AvailableCores()).
int ResolveThreads(int requested);

/// The cores this process may use: the CPUs in its affinity mask (taskset, a container's
/// cpuset), capped by its cgroup's CPU quota (cgroup v2 cpu.max or v1 cfs_quota_us, rounded
/// up); at least 1. A good citizen on a shared machine starts no more threads than this.
int AvailableCores();
/// The cores a cgroup v2 cpu.max line allows ("150000 100000": 2, rounded up); 0 for "max …"
/// (no quota) or anything unreadable.
int CpuMaxCores(std::string_view cpu_max);

}  // namespace fraudops
