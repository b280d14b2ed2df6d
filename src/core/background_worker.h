#pragma once
/// The one kind of background job: a thread that runs a pass now and again. Every
/// background job of fraudops (the capture writer, shadow scoring, the rollout controller,
/// the serve-side monitor and scheduler) is a BackgroundWorker, so waking, stopping and
/// failing are written once:
///   - a pass runs after the delay the previous pass returned, or sooner when Wake() is
///     called (a Wake during a pass makes the next pass start at once);
///   - Stop() ends the waits, lets a pass in progress finish, runs one final pass when the
///     options ask for it (a writer's last flush), and joins the thread; it is idempotent
///     and the destructor calls it;
///   - an exception that escapes a pass is caught, logged with the worker's name and
///     counted; the worker waits as long as after its last successful pass and goes on.
///     No exception crosses the thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "core/logging.h"
#include "core/mutex.h"

namespace fraudops {

class BackgroundWorker {
 public:
  using Duration = std::chrono::steady_clock::duration;
  /// One pass; returns how long to wait before the next (kIdle: until woken).
  using Pass = std::function<Duration()>;
  /// A delay that means "until Wake() or Stop()".
  static constexpr Duration kIdle = std::chrono::hours(24 * 365);

  struct Options {
    std::string name;          ///< in logs: the component of its messages; the thread's name
    Logger* logger = nullptr;  ///< where failed passes are reported (null: not reported)
    bool final_pass = false;   ///< run one more pass after Stop() (stopping() is true in it)
    Duration first_delay{0};   ///< before the first pass
    /// Called by Stop() before it waits for the thread, for a pass that blocks on
    /// something other than this worker (e.g. a clock's wait).
    std::function<void()> on_stop;
  };

  BackgroundWorker(Options options, Pass pass);
  ~BackgroundWorker();
  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;

  /// Starts the thread (once).
  void Start();
  /// Makes the next pass run now (or right after the one in progress).
  void Wake();
  /// See the file comment. Safe from any thread but the worker's own.
  void Stop();
  /// True once Stop() was called: a long pass should return early.
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  /// Passes that ended with an exception.
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  /// Passes run to the end (failed ones too).
  uint64_t passes() const { return passes_.load(std::memory_order_relaxed); }

 private:
  void Loop();
  /// Runs the pass, catching what it throws; the delay it asked for, or the previous one.
  Duration RunPass(Duration previous);

  Options options_;
  Pass pass_;
  Mutex mutex_;
  CondVar wake_{&mutex_};
  bool woken_ GUARDED_BY(mutex_) = false;
  bool stop_ GUARDED_BY(mutex_) = false;
  bool joined_ GUARDED_BY(mutex_) = false;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> failures_{0}, passes_{0};
  std::thread thread_;
};

}  // namespace fraudops
