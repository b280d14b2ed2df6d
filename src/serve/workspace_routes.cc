#include "serve/workspace_routes.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/cron.h"
#include "core/files.h"
#include "core/ids.h"
#include "core/strings.h"
#include "model/bundle.h"
#include "serve/route_helpers.h"
#include "store/run_views.h"
#include "store/schedule_store.h"

namespace fraudops {

using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxPage = 1000;     ///< runs in one page
constexpr size_t kMaxCompared = 20;   ///< runs in one comparison
constexpr size_t kMaxCurve = 100000;  ///< points of one curve (downsampled beyond)

/// The comma-separated values of query parameter `name` (empty ones dropped).
std::vector<std::string> ListParam(const HttpRequest& request, std::string_view name) {
  std::vector<std::string> out;
  for (std::string_view part : Split(request.QueryParam(name), ',')) {
    if (!Trim(part).empty()) out.emplace_back(Trim(part));
  }
  return out;
}

/// Query parameter `name` as a count in [0, most] (`fallback` when absent); false after a
/// 400 naming it.
bool CountParam(const HttpRequest& request, HttpResponse& response, std::string_view name,
                size_t fallback, size_t most, size_t* out) {
  const std::string text = request.QueryParam(name);
  if (text.empty()) {
    *out = fallback;
    return true;
  }
  const std::optional<long long> value = ParseInt(text);
  if (!value || *value < 0 || static_cast<unsigned long long>(*value) > most) {
    WriteError(response, ErrorStyle::kV1, 400, "invalid_query",
               "query parameter " + std::string(name) + "=" + text + ": a whole number from 0 to " +
                   std::to_string(most) + " is required",
               {{"parameter", std::string(name)}});
    return false;
  }
  *out = static_cast<size_t>(*value);
  return true;
}

/// An artifact's name inside its run: relative, '/'-separated segments of letters, digits and
/// . _ - (none "." or ".."); "" when `name` is one, else what is wrong.
std::string ArtifactNameProblem(const std::string& name) {
  if (name.empty() || name.size() > 512) return "a name of 1 to 512 characters is required";
  for (std::string_view segment : Split(name, '/')) {
    if (segment.empty() || segment == "." || segment == "..")
      return "empty, '.' and '..' segments are not allowed";
    for (char c : segment) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
        return "only letters, digits, '.', '_', '-' and '/' are allowed";
    }
  }
  return "";
}

/// A person's tags (an object of strings, keys as ParseRunTags accepts) into `out`; false
/// after a 400 naming the member.
bool TagsOrRefuse(const Json& object, HttpResponse& response,
                  std::map<std::string, std::string>* out) {
  std::vector<std::string> pairs;
  for (const auto& [key, value] : object.items()) {
    if (!value.is_string()) {
      RefuseMember(response, "/tags/" + key, "a string is required");
      return false;
    }
    pairs.push_back(key + "=" + value.get<std::string>());
  }
  auto parsed = ParseRunTags(pairs);
  if (!parsed.ok()) {
    RefuseMember(response, "/tags", parsed.status().message());
    return false;
  }
  *out = std::move(*parsed);
  return true;
}

/// Parameters as a run stores them: each value as JSON text.
std::map<std::string, std::string> ParamsFrom(const Json& object) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : object.items()) out[name] = value.dump();
  return out;
}

