#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "core/strings.h"

namespace fraudops {

namespace {

/// A CPU quota and its period, in cores rounded up; 0 when unlimited ("max", -1) or unreadable.
int QuotaCores(const std::string& quota_text, const std::string& period_text) {
  char* end = nullptr;
  const double quota = std::strtod(quota_text.c_str(), &end);
  if (end == quota_text.c_str() || quota <= 0) return 0;  // "max" or -1: no quota
  const double period = std::strtod(period_text.c_str(), &end);
  if (end == period_text.c_str() || period <= 0) return 0;
  return std::max(1, static_cast<int>(std::ceil(quota / period)));
}

std::string FirstLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

/// The cgroup CPU quota of this process, in cores; 0 when there is none.
int CgroupQuotaCores() {
  // cgroup v2: the process's own cgroup (/proc/self/cgroup "0::/path"), else the root.
  std::string relative;
  {
    std::ifstream in("/proc/self/cgroup");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("0::", 0) == 0) relative = line.substr(3);
    }
  }
  for (const std::string& dir : {"/sys/fs/cgroup" + relative, std::string("/sys/fs/cgroup")}) {
    const std::string max = FirstLine((dir + "/cpu.max").c_str());
    if (!max.empty()) return CpuMaxCores(max);
  }
  // cgroup v1.
  return QuotaCores(FirstLine("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                    FirstLine("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
}

}  // namespace

int CpuMaxCores(std::string_view cpu_max) {
  const std::string text(Trim(cpu_max));
  const size_t space = text.find(' ');
  if (space == std::string::npos) return 0;
  return QuotaCores(text.substr(0, space), text.substr(space + 1));
}

int AvailableCores() {
  static const int cores = [] {
    int count = 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) count = CPU_COUNT(&set);
    if (count <= 0) count = static_cast<int>(std::thread::hardware_concurrency());
    if (const int quota = CgroupQuotaCores(); quota > 0) count = std::min(count, quota);
    return std::max(1, count);
  }();
  return cores;
}

int ResolveThreads(int requested) { return requested > 0 ? requested : AvailableCores(); }

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
