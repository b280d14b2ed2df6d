#include "serve/server.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/embedded_files.h"
#include "core/files.h"
#include "core/ids.h"
#include "core/strings.h"
#include "core/version.h"
#include "serve/predict_request.h"

namespace fraudops {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

struct ScoringServer::RouteMatch {
  const Route* route = nullptr;
  std::vector<std::string_view> params;  ///< the {placeholders}, in order
};

struct ScoringServer::Route {
  std::string method;
  std::string pattern;  ///< e.g. /v1/endpoints/{endpoint}/predict (also the metrics label)
  std::vector<std::string> segments;
  void (ScoringServer::*handler)(const HttpRequest&, HttpResponse&, const RouteMatch&);
  bool oip = false;  ///< errors in the Open Inference Protocol's form
};

namespace {

const std::vector<double> kLatencyBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
const std::vector<double> kScoreBuckets = {0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4,
                                           0.5,   0.6,   0.7,  0.8,  0.9,  0.95, 0.99, 0.999};

uint64_t NextRandom() {
  thread_local uint64_t state = [] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device() ^ 0x9E3779B97F4A7C15ULL;
  }();
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}
double NextUniform() { return static_cast<double>(NextRandom() >> 11) * 0x1.0p-53; }

std::string NewRequestId() {
  thread_local std::mt19937_64 random([] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }());
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return MakeUuidV7(static_cast<uint64_t>(millis), random);
}

void AppendNumber(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  AppendShortest(out, value);
}

void AppendString(std::string& out, std::string_view text) {
  out += '"';
  AppendJsonEscaped(out, text);
  out += '"';
}

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kDataError: return 422;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kConflict: return 409;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kIoError:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

const char* CodeFor(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "too_large";
    case 422: return "invalid";
    case 429: return "rate_limited";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal" : "error";
  }
}

/// The one mapping from a problem to an HTTP response: /v1 and admin routes answer
/// {"error": {"status", "code", "message", "details"}}, the Open Inference Protocol
/// {"error": "message"}.
void WriteError(HttpResponse& response, bool oip, int status, const std::string& code, const std::string& message,
                const Json& details = Json::object()) {
  response.status = status;
  response.content_type = "application/json";
  if (oip) {
    response.body = Json({{"error", message}}).dump();
    return;
  }
  Json error = {{"status", status}, {"code", code.empty() ? CodeFor(status) : code}, {"message", message}};
  if (!details.empty()) error["details"] = details;
  response.body = Json({{"error", error}}).dump(-1, ' ', false, Json::error_handler_t::replace);
}

void WriteStatus(HttpResponse& response, bool oip, const Status& status) {
  WriteError(response, oip, HttpStatusFor(status), "", status.message());
}