/// The report directories under `dir` (<home>/monitoring/<endpoint>), oldest first.
std::vector<fs::path> ReportDirs(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code error;
  for (auto it = fs::directory_iterator(dir, error); !error && it != fs::directory_iterator();
       it.increment(error)) {
    if (it->is_directory() && fs::exists(it->path() / "report.json")) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// A name that may be one path segment under the workspace (an endpoint's directory).
bool SafeSegment(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

}  // namespace

WorkspaceRoutes::WorkspaceRoutes(RequestGuard& guard, StoreAccess& stores, std::string home)
    : guard_(guard), stores_(stores), home_(std::move(home)) {}

void WorkspaceRoutes::Register(Router& router) {
  auto add = [&](const char* method, const char* pattern,
                 void (WorkspaceRoutes::*handler)(const HttpRequest&, HttpResponse&,
                                                  const RouteMatch&)) {
    router.Add(
        method, pattern,
        [this, handler](const HttpRequest& request, HttpResponse& response,
                        const RouteMatch& match) { (this->*handler)(request, response, match); });
  };
  add("GET", "/v1/runs", &WorkspaceRoutes::ListRuns);
  add("POST", "/v1/runs", &WorkspaceRoutes::CreateRun);
  add("GET", "/v1/runs/compare", &WorkspaceRoutes::CompareRuns);  // before /v1/runs/{run}
  add("GET", "/v1/runs/{run}", &WorkspaceRoutes::ShowRun);
  add("GET", "/v1/runs/{run}/metrics/{metric}", &WorkspaceRoutes::MetricHistory);
  add("GET", "/v1/runs/{run}/artifact", &WorkspaceRoutes::DownloadArtifact);
  add("PUT", "/v1/runs/{run}/artifact", &WorkspaceRoutes::UploadArtifact);
  add("POST", "/v1/runs/{run}/params", &WorkspaceRoutes::LogParams);
  add("POST", "/v1/runs/{run}/metrics", &WorkspaceRoutes::LogMetrics);
  add("POST", "/v1/runs/{run}/tags", &WorkspaceRoutes::SetTags);
  add("POST", "/v1/runs/{run}/finish", &WorkspaceRoutes::FinishRun);
  add("GET", "/v1/experiments", &WorkspaceRoutes::ListExperiments);
  add("GET", "/v1/models", &WorkspaceRoutes::ListModels);
  add("GET", "/v1/models/{model}/versions", &WorkspaceRoutes::ListVersions);
  add("GET", "/v1/models/{model}/versions/{version}", &WorkspaceRoutes::ShowVersion);
  add("GET", "/v1/models/{model}/versions/{version}/lineage", &WorkspaceRoutes::Lineage);
  add("POST", "/v1/models/{model}/versions/{version}/archive", &WorkspaceRoutes::Archive);
  add("POST", "/v1/models/{model}/versions", &WorkspaceRoutes::Register);
  add("PUT", "/v1/models/{model}/aliases/{alias}", &WorkspaceRoutes::SetAlias);
  add("DELETE", "/v1/models/{model}/aliases/{alias}", &WorkspaceRoutes::DeleteAlias);
  add("GET", "/v1/monitoring/{endpoint}/reports", &WorkspaceRoutes::MonitoringReports);
  add("GET", "/v1/monitoring/{endpoint}/reports/{time}", &WorkspaceRoutes::MonitoringReport);
  add("GET", "/v1/monitoring/{endpoint}/series", &WorkspaceRoutes::MonitoringSeries);
  add("GET", "/v1/schedules", &WorkspaceRoutes::Schedules);
  add("GET", "/v1/schedules/{pipeline}/history", &WorkspaceRoutes::ScheduleHistory);
}

bool WorkspaceRoutes::Admit(const HttpRequest& request, HttpResponse& response,
                            Permission permission, std::string* actor, Principal* who) {
  return AdmitCaller(guard_, stores_, request, response, permission, "", actor, who);
}

// ---------------------------------------------------------------------------------------
// Runs, read.

void WorkspaceRoutes::ListRuns(const HttpRequest& request, HttpResponse& response,
                               const RouteMatch&) {
  if (!Admit(request, response, Permission::kRead)) return;
  RunFilter filter;
  filter.experiment = request.QueryParam("experiment");
  filter.status = request.QueryParam("status");
  filter.order_by = request.QueryParam("order_by");
  const std::string order = request.QueryParam("order");
  if (!order.empty() && order != "asc" && order != "desc") {
    WriteError(response, ErrorStyle::kV1, 400, "invalid_query",
               "query parameter order=" + order + ": asc or desc is accepted",
               {{"parameter", "order"}});
    return;
  }
  filter.ascending = order == "asc";
  static constexpr std::pair<std::string_view, RunFilter::Trials> kTrials[] = {
      {"include", RunFilter::Trials::kInclude},
      {"exclude", RunFilter::Trials::kExclude},
      {"only", RunFilter::Trials::kOnly}};
  if (const std::string trials = request.QueryParam("trials"); !trials.empty()) {
    const auto* known = std::find_if(std::begin(kTrials), std::end(kTrials),
                                     [&](const auto& t) { return t.first == trials; });
    if (known == std::end(kTrials)) {
      WriteError(response, ErrorStyle::kV1, 400, "invalid_query",
                 "query parameter trials=" + trials + ": include, exclude or only is accepted",
                 {{"parameter", "trials"}});
      return;
    }
    filter.trials = known->second;
  }
  if (!CountParam(request, response, "limit", 100, kMaxPage, &filter.limit) ||
      !CountParam(request, response, "offset", 0, SIZE_MAX / 2, &filter.offset))
    return;
  if (!filter.status.empty() && Failed(response, ParseRunStatus(filter.status).status())) return;
  const std::string conditions = request.QueryParam("filter");
  if (!conditions.empty()) {
    auto parsed = ParseRunFilter(conditions);
    if (!parsed.ok()) {
      WriteError(response, ErrorStyle::kV1, 400, "invalid_filter", parsed.status().message(),
                 {{"parameter", "filter"}});
      return;
    }
    filter.conditions = std::move(*parsed);
  }
  filter.with_metrics = ListParam(request, "metrics");
  filter.with_tags = ListParam(request, "tags");
  for (const char* tag : {kRunNameTag, kRunNoteTag}) {
    if (std::find(filter.with_tags.begin(), filter.with_tags.end(), tag) == filter.with_tags.end())
      filter.with_tags.push_back(tag);
  }
  size_t total = 0, hidden_trials = 0;
  Json runs = Json::array();
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto found, store.ListRuns(filter, &total));
    for (const RunRecord& run : found) runs.push_back(RunJson(run, false));
    if (filter.trials != RunFilter::Trials::kExclude) return Status::Ok();
    // What the same filter leaves out (a console says so beside its count).
    FOPS_ASSIGN_OR_RETURN(hidden_trials, store.CountTrials(filter));
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  Json out = {{"runs", runs}, {"total", total}, {"offset", filter.offset}, {"limit", filter.limit}};
  if (filter.trials == RunFilter::Trials::kExclude) out["hidden_trials"] = hidden_trials;
  WriteJson(response, out);
}

void WorkspaceRoutes::ShowRun(const HttpRequest& request, HttpResponse& response,
                              const RouteMatch& match) {
  if (!Admit(request, response, Permission::kRead)) return;
  Json out;
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(RunRecord run, store.GetRun(std::string(match.params[0])));
    out = RunJson(run, true);
    FOPS_ASSIGN_OR_RETURN(out["curves"], store.CurveNames(run.run_id));
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, out);
}

