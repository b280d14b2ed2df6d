#include "cli/monitor_commands.h"

#include <signal.h>

#include <cstdio>
#include <filesystem>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "core/files.h"
#include "core/strings.h"
#include "store/schedule_store.h"
#include "store/serving_store.h"

namespace fraudops {

namespace {

namespace fs = std::filesystem;

struct MonitorArgs {
  std::string config_path, home;
  bool json = false;
  // monitor run
  std::string endpoint, window, at, labels;
  bool no_report = false;
  // schedule
  bool once = false;
  size_t limit = 20, count = 5;
};

/// The session with --home applied.
Result<std::unique_ptr<Session>> Open(const MonitorArgs& args) {
  FOPS_ASSIGN_OR_RETURN(auto session, OpenSession(args.config_path));
  if (!args.home.empty()) session->config.global.home = args.home;
  return session;
}

void PrintReport(const MonitorReport& report) {
  std::printf("endpoint %s  model %s  drift window %s .. %s  rows %llu%s\n",
              report.endpoint.c_str(), report.model.c_str(), report.drift_window.from.c_str(),
              report.drift_window.to.c_str(), static_cast<unsigned long long>(report.drift.rows),
              report.drift.judged ? "" : "  (too few rows: not judged)");
  std::printf("%-24s %9s %9s %9s %9s  %s\n", "column", "PSI", "limit", "KS", "limit", "");
  // Over no rows there is nothing to compare: "-" rather than a PSI of 0.
  const bool measured = report.drift.rows > 0;
  for (const ColumnDrift& c : report.drift.columns) {
    std::printf("%-24s %9s %9.4f %9s %9s  %s\n", c.name.c_str(),
                measured ? Fixed(c.psi, 4).c_str() : "-", c.psi_threshold,
                c.ks && measured ? FormatDouble(*c.ks, 4).c_str() : "-",
                c.ks ? FormatDouble(c.ks_threshold, 4).c_str() : "-", c.violated() ? "DRIFT" : "");
  }
  const QualityResult& q = report.quality;
  std::printf("quality window %s .. %s  predictions %llu  labelled %llu (%llu fraud)%s\n",
              q.window.from.c_str(), q.window.to.c_str(),
              static_cast<unsigned long long>(q.predictions),
              static_cast<unsigned long long>(q.labelled),
              static_cast<unsigned long long>(q.positives), q.judged ? "" : "  (not judged)");
  for (const char* metric : {"roc_auc", "pr_auc", "recall", "precision", "alert_rate"}) {
    auto value = q.metrics.find(metric);
    if (value != q.metrics.end() && value->is_number())
      std::printf("  %-10s %.4f\n", metric, value->get<double>());
  }
  if (report.scan.malformed_lines > 0) {
    std::printf("malformed capture lines: %llu (first: %s)\n",
                static_cast<unsigned long long>(report.scan.malformed_lines),
                report.scan.first_malformed.c_str());
  }
  std::printf("%zu alert%s", report.alerts.size(), report.alerts.size() == 1 ? "" : "s");
  if (!report.report_dir.empty()) std::printf("; report %s/report.html", report.report_dir.c_str());
  std::printf("\n");
}

int MonitorRun(const MonitorArgs& args) {
  auto session = Open(args);
  if (!session.ok()) return Fail(session.status());
  Config& config = (*session)->config;
  auto stores = OpenStoresFor(config, /*need_artifacts=*/true);
  if (!stores.ok()) return Fail(stores.status());
  MonitorOptions options;
  options.endpoint = args.endpoint.empty() ? config.deploy.endpoint_name : args.endpoint;
  options.labels_file = args.labels;
  options.write_report = !args.no_report;
  options.pool = (*session)->pool.get();
  if (!args.window.empty()) {
    auto seconds = ParseDurationSeconds(args.window);
    if (!seconds) {
      return Fail(Status::InvalidArgument("--window '" + args.window +
                                          "' is not a duration; accepted: e.g. 90s, 15m, 1h, 7d"));
    }
    options.window_seconds = *seconds;
  }
  if (!args.at.empty()) {
    auto at = ParseUtcTime(args.at);
    if (!at)
      return Fail(Status::InvalidArgument(
          "--at '" + args.at + "' is not an ISO 8601 time such as 2026-11-23T10:00:00Z"));
    options.now = *at;
  }
  auto report = RunMonitor(config, *stores->metadata, stores->artifacts.get(), options);
  if (!report.ok()) return Fail(report.status());
  MakeAlertDispatcher(config, (*session)->logger, /*deduplicate=*/false)
      ->Dispatch(report->alerts, options.now);
  if (args.json)
    PrintJson(report->ToJson());
  else
    PrintReport(*report);
  return report->alerts.empty() ? kExitOk : kExitAlerts;
}

/// The scheduler with its triggers; the stores must outlive it.
std::unique_ptr<Scheduler> MakeScheduler(const Config& config, MetadataStore& metadata,
                                         ArtifactStore* artifacts, const Context& context,
                                         Clock* clock) {
  SchedulerOptions options;
  options.clock = clock;
  if (config.schedule.on_drift)
    options.triggers.push_back(DriftTrigger(config, metadata, artifacts, context.pool));
  if (config.schedule.on_quality)
    options.triggers.push_back(QualityTrigger(config, metadata, artifacts, context.pool));
  return std::make_unique<Scheduler>(config, metadata, context, std::move(options));
}

bool NothingToSchedule(const Config& config) {
  return config.schedule.cron.empty() && !config.schedule.on_new_data &&
         config.schedule.watch.empty() && !config.schedule.on_drift && !config.schedule.on_quality;
}

/// The scheduler's runs as a table: when, why, what came of it, the pipeline run it started
/// (its id's first 13 characters: enough for runs show) and, under a run that did not
/// succeed, why not.
void PrintScheduleRuns(const std::vector<ScheduleRunRecord>& runs) {
  std::printf("%-24s %-8s %-11s %-13s %-24s %s\n", "scheduled for", "trigger", "status", "run",
              "model", "reason");
  for (const ScheduleRunRecord& run : runs) {
    const std::string model =
        run.model.empty() ? "-" : run.model + "@" + std::to_string(run.version);
    const std::string id = run.execution_id.empty() ? "-" : run.execution_id.substr(0, 13);
    std::printf("%-24s %-8s %-11s %-13s %-24s %s%s%s\n", run.scheduled_for.c_str(),
                run.trigger.c_str(), std::string(RunStatusName(run.status)).c_str(), id.c_str(),
                model.c_str(), run.reason.c_str(),
                run.deployment.empty() ? "" : "; deployed: ", run.deployment.c_str());
    if (!run.error.empty()) std::printf("    why: %s\n", run.error.c_str());
  }
}

int Schedule(const MonitorArgs& args) {
  auto session = Open(args);
  if (!session.ok()) return Fail(session.status());
  const Config& config = (*session)->config;
  if (NothingToSchedule(config)) {
    return Fail(Status::InvalidArgument(
        "nothing to schedule: set schedule.cron (CRON_SCHEDULE), schedule.on_new_data, "
        "schedule.watch, schedule.on_drift or schedule.on_quality"));
  }
  const fs::path home = fs::absolute(config.Resolve(config.global.home)).lexically_normal();
  if (Status made = MakeDirectories(home.string()); !made.ok()) return Fail(made);
  // The metadata store may not exist yet: the first scheduled run creates it.
  auto metadata = MetadataStore::Open(config.global.metadata_url, (home / "fraudops.db").string());
  if (!metadata.ok()) return Fail(metadata.status());
  auto artifacts = OpenArtifactStore(config.global.artifact_url, (home / "artifacts").string(),
                                     config.artifacts);
  if (!artifacts.ok()) return Fail(artifacts.status());
  SystemClock clock;
  auto scheduler = MakeScheduler(config, **metadata, artifacts->get(), (*session)->context, &clock);
  Logger& logger = (*session)->logger;
  if (args.once) {
    auto ticked = scheduler->Tick();
    if (!ticked.ok()) return Fail(ticked.status());
    nlohmann::json runs = nlohmann::json::array();
    for (const ScheduleRunRecord& run : *ticked) runs.push_back(run.ToJson());
    if (args.json)
      PrintJson(runs);
    else if (ticked->empty())
      std::printf("no trigger fired\n");
    else
      PrintScheduleRuns(*ticked);
    for (const ScheduleRunRecord& run : *ticked) {
      if (run.status == RunStatus::kFailed) return kExitInternal;
    }
    return kExitOk;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  BackgroundWorker::Options options;
  options.name = "schedule";
  options.logger = &logger;
  BackgroundWorker loop(options, [&] { return scheduler->Pass(); });
  loop.Start();
  auto next = scheduler->NextCron(clock.Now());
  logger.Info("schedule", "scheduler started",
              {{"pipeline", config.global.pipeline_name},
               {"cron", config.schedule.cron},
               {"next", next ? FormatUtc(*next) : std::string("-")}});
  int signal = 0;
  while (sigwait(&signals, &signal) != 0) {
  }
  logger.Info("schedule", "stopping (a run in progress finishes first)");
  loop.Stop();
  return kExitOk;
}

int ScheduleHistory(const MonitorArgs& args) {
  auto session = Open(args);
  if (!session.ok()) return Fail(session.status());
  auto stores = OpenStoresFor((*session)->config, /*need_artifacts=*/false);
  if (!stores.ok()) return Fail(stores.status());
  ScheduleStore store(*stores->metadata);
  auto history = store.History((*session)->config.global.pipeline_name, args.limit);
  if (!history.ok()) return Fail(history.status());
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const ScheduleRunRecord& run : *history) out.push_back(run.ToJson());
    PrintJson(out);
    return kExitOk;
  }
  PrintScheduleRuns(*history);
  return kExitOk;
}

int ScheduleNext(const MonitorArgs& args) {
  auto session = Open(args);
  if (!session.ok()) return Fail(session.status());
  const Config& config = (*session)->config;
  if (config.schedule.cron.empty())
    return Fail(Status::InvalidArgument("schedule.cron (CRON_SCHEDULE) is not set"));
  auto cron = CronSchedule::Parse(config.schedule.cron);
  if (!cron.ok()) return Fail(cron.status());
  nlohmann::json times = nlohmann::json::array();
  auto t = std::chrono::system_clock::now();
  for (size_t i = 0; i < args.count; ++i) {
    t = cron->Next(t);
    if (t == std::chrono::system_clock::time_point::max()) break;
    times.push_back(FormatUtc(t));
  }
  if (args.json) {
    PrintJson({{"cron", config.schedule.cron}, {"next", times}});
  } else {
    for (const auto& time : times) std::printf("%s\n", time.get<std::string>().c_str());
  }
  return kExitOk;
}

}  // namespace