void WriteJson(HttpResponse& response, const Json& body, int status = 200) {
  response.status = status;
  response.content_type = "application/json";
  response.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

/// Parses a JSON admin body with nlohmann (admin routes are not hot); errors name the offset.
bool ParseAdminBody(const HttpRequest& request, HttpResponse& response, Json* out) {
  const std::string& body = request.body();
  if (Trim(body).empty()) {
    *out = Json::object();
    return true;
  }
  size_t offset = 0;
  std::string message;
  if (FindJsonSyntaxError(body, &offset, &message)) {
    WriteError(response, false, 400, "malformed_json", "malformed JSON at byte " + std::to_string(offset) + ": " + message,
               {{"offset", offset}});
    return false;
  }
  *out = Json::parse(body, nullptr, false);
  if (!out->is_object()) {
    WriteError(response, false, 400, "invalid_body", "the body must be a JSON object");
    return false;
  }
  return true;
}

/// The non-empty segments of `path`, as views into it.
std::vector<std::string_view> PathSegments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    if (slash != 0) out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Construction.

ScoringServer::ScoringServer(Config config, Logger& logger) : config_(std::move(config)), logger_(logger) {
  auto route = [this](std::string method, std::string pattern,
                      void (ScoringServer::*handler)(const HttpRequest&, HttpResponse&, const RouteMatch&),
                      bool oip = false) {
    Route r;
    r.method = std::move(method);
    for (std::string_view segment : PathSegments(pattern)) r.segments.emplace_back(segment);
    r.pattern = std::move(pattern);
    r.handler = handler;
    r.oip = oip;
    routes_.push_back(std::move(r));
  };
  route("GET", "/healthz", &ScoringServer::Health);
  route("GET", "/readyz", &ScoringServer::Ready);
  route("GET", "/metrics", &ScoringServer::Metrics);
  route("GET", "/openapi.json", &ScoringServer::OpenApi);
  route("GET", "/v1/endpoints", &ScoringServer::ListEndpointsRoute);
  route("POST", "/v1/endpoints/{endpoint}/predict", &ScoringServer::Predict);
  route("POST", "/v1/endpoints/{endpoint}/feedback", &ScoringServer::Feedback);
  route("GET", "/v2", &ScoringServer::ServerMetadataV2, true);
  route("GET", "/v2/health/live", &ScoringServer::Health, true);
  route("GET", "/v2/health/ready", &ScoringServer::ServerReadyV2, true);
  route("GET", "/v2/models/{model}", &ScoringServer::ModelMetadataV2, true);
  route("GET", "/v2/models/{model}/ready", &ScoringServer::ModelReadyV2, true);
  route("POST", "/v2/models/{model}/infer", &ScoringServer::InferV2, true);
  route("GET", "/v2/models/{model}/versions/{version}", &ScoringServer::ModelMetadataV2, true);
  route("GET", "/v2/models/{model}/versions/{version}/ready", &ScoringServer::ModelReadyV2, true);
  route("POST", "/v2/models/{model}/versions/{version}/infer", &ScoringServer::InferV2, true);
  route("GET", "/v1/admin/endpoints", &ScoringServer::AdminEndpoints);
  route("GET", "/v1/admin/endpoints/{endpoint}", &ScoringServer::AdminEndpoint);
  route("POST", "/v1/admin/endpoints/{endpoint}/deployments", &ScoringServer::AdminDeploy);
  route("GET", "/v1/admin/endpoints/{endpoint}/deployments", &ScoringServer::AdminHistory);
  route("POST", "/v1/admin/endpoints/{endpoint}/rollback", &ScoringServer::AdminRollback);
  route("GET", "/v1/admin/endpoints/{endpoint}/shadows", &ScoringServer::AdminShadows);
  route("GET", "/v1/admin/keys", &ScoringServer::AdminListKeys);
  route("POST", "/v1/admin/keys", &ScoringServer::AdminCreateKey);
  route("DELETE", "/v1/admin/keys/{key}", &ScoringServer::AdminRevokeKey);
  route("PUT", "/v1/admin/keys/{key}/plan", &ScoringServer::AdminAttachPlan);
  route("GET", "/v1/admin/plans", &ScoringServer::AdminListPlans);
  route("POST", "/v1/admin/plans", &ScoringServer::AdminCreatePlan);
  route("GET", "/v1/admin/audit", &ScoringServer::AdminAudit);
  endpoints_ = std::make_shared<EndpointMap>();
}

ScoringServer::~ScoringServer() { Drain(); }

Result<std::unique_ptr<ScoringServer>> ScoringServer::Create(const Config& config, const ServeOptions& options,
                                                             Logger& logger) {
  std::unique_ptr<ScoringServer> server(new ScoringServer(config, logger));
  Config& c = server->config_;
  if (!options.listen.empty()) c.api.listen = options.listen;
  if (options.workers >= 0) c.api.workers = options.workers;
  const std::string home = c.Resolve(c.global.home);
  FOPS_ASSIGN_OR_RETURN(server->metadata_,
                        MetadataStore::Open(c.global.metadata_url, (fs::path(home) / "fraudops.db").string()));
  FOPS_ASSIGN_OR_RETURN(server->artifacts_, OpenArtifactStore(c.global.artifact_url, (fs::path(home) / "artifacts").string()));
  server->serving_ = std::make_unique<ServingStore>(*server->metadata_);
  server->loader_ = std::make_unique<ModelLoader>(*server->metadata_, *server->artifacts_,
                                                  (fs::path(home) / "cache" / "models").string());
  CaptureOptions capture;
  capture.directory = (fs::path(home) / "capture").string();
  capture.max_file_bytes = static_cast<size_t>(c.api.capture_max_file_mb * 1024 * 1024);
  capture.rotate_after = std::chrono::seconds(static_cast<int64_t>(c.api.capture_rotate_seconds));
  capture.queue_rows = static_cast<size_t>(c.api.capture_queue_rows);
  capture.logger = &logger;
  server->capture_ = std::make_unique<CaptureWriter>(capture);
  server->shadows_ = std::make_unique<ShadowRunner>();
  HttpLimits limits;
  limits.max_body_bytes = static_cast<size_t>(c.api.max_body_bytes);
  limits.max_connections = static_cast<size_t>(c.api.max_connections);
  limits.header_timeout = std::chrono::milliseconds(c.api.header_timeout_ms);
  limits.body_timeout = std::chrono::milliseconds(c.api.body_timeout_ms);
  limits.idle_timeout = std::chrono::milliseconds(c.api.idle_timeout_ms);
  ScoringServer* self = server.get();
  server->http_ = std::make_unique<HttpServer>(limits, [self](const HttpRequest& request, HttpResponse& response) {
    self->Handle(request, response);
  });
  server->auth_required_ = c.api.auth == "required";
  server->capture_sample_ = c.api.capture_sample;
  server->max_rows_ = static_cast<size_t>(c.api.max_rows);
  server->DeclareMetrics();
  return server;
}

void ScoringServer::DeclareMetrics() {
  metrics_.Declare("fraudops_http_requests_total", "counter", "HTTP requests by route, status code, endpoint and variant.",
                   {"route", "code", "endpoint", "variant"});
  metrics_.Declare("fraudops_http_request_duration_seconds", "histogram",
                   "Time from a request's arrival to its response being ready, by route, endpoint and variant.",
                   {"route", "endpoint", "variant"}, kLatencyBuckets);
  metrics_.Declare("fraudops_prediction_score", "histogram", "Scores returned, by endpoint and variant.",
                   {"endpoint", "variant"}, kScoreBuckets);
  metrics_.Declare("fraudops_predictions_total", "counter", "Rows scored, by endpoint, variant and decision label.",
                   {"endpoint", "variant", "label"});
  metrics_.Declare("fraudops_rejected_requests_total", "counter",
                   "Requests refused before scoring, by reason (unauthorized, forbidden, rate_limited, "
                   "malformed_json, invalid_features, too_many_rows, not_found, …).",
                   {"reason"});
  metrics_.Declare("fraudops_rate_limited_total", "counter", "Requests refused by a usage plan, by key and limit.",
                   {"key", "limit"});
  metrics_.AddCollector([this](std::string& out) {
    std::shared_ptr<const EndpointMap> endpoints = Endpoints();
    out += "# HELP fraudops_model_info The model version each variant serves (value 1).\n# TYPE fraudops_model_info gauge\n";
    for (const auto& [endpoint_name, e] : *endpoints) {
      const std::string& name = endpoint_name;  // a structured binding cannot be captured (C++20)
      auto info = [&](const std::string& variant, const LoadedModel& m) {
        out += MetricLine("fraudops_model_info", {"endpoint", "variant", "model", "version", "algorithm"},
                          {name, variant, m.ref().model, std::to_string(m.ref().version), m.bundle().algorithm}) +
               " 1\n";
      };
      if (e->production) info("production", *e->production);
      if (e->canary) info("canary", *e->canary);
      for (const auto& s : e->shadows) info("shadow", *s);
    }
    out += "# HELP fraudops_canary_traffic_percent Share of the endpoint's traffic the canary receives.\n"
           "# TYPE fraudops_canary_traffic_percent gauge\n";
    for (const auto& [name, e] : *endpoints) {
      out += MetricLine("fraudops_canary_traffic_percent", {"endpoint"}, {name}) + " " +
             MetricValue(100 * e->canary_fraction) + "\n";
    }
    const HttpServerStats& http = http_->stats();
    out += "# HELP fraudops_open_connections Open client connections.\n# TYPE fraudops_open_connections gauge\n";
    out += "fraudops_open_connections " + std::to_string(http.open_connections.load()) + "\n";
    out += "# HELP fraudops_refused_connections_total Connections closed at once because api.max_connections were open.\n"
           "# TYPE fraudops_refused_connections_total counter\n";
    out += "fraudops_refused_connections_total " + std::to_string(http.refused_connections.load()) + "\n";
    out += "# HELP fraudops_http_timeouts_total Requests cut off by the header or body deadline.\n"
           "# TYPE fraudops_http_timeouts_total counter\n";
    out += "fraudops_http_timeouts_total " + std::to_string(http.timeouts.load()) + "\n";
    out += "# HELP fraudops_http_bad_requests_total Requests that were not valid HTTP or over the size limits.\n"
           "# TYPE fraudops_http_bad_requests_total counter\n";
    out += "fraudops_http_bad_requests_total " + std::to_string(http.bad_requests.load()) + "\n";
    out += "# HELP fraudops_capture_rows_total Captured rows, written or dropped (queue full, write error).\n"
           "# TYPE fraudops_capture_rows_total counter\n";
    out += "fraudops_capture_rows_total{outcome=\"written\"} " + std::to_string(capture_->written_rows()) + "\n";
    out += "fraudops_capture_rows_total{outcome=\"dropped\"} " + std::to_string(capture_->dropped_rows()) + "\n";
    out += "# HELP fraudops_shadow_dropped_total Shadow jobs dropped because the shadow queue was full.\n"
           "# TYPE fraudops_shadow_dropped_total counter\n";
    out += "fraudops_shadow_dropped_total " + std::to_string(shadows_->dropped()) + "\n";
    out += "# HELP fraudops_build_info The running fraudops (value 1).\n# TYPE fraudops_build_info gauge\n";
    out += MetricLine("fraudops_build_info", {"version"}, {std::string(CodeVersion())}) + " 1\n";
  });
}

Status ScoringServer::Start() {
  {
    std::lock_guard lock(store_mutex_);
    auto counters = serving_->ChangeCounters();
    if (!counters.ok()) return counters.status();
    counters_seen_ = *counters;
  }
  if (!config_.api.quota_url.empty()) {  // quotas shared by replicas: Redis must answer now
    FOPS_ASSIGN_OR_RETURN(shared_quotas_, SharedQuotas::Connect(config_.api.quota_url));
    keys_.SetShared(shared_quotas_.get());
  }
  ReloadEndpoints();
  ReloadKeys();
  FOPS_ASSIGN_OR_RETURN(auto address, ParseListenAddress(config_.api.listen));
  size_t workers = config_.api.workers > 0 ? static_cast<size_t>(config_.api.workers)
                                           : std::max(1u, std::thread::hardware_concurrency());
  FOPS_RETURN_IF_ERROR(http_->Start(address.first, address.second, workers));
  controller_ = std::thread([this] { ControllerLoop(); });
  std::shared_ptr<const EndpointMap> endpoints = Endpoints();
  logger_.Info("serve", "listening", {{"address", address.first}, {"port", static_cast<long long>(http_->port())},
                                      {"workers", workers}, {"endpoints", endpoints->size()},
                                      {"auth", auth_required_ ? "required" : "disabled"},
                                      {"quotas", config_.api.quota_url.empty() ? "in-process" : RedactUrl(config_.api.quota_url)}});
  return Status::Ok();
}

void ScoringServer::Reload(const Config& config) {
  auth_required_ = config.api.auth == "required";
  capture_sample_ = config.api.capture_sample;
  max_rows_ = static_cast<size_t>(config.api.max_rows);
  LogLevel level;
  if (ParseLogLevel(config.global.log_level, &level)) logger_.set_level(level);
  if (config.api.listen != config_.api.listen || config.api.workers != config_.api.workers) {
    logger_.Warn("serve", "api.listen and api.workers change only when the server restarts");
  }
  {
    std::lock_guard lock(controller_mutex_);
    config_.deploy = config.deploy;
  }
  logger_.Info("serve", "configuration reloaded", {{"auth", config.api.auth}, {"capture_sample", config.api.capture_sample}});
  {
    std::lock_guard lock(controller_mutex_);
    reload_all_ = true;  // the controller reloads endpoints and keys at its next tick
  }
  Poke();
}

void ScoringServer::Drain() {
  {
    std::lock_guard lock(controller_mutex_);
    if (stop_) return;
    stop_ = true;
  }
  controller_wake_.notify_all();
  if (http_) http_->Drain(std::chrono::milliseconds(config_.api.drain_timeout_ms));
  if (controller_.joinable()) controller_.join();
  if (capture_) capture_->Flush();
  FlushUsage();
}

// ---------------------------------------------------------------------------------------
// Dispatch.

void ScoringServer::Handle(const HttpRequest& request, HttpResponse& response) {
  const auto path = PathSegments(request.path());
  RouteMatch match;
  bool path_known = false;
  for (const Route& route : routes_) {
    if (route.segments.size() != path.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < path.size() && ok; ++i) ok = route.segments[i].front() == '{' || route.segments[i] == path[i];
    if (!ok) continue;
    path_known = true;
    if (route.method != request.method()) continue;
    match.route = &route;
    for (size_t i = 0; i < path.size(); ++i) {
      if (route.segments[i].front() == '{') match.params.push_back(path[i]);  // views into `path`, alive for the call
    }
    break;
  }
  if (match.route == nullptr) {
    const bool oip = StartsWith(request.path(), "/v2");
    if (path_known) {
      WriteError(response, oip, 405, "method_not_allowed",
                 std::string(request.method()) + " is not allowed on " + std::string(request.path()));
    } else {
      WriteError(response, oip, 404, "not_found", "no route " + std::string(request.path()) + " (GET /openapi.json lists them)");
    }
    metrics_.Counter("fraudops_http_requests_total", {"unmatched", std::to_string(response.status), "", ""})
        .fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto start = Clock::now();
  try {
    (this->*match.route->handler)(request, response, match);
  } catch (const Json::exception& e) {  // a member of the wrong type in an admin or feedback body
    response = HttpResponse();
    WriteError(response, match.route->oip, 400, "invalid_body", std::string("the body has a value of the wrong type: ") + e.what());
  } catch (const std::exception& e) {  // never let one cross into the connection
    response = HttpResponse();
    WriteError(response, match.route->oip, 500, "internal", e.what());
  }
  // Predict routes count themselves (with endpoint and variant); the others are counted here.
  if (match.route->handler != &ScoringServer::Predict && match.route->handler != &ScoringServer::InferV2) {
    std::string endpoint = match.params.empty() ? "" : std::string(match.params[0]);
    metrics_.Counter("fraudops_http_requests_total", {match.route->pattern, std::to_string(response.status), endpoint, ""})
        .fetch_add(1, std::memory_order_relaxed);
    metrics_.HistogramOf("fraudops_http_request_duration_seconds", {match.route->pattern, endpoint, ""})
        .Observe(std::chrono::duration<double>(Clock::now() - start).count());
  }
}

bool ScoringServer::Authorize(const HttpRequest& request, HttpResponse& response, const RouteMatch& match,
                              std::string_view scope, std::string_view endpoint, std::string* key_id) {
  if (!auth_required_.load(std::memory_order_relaxed)) {
    if (key_id) *key_id = "";
    return true;
  }
  AuthDecision decision = keys_.Authorize(request.Header("x-api-key"), scope, endpoint, std::chrono::system_clock::now());
  if (key_id) *key_id = decision.key_id;
  if (decision.status == 200) return true;
  const char* reason = decision.status == 401   ? "unauthorized"
                       : decision.status == 403 ? "forbidden"
                       : decision.status == 503 ? "quota_store_unavailable"
                                                : "rate_limited";
  metrics_.Counter("fraudops_rejected_requests_total", {reason}).fetch_add(1, std::memory_order_relaxed);
  if (decision.status == 429) {
    metrics_.Counter("fraudops_rate_limited_total", {decision.key_id, decision.limit}).fetch_add(1, std::memory_order_relaxed);
  }
  if (decision.status == 503) {  // logged at most every 10 s: an outage would flood the log
    const int64_t second = std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    int64_t last = quota_store_warned_.load(std::memory_order_relaxed);
    if (second - last >= 10 && quota_store_warned_.compare_exchange_strong(last, second)) {
      logger_.Warn("serve", decision.message + "; requests of keys with a usage plan get 503 until it answers");
    }
  }
  if (decision.status == 429 || decision.status == 503) {
    response.headers.emplace_back("Retry-After", std::to_string(decision.retry_after));
  }
  if (decision.status == 401) response.headers.emplace_back("WWW-Authenticate", "ApiKey header=\"x-api-key\"");
  Json details = Json::object();
  if (decision.status == 429) details = {{"limit", decision.limit}, {"retry_after_seconds", decision.retry_after}};
  WriteError(response, match.route->oip, decision.status, reason, decision.message, details);
  return false;
}

std::shared_ptr<const EndpointMap> ScoringServer::Endpoints() const {
  std::lock_guard lock(endpoints_mutex_);
  return endpoints_;
}

std::shared_ptr<const EndpointSnapshot> ScoringServer::FindEndpoint(std::string_view name) const {
  std::shared_ptr<const EndpointMap> endpoints = Endpoints();
  auto it = endpoints->find(name);
  return it == endpoints->end() ? nullptr : it->second;
}

Status ScoringServer::WithStore(const std::function<Status(ServingStore&)>& body) {
  std::lock_guard lock(store_mutex_);
  return body(*serving_);
}

// ---------------------------------------------------------------------------------------
// Health, readiness, metrics, the API document.

void ScoringServer::Health(const HttpRequest&, HttpResponse& response, const RouteMatch& match) {
  if (match.route->oip) {
    WriteJson(response, {{"live", true}});
    return;
  }
  WriteJson(response, {{"status", "ok"}, {"version", CodeVersion()}});
}

void ScoringServer::Ready(const HttpRequest&, HttpResponse& response, const RouteMatch&) {
  Json body = Readiness();
  const bool ready = body["ready"].get<bool>();
  WriteJson(response, body, ready ? 200 : 503);
}

Json ScoringServer::Readiness() const {
  std::shared_ptr<const EndpointMap> endpoints = Endpoints();
  Json list = Json::object();
  bool ready = loaded_.load() && !endpoints->empty();
  for (const auto& [name, e] : *endpoints) {
    const bool loaded = e->production != nullptr;
    ready = ready && loaded;
    list[name] = {{"ready", loaded},
                  {"production", e->production ? Json(e->production->ref().ToString()) : Json(nullptr)},
                  {"canary", e->canary ? Json(e->canary->ref().ToString()) : Json(nullptr)}};
  }
  Json body = {{"ready", ready}, {"endpoints", list}};
  if (endpoints->empty()) body["reason"] = "no endpoint has a deployed model yet (fraudops deploy)";
  return body;
}

void ScoringServer::Metrics(const HttpRequest&, HttpResponse& response, const RouteMatch&) {
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = metrics_.Render();
}

void ScoringServer::OpenApi(const HttpRequest&, HttpResponse& response, const RouteMatch&) {
  response.body = std::string(embedded::openapi_json());
}

void ScoringServer::ListEndpointsRoute(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  if (!Authorize(request, response, match, "invoke", "", nullptr)) return;
  std::shared_ptr<const EndpointMap> endpoints = Endpoints();
  Json list = Json::array();
  for (const auto& [name, e] : *endpoints) {
    Json item = {{"name", name}};
    if (e->production) {
      item["model"] = e->production->ref().model;
      item["version"] = e->production->ref().version;
      item["threshold"] = e->production->threshold();
      Json features = Json::array();
      for (const FeatureSpec& f : e->production->bundle().input.features) features.push_back(f.name);
      item["features"] = features;
    }
    list.push_back(item);
  }
  WriteJson(response, {{"endpoints", list}});
}

// ---------------------------------------------------------------------------------------
// Scoring.

void ScoringServer::Predict(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  Score(request, response, match, false);
}

void ScoringServer::InferV2(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  Score(request, response, match, true);
}

void ScoringServer::Score(const HttpRequest& request, HttpResponse& response, const RouteMatch& match, bool oip) {
  const auto start = Clock::now();
  const std::string endpoint_name(match.params[0]);
  std::string variant = "";
  auto finish = [&](int status) {  // the error paths; a scored request counts through ScoreMetrics
    metrics_.Counter("fraudops_http_requests_total", {match.route->pattern, std::to_string(status), endpoint_name, variant})
        .fetch_add(1, std::memory_order_relaxed);
    metrics_.HistogramOf("fraudops_http_request_duration_seconds", {match.route->pattern, endpoint_name, variant})
        .Observe(std::chrono::duration<double>(Clock::now() - start).count());
  };
  if (!Authorize(request, response, match, "invoke", endpoint_name, nullptr)) return finish(response.status);
  auto snapshot = FindEndpoint(endpoint_name);
  if (!snapshot || !snapshot->production) {
    metrics_.Counter("fraudops_rejected_requests_total", {"not_found"}).fetch_add(1, std::memory_order_relaxed);
    WriteError(response, oip, 404, "not_found",
               (oip ? "no model '" : "no endpoint '") + endpoint_name + "' is deployed (GET /v1/endpoints lists them)");
    return finish(404);
  }
  // The variant: the canary gets its share of requests, production the rest.
  const LoadedModel* model = snapshot->production.get();
  variant = "production";
  if (snapshot->canary && NextUniform() < snapshot->canary_fraction) {
    model = snapshot->canary.get();
    variant = "canary";
  }
  if (match.params.size() > 1) {  // /v2/models/{model}/versions/{version}: that version, if it serves here
    const std::string wanted(match.params[1]);
    if (std::to_string(snapshot->production->ref().version) == wanted) {
      model = snapshot->production.get();
      variant = "production";
    } else if (snapshot->canary && std::to_string(snapshot->canary->ref().version) == wanted) {
      model = snapshot->canary.get();
      variant = "canary";
    } else {
      WriteError(response, true, 404, "not_found", "version " + wanted + " of '" + endpoint_name + "' is not being served");
      return finish(404);
    }
  }
  ParsedRows rows;
  RequestError error;
  const size_t max_rows = max_rows_.load(std::memory_order_relaxed);
  const bool parsed = oip ? ParseInferBody(request.body(), model->encoder(), max_rows, &rows, &error)
                          : ParsePredictBody(request.body(), request.Header("content-type"), model->encoder(), max_rows,
                                             &rows, &error);
  if (!parsed) {
    metrics_.Counter("fraudops_rejected_requests_total", {error.code}).fetch_add(1, std::memory_order_relaxed);
    WriteError(response, oip, error.status, error.code, error.message, error.details);
    return finish(error.status);
  }
  size_t explain = 0;
  if (!oip && request.HasQueryParam("explain")) {
    auto k = ParseInt(request.QueryParam("explain"));
    if (!k || *k < 1 || *k > static_cast<long long>(model->encoder().size())) {
      WriteError(response, false, 400, "bad_request",
                 "explain must be a number of reasons from 1 to " + std::to_string(model->encoder().size()));
      return finish(400);
    }
    explain = static_cast<size_t>(*k);
  }
  // Score.
  const size_t width = model->encoder().size();
  const Ensemble& ensemble = model->ensemble();
  std::vector<double> scores(rows.rows);
  const auto scoring_start = Clock::now();
  for (size_t r = 0; r < rows.rows; ++r) scores[r] = ensemble.PredictProbability(rows.values.data() + r * width);
  const double scoring_seconds = std::chrono::duration<double>(Clock::now() - scoring_start).count();
  bool failed = false;
  for (double s : scores) failed |= !std::isfinite(s);
  if (failed) {
    if (snapshot->rollout) {
      (variant == "canary" ? snapshot->rollout->canary : snapshot->rollout->production)
          .Record(scoring_seconds, nullptr, 0, true);
    }
    WriteError(response, oip, 500, "internal", "the model returned a score that is not a number");
    return finish(500);
  }
  const TreeShap* explainer = explain ? model->explainer() : nullptr;
  if (explain && explainer == nullptr) {
    WriteError(response, false, 501, "not_implemented", "this model has no node statistics (covers); it cannot explain");
    return finish(501);
  }
  std::string request_id(request.Header("x-request-id"));
  if (request_id.empty() || request_id.size() > 128) request_id = NewRequestId();
  const double threshold = model->threshold();
  const VariantRef& ref = model->ref();
  std::string& out = response.body;
  out.reserve(160 + rows.rows * (explain ? 200 : 60));
  if (oip) {
    out += "{\"model_name\":";
    AppendString(out, endpoint_name);
    out += ",\"model_version\":\"" + std::to_string(ref.version) + "\",\"id\":";
    AppendString(out, rows.id.empty() ? request_id : rows.id);
    out += ",\"parameters\":{\"request_id\":";
    AppendString(out, request_id);
    out += ",\"model\":";
    AppendString(out, ref.model);
    out += ",\"variant\":\"" + variant + "\",\"threshold\":";
    AppendNumber(out, threshold);
    out += "},\"outputs\":[{\"name\":\"score\",\"datatype\":\"FP64\",\"shape\":[" + std::to_string(rows.rows) +
           "],\"data\":[";
    for (size_t r = 0; r < rows.rows; ++r) {
      if (r) out += ',';
      AppendNumber(out, scores[r]);
    }
    out += "]},{\"name\":\"label\",\"datatype\":\"INT64\",\"shape\":[" + std::to_string(rows.rows) + "],\"data\":[";
    for (size_t r = 0; r < rows.rows; ++r) {
      if (r) out += ',';
      out += scores[r] >= threshold ? '1' : '0';
    }
    out += "]}]}";
  } else {
    std::vector<double> contributions;
    TreeShap::Workspace workspace;
    if (explainer) {
      contributions.resize(rows.rows * (width + 1));
      explainer->Contributions(rows.values.data(), rows.rows, contributions.data(), workspace);
    }
    auto append_row = [&](size_t r) {
      out += "\"score\":";
      AppendNumber(out, scores[r]);
      out += ",\"label\":";
      out += scores[r] >= threshold ? '1' : '0';
      if (explainer) {
        out += ",\"reasons\":[";
        auto reasons = TreeShap::TopReasons(rows.values.data() + r * width, contributions.data() + r * (width + 1),
                                            width, explain);
        for (size_t i = 0; i < reasons.size(); ++i) {
          if (i) out += ',';
          out += "{\"feature\":";
          AppendString(out, model->encoder().feature(reasons[i].feature).name);
          out += ",\"value\":";
          model->AppendFeatureValue(out, reasons[i].feature, reasons[i].value);
          out += ",\"contribution\":";
          AppendNumber(out, reasons[i].contribution);
          out += '}';
        }
        out += ']';
      }
    };
    out += "{\"request_id\":";
    AppendString(out, request_id);
    out += ",\"endpoint\":";
    AppendString(out, endpoint_name);
    out += ",\"model\":";
    AppendString(out, ref.model);
    out += ",\"version\":" + std::to_string(ref.version) + ",\"variant\":\"" + variant + "\",\"threshold\":";
    AppendNumber(out, threshold);
    if (rows.batch) {
      out += ",\"predictions\":[";
      for (size_t r = 0; r < rows.rows; ++r) {
        out += r ? ",{\"request_id\":" : "{\"request_id\":";
        AppendString(out, request_id + "-" + std::to_string(r));
        out += ',';
        append_row(r);
        out += '}';
      }
      out += "]}";
    } else {
      out += ',';
      append_row(0);
      out += '}';
    }
  }
  response.headers.emplace_back("x-request-id", request_id);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // Live statistics, metrics, capture and shadows: after the response is built, nothing blocks.
  if (snapshot->rollout) {
    (variant == "canary" ? snapshot->rollout->canary : snapshot->rollout->production)
        .Record(seconds, scores.data(), rows.rows, false);
  }
  const ScoreMetrics& counted = ScoreMetricsFor(*match.route, endpoint_name, variant);
  size_t positives = 0;
  for (double s : scores) {
    counted.score->Observe(s);
    positives += s >= threshold;
  }
  if (positives) counted.predictions[1]->fetch_add(positives, std::memory_order_relaxed);
  if (rows.rows > positives) counted.predictions[0]->fetch_add(rows.rows - positives, std::memory_order_relaxed);
  const double sample = capture_sample_.load(std::memory_order_relaxed);
  if (sample > 0 && (sample >= 1 || NextUniform() < sample)) {
    std::string lines;
    const std::string time = UtcNow();
    for (size_t r = 0; r < rows.rows; ++r) {
      lines += "{\"v\":1,\"request_id\":";
      AppendString(lines, rows.batch ? request_id + "-" + std::to_string(r) : request_id);
      lines += ",\"time\":\"" + time + "\",\"endpoint\":";
      AppendString(lines, endpoint_name);
      lines += ",\"variant\":\"" + variant + "\",\"model\":";
      AppendString(lines, ref.model);
      lines += ",\"version\":" + std::to_string(ref.version) + ",\"latency_us\":";
      AppendNumber(lines, std::round(seconds * 1e6));
      lines += ",\"features\":{";
      for (size_t f = 0; f < width; ++f) {
        if (f) lines += ',';
        AppendString(lines, model->encoder().feature(f).name);
        lines += ':';
        model->AppendFeatureValue(lines, f, rows.values[r * width + f]);
      }
      lines += "},\"score\":";
      AppendNumber(lines, scores[r]);
      lines += ",\"label\":";
      lines += scores[r] >= threshold ? '1' : '0';
      lines += "}\n";
    }
    capture_->Submit(endpoint_name, std::move(lines), rows.rows);
  }
  if (!snapshot->shadows.empty() && variant == "production") {
    ShadowJob job;
    job.snapshot = snapshot;
    job.rows = std::move(rows.values);
    job.count = rows.rows;
    job.production_scores = scores;
    job.production_seconds = scoring_seconds;
    shadows_->Submit(std::move(job));
  }
  counted.ok->fetch_add(1, std::memory_order_relaxed);
  counted.duration->Observe(std::chrono::duration<double>(Clock::now() - start).count());
}

const ScoringServer::ScoreMetrics& ScoringServer::ScoreMetricsFor(const Route& route, std::string_view endpoint,
                                                                  std::string_view variant) {
  const auto key = std::make_tuple(&route, endpoint, variant);
  {
    std::shared_lock lock(score_metrics_mutex_);
    auto it = score_metrics_.find(key);
    if (it != score_metrics_.end()) return it->second;
  }
  const std::string e(endpoint), v(variant);
  ScoreMetrics found;
  found.ok = &metrics_.Counter("fraudops_http_requests_total", {route.pattern, "200", e, v});
  found.duration = &metrics_.HistogramOf("fraudops_http_request_duration_seconds", {route.pattern, e, v});
  found.score = &metrics_.HistogramOf("fraudops_prediction_score", {e, v});
  found.predictions[0] = &metrics_.Counter("fraudops_predictions_total", {e, v, "0"});
  found.predictions[1] = &metrics_.Counter("fraudops_predictions_total", {e, v, "1"});
  std::unique_lock lock(score_metrics_mutex_);
  return score_metrics_.emplace(std::make_tuple(&route, e, v), found).first->second;
}

// ---------------------------------------------------------------------------------------
// Feedback: delayed ground truth.

void ScoringServer::Feedback(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  if (!Authorize(request, response, match, "feedback", endpoint, nullptr)) return;
  Json body;
  if (!ParseAdminBody(request, response, &body)) return;
  Json items = body.contains("labels") ? body["labels"] : Json::array({body});
  if (!items.is_array() || items.empty()) {
    WriteError(response, false, 400, "invalid_body",
               "send {\"request_id\": \"…\", \"label\": 0 or 1[, \"label_time\": \"ISO 8601\"]} or {\"labels\": [ … ]}");
    return;
  }
  std::vector<FeedbackRecord> labels;
  const std::string now = UtcNow();
  for (size_t i = 0; i < items.size(); ++i) {
    const Json& item = items[i];
    const std::string where = body.contains("labels") ? "/labels/" + std::to_string(i) : "";
    if (!item.is_object() || !item.contains("request_id") || !item["request_id"].is_string() ||
        item["request_id"].get<std::string>().empty()) {
      WriteError(response, false, 400, "invalid_body", where + "/request_id: a non-empty string is required",
                 {{"pointer", where + "/request_id"}});
      return;
    }
    const Json& label = item.contains("label") ? item["label"] : Json();
    double value = -1;
    if (label.is_boolean()) value = label.get<bool>() ? 1 : 0;
    if (label.is_number()) value = label.get<double>();
    if (value != 0 && value != 1) {
      WriteError(response, false, 400, "invalid_body", where + "/label: 0 or 1 (or false/true) is required",
                 {{"pointer", where + "/label"}});
      return;
    }
    FeedbackRecord record;
    record.request_id = item["request_id"].get<std::string>();
    record.label = value;
    record.received_at = now;
    record.label_time = now;
    if (item.contains("label_time")) {
      if (!item["label_time"].is_string() || !ParseUtcTime(item["label_time"].get<std::string>())) {
        WriteError(response, false, 400, "invalid_body",
                   where + "/label_time: an ISO 8601 UTC time such as 2026-11-23T10:00:00Z is required",
                   {{"pointer", where + "/label_time"}});
        return;
      }
      record.label_time = item["label_time"].get<std::string>();
    }
    labels.push_back(std::move(record));
  }
  Status stored = WithStore([&](ServingStore& store) { return store.RecordFeedback(endpoint, labels); });
  if (!stored.ok()) return WriteStatus(response, false, stored);
  WriteJson(response, {{"stored", labels.size()}, {"endpoint", endpoint}});
}

// ---------------------------------------------------------------------------------------
// Open Inference Protocol metadata.

void ScoringServer::ServerMetadataV2(const HttpRequest&, HttpResponse& response, const RouteMatch&) {
  WriteJson(response, {{"name", "fraudops"}, {"version", CodeVersion()}, {"extensions", Json::array()}});
}

void ScoringServer::ServerReadyV2(const HttpRequest&, HttpResponse& response, const RouteMatch&) {
  const bool ready = Readiness()["ready"].get<bool>();
  WriteJson(response, {{"ready", ready}}, ready ? 200 : 503);
}

void ScoringServer::ModelMetadataV2(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  const std::string name(match.params[0]);
  if (!Authorize(request, response, match, "invoke", name, nullptr)) return;
  auto snapshot = FindEndpoint(name);
  if (!snapshot || !snapshot->production) {
    WriteError(response, true, 404, "not_found", "no model '" + name + "' is deployed");
    return;
  }
  const LoadedModel& m = *snapshot->production;
  Json versions = Json::array({std::to_string(m.ref().version)});
  if (snapshot->canary) versions.push_back(std::to_string(snapshot->canary->ref().version));
  if (match.params.size() > 1 && !versions.contains(std::string(match.params[1]))) {
    WriteError(response, true, 404, "not_found", "version " + std::string(match.params[1]) + " of '" + name + "' is not being served");
    return;
  }
  const std::string dtype = m.bundle().input.dtype == "float64" ? "FP64" : "FP32";
  Json inputs = Json::array();
  for (const FeatureSpec& f : m.bundle().input.features) {
    inputs.push_back({{"name", f.name}, {"datatype", f.categorical && !f.categories.empty() ? "BYTES" : dtype}, {"shape", {-1}}});
  }
  WriteJson(response, {{"name", name},
                       {"versions", versions},
                       {"platform", "fraudops_" + m.bundle().algorithm},
                       {"inputs", inputs},
                       {"outputs", Json::array({{{"name", "score"}, {"datatype", "FP64"}, {"shape", {-1}}},
                                                {{"name", "label"}, {"datatype", "INT64"}, {"shape", {-1}}}})},
                       {"parameters", {{"model", m.ref().model}, {"threshold", m.threshold()},
                                       {"tensor_input", {{"name", "input-0"}, {"datatype", dtype},
                                                         {"shape", {-1, static_cast<int64_t>(inputs.size())}}}}}}});
}

void ScoringServer::ModelReadyV2(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  const std::string name(match.params[0]);
  if (!Authorize(request, response, match, "invoke", name, nullptr)) return;
  auto snapshot = FindEndpoint(name);
  const bool ready = snapshot && snapshot->production;
  WriteJson(response, {{"name", name}, {"ready", ready}}, ready ? 200 : 404);
}

// ---------------------------------------------------------------------------------------
// Admin routes.

void ScoringServer::AdminEndpoints(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  if (!Authorize(request, response, match, "admin", "", nullptr)) return;
  Json list = Json::array();
  Status status = WithStore([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto endpoints, store.ListEndpoints());
    for (const auto& e : endpoints) list.push_back(e.ToJson());
    return Status::Ok();
  });
  if (!status.ok()) return WriteStatus(response, false, status);
  WriteJson(response, {{"endpoints", list}});
}

void ScoringServer::AdminEndpoint(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  const std::string name(match.params[0]);
  if (!Authorize(request, response, match, "admin", name, nullptr)) return;
  Json out;
  Status status = WithStore([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto endpoint, store.FindEndpoint(name));
    if (!endpoint) return Status::NotFound("no endpoint '" + name + "'");
    out = endpoint->ToJson();
    if (!endpoint->deployment_id.empty()) {
      FOPS_ASSIGN_OR_RETURN(DeploymentRecord d, store.GetDeployment(endpoint->deployment_id));
      out["deployment"] = d.ToJson();
    }
    return Status::Ok();
  });
  if (!status.ok()) return WriteStatus(response, false, status);
  auto snapshot = FindEndpoint(name);
  out["loaded"] = snapshot && snapshot->production;
  if (snapshot && snapshot->rollout) {
    auto stats = [](const VariantStats& s) {
      return Json{{"requests", s.requests()}, {"errors", s.errors()}, {"p99_ms", 1e3 * s.LatencyQuantile(0.99)}};
    };
    out["rollout"] = {{"production", stats(snapshot->rollout->production)},
                      {"canary", stats(snapshot->rollout->canary)},
                      {"score_psi", PopulationStabilityIndex(snapshot->rollout->production.ScoreCounts(),
                                                             snapshot->rollout->canary.ScoreCounts())}};
  }
  WriteJson(response, out);
}