void WorkspaceRoutes::CompareRuns(const HttpRequest& request, HttpResponse& response,
                                  const RouteMatch&) {
  if (!Admit(request, response, Permission::kRead)) return;
  const std::vector<std::string> ids = ListParam(request, "runs");
  if (ids.size() < 2 || ids.size() > kMaxCompared) {
    WriteError(response, ErrorStyle::kV1, 400, "invalid_query",
               "query parameter runs: 2 to " + std::to_string(kMaxCompared) +
                   " run ids, comma-separated, are required",
               {{"parameter", "runs"}});
    return;
  }
  Json out;
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    std::vector<RunRecord> runs;
    for (const std::string& id : ids) {
      FOPS_ASSIGN_OR_RETURN(RunRecord run, store.GetRun(id));
      runs.push_back(std::move(run));
    }
    out = CompareRunsJson(runs);
    out["details"] = Json::array();
    for (const RunRecord& run : runs) out["details"].push_back(RunJson(run, false));
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, out);
}

void WorkspaceRoutes::MetricHistory(const HttpRequest& request, HttpResponse& response,
                                    const RouteMatch& match) {
  if (!Admit(request, response, Permission::kRead)) return;
  size_t max_points = 0;
  if (!CountParam(request, response, "max_points", kMaxCurve, kMaxCurve, &max_points)) return;
  const std::string metric(match.params[1]);
  Json out;
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(RunRecord run, store.GetRun(std::string(match.params[0])));
    FOPS_ASSIGN_OR_RETURN(auto points, store.MetricHistory(run.run_id, metric));
    const auto kept = DownsampleCurve(points, max_points);
    Json steps = Json::array(), values = Json::array();
    for (const auto& [step, value] : kept) {
      steps.push_back(step);
      values.push_back(value);
    }
    out = {{"run_id", run.run_id},
           {"metric", metric},
           {"points", points.size()},
           {"steps", steps},
           {"values", values}};
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, out);
}

void WorkspaceRoutes::DownloadArtifact(const HttpRequest& request, HttpResponse& response,
                                       const RouteMatch& match) {
  if (!Admit(request, response, Permission::kRead)) return;
  const std::string name = request.QueryParam("path");
  std::string sha256;
  Status status = stores_.WithArtifacts([&](ServingStore& store, ArtifactStore& artifacts) {
    FOPS_ASSIGN_OR_RETURN(RunRecord run, store.metadata().GetRun(std::string(match.params[0])));
    for (const ArtifactRecord& a : run.artifacts) {
      if (a.name != name) continue;
      // Read verifies the checksum: a corrupted artifact is an error, never served.
      FOPS_ASSIGN_OR_RETURN(response.body, artifacts.Read(a.uri, a.sha256));
      sha256 = a.sha256;
      return Status::Ok();
    }
    return Status::NotFound("run " + run.run_id + " has no artifact '" + name +
                            "' (GET /v1/runs/{run} lists them)");
  });
  if (Failed(response, status)) return;
  response.headers.emplace_back("x-fraudops-sha256", sha256);
  response.headers.emplace_back("ETag", "\"" + sha256 + "\"");
  const std::string file = name.substr(name.rfind('/') + 1);
  if (request.HasQueryParam("inline") && (EndsWith(name, ".html") || EndsWith(name, ".svg"))) {
    // A report shown in the browser: sandboxed (no scripts, no same-origin access, no
    // requests), whatever the file holds.
    response.content_type = EndsWith(name, ".html") ? "text/html; charset=utf-8" : "image/svg+xml";
    response.headers.emplace_back("Content-Security-Policy",
                                  "sandbox; default-src 'none'; style-src 'unsafe-inline'; "
                                  "img-src data:; font-src data:");
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return;
  }
  response.content_type = "application/octet-stream";
  response.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + file + "\"");
}

