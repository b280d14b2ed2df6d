#pragma once
/// The workspace routes of `fraudops serve` (docs/api.md#workspace): what the CLI reads and
/// changes of the workspace, for the console and the Python client. Runs (listed with
/// server-side filtering, sorting, pagination and chosen metric columns; shown; compared;
/// their per-round curves downsampled on request; their artifacts downloaded with a
/// checksum), runs logged from outside (create, parameters, metrics with steps, tags,
/// artifacts, finish), experiments, models and versions (aliases, archive), lineage as a
/// graph, monitoring reports and their time series, and schedule history. Reading needs the
/// read permission; logging runs and registering a run's bundle need run (data_scientist),
/// and only the run's own author may log to it or register it; aliases and archiving need
/// approve. A version registered here is pending: a person approves it.

#include <string>

#include "core/config.h"
#include "core/mutex.h"
#include "serve/request_guard.h"
#include "serve/router.h"
#include "serve/store_access.h"

namespace fraudops {

class WorkspaceRoutes {
 public:
  /// `home` is the workspace directory (monitoring reports live under <home>/monitoring).
  /// Everything passed outlives the routes.
  WorkspaceRoutes(RequestGuard& guard, StoreAccess& stores, std::string home);

  /// Adds the routes to `router`.
  void Register(Router& router);
  /// The pipeline and its schedule (global.pipeline_name, schedule.*) that GET /v1/schedules
  /// describes; at start and on reload.
  void SetSchedule(const std::string& pipeline, const ScheduleConfig& schedule) EXCLUDES(mutex_);

 private:
  bool Admit(const HttpRequest& request, HttpResponse& response, Permission permission,
             std::string* actor = nullptr, Principal* who = nullptr);
  /// The run the route's {run} names, admitted for logging: `permission` run, the caller its
  /// author (or an admin), the run still running. False with the refusal written.
  bool AdmitLogging(const HttpRequest& request, HttpResponse& response, const RouteMatch& match,
                    RunRecord* run);

  void ListRuns(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ShowRun(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void CompareRuns(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void MetricHistory(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void DownloadArtifact(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void CreateRun(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void LogParams(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void LogMetrics(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void SetTags(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void UploadArtifact(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void FinishRun(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ListExperiments(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ListModels(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ListVersions(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ShowVersion(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Lineage(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void SetAlias(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void DeleteAlias(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Archive(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Register(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void MonitoringReports(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void MonitoringReport(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void MonitoringSeries(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ScheduleHistory(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Schedules(const HttpRequest&, HttpResponse&, const RouteMatch&);

  RequestGuard& guard_;
  StoreAccess& stores_;
  const std::string home_;
  Mutex mutex_;
  std::string pipeline_ GUARDED_BY(mutex_);
  ScheduleConfig schedule_ GUARDED_BY(mutex_);
};

}  // namespace fraudops
