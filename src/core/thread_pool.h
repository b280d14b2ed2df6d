#pragma once
/// A fixed pool of worker threads and a blocking ParallelFor over index ranges. Tasks must
/// not throw; they report failures through the Status they write to their own slot.

#include <cstddef>
#include <functional>
#include <queue>
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

/// The number of threads `requested` resolves to (<= 0: hardware concurrency, at least 1).
int ResolveThreads(int requested);

}  // namespace fraudops