// ---------------------------------------------------------------------------------------
// Runs logged from outside.

bool WorkspaceRoutes::AdmitLogging(const HttpRequest& request, HttpResponse& response,
                                   const RouteMatch& match, RunRecord* run) {
  Principal who;
  if (!Admit(request, response, Permission::kRun, nullptr, &who)) return false;
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(*run, store.GetRun(std::string(match.params[0])));
    return Status::Ok();
  });
  if (Failed(response, status)) return false;
  const std::string author = ActorIdentity(who.actor);
  if (!who.anonymous && run->user != author && !who.Allows(Permission::kAdmin)) {
    WriteError(response, ErrorStyle::kV1, 403, "forbidden",
               who.actor + " may not log to run " + run->run_id + " of " + run->user +
                   " (only its author, or an admin)",
               {{"permission", "run"}, {"author", run->user}});
    return false;
  }
  if (run->status != RunStatus::kRunning) {
    WriteError(response, ErrorStyle::kV1, 409, "conflict",
               "run " + run->run_id + " has finished (" + std::string(RunStatusName(run->status)) +
                   "); a finished run is kept as it ended",
               {{"status", std::string(RunStatusName(run->status))}});
    return false;
  }
  return true;
}

void WorkspaceRoutes::CreateRun(const HttpRequest& request, HttpResponse& response,
                                const RouteMatch&) {
  Principal who;
  if (!Admit(request, response, Permission::kRun, nullptr, &who)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "experiment", "the experiment's name (a string) is required"))
    return;
  for (const char* key : {"params", "tags"}) {
    if (body.contains(key) && !body[key].is_object()) {
      RefuseMember(response, std::string("/") + key, "an object is required");
      return;
    }
  }
  for (const char* key : {"name", "note", "code_version", "host"}) {
    if (body.contains(key) && !body[key].is_string()) {
      RefuseMember(response, std::string("/") + key, "a string is required");
      return;
    }
  }
  const std::string experiment = body["experiment"].get<std::string>();
  if (experiment.empty() || experiment.size() > 200 || !SafeSegment(experiment)) {
    RefuseMember(response, "/experiment", "1 to 200 characters, without '/', are required");
    return;
  }
  std::map<std::string, std::string> tags;
  if (body.contains("tags") && !TagsOrRefuse(body["tags"], response, &tags)) return;
  if (body.contains("name")) tags[kRunNameTag] = body["name"].get<std::string>();
  if (body.contains("note")) tags[kRunNoteTag] = body["note"].get<std::string>();
  tags["fraudops.source"] = "api";
  RunRecord run;
  run.run_id = NewUuidV7();
  run.experiment = experiment;
  run.status = RunStatus::kRunning;
  run.start_time = UtcNow();
  run.code_version = body.value("code_version", "");
  run.host = body.value("host", "");
  run.user = ActorIdentity(who.actor);
  run.params = ParamsFrom(body.value("params", Json::object()));
  run.tags = tags;
  Json out;
  Status status = stores_.WithArtifacts([&](ServingStore& store, ArtifactStore& artifacts) {
    run.artifact_uri = artifacts.Uri(experiment + "/" + run.run_id);
    FOPS_RETURN_IF_ERROR(store.metadata().CreateRun(run));
    FOPS_ASSIGN_OR_RETURN(RunRecord created, store.metadata().GetRun(run.run_id));
    out = RunJson(created, true);
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, out, 201);
}

void WorkspaceRoutes::LogParams(const HttpRequest& request, HttpResponse& response,
                                const RouteMatch& match) {
  RunRecord run;
  if (!AdmitLogging(request, response, match, &run)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!body.contains("params") || !body["params"].is_object()) {
    RefuseMember(response, "/params", "an object of parameters is required, e.g. {\"eta\": 0.1}");
    return;
  }
  Status status = stores_.WithMetadata([&](MetadataStore& store) {
    return store.LogParams(run.run_id, ParamsFrom(body["params"]));
  });
  if (Failed(response, status)) return;
  WriteJson(response, {{"run_id", run.run_id}, {"params", body["params"].size()}});
}