std::function<int()> AddMonitorCommands(CLI::App& app) {
  auto args = std::make_shared<MonitorArgs>();
  auto common = [&](CLI::App* command) {
    command->add_option("--config", args->config_path,
                        "Configuration file (default: $FRAUDOPS_CONFIG or ./config.yml)");
    command->add_option("--home", args->home, "Workspace directory (overrides global.home)");
    command->add_flag("--json", args->json, "Print JSON");
  };
  auto* monitor = app.add_subcommand(
      "monitor", "Drift and model quality of a served endpoint (docs/monitoring.md).");
  monitor->require_subcommand(1);
  auto* run = monitor->add_subcommand(
      "run",
      "One monitoring pass: drift (PSI, KS) per feature and score over the last "
      "window of captured traffic, quality from delayed labels, alerts, report. "
      "Exit code 5 when it raised alerts.");
  common(run);
  run->add_option("--endpoint", args->endpoint, "Endpoint (default: deploy.endpoint_name)");
  run->add_option("--window", args->window,
                  "Drift window before now, e.g. 15m, 1h, 1d (default: monitor.window)");
  run->add_option("--at", args->at,
                  "Judge as of this UTC time instead of now, e.g. 2026-11-23T10:00:00Z");
  run->add_option("--labels", args->labels, "CSV of delayed labels: request_id,label[,label_time]");
  run->add_flag("--no-report", args->no_report, "Do not write report.json and report.html");

  auto* schedule = app.add_subcommand(
      "schedule",
      "Run the pipeline on a cron schedule, on new data, and on drift or quality "
      "alerts (docs/scheduling.md). Runs until SIGTERM.");
  common(schedule);
  schedule->add_flag("--once", args->once, "Check the triggers once, run if one fires, and exit");
  auto* history =
      schedule->add_subcommand("history", "What the scheduler started or skipped, newest first.");
  common(history);
  history->add_option("--limit", args->limit, "How many entries (default 20)");
  auto* next = schedule->add_subcommand("next", "The next times schedule.cron fires (UTC).");
  common(next);
  next->add_option("--count", args->count, "How many (default 5)");

  return [args, run, schedule, history, next]() -> int {
    if (*run) return MonitorRun(*args);
    if (*history) return ScheduleHistory(*args);
    if (*next) return ScheduleNext(*args);
    if (*schedule) return Schedule(*args);
    return -1;
  };
}