void ScoringServer::AdminDeploy(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  std::string key_id;
  if (!Authorize(request, response, match, "admin", endpoint, &key_id)) return;
  Json body;
  if (!ParseAdminBody(request, response, &body)) return;
  if (!body.contains("model") || !body["model"].is_string()) {
    WriteError(response, false, 400, "invalid_body", "/model: the registered model's name is required",
               {{"pointer", "/model"}});
    return;
  }
  DeploymentParams params;
  std::string strategy;
  {
    std::lock_guard lock(controller_mutex_);  // Reload replaces config_.deploy
    params = DeploymentParamsFrom(config_.deploy);
    strategy = config_.deploy.strategy;
  }
  strategy = body.value("strategy", strategy);
  for (const char* key : {"canary_percent", "bake_seconds", "linear_step_percent", "linear_step_seconds", "max_error_rate",
                          "max_p99_ms", "max_score_psi", "min_requests"}) {
    if (body.contains(key) && !body[key].is_number()) {
      WriteError(response, false, 400, "invalid_body", std::string("/") + key + ": a number is required",
                 {{"pointer", std::string("/") + key}});
      return;
    }
  }
  Json merged = params.ToJson();
  for (auto& [k, v] : merged.items()) {
    if (body.contains(k)) v = body[k];
  }
  params = DeploymentParams::FromJson(merged);
  Json out;
  Status status = WithStore([&](ServingStore& store) -> Status {
    std::string ref = "latest";
    if (body.contains("alias")) {
      ref = "@" + body["alias"].get<std::string>();
    } else if (body.contains("version")) {
      ref = body["version"].is_string() ? body["version"].get<std::string>() : body["version"].dump();
    }
    FOPS_ASSIGN_OR_RETURN(ModelVersion version, store.metadata().GetVersion(body["model"].get<std::string>(), ref));
    FOPS_ASSIGN_OR_RETURN(DeploymentRecord d, store.Deploy(endpoint, {version.model, version.version}, strategy, params,
                                                           "api-key:" + (key_id.empty() ? "none" : key_id)));
    out = d.ToJson();
    return Status::Ok();
  });
  if (!status.ok()) return WriteStatus(response, false, status);
  Poke();
  WriteJson(response, out, 201);
}