void WorkspaceRoutes::LogMetrics(const HttpRequest& request, HttpResponse& response,
                                 const RouteMatch& match) {
  RunRecord run;
  if (!AdmitLogging(request, response, match, &run)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!body.contains("metrics") || !body["metrics"].is_object() || body["metrics"].empty()) {
    RefuseMember(response, "/metrics",
                 "an object of metric values is required, e.g. {\"valid.auc\": 0.93}");
    return;
  }
  if (body.contains("step") && !body["step"].is_number_integer()) {
    RefuseMember(response, "/step", "a whole number is required");
    return;
  }
  std::map<std::string, double> metrics;
  for (const auto& [name, value] : body["metrics"].items()) {
    if (!value.is_number() || !std::isfinite(value.get<double>())) {
      RefuseMember(response, "/metrics/" + name, "a finite number is required");
      return;
    }
    metrics[name] = value.get<double>();
  }
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    // The latest value is the run's metric; with a step it also joins the metric's curve
    // (first, so a retried request leaves both as they should be).
    if (body.contains("step")) {
      const int64_t step = body["step"].get<int64_t>();
      for (const auto& [name, value] : metrics)
        FOPS_RETURN_IF_ERROR(store.LogMetricHistory(run.run_id, name, {{step, value}}));
    }
    return store.LogMetrics(run.run_id, metrics);
  });
  if (Failed(response, status)) return;
  WriteJson(response, {{"run_id", run.run_id}, {"metrics", metrics.size()}});
}

void WorkspaceRoutes::SetTags(const HttpRequest& request, HttpResponse& response,
                              const RouteMatch& match) {
  RunRecord run;
  if (!AdmitLogging(request, response, match, &run)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!body.contains("tags") || !body["tags"].is_object()) {
    RefuseMember(response, "/tags", "an object of tags is required, e.g. {\"team\": \"risk\"}");
    return;
  }
  std::map<std::string, std::string> tags;
  if (!TagsOrRefuse(body["tags"], response, &tags)) return;
  Status status =
      stores_.WithMetadata([&](MetadataStore& store) { return store.SetTags(run.run_id, tags); });
  if (Failed(response, status)) return;
  WriteJson(response, {{"run_id", run.run_id}, {"tags", tags.size()}});
}

void WorkspaceRoutes::UploadArtifact(const HttpRequest& request, HttpResponse& response,
                                     const RouteMatch& match) {
  RunRecord run;
  if (!AdmitLogging(request, response, match, &run)) return;
  const std::string name = request.QueryParam("path");
  if (const std::string problem = ArtifactNameProblem(name); !problem.empty()) {
    WriteError(response, ErrorStyle::kV1, 400, "invalid_query",
               "query parameter path=" + name + ": " + problem, {{"parameter", "path"}});
    return;
  }
  // The body goes into the artifact store whole or not at all.
  Json out;
  Status status =
      stores_.WithArtifacts([&](ServingStore& store, ArtifactStore& artifacts) -> Status {
        FOPS_ASSIGN_OR_RETURN(
            ArtifactRecord record,
            artifacts.PutBytes(run.experiment + "/" + run.run_id + "/" + name, request.body()));
        record.name = name;
        FOPS_RETURN_IF_ERROR(store.metadata().LogArtifacts(run.run_id, {record}));
        out = {{"name", record.name},
               {"uri", record.uri},
               {"size", record.size},
               {"sha256", record.sha256}};
        return Status::Ok();
      });
  if (Failed(response, status)) return;
  WriteJson(response, out, 201);
}

void WorkspaceRoutes::FinishRun(const HttpRequest& request, HttpResponse& response,
                                const RouteMatch& match) {
  RunRecord run;
  if (!AdmitLogging(request, response, match, &run)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  const std::string name = body.value("status", "succeeded");
  if (name != "succeeded" && name != "failed") {
    RefuseMember(response, "/status", "succeeded or failed is accepted");
    return;
  }
  if (body.contains("error") && !body["error"].is_string()) {
    RefuseMember(response, "/error", "a string is required");
    return;
  }
  Json out;
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    FOPS_RETURN_IF_ERROR(
        store.EndRun(run.run_id, name == "succeeded" ? RunStatus::kSucceeded : RunStatus::kFailed,
                     body.value("error", "")));
    FOPS_ASSIGN_OR_RETURN(RunRecord ended, store.GetRun(run.run_id));
    out = RunJson(ended, false);
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, out);
}

// ---------------------------------------------------------------------------------------
// Experiments, models, lineage.

void WorkspaceRoutes::ListExperiments(const HttpRequest& request, HttpResponse& response,
                                      const RouteMatch&) {
  if (!Admit(request, response, Permission::kRead)) return;
  std::map<std::string, Json> experiments;
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto summary, store.RunSummary());
    FOPS_ASSIGN_OR_RETURN(auto trials, store.TrialsByExperiment());
    for (const RunStatusSummary& s : summary) {
      Json& e = experiments[s.experiment];
      if (e.is_null()) {
        auto found = trials.find(s.experiment);
        e = {{"name", s.experiment},
             {"runs", 0},
             {"trials", found == trials.end() ? 0 : found->second},
             {"by_status", Json::object()}};
      }
      e["runs"] = e["runs"].get<int64_t>() + s.runs;
      e["by_status"][s.status] = s.runs;
      if (!e.contains("latest_start") || e["latest_start"].get<std::string>() < s.latest_start)
        e["latest_start"] = s.latest_start;
    }
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  Json out = Json::array();
  for (auto& [name, e] : experiments) out.push_back(std::move(e));
  WriteJson(response, {{"experiments", out}});
}

