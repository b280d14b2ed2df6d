#include "core/background_worker.h"

#include <pthread.h>

#include <exception>
#include <string>

namespace fraudops {

BackgroundWorker::BackgroundWorker(Options options, Pass pass)
    : options_(std::move(options)), pass_(std::move(pass)) {}

BackgroundWorker::~BackgroundWorker() { Stop(); }

void BackgroundWorker::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    // The thread's name in top -H and /proc/PID/task/*/comm: at most 15 bytes.
    if (!options_.name.empty())
      pthread_setname_np(pthread_self(), options_.name.substr(0, 15).c_str());
    Loop();
  });
}

void BackgroundWorker::Wake() {
  {
    MutexLock lock(&mutex_);
    if (woken_) return;  // signalled already, not yet seen by the worker
    woken_ = true;
  }
  // Signalled once the lock is let go: a worker woken onto this core would otherwise run
  // at once, find the lock still held and sleep on it again (two more context switches).
  wake_.Signal();
}

void BackgroundWorker::Stop() {
  {
    MutexLock lock(&mutex_);
    if (joined_) return;
    joined_ = true;
    stop_ = true;
    stopping_.store(true, std::memory_order_release);
    wake_.SignalAll();
  }
  if (options_.on_stop) options_.on_stop();
  if (thread_.joinable()) {
    thread_.join();
  } else if (options_.final_pass) {
    RunPass(Duration{0});  // never started: the final pass still runs, on this thread
  }
}

BackgroundWorker::Duration BackgroundWorker::RunPass(Duration previous) {
  try {
    Duration next = pass_();
    passes_.fetch_add(1, std::memory_order_relaxed);
    return next;
  } catch (const std::exception& e) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    passes_.fetch_add(1, std::memory_order_relaxed);
    if (options_.logger)
      options_.logger->Error(options_.name, std::string("a pass failed: ") + e.what());
  } catch (...) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    passes_.fetch_add(1, std::memory_order_relaxed);
    if (options_.logger)
      options_.logger->Error(options_.name, "a pass failed with an unknown exception");
  }
  return previous;
}

void BackgroundWorker::Loop() {
  Duration delay = options_.first_delay;
  Duration last_asked = std::chrono::seconds(1);
  while (true) {
    {
      MutexLock lock(&mutex_);
      // A deadline far away stays representable: the steady clock counts nanoseconds.
      const auto deadline = std::chrono::steady_clock::now() + std::min(delay, kIdle);
      while (!woken_ && !stop_) {
        if (!wake_.WaitUntil(deadline)) break;
      }
      woken_ = false;
      if (stop_) break;
    }
    delay = RunPass(last_asked);
    last_asked = delay;
  }
  if (options_.final_pass) RunPass(Duration{0});
}

}  // namespace fraudops