void ScoringServer::AdminHistory(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  if (!Authorize(request, response, match, "admin", endpoint, nullptr)) return;
  Json list = Json::array();
  Status status = WithStore([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto history, store.History(endpoint, 100));
    for (const auto& d : history) list.push_back(d.ToJson());
    return Status::Ok();
  });
  if (!status.ok()) return WriteStatus(response, false, status);
  WriteJson(response, {{"endpoint", endpoint}, {"deployments", list}});
}

void ScoringServer::AdminRollback(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  std::string key_id;
  if (!Authorize(request, response, match, "admin", endpoint, &key_id)) return;
  Json body;
  if (!ParseAdminBody(request, response, &body)) return;
  Json out;
  Status status = WithStore([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(DeploymentRecord d, store.Rollback(endpoint, body.value("reason", "rolled back through the API"),
                                                             "api-key:" + (key_id.empty() ? "none" : key_id)));
    out = d.ToJson();
    return Status::Ok();
  });
  if (!status.ok()) return WriteStatus(response, false, status);
  Poke();
  WriteJson(response, out);
}

void ScoringServer::AdminShadows(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  if (!Authorize(request, response, match, "admin", endpoint, nullptr)) return;
  if (request.HasQueryParam("flush")) shadows_->Flush();
  WriteJson(response, {{"endpoint", endpoint}, {"shadows", shadows_->Report(endpoint)}});
}