void WorkspaceRoutes::ListModels(const HttpRequest& request, HttpResponse& response,
                                 const RouteMatch&) {
  if (!Admit(request, response, Permission::kRead)) return;
  Json out = Json::array();
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto names, store.ListModels());
    for (const std::string& name : names) {
      FOPS_ASSIGN_OR_RETURN(auto versions, store.ListVersions(name));
      Json model = {{"name", name}, {"versions", versions.size()}, {"aliases", Json::object()}};
      for (const ModelVersion& v : versions) {
        for (const std::string& alias : v.aliases) model["aliases"][alias] = v.version;
      }
      if (!versions.empty()) {
        const auto latest = std::max_element(
            versions.begin(), versions.end(),
            [](const ModelVersion& a, const ModelVersion& b) { return a.version < b.version; });
        model["latest"] = latest->ToJson();
      }
      out.push_back(std::move(model));
    }
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, {{"models", out}});
}

void WorkspaceRoutes::ListVersions(const HttpRequest& request, HttpResponse& response,
                                   const RouteMatch& match) {
  if (!Admit(request, response, Permission::kRead)) return;
  const std::string model(match.params[0]);
  Json out = Json::array();
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto versions, store.ListVersions(model));
    if (versions.empty()) return Status::NotFound("no registered model '" + model + "'");
    for (const ModelVersion& v : versions) out.push_back(v.ToJson());
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, {{"model", model}, {"versions", out}});
}

void WorkspaceRoutes::ShowVersion(const HttpRequest& request, HttpResponse& response,
                                  const RouteMatch& match) {
  if (!Admit(request, response, Permission::kRead)) return;
  Json out;
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(ModelVersion version, store.GetVersion(std::string(match.params[0]),
                                                                 std::string(match.params[1])));
    FOPS_ASSIGN_OR_RETURN(auto audit, store.Audit(version.model));
    out = version.ToJson(/*with_policy=*/true);
    out["audit"] = Json::array();
    for (const AuditEntry& entry : audit) {
      if (entry.version == version.version) out["audit"].push_back(entry.ToJson());
    }
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, out);
}

void WorkspaceRoutes::Lineage(const HttpRequest& request, HttpResponse& response,
                              const RouteMatch& match) {
  if (!Admit(request, response, Permission::kRead)) return;
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(
        ModelVersion version,
        store.metadata().GetVersion(std::string(match.params[0]), std::string(match.params[1])));
    FOPS_ASSIGN_OR_RETURN(RunRecord run, store.metadata().GetRun(version.run_id));
    FOPS_ASSIGN_OR_RETURN(auto endpoints, store.ListEndpoints());
    out = LineageJson(version, run, endpoints);
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, out);
}

void WorkspaceRoutes::SetAlias(const HttpRequest& request, HttpResponse& response,
                               const RouteMatch& match) {
  std::string actor;
  if (!Admit(request, response, Permission::kApprove, &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!body.contains("version") ||
      !(body["version"].is_number_integer() || body["version"].is_string())) {
    RefuseMember(response, "/version", "the version (a number, \"latest\" or \"@alias\")");
    return;
  }
  const std::string model(match.params[0]), alias(match.params[1]);
  const std::string ref =
      body["version"].is_string() ? body["version"].get<std::string>() : body["version"].dump();
  Json out;
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(ModelVersion version, store.GetVersion(model, ref));
    FOPS_RETURN_IF_ERROR(store.SetAlias(model, alias, version.version, actor));
    FOPS_ASSIGN_OR_RETURN(ModelVersion changed,
                          store.GetVersion(model, std::to_string(version.version)));
    out = changed.ToJson();
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, out);
}

void WorkspaceRoutes::DeleteAlias(const HttpRequest& request, HttpResponse& response,
                                  const RouteMatch& match) {
  std::string actor;
  if (!Admit(request, response, Permission::kApprove, &actor)) return;
  const std::string model(match.params[0]), alias(match.params[1]);
  Status status = stores_.WithMetadata(
      [&](MetadataStore& store) { return store.DeleteAlias(model, alias, actor); });
  if (Failed(response, status)) return;
  WriteJson(response, {{"model", model}, {"alias", alias}, {"deleted", true}});
}

void WorkspaceRoutes::Archive(const HttpRequest& request, HttpResponse& response,
                              const RouteMatch& match) {
  std::string actor;
  if (!Admit(request, response, Permission::kApprove, &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "reason", "why it is archived (a string) is required"))
    return;
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(
        ModelVersion version,
        store.metadata().GetVersion(std::string(match.params[0]), std::string(match.params[1])));
    // Refused while it serves (store/serving_store.h).
    FOPS_ASSIGN_OR_RETURN(out, RetireVersion(store, version, RetireAction::kArchive,
                                             body["reason"].get<std::string>(), actor, false));
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, out);
}

