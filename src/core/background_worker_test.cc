#include "core/background_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace fraudops {
namespace {

using std::chrono::milliseconds;

/// Collects error messages.
class RecordingSink : public LogSink {
 public:
  void Write(std::string_view, LogLevel level, std::string_view component, std::string_view message,
             const std::vector<LogField>&) override {
    MutexLock lock(&mutex_);
    if (level == LogLevel::kError)
      messages_.push_back(std::string(component) + ": " + std::string(message));
  }
  std::vector<std::string> messages() {
    MutexLock lock(&mutex_);
    return messages_;
  }

 private:
  Mutex mutex_;
  std::vector<std::string> messages_ GUARDED_BY(mutex_);
};

BackgroundWorker::Options Named(const char* name,
                                BackgroundWorker::Duration first_delay = BackgroundWorker::Duration{
                                    0}) {
  BackgroundWorker::Options options;
  options.name = name;
  options.first_delay = first_delay;
  return options;
}

/// Waits (polling, bounded) until `done` holds.
template <class F>
bool Eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

TEST(BackgroundWorkerTest, WakeRunsAPassAtOnceWhileIdle) {
  std::atomic<int> passes{0};
  BackgroundWorker worker(Named("test", BackgroundWorker::kIdle), [&] {
    passes.fetch_add(1);
    return BackgroundWorker::kIdle;
  });
  worker.Start();
  for (int i = 1; i <= 3; ++i) {
    worker.Wake();
    ASSERT_TRUE(Eventually([&] { return passes.load() >= i; }));
  }
  worker.Stop();
  EXPECT_EQ(passes.load(), 3);
}

TEST(BackgroundWorkerTest, RunsAgainAfterTheDelayThePassAsks) {
  std::atomic<int> passes{0};
  BackgroundWorker worker(Named("test"), [&] {
    passes.fetch_add(1);
    return std::chrono::duration_cast<BackgroundWorker::Duration>(milliseconds(1));
  });
  worker.Start();
  EXPECT_TRUE(Eventually([&] { return passes.load() >= 5; }));
}

TEST(BackgroundWorkerTest, AnExceptionIsLoggedAndTheWorkerGoesOn) {
  Logger logger(LogLevel::kDebug);
  auto sink = std::make_unique<RecordingSink>();
  RecordingSink* seen = sink.get();
  logger.AddSink(std::move(sink));
  std::atomic<int> passes{0};
  BackgroundWorker::Options options = Named("flaky", BackgroundWorker::kIdle);
  options.logger = &logger;
  BackgroundWorker worker(options, [&] {
    if (passes.fetch_add(1) == 0) throw std::runtime_error("disk on fire");
    return BackgroundWorker::kIdle;
  });
  worker.Start();
  worker.Wake();
  ASSERT_TRUE(Eventually([&] { return worker.passes() == 1; }));
  worker.Wake();
  ASSERT_TRUE(Eventually([&] { return worker.passes() == 2; }));
  worker.Stop();
  EXPECT_EQ(worker.failures(), 1u);
  ASSERT_EQ(seen->messages().size(), 1u);
  EXPECT_EQ(seen->messages()[0], "flaky: a pass failed: disk on fire");
}

TEST(BackgroundWorkerTest, StopRunsTheFinalPassOnceAndIsIdempotent) {
  std::atomic<int> final_passes{0}, passes{0};
  BackgroundWorker* self = nullptr;
  BackgroundWorker::Options options = Named("writer", BackgroundWorker::kIdle);
  options.final_pass = true;
  BackgroundWorker worker(options, [&] {
    passes.fetch_add(1);
    if (self->stopping()) final_passes.fetch_add(1);
    return BackgroundWorker::kIdle;
  });
  self = &worker;
  worker.Start();
  worker.Stop();
  worker.Stop();
  EXPECT_EQ(final_passes.load(), 1);
  EXPECT_EQ(passes.load(), 1);
}

TEST(BackgroundWorkerTest, AWorkerNeverStartedStillRunsItsFinalPass) {
  std::atomic<int> passes{0};
  BackgroundWorker::Options options = Named("writer");
  options.final_pass = true;
  BackgroundWorker worker(options, [&] {
    passes.fetch_add(1);
    return BackgroundWorker::kIdle;
  });
  worker.Stop();
  EXPECT_EQ(passes.load(), 1);
}

TEST(BackgroundWorkerTest, StopCallsOnStopToEndABlockingPass) {
  Mutex mutex;
  CondVar released(&mutex);
  bool release = false;
  std::atomic<bool> entered{false};
  BackgroundWorker::Options options = Named("blocking");
  options.on_stop = [&] {
    MutexLock lock(&mutex);
    release = true;
    released.SignalAll();
  };
  BackgroundWorker worker(options, [&] {
    MutexLock lock(&mutex);
    entered = true;
    while (!release) released.Wait();
    return BackgroundWorker::kIdle;
  });
  worker.Start();
  ASSERT_TRUE(Eventually([&] { return entered.load(); }));
  worker.Stop();  // returns only because on_stop released the pass
  EXPECT_EQ(worker.passes(), 1u);
}

}  // namespace
}  // namespace fraudops