void ScoringServer::AdminListKeys(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  if (!Authorize(request, response, match, "admin", "", nullptr)) return;
  Json list = Json::array();
  Status status = WithStore([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto keys, store.ListKeys());
    for (const auto& k : keys) list.push_back(k.ToJson());
    return Status::Ok();
  });
  if (!status.ok()) return WriteStatus(response, false, status);
  WriteJson(response, {{"keys", list}});
}

void ScoringServer::AdminCreateKey(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  std::string key_id;
  if (!Authorize(request, response, match, "admin", "", &key_id)) return;
  Json body;
  if (!ParseAdminBody(request, response, &body)) return;
  auto strings = [&](const char* key, std::vector<std::string> fallback, std::vector<std::string>* out) {
    if (!body.contains(key)) {
      *out = std::move(fallback);
      return true;
    }
    if (!body[key].is_array()) return false;
    for (const auto& v : body[key]) {
      if (!v.is_string()) return false;
      out->push_back(v.get<std::string>());
    }
    return true;
  };
  std::vector<std::string> scopes, endpoints;
  if (!body.contains("name") || !body["name"].is_string()) {
    WriteError(response, false, 400, "invalid_body", "/name: a string is required", {{"pointer", "/name"}});
    return;
  }
  if (!strings("scopes", {"invoke"}, &scopes) || !strings("endpoints", {"*"}, &endpoints)) {
    WriteError(response, false, 400, "invalid_body", "/scopes and /endpoints must be arrays of strings");
    return;
  }
  Json out;
  Status status = WithStore([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(CreatedKey created, store.CreateKey(body["name"].get<std::string>(), scopes, endpoints,
                                                              body.value("plan", ""), "api-key:" + key_id));
    out = created.record.ToJson();
    out["key"] = created.key;
    return Status::Ok();
  });
  if (!status.ok()) return WriteStatus(response, false, status);
  Poke();
  WriteJson(response, out, 201);
}