void WorkspaceRoutes::Register(const HttpRequest& request, HttpResponse& response,
                               const RouteMatch& match) {
  Principal who;
  if (!Admit(request, response, Permission::kRun, nullptr, &who)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "run_id", "the run whose model/ files are the bundle"))
    return;
  if (body.contains("description") && !body["description"].is_string()) {
    RefuseMember(response, "/description", "a string is required");
    return;
  }
  const std::string model(match.params[0]);
  Json out;
  Status status = stores_.WithArtifacts([&](ServingStore& store,
                                            ArtifactStore& artifacts) -> Status {
    FOPS_ASSIGN_OR_RETURN(RunRecord run,
                          store.metadata().GetRun(body["run_id"].get<std::string>()));
    if (!who.anonymous && run.user != ActorIdentity(who.actor) && !who.Allows(Permission::kAdmin)) {
      return Status::PermissionDenied(who.actor + " may not register run " + run.run_id + " of " +
                                      run.user + " (only its author, or an admin)");
    }
    // The bundle is the run's model/ files, each read back against its recorded checksum and
    // parsed as serving will load it: a version that would not load is not registered.
    std::map<std::string, const ArtifactRecord*> files;
    for (const ArtifactRecord& a : run.artifacts) {
      if (StartsWith(a.name, "model/")) files[a.name.substr(6)] = &a;
    }
    auto read = [&](const std::string& name) -> Result<std::string> {
      auto it = files.find(name);
      if (it == files.end())
        return Status::InvalidArgument("run " + run.run_id + " has no artifact model/" + name);
      return artifacts.Read(it->second->uri, it->second->sha256);
    };
    FOPS_ASSIGN_OR_RETURN(std::string bundle_json, read("bundle.json"));
    FOPS_ASSIGN_OR_RETURN(ModelBundle bundle,
                          ParseBundle(bundle_json, "model/bundle.json of run " + run.run_id, read));
    NewVersion version;
    version.model = model;
    version.run_id = run.run_id;
    version.algorithm = bundle.algorithm;
    version.bundle_uri = artifacts.Uri(run.experiment + "/" + run.run_id + "/model");
    version.threshold = bundle.threshold.value_or(0.5);
    version.description = body.value("description", "");
    for (const auto& [name, value] : run.metrics) {  // "test.roc_auc" -> {"test": {"roc_auc"}}
      const size_t dot = name.find('.');
      if (dot == std::string::npos)
        version.metrics[name] = value;
      else
        version.metrics[name.substr(0, dot)][name.substr(dot + 1)] = value;
    }
    for (const DatasetRecord& d : run.datasets) {
      if (d.role == "raw" || (d.role == "train" && version.data_hash.empty()))
        version.data_hash = d.content_hash;
    }
    version.audit_details = {{"registered_through", "api"}};
    FOPS_ASSIGN_OR_RETURN(ModelVersion created, store.metadata().CreateVersion(version, who.actor));
    out = created.ToJson();
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, out, 201);
}

// ---------------------------------------------------------------------------------------
// Monitoring reports (files under <home>/monitoring/<endpoint>/<time>/) and schedules.

void WorkspaceRoutes::MonitoringReports(const HttpRequest& request, HttpResponse& response,
                                        const RouteMatch& match) {
  if (!Admit(request, response, Permission::kRead)) return;
  const std::string endpoint(match.params[0]);
  if (!SafeSegment(endpoint)) {
    WriteError(response, ErrorStyle::kV1, 404, "not_found", "no endpoint '" + endpoint + "'");
    return;
  }
  size_t limit = 0;
  if (!CountParam(request, response, "limit", 100, kMaxPage, &limit)) return;
  const std::vector<fs::path> dirs = ReportDirs(fs::path(home_) / "monitoring" / endpoint);
  Json reports = Json::array();
  for (size_t i = dirs.size(); i-- > 0 && reports.size() < limit;) {  // newest first
    auto text = ReadFile((dirs[i] / "report.json").string());
    if (!text.ok()) continue;
    const Json report = Json::parse(*text, nullptr, false);
    if (report.is_discarded()) continue;
    reports.push_back(
        {{"time", dirs[i].filename().string()},
         {"model", report.value("model", "")},
         {"alerts", report.value("alerts", Json::array()).size()},
         {"drift_violations",
          report.value("drift", Json::object()).value("violations", Json::array())},
         {"quality", report.value("quality", Json::object()).value("metrics", Json::object())}});
  }
  WriteJson(response, {{"endpoint", endpoint}, {"total", dirs.size()}, {"reports", reports}});
}

