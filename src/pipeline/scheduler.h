#pragma once
/// The scheduler (docs/scheduling.md): starts pipeline runs on a cron schedule
/// (schedule.cron), when data changes (schedule.on_new_data, schedule.watch), and on
/// evidence from monitoring (drift and quality triggers, which the monitor module supplies).
/// Each check is one Tick at the clock's now:
///   1. cron: the scheduled times since the last one considered (kept in the metadata
///      store, so a restart knows what it missed); the latest, when on time, fires; missed
///      ones are skipped (recorded) or, with schedule.missed: catch_up, run once;
///   2. otherwise data, drift and quality triggers, in that order, unless a run finished
///      less than schedule.cooldown ago;
///   3. a firing takes the pipeline's run lock in the metadata store (at most one run per
///      pipeline at a time, across processes), runs the pipeline, and records the run in
///      the schedule history.
/// Continuous training: scheduled runs register what passes the gate (and the champion
/// check, when configured); with deploy.auto they deploy it as a canary, otherwise the
/// version waits for approval.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/context.h"
#include "core/cron.h"
#include "pipeline/pipeline.h"
#include "store/schedule_store.h"

namespace fraudops {

/// Where the scheduler reads the time; tests drive a manual one.
class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() = 0;
};

class SystemClock : public Clock {
 public:
  TimePoint Now() override { return std::chrono::system_clock::now(); }
};

/// A trigger that may start a run: its check returns why it fires, or nullopt.
struct Trigger {
  std::string name;  ///< data, drift, quality, …
  std::function<Result<std::optional<std::string>>(Clock::TimePoint now)> check;
};

/// The change of one watched thing: a fingerprint that changes when new data arrives.
/// Files: size and modification time; directories: the names and sizes of their files;
/// s3://BUCKET/PREFIX: the objects' keys and ETags; SQL sources: the table's row count.
Result<std::string> DataFingerprint(const std::string& what, const Config& config);

struct SchedulerOptions {
  Clock* clock = nullptr;         ///< required
  std::vector<Trigger> triggers;  ///< besides cron and data (drift, quality)
  /// Runs the pipeline with the configuration given (default: RunPipeline).
  std::function<RunResult(const Config&)> run;
  std::string holder;  ///< who holds the lock; default "<user>@<host> pid <pid>"
};

class Scheduler {
 public:
  Scheduler(const Config& config, MetadataStore& store, const Context& context,
            SchedulerOptions options);

  /// Checks the triggers once (at the clock's now) and runs the pipeline when one fires.
  /// Returns the history entries this tick wrote.
  Result<std::vector<ScheduleRunRecord>> Tick();
  /// One pass of a BackgroundWorker that runs the scheduler: a Tick (a failure is logged),
  /// then how long to wait until the next cron time or schedule.poll, whichever is sooner.
  std::chrono::steady_clock::duration Pass();
  /// The next cron time after `after` (nullopt without schedule.cron).
  std::optional<Clock::TimePoint> NextCron(Clock::TimePoint after) const;

  /// The configuration a scheduled run uses: the version registered pending unless
  /// deploy.auto, deployed as a canary when it is.
  static Config RunConfig(const Config& config);

 private:
  struct Firing {
    std::string trigger, reason;
    Clock::TimePoint scheduled_for;
  };
  /// The cron time due now, if on time or caught up; missed times skipped are recorded in
  /// `written`.
  Result<std::optional<Firing>> CheckCron(Clock::TimePoint now,
                                          std::vector<ScheduleRunRecord>* written);
  /// Data, then the other triggers, unless cooling down.
  Result<std::optional<Firing>> CheckTriggers(Clock::TimePoint now);
  Result<ScheduleRunRecord> Start(const std::string& trigger, const std::string& reason,
                                  Clock::TimePoint scheduled_for);
  Result<std::optional<std::string>> CheckData(Clock::TimePoint now);
  Result<bool> CoolingDown(Clock::TimePoint now);

  Config config_;
  ScheduleStore store_;
  Context context_;
  SchedulerOptions options_;
  std::optional<CronSchedule> cron_;
  std::chrono::seconds poll_{60}, cooldown_{3600}, lock_timeout_{6 * 3600};
};

}  // namespace fraudops
