#include "pipeline/scheduler.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/hash.h"
#include "core/ids.h"
#include "core/s3.h"
#include "core/strings.h"
#include "data/sql.h"

namespace fraudops {

namespace fs = std::filesystem;

namespace {

bool StartsWithAny(const std::string& text, std::initializer_list<const char*> prefixes) {
  for (const char* prefix : prefixes) {
    if (StartsWith(text, prefix)) return true;
  }
  return false;
}

Result<std::string> SqlFingerprint(const std::string& uri, const Config& config) {
  std::unique_ptr<SqlConnection> db;
  if (StartsWithAny(uri, {"postgresql://", "postgres://"})) {
    FOPS_ASSIGN_OR_RETURN(db, OpenPostgres(uri));
  } else if (StartsWithAny(uri, {"mysql://", "mariadb://"})) {
    FOPS_ASSIGN_OR_RETURN(db, OpenMysql(uri));
  } else {
    FOPS_ASSIGN_OR_RETURN(
        db, OpenSqlite(StartsWith(uri, "sqlite:") ? uri.substr(7) : uri, /*read_only=*/true));
  }
  const PreprocessConfig& p = config.preprocess;
  const std::string sql = p.sql_query.empty()
                              ? "SELECT COUNT(*) FROM " + db->QuoteIdentifier(p.sql_table)
                              : "SELECT COUNT(*) FROM (" + p.sql_query + ") AS counted";
  FOPS_ASSIGN_OR_RETURN(SqlResult r, db->Query(sql));
  if (r.rows.empty())
    return Status::DataError("counting rows of " + db->Describe() + " returned nothing");
  return "rows " + AsText(r.rows[0][0]);
}

Result<std::string> S3Fingerprint(const std::string& uri) {
  FOPS_ASSIGN_OR_RETURN(S3Location where, ParseS3Uri(uri));
  FOPS_ASSIGN_OR_RETURN(S3Settings settings, S3Settings::FromEnvironment());
  S3Client client(settings);
  FOPS_ASSIGN_OR_RETURN(std::vector<std::string> keys, client.List(where));
  std::sort(keys.begin(), keys.end());
  std::string text;
  for (const std::string& key : keys) {
    FOPS_ASSIGN_OR_RETURN(S3ObjectInfo info, client.Head({where.bucket, key}));
    text += key + " " + info.etag + " " + std::to_string(info.size) + "\n";
  }
  return Sha256Hex(text);
}

Result<std::string> FileFingerprint(const std::string& path) {
  std::error_code error;
  fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status))
    return Status::NotFound("cannot watch " + path + ": it does not exist");
  std::string text;
  auto describe = [&](const fs::path& file) {
    std::error_code e;
    const auto size = fs::file_size(file, e);
    const auto written = fs::last_write_time(file, e).time_since_epoch().count();
    text += file.filename().string() + " " + std::to_string(size) + " " + std::to_string(written) +
            "\n";
  };
  if (fs::is_directory(status)) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(path, error)) {
      if (entry.is_regular_file() && entry.path().filename().string()[0] != '.')
        files.push_back(entry.path());
    }
    if (error) return Status::IoError("cannot list " + path + ": " + error.message());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) describe(file);
  } else {
    describe(path);
  }
  return Sha256Hex(text);
}

}  // namespace

Result<std::string> DataFingerprint(const std::string& what, const Config& config) {
  std::string uri = what;
  if (uri.empty() || uri == "synthetic") return std::string("synthetic");  // never changes
  if (uri == "s3")
    uri = "s3://" + config.preprocess.s3_bucket + "/" + config.preprocess.s3_raw_data_key;
  if (StartsWith(uri, "s3://")) return S3Fingerprint(uri);
  if (StartsWithAny(uri, {"postgresql://", "postgres://", "mysql://", "mariadb://", "sqlite:"}))
    return SqlFingerprint(uri, config);
  const std::string extension = ToLower(fs::path(uri).extension().string());
  if (extension == ".db" || extension == ".sqlite" || extension == ".sqlite3")
    return SqlFingerprint(uri, config);
  if (StartsWith(uri, "csv:") || StartsWith(uri, "fds:")) uri = uri.substr(4);
  return FileFingerprint(config.Resolve(uri));
}

Scheduler::Scheduler(const Config& config, MetadataStore& store, const Context& context,
                     SchedulerOptions options)
    : config_(config), store_(store), context_(context), options_(std::move(options)) {
  if (!config_.schedule.cron.empty()) {
    auto cron = CronSchedule::Parse(config_.schedule.cron);
    if (cron.ok()) cron_ = std::move(*cron);  // LoadConfig validated it
  }
  poll_ = std::chrono::seconds(ParseDurationSeconds(config_.schedule.poll).value_or(60));
  cooldown_ = std::chrono::seconds(ParseDurationSeconds(config_.schedule.cooldown).value_or(3600));
  lock_timeout_ =
      std::chrono::seconds(ParseDurationSeconds(config_.schedule.lock_timeout).value_or(6 * 3600));
  if (!options_.run) {
    options_.run = [context](const Config& run_config) { return RunPipeline(run_config, context); };
  }
  if (options_.holder.empty())
    options_.holder = CurrentActor() + " pid " + std::to_string(getpid());
}