void WorkspaceRoutes::MonitoringReport(const HttpRequest& request, HttpResponse& response,
                                       const RouteMatch& match) {
  if (!Admit(request, response, Permission::kRead)) return;
  const std::string endpoint(match.params[0]), time(match.params[1]);
  const fs::path file = fs::path(home_) / "monitoring" / endpoint / time / "report.json";
  auto text = SafeSegment(endpoint) && SafeSegment(time)
                  ? ReadFile(file.string())
                  : Result<std::string>(Status::NotFound(""));
  if (!text.ok()) {
    WriteError(response, ErrorStyle::kV1, 404, "not_found",
               "no monitoring report " + time + " of endpoint '" + endpoint +
                   "' (GET /v1/monitoring/" + endpoint + "/reports lists them)");
    return;
  }
  response.body = std::move(*text);
}

void WorkspaceRoutes::MonitoringSeries(const HttpRequest& request, HttpResponse& response,
                                       const RouteMatch& match) {
  if (!Admit(request, response, Permission::kRead)) return;
  const std::string endpoint(match.params[0]);
  if (!SafeSegment(endpoint)) {
    WriteError(response, ErrorStyle::kV1, 404, "not_found", "no endpoint '" + endpoint + "'");
    return;
  }
  // One point per report: each column's PSI and KS, and each quality metric.
  Json times = Json::array(), psi = Json::object(), ks = Json::object(), quality = Json::object();
  size_t index = 0;
  auto put = [&index](Json& series, const std::string& name, const Json& value) {
    if (!series.contains(name)) series[name] = Json::array();
    Json& values = series[name];
    while (values.size() < index) values.push_back(nullptr);  // absent from earlier reports
    values.push_back(value);
  };
  for (const fs::path& dir : ReportDirs(fs::path(home_) / "monitoring" / endpoint)) {
    auto text = ReadFile((dir / "report.json").string());
    if (!text.ok()) continue;
    const Json report = Json::parse(*text, nullptr, false);
    if (report.is_discarded()) continue;
    times.push_back(report.value("time", dir.filename().string()));
    const Json columns =
        report.contains("drift") ? report["drift"].value("columns", Json::array()) : Json::array();
    for (const Json& column : columns) {
      const std::string name = column.value("name", "");
      put(psi, name, column.value("psi", Json(nullptr)));
      put(ks, name, column.value("ks", Json(nullptr)));
    }
    const Json metrics = report.value("quality", Json::object()).value("metrics", Json::object());
    for (const auto& [name, value] : metrics.items()) put(quality, name, value);
    ++index;
  }
  for (Json* series : {&psi, &ks, &quality}) {
    for (auto& [name, values] : series->items()) {
      while (values.size() < index) values.push_back(nullptr);
    }
  }
  WriteJson(
      response,
      {{"endpoint", endpoint}, {"times", times}, {"psi", psi}, {"ks", ks}, {"quality", quality}});
}

void WorkspaceRoutes::ScheduleHistory(const HttpRequest& request, HttpResponse& response,
                                      const RouteMatch& match) {
  if (!Admit(request, response, Permission::kRead)) return;
  size_t limit = 0;
  if (!CountParam(request, response, "limit", 50, kMaxPage, &limit)) return;
  const std::string pipeline(match.params[0]);
  Json runs = Json::array();
  Status status = stores_.WithMetadata([&](MetadataStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto history, ScheduleStore(store).History(pipeline, limit));
    for (const ScheduleRunRecord& r : history) runs.push_back(r.ToJson());
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, {{"pipeline", pipeline}, {"runs", runs}});
}

void WorkspaceRoutes::SetSchedule(const std::string& pipeline, const ScheduleConfig& schedule) {
  MutexLock lock(&mutex_);
  pipeline_ = pipeline;
  schedule_ = schedule;
}

void WorkspaceRoutes::Schedules(const HttpRequest& request, HttpResponse& response,
                                const RouteMatch&) {
  if (!Admit(request, response, Permission::kRead)) return;
  std::string pipeline;
  ScheduleConfig schedule;
  {
    MutexLock lock(&mutex_);
    pipeline = pipeline_;
    schedule = schedule_;
  }
  // The next cron times (at most 5 within 60 days), as `fraudops schedule next` prints them.
  Json next = Json::array();
  if (!schedule.cron.empty()) {
    auto cron = CronSchedule::Parse(schedule.cron);
    if (Failed(response, cron.status())) return;
    const auto now = std::chrono::system_clock::now();
    for (const auto& at : cron->Between(now, now + std::chrono::hours(24 * 60), 5))
      next.push_back(FormatUtc(at));
  }
  Json triggers = Json::array();
  if (!schedule.cron.empty()) triggers.push_back("cron");
  if (schedule.on_new_data) triggers.push_back("data");
  if (schedule.on_drift) triggers.push_back("drift");
  if (schedule.on_quality) triggers.push_back("quality");
  WriteJson(response, {{"schedules",
                        {{{"pipeline", pipeline},
                          {"cron", schedule.cron.empty() ? Json(nullptr) : Json(schedule.cron)},
                          {"triggers", triggers},
                          {"missed", schedule.missed},
                          {"runs_in_serve", schedule.in_serve},
                          {"next", next}}}}});
}

}  // namespace fraudops