// ---------------------------------------------------------------------------------------
// Background jobs of `fraudops serve`.

BackgroundJobs::BackgroundJobs(const Config& config, Logger& logger)
    : config_(config), logger_(logger) {}

BackgroundJobs::~BackgroundJobs() { Stop(); }

Status BackgroundJobs::Start() {
  const bool monitor = !config_.monitor.serve_interval.empty();
  const bool schedule = config_.schedule.in_serve && !NothingToSchedule(config_);
  if (!monitor && !schedule) return Status::Ok();
  pool_ = std::make_unique<ThreadPool>(2);
  if (monitor) {
    const auto interval =
        std::chrono::seconds(ParseDurationSeconds(config_.monitor.serve_interval).value_or(300));
    dispatcher_ = MakeAlertDispatcher(config_, logger_, /*deduplicate=*/true);
    BackgroundWorker::Options options;
    options.name = "monitor";
    options.logger = &logger_;
    options.first_delay = interval;
    monitor_ = std::make_unique<BackgroundWorker>(options, [this, interval] {
      MonitorPass();
      return std::chrono::duration_cast<BackgroundWorker::Duration>(interval);
    });
    monitor_->Start();
  }
  if (schedule) {
    FOPS_ASSIGN_OR_RETURN(schedule_stores_, OpenStoresFor(config_, /*need_artifacts=*/true));
    schedule_context_.logger = &logger_;
    schedule_context_.pool = pool_.get();
    schedule_context_.threads = static_cast<int>(config_.global.threads);
    schedule_context_.seed = static_cast<uint64_t>(config_.global.seed);
    scheduler_ = MakeScheduler(config_, *schedule_stores_.metadata,
                               schedule_stores_.artifacts.get(), schedule_context_, &clock_);
    BackgroundWorker::Options options;
    options.name = "schedule";
    options.logger = &logger_;
    schedule_ = std::make_unique<BackgroundWorker>(options, [this] { return scheduler_->Pass(); });
    schedule_->Start();
    logger_.Info("schedule", "in-process scheduler started",
                 {{"pipeline", config_.global.pipeline_name}});
  }
  return Status::Ok();
}

