#pragma once
/// `fraudops monitor run` and `fraudops schedule [history|next]` (docs/monitoring.md,
/// docs/scheduling.md), and the background loops `fraudops serve` runs when configured:
/// the periodic monitor (monitor.serve_interval) and the in-process scheduler
/// (schedule.in_serve).

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/config.h"
#include "core/logging.h"
#include "core/thread_pool.h"
#include "monitor/monitor.h"
#include "pipeline/scheduler.h"

namespace fraudops {

/// Adds the commands to `app`; the returned function runs the one that was parsed and
/// returns its exit code, or -1 when none of them was.
std::function<int()> AddMonitorCommands(CLI::App& app);

/// The monitor and scheduler threads of `fraudops serve`. Each opens its own connection to
/// the metadata store. Stop (or the destructor) ends them; a pipeline run in progress is
/// finished first.
class BackgroundJobs {
 public:
  BackgroundJobs(const Config& config, Logger& logger);
  ~BackgroundJobs();
  /// Starts what the configuration asks for; an error when the stores cannot be opened.
  Status Start();
  void Stop();
  /// The gauges of the latest monitor pass (for the server's /metrics).
  void WriteGauges(std::string& out);

 private:
  void MonitorLoop();

  Config config_;
  Logger& logger_;
  std::unique_ptr<ThreadPool> pool_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<MonitorReport> latest_;  // guarded by mutex_
  SystemClock clock_;
  std::thread monitor_thread_, schedule_thread_;
};

}  // namespace fraudops