void ScoringServer::AdminRevokeKey(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  std::string key_id;
  if (!Authorize(request, response, match, "admin", "", &key_id)) return;
  const std::string id(match.params[0]);
  Status status = WithStore([&](ServingStore& store) { return store.RevokeKey(id, "api-key:" + key_id); });
  if (!status.ok()) return WriteStatus(response, false, status);
  Poke();
  WriteJson(response, {{"id", id}, {"revoked", true}});
}

void ScoringServer::AdminAttachPlan(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  std::string key_id;
  if (!Authorize(request, response, match, "admin", "", &key_id)) return;
  Json body;
  if (!ParseAdminBody(request, response, &body)) return;
  if (!body.contains("plan") || !(body["plan"].is_string() || body["plan"].is_null())) {
    WriteError(response, false, 400, "invalid_body", "/plan: a plan name (or null to detach) is required",
               {{"pointer", "/plan"}});
    return;
  }
  const std::string id(match.params[0]);
  const std::string plan = body["plan"].is_null() ? "" : body["plan"].get<std::string>();
  Status status = WithStore([&](ServingStore& store) { return store.AttachPlan(id, plan, "api-key:" + key_id); });
  if (!status.ok()) return WriteStatus(response, false, status);
  Poke();
  WriteJson(response, {{"id", id}, {"plan", plan.empty() ? Json(nullptr) : Json(plan)}});
}