void BackgroundJobs::Stop() {
  // A pass in progress (a monitoring pass, a pipeline run) finishes first.
  if (monitor_) monitor_->Stop();
  if (schedule_) schedule_->Stop();
}

void BackgroundJobs::MonitorPass() {
  if (!monitor_stores_.metadata) {
    auto opened = OpenStoresFor(config_, /*need_artifacts=*/true);
    if (!opened.ok()) {
      logger_.Error("monitor", "cannot open the stores: " + opened.status().message());
      return;
    }
    monitor_stores_ = std::move(*opened);
  }
  ServingStore serving(*monitor_stores_.metadata);
  auto endpoints = serving.ListEndpoints();
  if (!endpoints.ok()) {
    logger_.Error("monitor", "cannot list endpoints: " + endpoints.status().message());
    return;
  }
  std::vector<MonitorReport> reports;
  const auto now = std::chrono::system_clock::now();
  for (const EndpointRecord& endpoint : *endpoints) {
    if (endpoint.production.empty()) continue;
    if (monitor_->stopping()) return;
    MonitorOptions options;
    options.endpoint = endpoint.name;
    options.now = now;
    options.pool = pool_.get();
    options.report_only_on_alerts = true;
    auto report =
        RunMonitor(config_, *monitor_stores_.metadata, monitor_stores_.artifacts.get(), options);
    if (!report.ok()) {
      logger_.Warn("monitor", "endpoint not monitored: " + report.status().message(),
                   {{"endpoint", endpoint.name}});
      continue;
    }
    dispatcher_->Dispatch(report->alerts, now);
    reports.push_back(std::move(*report));
  }
  MutexLock lock(&mutex_);
  latest_ = std::move(reports);
}

void BackgroundJobs::WriteGauges(std::string& out) {
  MutexLock lock(&mutex_);
  if (!latest_.empty()) out += MonitorGauges(latest_);
}

}  // namespace fraudops
