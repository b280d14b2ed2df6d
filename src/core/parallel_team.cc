#include "core/parallel_team.h"

#include "core/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FOPS_CPU_RELAX() _mm_pause()
#else
#define FOPS_CPU_RELAX() std::this_thread::yield()
#endif

namespace fraudops {

namespace {
/// Pauses a helper spins for the next loop before it sleeps (roughly 50–200 µs).
constexpr int kSpins = 4000;
}  // namespace

ParallelTeam::ParallelTeam(int threads) {
  int count = ResolveThreads(threads);
  helpers_.reserve(static_cast<size_t>(count - 1));
  for (int i = 1; i < count; ++i) helpers_.emplace_back([this] { HelperLoop(); });
}

ParallelTeam::~ParallelTeam() {
  {
    std::lock_guard lock(sleep_mutex_);
    stopping_.store(true, std::memory_order_release);
    epoch_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  for (std::thread& helper : helpers_) helper.join();
}

void ParallelTeam::RunTasks() {
  for (size_t task = next_task_.fetch_add(1, std::memory_order_relaxed); task < tasks_;
       task = next_task_.fetch_add(1, std::memory_order_relaxed)) {
    (*body_)(task);
  }
}

void ParallelTeam::For(size_t tasks, const std::function<void(size_t)>& body) {
  if (tasks == 0) return;
  if (helpers_.empty() || tasks == 1) {
    for (size_t task = 0; task < tasks; ++task) body(task);
    return;
  }
  tasks_ = tasks;
  body_ = &body;
  next_task_.store(0, std::memory_order_relaxed);
  pending_helpers_.store(helpers_.size(), std::memory_order_relaxed);
  {
    // Under the mutex, so a helper between its last check and its wait cannot miss the bump.
    std::lock_guard lock(sleep_mutex_);
    epoch_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  RunTasks();
  // The helpers finish their last tasks: spin briefly (they usually are microseconds away),
  // then sleep until the last one wakes us, so a helper that is not getting a core (a busy
  // machine) does not make this thread burn the one it has.
  for (int spin = 0; spin < kSpins; ++spin) {
    if (pending_helpers_.load(std::memory_order_acquire) == 0) return;
    FOPS_CPU_RELAX();
  }
  std::unique_lock lock(sleep_mutex_);
  owner_sleeping_.store(true, std::memory_order_seq_cst);
  done_.wait(lock, [&] { return pending_helpers_.load(std::memory_order_seq_cst) == 0; });
  owner_sleeping_.store(false, std::memory_order_relaxed);
}

void ParallelTeam::HelperLoop() {
  // Epoch 0 is the one before any loop: a helper that starts late still sees the first bump.
  uint64_t seen = 0;
  while (true) {
    uint64_t now = seen;
    for (int spin = 0; spin < kSpins && (now = epoch_.load(std::memory_order_acquire)) == seen;
         ++spin) {
      FOPS_CPU_RELAX();
    }
    if (now == seen) {
      std::unique_lock lock(sleep_mutex_);
      wake_.wait(lock, [&] { return (now = epoch_.load(std::memory_order_acquire)) != seen; });
    }
    seen = now;
    if (stopping_.load(std::memory_order_acquire)) return;
    RunTasks();
    // The last helper wakes the owner if it went to sleep (seq_cst with the owner's flag: one
    // of the two sees the other's write).
    if (pending_helpers_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        owner_sleeping_.load(std::memory_order_seq_cst)) {
      { std::lock_guard lock(sleep_mutex_); }
      done_.notify_one();
    }
  }
}

}  // namespace fraudops
