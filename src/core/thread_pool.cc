#include "core/thread_pool.h"

#include <memory>

namespace fraudops {

int ResolveThreads(int requested) {
  if (requested > 0) return requested;
  unsigned hardware = std::thread::hardware_concurrency();
  return hardware == 0 ? 1 : static_cast<int>(hardware);
}

ThreadPool::ThreadPool(int threads) {
  int count = ResolveThreads(threads);
  workers_.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    MutexLock lock(&mutex_);
    stopping_ = true;
  }
  wake_.SignalAll();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::WorkerLoop() {
  while (true) {
    std::function<void()> task;
    {
      MutexLock lock(&mutex_);
      while (!stopping_ && queue_.empty()) wake_.Wait();
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop();
    }
    task();
  }
}

void ThreadPool::ParallelFor(size_t tasks, const std::function<void(size_t)>& body) {
  if (tasks == 0) return;
  if (tasks == 1) {
    body(0);
    return;
  }
  // The completion state is shared with the tasks: the last task may still be inside
  // notify_all when the caller, woken, returns; the state must outlive both.
  struct Completion {
    explicit Completion(size_t tasks) : remaining(tasks) {}
    Mutex mutex;
    CondVar done{&mutex};
    size_t remaining GUARDED_BY(mutex);
  };
  auto completion = std::make_shared<Completion>(tasks);
  {
    MutexLock lock(&mutex_);
    for (size_t i = 0; i < tasks; ++i) {
      queue_.push([completion, &body, i] {
        body(i);
        MutexLock done_lock(&completion->mutex);
        if (--completion->remaining == 0) completion->done.SignalAll();
      });
    }
  }
  wake_.SignalAll();
  MutexLock lock(&completion->mutex);
  while (completion->remaining != 0) completion->done.Wait();
}

}  // namespace fraudops
