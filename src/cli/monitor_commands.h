#pragma once
/// `fraudops monitor run` and `fraudops schedule [history|next]` (docs/monitoring.md,
/// docs/scheduling.md), and the background loops `fraudops serve` runs when configured:
/// the periodic monitor (monitor.serve_interval) and the in-process scheduler
/// (schedule.in_serve).

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "cli/common.h"
#include "core/background_worker.h"
#include "core/config.h"
#include "core/context.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "core/thread_pool.h"
#include "monitor/monitor.h"
#include "pipeline/scheduler.h"

namespace fraudops {

/// Adds the commands to `app`; the returned function runs the one that was parsed and
/// returns its exit code, or -1 when none of them was.
std::function<int()> AddMonitorCommands(CLI::App& app);

/// The monitor and scheduler workers of `fraudops serve` (BackgroundWorkers). Each opens its
/// own connection to the metadata store. Stop (or the destructor) ends them; a pipeline run
/// in progress is finished first.
class BackgroundJobs {
 public:
  BackgroundJobs(const Config& config, Logger& logger);
  ~BackgroundJobs();
  /// Starts what the configuration asks for; an error when the stores cannot be opened.
  Status Start();
  void Stop();
  /// The gauges of the latest monitor pass (for the server's /metrics).
  void WriteGauges(std::string& out) EXCLUDES(mutex_);

 private:
  /// One monitoring pass over every endpoint with a production model.
  void MonitorPass() EXCLUDES(mutex_);

  Config config_;
  Logger& logger_;
  std::unique_ptr<ThreadPool> pool_;
  // The monitor's (its worker's thread only, after Start).
  std::unique_ptr<AlertDispatcher> dispatcher_;
  Stores monitor_stores_;
  Mutex mutex_;
  std::vector<MonitorReport> latest_ GUARDED_BY(mutex_);
  // The scheduler's.
  Stores schedule_stores_;
  Context schedule_context_;
  SystemClock clock_;
  std::unique_ptr<Scheduler> scheduler_;
  // Declared last: stopped (joined) before what their passes use is destroyed.
  std::unique_ptr<BackgroundWorker> monitor_, schedule_;
};

}  // namespace fraudops