void ScoringServer::AdminListPlans(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  if (!Authorize(request, response, match, "admin", "", nullptr)) return;
  Json list = Json::array();
  Status status = WithStore([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto plans, store.ListPlans());
    for (const auto& p : plans) list.push_back(p.ToJson());
    return Status::Ok();
  });
  if (!status.ok()) return WriteStatus(response, false, status);
  WriteJson(response, {{"plans", list}});
}

void ScoringServer::AdminCreatePlan(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  std::string key_id;
  if (!Authorize(request, response, match, "admin", "", &key_id)) return;
  Json body;
  if (!ParseAdminBody(request, response, &body)) return;
  UsagePlan plan;
  if (!body.contains("name") || !body["name"].is_string()) {
    WriteError(response, false, 400, "invalid_body", "/name: a string is required", {{"pointer", "/name"}});
    return;
  }
  for (const char* key : {"rate_per_second", "burst", "daily_quota", "monthly_quota"}) {
    if (body.contains(key) && !body[key].is_number()) {
      WriteError(response, false, 400, "invalid_body", std::string("/") + key + ": a number is required",
                 {{"pointer", std::string("/") + key}});
      return;
    }
  }
  plan.name = body["name"].get<std::string>();
  plan.rate_per_second = body.value("rate_per_second", 0.0);
  plan.burst = body.value("burst", int64_t{0});
  plan.daily_quota = body.value("daily_quota", int64_t{0});
  plan.monthly_quota = body.value("monthly_quota", int64_t{0});
  Status status = WithStore([&](ServingStore& store) {
    return store.PutPlan(plan, body.value("replace", false), "api-key:" + key_id);
  });
  if (!status.ok()) return WriteStatus(response, false, status);
  Poke();
  WriteJson(response, plan.ToJson(), 201);
}

void ScoringServer::AdminAudit(const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
  if (!Authorize(request, response, match, "admin", "", nullptr)) return;
  Json list = Json::array();
  Status status = WithStore([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto entries, store.metadata().Audit(request.QueryParam("model")));
    for (const auto& e : entries) list.push_back(e.ToJson());
    return Status::Ok();
  });
  if (!status.ok()) return WriteStatus(response, false, status);
  WriteJson(response, {{"audit", list}});
}

// ---------------------------------------------------------------------------------------
// The controller: picks up changes, judges rollouts, flushes counters.

void ScoringServer::Poke() {
  {
    std::lock_guard lock(controller_mutex_);
    poked_ = true;
  }
  controller_wake_.notify_all();
}

void ScoringServer::ControllerLoop() {
  auto last_flush = Clock::now();
  while (true) {
    {
      std::unique_lock lock(controller_mutex_);
      controller_wake_.wait_for(lock, std::chrono::milliseconds(config_.api.poll_interval_ms),
                                [&] { return stop_ || poked_; });
      if (stop_) return;
      poked_ = false;
      if (reload_all_) counters_seen_.clear();
      reload_all_ = false;
    }
    std::map<std::string, int64_t> counters;
    {
      std::lock_guard lock(store_mutex_);
      auto read = serving_->ChangeCounters();
      if (!read.ok()) {
        logger_.Warn("serve", "cannot read the metadata store; serving what is loaded", {{"error", read.status().message()}});
        continue;
      }
      counters = *read;
    }
    if (counters["endpoints"] != counters_seen_["endpoints"]) ReloadEndpoints();
    if (counters["keys"] != counters_seen_["keys"]) ReloadKeys();
    counters_seen_ = counters;
    JudgeRollouts();
    if (Clock::now() - last_flush >= std::chrono::seconds(1)) {
      FlushUsage();
      last_flush = Clock::now();
    }
  }
}