Config Scheduler::RunConfig(const Config& config) {
  Config run = config;
  // A scheduled run never replaces production without the champion comparison, nor (with
  // deploy.auto) without a canary.
  run.register_.champion_gate = true;
  if (config.deploy.auto_) {
    run.register_.approval = "auto";
    run.deploy.enabled = true;
    run.deploy.strategy = "canary";
  } else {
    run.register_.approval = "manual";
  }
  return run;
}

std::optional<Clock::TimePoint> Scheduler::NextCron(Clock::TimePoint after) const {
  if (!cron_) return std::nullopt;
  return cron_->Next(after);
}

Result<bool> Scheduler::CoolingDown(Clock::TimePoint now) {
  FOPS_ASSIGN_OR_RETURN(auto last, store_.GetState(config_.global.pipeline_name, "last_run"));
  if (!last) return false;
  auto time = ParseUtcTime(*last);
  return time && now - *time < cooldown_;
}

Result<std::optional<std::string>> Scheduler::CheckData(Clock::TimePoint) {
  std::vector<std::string> watched = config_.schedule.watch;
  if (config_.schedule.on_new_data) watched.insert(watched.begin(), config_.preprocess.data_source);
  std::optional<std::string> reason;
  for (const std::string& what : watched) {
    FOPS_ASSIGN_OR_RETURN(std::string fingerprint, DataFingerprint(what, config_));
    const std::string name = "data:" + (what.empty() ? "synthetic" : what);
    FOPS_ASSIGN_OR_RETURN(auto previous, store_.GetState(config_.global.pipeline_name, name));
    if (previous && *previous != fingerprint && !reason)
      reason = "new data in " + RedactUrl(what.empty() ? "synthetic" : what);
    // The first look only records what is there; a change fires once.
    if (!previous || *previous != fingerprint) {
      FOPS_RETURN_IF_ERROR(store_.SetState(config_.global.pipeline_name, name, fingerprint));
    }
  }
  return reason;
}

Result<std::optional<Scheduler::Firing>> Scheduler::CheckCron(
    Clock::TimePoint now, std::vector<ScheduleRunRecord>* written) {
  const std::string& pipeline = config_.global.pipeline_name;
  FOPS_ASSIGN_OR_RETURN(auto last_text, store_.GetState(pipeline, "cron_last"));
  const std::optional<Clock::TimePoint> last = last_text ? ParseUtcTime(*last_text) : std::nullopt;
  if (!last) {
    // First start: times before now are not "missed".
    FOPS_RETURN_IF_ERROR(store_.SetState(pipeline, "cron_last", FormatUtc(now)));
    return std::optional<Firing>();
  }
  const std::vector<Clock::TimePoint> due = cron_->Between(*last, now, 100000);
  if (due.empty()) return std::optional<Firing>();
  FOPS_RETURN_IF_ERROR(store_.SetState(pipeline, "cron_last", FormatUtc(now)));
  const Clock::TimePoint latest = due.back();
  const bool on_time =
      now - latest <= std::max<std::chrono::seconds>(2 * poll_, std::chrono::seconds(120));
  const size_t missed = due.size() - (on_time ? 1 : 0);
  if (missed > 0 && config_.schedule.missed == "catch_up") {
    return std::optional<Firing>(Firing{"cron",
                                        "catch-up for " + std::to_string(missed) + " missed time" +
                                            (missed == 1 ? "" : "s") + " of '" + cron_->text() +
                                            "' (the last " +
                                            FormatUtc(on_time ? due[due.size() - 2] : latest) + ")",
                                        on_time ? latest : due[missed - 1]});
  }
  if (missed > 0) {
    ScheduleRunRecord skipped;
    skipped.id = NewUuidV7();
    skipped.pipeline = pipeline;
    skipped.trigger = "cron";
    skipped.reason = std::to_string(missed) + " time" + (missed == 1 ? "" : "s") + " of '" +
                     cron_->text() + "' missed while no scheduler ran, from " +
                     FormatUtc(due.front()) + " (schedule.missed: skip)";
    skipped.scheduled_for = FormatUtc(due[missed - 1]);
    skipped.started_at = skipped.finished_at = FormatUtc(now);
    skipped.status = RunStatus::kSkipped;
    FOPS_RETURN_IF_ERROR(store_.InsertRun(skipped));
    context_.logger->Warn("schedule", skipped.reason);
    written->push_back(std::move(skipped));
  }
  if (!on_time) return std::optional<Firing>();
  return std::optional<Firing>(
      Firing{"cron", "'" + cron_->text() + "' at " + FormatUtc(latest), latest});
}