void ScoringServer::ReloadEndpoints() {
  std::vector<EndpointRecord> records;
  std::shared_ptr<const EndpointMap> current = Endpoints();
  auto next = std::make_shared<EndpointMap>();
  std::lock_guard store_lock(store_mutex_);
  auto listed = serving_->ListEndpoints();
  if (!listed.ok()) {
    logger_.Error("serve", "cannot list endpoints", {{"error", listed.status().message()}});
    return;
  }
  for (const EndpointRecord& record : *listed) {
    auto snapshot = std::make_shared<EndpointSnapshot>();
    snapshot->record = record;
    auto previous = current->find(record.name);
    if (!record.production.empty()) {
      auto model = loader_->Load(record.production);
      if (model.ok()) {
        snapshot->production = *model;
      } else {
        logger_.Error("serve", "cannot load the production model; keeping the previous one",
                      {{"endpoint", record.name}, {"model", record.production.ToString()}, {"error", model.status().message()}});
        if (previous != current->end()) snapshot->production = previous->second->production;
      }
    }
    if (!record.canary.empty()) {
      auto model = loader_->Load(record.canary);
      if (model.ok()) {
        snapshot->canary = *model;
        snapshot->canary_fraction = record.canary_percent / 100.0;
      } else {
        logger_.Error("serve", "cannot load the canary; rolling it back",
                      {{"endpoint", record.name}, {"model", record.canary.ToString()}, {"error", model.status().message()}});
        (void)serving_->FinishDeployment(record.deployment_id, "rolled_back",
                                         "the model failed to load: " + model.status().message(), "fraudops-serve");
      }
    }
    for (const VariantRef& ref : record.shadows) {
      auto model = loader_->Load(ref);
      if (model.ok()) {
        snapshot->shadows.push_back(*model);
      } else {
        logger_.Error("serve", "cannot load a shadow; it gets no traffic",
                      {{"endpoint", record.name}, {"model", ref.ToString()}, {"error", model.status().message()}});
      }
    }
    if (!record.deployment_id.empty() && snapshot->canary) {
      auto& stats = rollouts_[record.deployment_id];
      if (!stats || stats->traffic_percent != record.canary_percent) {  // a new deployment or a new step
        stats = std::make_shared<RolloutStats>();
        stats->deployment_id = record.deployment_id;
        stats->traffic_percent = record.canary_percent;
      }
      snapshot->rollout = stats;
    }
    const std::string before = previous == current->end() || !previous->second->production
                                   ? "" : previous->second->production->ref().ToString();
    if (snapshot->production && snapshot->production->ref().ToString() != before) {
      logger_.Info("serve", "endpoint now serves", {{"endpoint", record.name},
                                                    {"production", snapshot->production->ref().ToString()},
                                                    {"canary", snapshot->canary ? snapshot->canary->ref().ToString() : ""}});
    }
    next->emplace(record.name, std::move(snapshot));
  }
  std::erase_if(rollouts_, [&](const auto& entry) {
    for (const auto& [name, e] : *next) {
      if (e->record.deployment_id == entry.first) return false;
    }
    return true;
  });
  {
    std::lock_guard lock(endpoints_mutex_);
    endpoints_ = std::move(next);  // the swap: requests in flight keep the snapshot they hold
  }
  loaded_ = true;
}

void ScoringServer::ReloadKeys() {
  std::lock_guard lock(store_mutex_);
  auto keys = serving_->ListKeys();
  auto plans = serving_->ListPlans();
  const auto now = std::chrono::system_clock::now();
  auto [day, month] = KeyRing::Periods(now);
  auto usage = serving_->Usage({day, month});
  if (!keys.ok() || !plans.ok() || !usage.ok()) {
    logger_.Error("serve", "cannot read API keys and plans; keeping those loaded");
    return;
  }
  keys_.Load(*keys, *plans, *usage, now);
  if (shared_quotas_) {  // counts Redis lost (a restart without persistence) come back from the store
    Status seeded = shared_quotas_->Seed(*usage);
    if (!seeded.ok()) logger_.Warn("serve", seeded.message());
  }
}

void ScoringServer::JudgeRollouts() {
  std::shared_ptr<const EndpointMap> endpoints = Endpoints();
  for (const auto& [name, e] : *endpoints) {
    if (!e->rollout) continue;
    std::lock_guard lock(store_mutex_);
    auto deployment = serving_->GetDeployment(e->rollout->deployment_id);
    if (!deployment.ok() || deployment->status != "baking") continue;
    const DeploymentParams& p = deployment->params;
    const VariantStats& canary = e->rollout->canary;
    const VariantStats& production = e->rollout->production;
    std::string alarm;
    const uint64_t n = canary.requests();
    if (n >= static_cast<uint64_t>(p.min_requests)) {
      const double error_rate = static_cast<double>(canary.errors()) / static_cast<double>(n);
      const double p99_ms = 1e3 * canary.LatencyQuantile(0.99);
      if (error_rate > p.max_error_rate) {
        alarm = "error rate " + FormatDouble(100 * error_rate, 3) + "% > max_error_rate " + FormatDouble(100 * p.max_error_rate, 3) + "%";
      } else if (p.max_p99_ms > 0 && p99_ms > p.max_p99_ms) {
        alarm = "p99 latency " + FormatDouble(p99_ms, 3) + " ms > max_p99_ms " + FormatDouble(p.max_p99_ms, 3) + " ms";
      } else if (p.max_score_psi > 0 && production.requests() >= static_cast<uint64_t>(p.min_requests)) {
        const double psi = PopulationStabilityIndex(production.ScoreCounts(), canary.ScoreCounts());
        if (psi > p.max_score_psi) {
          alarm = "score PSI against production " + FormatDouble(psi, 3) + " > max_score_psi " + FormatDouble(p.max_score_psi, 3);
        }
      }
    }
    const std::string where = " (" + std::to_string(n) + " canary requests, " + std::to_string(production.requests()) +
                              " production)";
    bool changed = false;
    if (!alarm.empty()) {
      auto done = serving_->FinishDeployment(deployment->id, "rolled_back", "alarm: " + alarm + where, "fraudops-serve");
      changed = done.ok() && *done;
      if (changed) logger_.Warn("serve", "canary rolled back", {{"endpoint", name}, {"reason", alarm}});
    } else {
      auto started = ParseUtcTime(deployment->step_started_at);
      const double elapsed = started ? std::chrono::duration<double>(std::chrono::system_clock::now() - *started).count() : 0;
      const double step_seconds = deployment->strategy == "linear" ? p.linear_step_seconds : p.bake_seconds;
      if (elapsed >= step_seconds) {
        if (deployment->strategy == "linear" && deployment->traffic_percent < 100) {
          const double next = std::min(100.0, deployment->traffic_percent + p.linear_step_percent);
          auto done = serving_->SetTraffic(deployment->id, next, "fraudops-serve");
          changed = done.ok() && *done;
          if (changed) logger_.Info("serve", "linear step", {{"endpoint", name}, {"percent", next}});
        } else {
          auto done = serving_->FinishDeployment(deployment->id, "promoted",
                                                 "no alarm during the bake" + where, "fraudops-serve");
          changed = done.ok() && *done;
          if (changed) logger_.Info("serve", "canary promoted", {{"endpoint", name}, {"model", deployment->target.ToString()}});
        }
      }
    }
    if (changed) Poke();
  }
}

void ScoringServer::FlushUsage() {
  auto usage = keys_.TakeUsage();
  if (usage.empty()) return;
  std::lock_guard lock(store_mutex_);
  Status stored = serving_->AddUsage(usage);
  if (!stored.ok()) {
    keys_.ReturnUsage(usage);
    logger_.Warn("serve", "cannot store usage counters; will retry", {{"error", stored.message()}});
  }
}

}  // namespace fraudops