Result<std::optional<Scheduler::Firing>> Scheduler::CheckTriggers(Clock::TimePoint now) {
  // Data triggers keep their fingerprints current even while cooling down, so data that
  // arrived during a run does not fire again for what that run already read.
  std::optional<std::string> data_reason;
  if (config_.schedule.on_new_data || !config_.schedule.watch.empty()) {
    FOPS_ASSIGN_OR_RETURN(data_reason, CheckData(now));
  }
  FOPS_ASSIGN_OR_RETURN(bool cooling, CoolingDown(now));
  if (cooling) return std::optional<Firing>();
  if (data_reason) return std::optional<Firing>(Firing{"data", *data_reason, now});
  for (const Trigger& trigger : options_.triggers) {
    Result<std::optional<std::string>> reason = trigger.check(now);
    if (!reason.ok()) {
      context_.logger->Error("schedule", "the " + trigger.name + " trigger could not be checked: " +
                                             reason.status().message());
      continue;
    }
    if (*reason) return std::optional<Firing>(Firing{trigger.name, **reason, now});
  }
  return std::optional<Firing>();
}

Result<std::vector<ScheduleRunRecord>> Scheduler::Tick() {
  const Clock::TimePoint now = options_.clock->Now();
  std::vector<ScheduleRunRecord> written;
  std::optional<Firing> fire;
  if (cron_) {
    FOPS_ASSIGN_OR_RETURN(fire, CheckCron(now, &written));
  }
  if (!fire) {
    FOPS_ASSIGN_OR_RETURN(fire, CheckTriggers(now));
  }
  if (!fire) return written;
  FOPS_ASSIGN_OR_RETURN(ScheduleRunRecord run,
                        Start(fire->trigger, fire->reason, fire->scheduled_for));
  written.push_back(std::move(run));
  return written;
}

Result<ScheduleRunRecord> Scheduler::Start(const std::string& trigger, const std::string& reason,
                                           Clock::TimePoint scheduled_for) {
  const Clock::TimePoint now = options_.clock->Now();
  const std::string& pipeline = config_.global.pipeline_name;
  ScheduleRunRecord run;
  run.id = NewUuidV7();
  run.pipeline = pipeline;
  run.trigger = trigger;
  run.reason = reason;
  run.scheduled_for = FormatUtc(scheduled_for);
  run.started_at = FormatUtc(now);
  std::string holder;
  FOPS_ASSIGN_OR_RETURN(bool locked, store_.TryLock(pipeline, options_.holder, FormatUtc(now),
                                                    FormatUtc(now + lock_timeout_), &holder));
  if (!locked) {
    run.status = RunStatus::kLocked;
    run.finished_at = run.started_at;
    run.error = "another run of " + pipeline + " is in progress (lock held by " + holder + ")";
    context_.logger->Warn("schedule", "not starting: " + run.error,
                          {{"trigger", trigger}, {"reason", reason}});
    FOPS_RETURN_IF_ERROR(store_.InsertRun(run));
    return run;
  }
  run.status = RunStatus::kRunning;
  FOPS_RETURN_IF_ERROR(store_.InsertRun(run));
  context_.logger->Info("schedule", "starting a run of " + pipeline,
                        {{"trigger", trigger}, {"reason", reason}});
  RunResult result = options_.run(RunConfig(config_));
  run.finished_at = FormatUtc(options_.clock->Now());
  run.status = result.status;
  run.execution_id = result.execution_id;
  if (result.registered.is_object()) {
    run.model = result.registered.value("model", "");
    run.version = result.registered.value("version", int64_t{0});
  }
  if (result.deployment.is_object()) {
    run.deployment =
        result.deployment.value("strategy", "") + " " + result.deployment.value("status", "");
  }
  if (!result.error.ok())
    run.error = result.error.message();
  else if (!result.gate.passed)
    run.error = Join(result.gate.reasons, "; ");
  Status recorded = store_.UpdateRun(run);
  Status stamped = store_.SetState(pipeline, "last_run", run.finished_at);
  Status unlocked = store_.Unlock(pipeline, options_.holder);
  FOPS_RETURN_IF_ERROR(recorded);
  FOPS_RETURN_IF_ERROR(stamped);
  FOPS_RETURN_IF_ERROR(unlocked);
  context_.logger->Info(
      "schedule", "run finished: " + std::string(RunStatusName(run.status)),
      {{"execution_id", run.execution_id}, {"trigger", trigger}, {"deployment", run.deployment}});
  return run;
}

std::chrono::steady_clock::duration Scheduler::Pass() {
  Result<std::vector<ScheduleRunRecord>> ticked = Tick();
  if (!ticked.ok()) context_.logger->Error("schedule", "tick failed: " + ticked.status().message());
  const Clock::TimePoint now = options_.clock->Now();
  Clock::TimePoint until = now + poll_;
  if (cron_) until = std::min(until, cron_->Next(now));
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::max(until - now, Clock::TimePoint::duration{0}));
}

}  // namespace fraudops
