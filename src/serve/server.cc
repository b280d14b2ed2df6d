#include "serve/server.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/embedded_files.h"
#include "core/files.h"
#include "core/ids.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "core/version.h"
#include "features/feature_store.h"
#include "features/online_store.h"
#include "serve/console_routes.h"
#include "serve/oip_response.h"
#include "serve/predict_request.h"
#include "serve/v1_response.h"

namespace fraudops {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using Json = nlohmann::json;

namespace {

const std::vector<double> kLatencyBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
const std::vector<double> kScoreBuckets = {0.001, 0.005, 0.01, 0.02, 0.05, 0.1,  0.2,  0.3,  0.4,
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

}  // namespace

// ---------------------------------------------------------------------------------------
// Construction.

namespace {

/// The OIDC verifier the api.oidc_* settings ask for; null without api.oidc_issuer.
Result<std::shared_ptr<OidcVerifier>> OidcFrom(const ApiConfig& api) {
  if (api.oidc_issuer.empty() && api.oidc_jwks.empty()) return std::shared_ptr<OidcVerifier>();
  OidcSettings settings;
  settings.issuer = api.oidc_issuer;
  settings.audience = api.oidc_audience;
  settings.jwks = api.oidc_jwks;
  settings.roles_claim = api.oidc_roles_claim;
  settings.role_map = api.oidc_role_map;
  settings.username_claim = api.oidc_username_claim;
  FOPS_ASSIGN_OR_RETURN(auto verifier, OidcVerifier::Create(settings));
  return std::shared_ptr<OidcVerifier>(std::move(verifier));
}

TlsFiles TlsFilesOf(const Config& config) {
  return {
      config.Resolve(config.api.tls_cert_file), config.Resolve(config.api.tls_key_file),
      config.api.tls_client_ca_file.empty() ? "" : config.Resolve(config.api.tls_client_ca_file)};
}

}  // namespace

ScoringServer::ScoringServer(Config config, Logger& logger)
    : config_(std::move(config)), logger_(logger) {}

ScoringServer::~ScoringServer() { Drain(); }

Result<std::unique_ptr<ScoringServer>> ScoringServer::Create(const Config& config,
                                                             const ServeOptions& options,
                                                             Logger& logger) {
  std::unique_ptr<ScoringServer> server(new ScoringServer(config, logger));
  Config& c = server->config_;
  if (!options.listen.empty()) c.api.listen = options.listen;
  if (options.workers >= 0) c.api.workers = options.workers;
  const std::string home = c.Resolve(c.global.home);
  FOPS_ASSIGN_OR_RETURN(server->stores_, StoreAccess::Open(c));
  {
    OnlineStoreOptions online = OnlineStoreOptionsFrom(c);
    online.connect_now = false;  // a Redis outage is answered per request, as configured
    online.refresh = std::chrono::milliseconds(c.api.poll_interval_ms);
    FOPS_ASSIGN_OR_RETURN(server->online_store_, OpenOnlineStore(online));
    if (!c.features.online_url.empty())
      server->online_health_ = &server->health_.Of("online_store");
  }
  if (!c.api.quota_url.empty()) {  // quotas shared by replicas: Redis must answer at start
    FOPS_ASSIGN_OR_RETURN(server->shared_quotas_, SharedQuotas::Connect(c.api.quota_url));
    server->shared_quotas_->set_health(&server->health_.Of("quota_store"));
    server->keys_.SetShared(server->shared_quotas_.get());
  }
  ModelCache::Options cache;
  cache.budget_bytes = static_cast<size_t>(c.api.model_cache_bytes);
  cache.logger = &logger;
  server->model_cache_ = std::make_unique<ModelCache>(cache, *server->stores_, server->metrics_);
  RolloutController::Options rollout;
  rollout.poll_interval = std::chrono::milliseconds(c.api.poll_interval_ms);
  rollout.logger = &logger;
  rollout.cache = server->model_cache_.get();
  rollout.metadata_health = &server->health_.Of("metadata_store");
  server->controller_ = std::make_unique<RolloutController>(
      rollout, *server->stores_, server->keys_, server->shared_quotas_.get());
  if (StartsWith(c.global.metadata_url, "postgres")) {
    RolloutController* controller = server->controller_.get();
    server->change_feed_ = std::make_unique<ChangeFeed>(
        c.global.metadata_url, [controller] { controller->Poke(); },
        server->health_.Of("change_feed"), logger);
  }
  CaptureOptions capture;
  capture.directory = (fs::path(home) / "capture").string();
  capture.max_file_bytes = static_cast<size_t>(c.api.capture_max_file_mb * 1024 * 1024);
  capture.rotate_after = std::chrono::seconds(static_cast<int64_t>(c.api.capture_rotate_seconds));
  capture.queue_rows = static_cast<size_t>(c.api.capture_queue_rows);
  capture.logger = &logger;
  server->capture_ = std::make_unique<CaptureWriter>(capture);
  server->shadows_ = std::make_unique<ShadowRunner>(10000, &logger);
  server->tracer_ = std::make_unique<Tracer>(TracingOptionsFrom(c.tracing, &logger));
  FOPS_ASSIGN_OR_RETURN(DeployRules rules, DeployRulesFrom(c));
  server->admin_ =
      std::make_unique<AdminRoutes>(server->guard_, *server->stores_, *server->controller_,
                                    *server->shadows_, c.deploy, rules, c.api.token_days);
  server->admin_->SetSecureCookies(!c.api.tls_cert_file.empty());
  server->workspace_ = std::make_unique<WorkspaceRoutes>(server->guard_, *server->stores_, home);
  server->workspace_->SetSchedule(c.global.pipeline_name, c.schedule);
  HttpLimits limits;
  limits.max_body_bytes = static_cast<size_t>(c.api.max_body_bytes);
  limits.max_connections = static_cast<size_t>(c.api.max_connections);
  limits.header_timeout = std::chrono::milliseconds(c.api.header_timeout_ms);
  limits.body_timeout = std::chrono::milliseconds(c.api.body_timeout_ms);
  limits.idle_timeout = std::chrono::milliseconds(c.api.idle_timeout_ms);
  ScoringServer* self = server.get();
  server->http_ = std::make_unique<HttpServer>(
      limits, [self](const HttpRequest& request, HttpResponse& response) {
        self->Handle(request, response);
      });
  if (!c.api.tls_cert_file.empty()) FOPS_RETURN_IF_ERROR(server->http_->SetTls(TlsFilesOf(c)));
  server->guard_.set_required(c.api.auth == "required");
  FOPS_ASSIGN_OR_RETURN(auto oidc, OidcFrom(c.api));
  server->guard_.SetOidc(std::move(oidc));
  server->capture_sample_ = c.api.capture_sample;
  server->max_rows_ = static_cast<size_t>(c.api.max_rows);
  server->RegisterRoutes();
  server->DeclareMetrics();
  return server;
}

void ScoringServer::RegisterRoutes() {
  using Handler = void (ScoringServer::*)(const HttpRequest&, HttpResponse&, const RouteMatch&);
  auto route = [this](const char* method, const char* pattern, Handler handler,
                      Router::Options options = {}) {
    router_.Add(
        method, pattern,
        [this, handler](const HttpRequest& request, HttpResponse& response,
                        const RouteMatch& match) { (this->*handler)(request, response, match); },
        options);
  };
  auto predict = [this](const char* pattern, ErrorStyle style) {
    router_.Add("POST", pattern,
                [this, style](const HttpRequest& request, HttpResponse& response,
                              const RouteMatch& match) { Score(request, response, match, style); },
                {.errors = style, .counts_itself = true});
  };
  auto fixed = [this](const char* pattern,
                      Json body) {  // Open Inference Protocol documents that never change
    router_.Add("GET", pattern,
                [body = std::move(body)](const HttpRequest&, HttpResponse& response,
                                         const RouteMatch&) { WriteJson(response, body); },
                {.errors = ErrorStyle::kOpenInference, .counts_itself = false});
  };
  const Router::Options oip{.errors = ErrorStyle::kOpenInference, .counts_itself = false};
  route("GET", "/healthz", &ScoringServer::Health);
  route("GET", "/readyz", &ScoringServer::Ready);
  router_.Add("GET", "/metrics",
              [this](const HttpRequest&, HttpResponse& response, const RouteMatch&) {
                response.content_type = "text/plain; version=0.0.4; charset=utf-8";
                response.body = metrics_.Render();
              });
  router_.Add("GET", "/openapi.json",
              [](const HttpRequest&, HttpResponse& response, const RouteMatch&) {
                response.body = std::string(embedded::openapi_json());
              });
  route("GET", "/v1/endpoints", &ScoringServer::ListEndpoints);
  predict("/v1/endpoints/{endpoint}/predict", ErrorStyle::kV1);
  route("POST", "/v1/endpoints/{endpoint}/feedback", &ScoringServer::Feedback);
  route("GET", "/v1/features/{group}/{key}", &ScoringServer::Features);
  fixed("/v2", {{"name", "fraudops"}, {"version", CodeVersion()}, {"extensions", Json::array()}});
  fixed("/v2/health/live", {{"live", true}});
  route("GET", "/v2/health/ready", &ScoringServer::ServerReadyV2, oip);
  route("GET", "/v2/models/{model}", &ScoringServer::ModelMetadataV2, oip);
  route("GET", "/v2/models/{model}/ready", &ScoringServer::ModelReadyV2, oip);
  predict("/v2/models/{model}/infer", ErrorStyle::kOpenInference);
  route("GET", "/v2/models/{model}/versions/{version}", &ScoringServer::ModelMetadataV2, oip);
  route("GET", "/v2/models/{model}/versions/{version}/ready", &ScoringServer::ModelReadyV2, oip);
  predict("/v2/models/{model}/versions/{version}/infer", ErrorStyle::kOpenInference);
  admin_->Register(router_);
  workspace_->Register(router_);
  RegisterConsoleRoutes(router_);
}

void ScoringServer::DeclareMetrics() {
  metrics_.Declare("fraudops_http_requests_total", "counter",
                   "HTTP requests by route, status code, endpoint and variant.",
                   {"route", "code", "endpoint", "variant"});
  metrics_.Declare(
      "fraudops_http_request_duration_seconds", "histogram",
      "Time from a request's arrival to its response being ready, by route, endpoint and variant.",
      {"route", "endpoint", "variant"}, kLatencyBuckets);
  metrics_.Declare("fraudops_prediction_score", "histogram",
                   "Scores returned, by endpoint and variant.", {"endpoint", "variant"},
                   kScoreBuckets);
  metrics_.Declare("fraudops_predictions_total", "counter",
                   "Rows scored, by endpoint, variant and decision label.",
                   {"endpoint", "variant", "label"});
  metrics_.Declare(
      "fraudops_rejected_requests_total", "counter",
      "Requests refused before scoring, by reason (unauthorized, forbidden, rate_limited, "
      "malformed_json, invalid_features, too_many_rows, not_found, …).",
      {"reason"});
  metrics_.Declare("fraudops_rate_limited_total", "counter",
                   "Requests refused by a usage plan, by key and limit.", {"key", "limit"});
  metrics_.Declare("fraudops_feature_store_read_seconds", "histogram",
                   "Time to read and compute a request's feature store features.", {},
                   kLatencyBuckets);
  metrics_.Declare("fraudops_feature_store_errors_total", "counter",
                   "Requests whose feature store features could not be read (answered as "
                   "features.on_store_error says).",
                   {});
  metrics_.AddCollector([this](std::string& out) {
    health_.WriteMetrics(out);
    WritePipelineGauges(out);
    if (tracer_->enabled()) {
      out +=
          "# HELP fraudops_trace_spans_total Spans of sampled requests, by outcome: exported to "
          "tracing.otlp_url, or dropped (the queue full, the collector slow or down).\n"
          "# TYPE fraudops_trace_spans_total counter\n"
          "fraudops_trace_spans_total{outcome=\"exported\"} " +
          std::to_string(tracer_->exported()) +
          "\nfraudops_trace_spans_total{outcome=\"dropped\"} " +
          std::to_string(tracer_->dropped()) +
          "\n# HELP fraudops_trace_export_failures_total Batches the collector did not accept.\n"
          "# TYPE fraudops_trace_export_failures_total counter\n"
          "fraudops_trace_export_failures_total " +
          std::to_string(tracer_->failed_exports()) + "\n";
    }
    if (change_feed_) {
      out +=
          "# HELP fraudops_change_notifications_total Changes other processes announced through "
          "the metadata store (PostgreSQL NOTIFY).\n# TYPE fraudops_change_notifications_total "
          "counter\nfraudops_change_notifications_total " +
          std::to_string(change_feed_->received()) + "\n";
    }
    std::shared_ptr<const EndpointMap> endpoints = controller_->Endpoints();
    out +=
        "# HELP fraudops_model_info The model version each variant serves (value 1).\n# TYPE "
        "fraudops_model_info gauge\n";
    for (const auto& [endpoint_name, e] : *endpoints) {
      const std::string& name = endpoint_name;  // a structured binding cannot be captured (C++20)
      auto info = [&](VariantRole variant, const LoadedModel& m) {
        out += MetricLine("fraudops_model_info",
                          {"endpoint", "variant", "model", "version", "algorithm"},
                          {name, std::string(VariantRoleName(variant)), m.ref().model,
                           std::to_string(m.ref().version), m.bundle().algorithm}) +
               " 1\n";
      };
      if (e->production) info(VariantRole::kProduction, *e->production);
      if (e->canary) info(VariantRole::kCanary, *e->canary);
      for (const auto& s : e->shadows) info(VariantRole::kShadow, *s);
    }
    out +=
        "# HELP fraudops_canary_traffic_percent Share of the endpoint's traffic the canary "
        "receives.\n"
        "# TYPE fraudops_canary_traffic_percent gauge\n";
    for (const auto& [name, e] : *endpoints) {
      out += MetricLine("fraudops_canary_traffic_percent", {"endpoint"}, {name}) + " " +
             MetricValue(100 * e->canary_fraction) + "\n";
    }
    const HttpServerStats& http = http_->stats();
    out +=
        "# HELP fraudops_open_connections Open client connections.\n# TYPE "
        "fraudops_open_connections gauge\n";
    out += "fraudops_open_connections " + std::to_string(http.open_connections.load()) + "\n";
    out +=
        "# HELP fraudops_refused_connections_total Connections closed at once because "
        "api.max_connections were open.\n"
        "# TYPE fraudops_refused_connections_total counter\n";
    out += "fraudops_refused_connections_total " + std::to_string(http.refused_connections.load()) +
           "\n";
    out +=
        "# HELP fraudops_http_timeouts_total Requests cut off by the header or body deadline.\n"
        "# TYPE fraudops_http_timeouts_total counter\n";
    out += "fraudops_http_timeouts_total " + std::to_string(http.timeouts.load()) + "\n";
    out +=
        "# HELP fraudops_http_bad_requests_total Requests that were not valid HTTP or over the "
        "size limits.\n"
        "# TYPE fraudops_http_bad_requests_total counter\n";
    out += "fraudops_http_bad_requests_total " + std::to_string(http.bad_requests.load()) + "\n";
    if (http_->tls()) {
      out +=
          "# HELP fraudops_tls_handshake_failures_total Connections whose TLS handshake failed "
          "(an old protocol version, no client certificate, not TLS at all).\n"
          "# TYPE fraudops_tls_handshake_failures_total counter\n";
      out += "fraudops_tls_handshake_failures_total " +
             std::to_string(http.tls_handshake_failures.load()) + "\n";
    }
    out +=
        "# HELP fraudops_capture_rows_total Captured rows, written or dropped (queue full, write "
        "error).\n"
        "# TYPE fraudops_capture_rows_total counter\n";
    out += "fraudops_capture_rows_total{outcome=\"written\"} " +
           std::to_string(capture_->written_rows()) + "\n";
    out += "fraudops_capture_rows_total{outcome=\"dropped\"} " +
           std::to_string(capture_->dropped_rows()) + "\n";
    out +=
        "# HELP fraudops_shadow_dropped_total Shadow jobs dropped because the shadow queue was "
        "full.\n"
        "# TYPE fraudops_shadow_dropped_total counter\n";
    out += "fraudops_shadow_dropped_total " + std::to_string(shadows_->dropped()) + "\n";
    model_cache_->WriteMetrics(out);
    WriteFreshness(*endpoints, out);
    out +=
        "# HELP fraudops_build_info The running fraudops (value 1).\n# TYPE fraudops_build_info "
        "gauge\n";
    out += MetricLine("fraudops_build_info", {"version"}, {std::string(CodeVersion())}) + " 1\n";
  });
}

void ScoringServer::WriteFreshness(const EndpointMap& endpoints, std::string& out) {
  std::vector<std::string> groups;
  auto note = [&](const LoadedModel* m) {
    if (m == nullptr || m->enricher() == nullptr) return;
    for (const std::string& g : m->enricher()->groups())
      if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
  };
  for (const auto& [name, e] : endpoints) {
    note(e->production.get());
    note(e->canary.get());
    for (const AbArm& arm : e->ab) note(arm.model.get());
  }
  if (groups.empty()) return;
  std::vector<std::string> keys;
  for (const std::string& g : groups) keys.push_back(FreshnessKey(g));
  std::vector<std::optional<std::string>> found;
  if (!online_store_->Get(keys, &found).ok()) return;  // the errors counter tells
  out +=
      "# HELP fraudops_feature_freshness_seconds Age of the newest event time the online "
      "store holds, by feature group.\n"
      "# TYPE fraudops_feature_freshness_seconds gauge\n";
  const EventTime now = EventTimeNow();
  for (size_t i = 0; i < groups.size(); ++i) {
    if (!found[i]) continue;
    auto newest = ParseInt(Split(*found[i], ' ')[0]);
    if (!newest) continue;
    out += MetricLine("fraudops_feature_freshness_seconds", {"group"}, {groups[i]}) + " " +
           MetricValue(static_cast<double>(now - *newest) / 1e6) + "\n";
  }
}

Status ScoringServer::Start() {
  FOPS_RETURN_IF_ERROR(controller_->Load());
  FOPS_ASSIGN_OR_RETURN(auto address, ParseListenAddress(config_.api.listen));
  const size_t workers = static_cast<size_t>(ResolveThreads(static_cast<int>(config_.api.workers)));
  FOPS_RETURN_IF_ERROR(http_->Start(address.first, address.second, workers));
  controller_->Start();
  if (change_feed_) change_feed_->Start();
  logger_.Info("serve", "listening",
               {{"address", address.first},
                {"port", static_cast<long long>(http_->port())},
                {"workers", workers},
                {"endpoints", controller_->Endpoints()->size()},
                {"auth", guard_.required() ? "required" : "disabled"},
                {"quotas",
                 config_.api.quota_url.empty() ? "in-process" : RedactUrl(config_.api.quota_url)}});
  return Status::Ok();
}

void ScoringServer::Reload(const Config& config) {
  guard_.set_required(config.api.auth == "required");
  capture_sample_ = config.api.capture_sample;
  max_rows_ = static_cast<size_t>(config.api.max_rows);
  LogLevel level;
  if (ParseLogLevel(config.global.log_level, &level)) logger_.set_level(level);
  if (config.api.listen != config_.api.listen || config.api.workers != config_.api.workers) {
    logger_.Warn("serve", "api.listen and api.workers change only when the server restarts");
  }
  workspace_->SetSchedule(config.global.pipeline_name, config.schedule);
  if (auto rules = DeployRulesFrom(config); rules.ok()) {
    admin_->SetDeployDefaults(config.deploy, *rules, config.api.token_days);
  } else {
    logger_.Error("serve", rules.status().message() + "; keeping the deployment rules loaded");
  }
  if (!config.api.tls_cert_file.empty() && http_->tls()) {  // a rotated certificate
    if (Status reloaded = http_->SetTls(TlsFilesOf(config)); reloaded.ok()) {
      logger_.Info("serve", "TLS certificate reloaded; new connections use it",
                   {{"cert", config.api.tls_cert_file}});
    } else {
      logger_.Error("serve", reloaded.message() + "; keeping the certificate loaded");
    }
  } else if (config.api.tls_cert_file.empty() != !http_->tls()) {
    logger_.Warn("serve", "turning TLS on or off needs a restart");
  }
  if (auto oidc = OidcFrom(config.api); oidc.ok()) {
    guard_.SetOidc(std::move(*oidc));
  } else {
    logger_.Error("serve", oidc.status().message() + "; keeping the identity provider loaded");
  }
  logger_.Info("serve", "configuration reloaded",
               {{"auth", config.api.auth}, {"capture_sample", config.api.capture_sample}});
  controller_->ReloadAll();  // the controller reloads endpoints and keys at its next pass
}

void ScoringServer::Drain() {
  if (drained_.exchange(true)) return;
  draining_.store(true, std::memory_order_release);
  if (http_) http_->Drain(std::chrono::milliseconds(config_.api.drain_timeout_ms));
  if (change_feed_) change_feed_->Stop();
  if (controller_) controller_->Stop();
  if (tracer_) tracer_->Stop();
  if (capture_) capture_->Flush();
}

void ScoringServer::WritePipelineGauges(std::string& out) {
  MutexLock lock(&pipeline_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (pipeline_gauges_.empty() || now - pipeline_read_at_ >= std::chrono::seconds(15)) {
    std::vector<RunStatusSummary> summary;
    Status read = stores_->WithMetadata([&](MetadataStore& metadata) -> Status {
      FOPS_ASSIGN_OR_RETURN(summary, metadata.RunSummary());
      return Status::Ok();
    });
    if (read.ok()) {  // otherwise the last values stay (the store's outage is reported apart)
      pipeline_read_at_ = now;
      std::string runs, started, durations;
      for (const RunStatusSummary& s : summary) {
        const std::string labels = MetricLine("", {"pipeline", "status"}, {s.experiment, s.status});
        runs += "fraudops_pipeline_runs" + labels + " " + std::to_string(s.runs) + "\n";
        auto start = ParseUtcTime(s.latest_start);
        auto end = ParseUtcTime(s.latest_end);
        if (!start) continue;
        started += "fraudops_pipeline_last_run_timestamp_seconds" + labels + " " +
                   MetricValue(std::chrono::duration<double>(start->time_since_epoch()).count()) +
                   "\n";
        if (end) {
          durations += "fraudops_pipeline_last_run_duration_seconds" + labels + " " +
                       MetricValue(std::chrono::duration<double>(*end - *start).count()) + "\n";
        }
      }
      pipeline_gauges_ =
          "# HELP fraudops_pipeline_runs Runs of each pipeline in the metadata store, by status "
          "(succeeded, gate_failed, failed, running, skipped, locked).\n"
          "# TYPE fraudops_pipeline_runs gauge\n" +
          runs +
          "# HELP fraudops_pipeline_last_run_timestamp_seconds When the latest run of each "
          "pipeline with each status started (Unix time).\n"
          "# TYPE fraudops_pipeline_last_run_timestamp_seconds gauge\n" +
          started +
          "# HELP fraudops_pipeline_last_run_duration_seconds How long the latest finished run "
          "of each pipeline with each status took.\n"
          "# TYPE fraudops_pipeline_last_run_duration_seconds gauge\n" +
          durations;
    }
  }
  out += pipeline_gauges_;
}

// ---------------------------------------------------------------------------------------
// Dispatch.

void ScoringServer::Handle(const HttpRequest& request, HttpResponse& response) {
  const auto start = SteadyClock::now();
  // Every request but health checks and scrapes joins or starts a trace (W3C Trace Context).
  const std::string_view path = request.path();
  std::optional<RequestTrace> trace;
  if (path != "/healthz" && path != "/readyz" && path != "/metrics" &&
      !StartsWith(path, "/v2/health/")) {
    trace.emplace(tracer_.get(), request.Header("traceparent"), start);
  }
  RouteMatch match;
  const Route* route = router_.Dispatch(request, response, match);
  if (trace) {
    if (trace->sampled()) {
      const std::string_view method = request.method();
      const std::string_view pattern = route ? std::string_view(route->pattern) : "unmatched";
      trace->SetName(method, pattern);
      trace->SetAttribute("http.request.method", method);
      trace->SetAttribute("http.route", pattern);
      trace->SetAttribute("http.response.status_code", int64_t{response.status});
      if (response.status >= 500) trace->SetError();
    }
    response.headers.emplace_back("traceparent", trace->ResponseTraceParent());
    if (std::string_view state = request.Header("tracestate"); !state.empty() && state.size() < 512)
      response.headers.emplace_back("tracestate", std::string(state));
  }
  if (route == nullptr) {
    metrics_
        .Counter("fraudops_http_requests_total",
                 {"unmatched", std::to_string(response.status), "", ""})
        .fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (route->counts_itself) return;  // predict routes count with endpoint and variant
  std::string endpoint = match.params.empty() ? "" : std::string(match.params[0]);
  metrics_
      .Counter("fraudops_http_requests_total",
               {route->pattern, std::to_string(response.status), endpoint, ""})
      .fetch_add(1, std::memory_order_relaxed);
  metrics_.HistogramOf("fraudops_http_request_duration_seconds", {route->pattern, endpoint, ""})
      .Observe(std::chrono::duration<double>(SteadyClock::now() - start).count());
}

// ---------------------------------------------------------------------------------------
// Health, readiness, the endpoint list.

void ScoringServer::Health(const HttpRequest&, HttpResponse& response, const RouteMatch&) {
  WriteJson(response, {{"status", "ok"}, {"version", CodeVersion()}});
}

void ScoringServer::Ready(const HttpRequest&, HttpResponse& response, const RouteMatch&) {
  Json body = Readiness();
  const bool ready = body["ready"].get<bool>();
  WriteJson(response, body, ready ? 200 : 503);
}

Json ScoringServer::Readiness() const {
  std::shared_ptr<const EndpointMap> endpoints = controller_->Endpoints();
  Json list = Json::object();
  bool ready = controller_->loaded() && !endpoints->empty();
  for (const auto& [name, e] : *endpoints) {
    const bool loaded = e->production != nullptr || e->multi != nullptr;  // multi: loads on use
    ready = ready && loaded;
    list[name] = {{"ready", loaded},
                  {"production", e->production ? Json(e->production->label()) : Json(nullptr)},
                  {"canary", e->canary ? Json(e->canary->label()) : Json(nullptr)}};
  }
  const bool draining = draining_.load(std::memory_order_acquire);
  Json body = {{"ready", ready && !draining},
               {"endpoints", list},
               {"degraded", !health_.AllUp()},
               {"dependencies", health_.ToJson()}};
  if (draining) {
    body["reason"] = "draining: the server is stopping";
  } else if (endpoints->empty()) {
    body["reason"] = "no endpoint has a deployed model yet (fraudops deploy)";
  }
  return body;
}

void ScoringServer::ListEndpoints(const HttpRequest& request, HttpResponse& response,
                                  const RouteMatch&) {
  if (!guard_.Authorize(request, response, ErrorStyle::kV1, "invoke", "")) return;
  std::shared_ptr<const EndpointMap> endpoints = controller_->Endpoints();
  Json list = Json::array();
  for (const auto& [name, e] : *endpoints) {
    Json item = {{"name", name}};
    if (e->multi) item["multi_model"] = e->record.multi_model.ToJson();
    if (e->production) {
      item["model"] = e->production->ref().model;
      item["version"] = e->production->ref().version;
      item["threshold"] = e->production->threshold();
      Json features = Json::array();
      for (const FeatureSpec& f : e->production->bundle().input.features)
        features.push_back(f.name);
      item["features"] = features;
    }
    list.push_back(item);
  }
  WriteJson(response, {{"endpoints", list}});
}

// ---------------------------------------------------------------------------------------
// Scoring.

void ScoringServer::Score(const HttpRequest& request, HttpResponse& response,
                          const RouteMatch& match, ErrorStyle style) {
  const bool oip = style == ErrorStyle::kOpenInference;
  const std::string endpoint_name(match.params[0]);
  std::string_view variant_label = "";
  const auto start = SteadyClock::now();  // also the auth span's start
  auto finish = [&](int status) {  // the error paths; a scored request counts through ScoreMetrics
    const std::string variant(variant_label);
    metrics_
        .Counter("fraudops_http_requests_total",
                 {match.route->pattern, std::to_string(status), endpoint_name, variant})
        .fetch_add(1, std::memory_order_relaxed);
    metrics_
        .HistogramOf("fraudops_http_request_duration_seconds",
                     {match.route->pattern, endpoint_name, variant})
        .Observe(std::chrono::duration<double>(SteadyClock::now() - start).count());
  };
  bool authorized = false;
  {
    RequestTrace::ScopedSpan span("auth", 1, start);
    authorized = guard_.Authorize(request, response, style, "invoke", endpoint_name);
  }
  if (!authorized) return finish(response.status);
  auto snapshot = controller_->Find(endpoint_name);
  if (!snapshot || (!snapshot->production && !snapshot->multi)) {
    metrics_.Counter("fraudops_rejected_requests_total", {"not_found"})
        .fetch_add(1, std::memory_order_relaxed);
    WriteError(response, style, 404, "not_found",
               (oip ? "no model '" : "no endpoint '") + endpoint_name +
                   "' is deployed (GET /v1/endpoints lists them)");
    return finish(404);
  }
  // The variant. An A/B test: the one the x-fraudops-variant header names, else the one the
  // assignment field's hash (sticky) or a random draw falls on by weight. Otherwise the
  // canary gets its share of requests and production the rest.
  const LoadedModel* model = snapshot->production.get();
  VariantRole variant = VariantRole::kProduction;
  const AbArm* arm = nullptr;
  const std::string& assignment_field =
      snapshot->multi ? snapshot->multi->routing_field : snapshot->record.assignment_field;
  std::shared_ptr<const LoadedModel> held;  // a multi-model endpoint's model, for this request
  std::string target_label;
  if (snapshot->multi) {
    auto target = MultiTarget(request, *snapshot, oip);
    if (!target.ok()) {
      WriteStatus(response, style, target.status());
      return finish(response.status);
    }
    auto loaded = model_cache_->Get(*target);
    if (!loaded.ok()) {
      const bool unknown = loaded.status().code() == StatusCode::kNotFound;
      metrics_
          .Counter("fraudops_rejected_requests_total",
                   {unknown ? "unknown_model" : "model_unavailable"})
          .fetch_add(1, std::memory_order_relaxed);
      WriteError(response, style, unknown ? 404 : 503, unknown ? "not_found" : "model_unavailable",
                 target->ToString() + ": " + loaded.status().message());
      if (!unknown) response.headers.emplace_back("Retry-After", "1");
      return finish(response.status);
    }
    held = std::move(*loaded);
    model = held.get();
    target_label = target->ToString();
  } else if (!snapshot->ab.empty()) {
    std::string_view wanted = request.Header("x-fraudops-variant");
    if (!wanted.empty()) {
      arm = snapshot->FindArm(wanted);
      if (arm == nullptr) {
        std::string names;
        for (const AbArm& a : snapshot->ab) names += (names.empty() ? "" : ", ") + a.name;
        WriteError(response, style, 400, "unknown_variant",
                   "x-fraudops-variant: no variant '" + std::string(wanted) + "' on '" +
                       endpoint_name + "'; its variants: " + names);
        return finish(400);
      }
    } else {
      std::optional<std::string> value;
      if (!assignment_field.empty() && !oip)
        value = AssignmentValue(request.body(), assignment_field);
      const uint32_t bucket =
          value ? AbBucket(*value) : static_cast<uint32_t>(NextRandom() % kAbBuckets);
      arm = &snapshot->ArmFor(bucket);
    }
    model = arm->model.get();
  } else if (snapshot->canary && NextUniform() < snapshot->canary_fraction) {
    model = snapshot->canary.get();
    variant = VariantRole::kCanary;
  }
  variant_label = arm ? std::string_view(arm->name) : VariantRoleName(variant);
  if (snapshot->multi) variant_label = target_label;
  if (match.params.size() > 1 && snapshot->multi) {
    WriteError(response, style, 404, "not_found",
               "'" + endpoint_name +
                   "' serves many models: name one with x-fraudops-target-model on /v2/models/" +
                   endpoint_name + "/infer");
    return finish(404);
  }
  if (match.params.size() >
      1) {  // /v2/models/{model}/versions/{version}: that version, if it serves here
    const std::string wanted(match.params[1]);
    if (!snapshot->ab.empty()) {
      arm = snapshot->FindArm(wanted);
      if (arm == nullptr) {
        WriteError(response, style, 404, "not_found",
                   "version " + wanted + " of '" + endpoint_name + "' is not being served");
        return finish(404);
      }
      model = arm->model.get();
    } else if (std::to_string(snapshot->production->ref().version) == wanted) {
      model = snapshot->production.get();
      variant = VariantRole::kProduction;
    } else if (snapshot->canary && std::to_string(snapshot->canary->ref().version) == wanted) {
      model = snapshot->canary.get();
      variant = VariantRole::kCanary;
    } else {
      WriteError(response, style, 404, "not_found",
                 "version " + wanted + " of '" + endpoint_name + "' is not being served");
      return finish(404);
    }
    variant_label = arm ? std::string_view(arm->name) : VariantRoleName(variant);
  }
  if (RequestTrace* trace = RequestTrace::Current(); trace && trace->sampled()) {
    trace->SetAttribute("fraudops.endpoint", endpoint_name);
    trace->SetAttribute("fraudops.variant", variant_label);
    trace->SetAttribute("fraudops.model", model->label());
  }
  ParsedRows rows;
  RequestError error;
  const size_t max_rows = max_rows_.load(std::memory_order_relaxed);
  bool parsed = false;
  {
    RequestTrace::ScopedSpan span("parse");
    parsed =
        oip ? ParseInferBody(request.body(), model->encoder(), max_rows, &rows, &error,
                             model->request_fields())
            : ParsePredictBody(request.body(), request.Header("content-type"), model->encoder(),
                               max_rows, &rows, &error, assignment_field, model->request_fields());
  }
  if (!parsed) {
    metrics_.Counter("fraudops_rejected_requests_total", {error.code})
        .fetch_add(1, std::memory_order_relaxed);
    WriteError(response, style, error.status, error.code, error.message, error.details);
    return finish(error.status);
  }
  size_t explain = 0;
  if (!oip && request.HasQueryParam("explain")) {
    auto k = ParseInt(request.QueryParam("explain"));
    if (!k || *k < 1 || *k > static_cast<long long>(model->encoder().size())) {
      WriteError(response, style, 400, "bad_request",
                 "explain must be a number of reasons from 1 to " +
                     std::to_string(model->encoder().size()));
      return finish(400);
    }
    explain = static_cast<size_t>(*k);
  }
  if (model->enricher() != nullptr && !Enrich(*model, rows, response, style))
    return finish(response.status);
  // Score.
  const size_t width = model->encoder().size();
  const ModelBundle& bundle = model->bundle();
  std::vector<double> scores(rows.rows);
  const auto scoring_start = SteadyClock::now();
  for (size_t r = 0; r < rows.rows; ++r)
    scores[r] = bundle.PredictProbability(rows.values.data() + r * width);
  const auto scoring_end = SteadyClock::now();
  RequestTrace::AddSpan("score", scoring_start, scoring_end);  // the readings the metrics take
  const double scoring_seconds = std::chrono::duration<double>(scoring_end - scoring_start).count();
  RolloutStats* rollout = snapshot->rollout.get();
  VariantStats* variant_stats =
      arm != nullptr ? arm->stats.get()
      : rollout == nullptr
          ? nullptr
          : (variant == VariantRole::kCanary ? &rollout->canary : &rollout->production);
  bool failed = false;
  for (double s : scores) failed |= !std::isfinite(s);
  if (failed) {
    if (variant_stats) variant_stats->Record(scoring_seconds, nullptr, 0, true);
    WriteError(response, style, 500, "internal", "the model returned a score that is not a number");
    return finish(500);
  }
  const TreeShap* explainer = explain ? model->explainer() : nullptr;
  if (explain && explainer == nullptr) {
    WriteError(response, style, 501, "not_implemented",
               model->bundle().combined()
                   ? "a combination of models cannot explain its score; explain each model"
                   : "this model has no node statistics (covers); it cannot explain");
    return finish(501);
  }
  // The decision policy decides on each row from its fields and score.
  std::vector<PolicyDecision> decisions;
  if (const DecisionPolicy* policy = model->policy()) {
    RequestTrace::ScopedSpan span("policy");
    decisions.resize(rows.rows);
    const size_t stride = model->request_fields()->size();
    const size_t count = policy->fields().size();  // the first of the request fields
    const int score_slot = policy->score_slot();
    std::vector<PolicyValue> values(count);
    for (size_t r = 0; r < rows.rows; ++r) {
      for (size_t i = 0; i < count; ++i) values[i] = rows.fields[r * stride + i].View();
      if (score_slot >= 0) values[static_cast<size_t>(score_slot)] = PolicyValue::Number(scores[r]);
      decisions[r] = policy->Evaluate(values);
    }
  }
  std::string request_id(request.Header("x-request-id"));
  if (request_id.empty() || request_id.size() > 128) request_id = NewRequestId();
  ScoredRows scored;
  scored.request_id = request_id;
  const RequestTrace* trace = RequestTrace::Current();
  const std::string trace_id = trace ? std::string(trace->trace_id_hex()) : std::string();
  scored.trace_id = trace_id;
  scored.endpoint = endpoint_name;
  scored.model = model;
  scored.variant = variant;
  scored.variant_name = variant_label;
  scored.rows = &rows;
  scored.scores = scores.data();
  scored.decisions = decisions.empty() ? nullptr : decisions.data();
  std::string& out = response.body;
  out.reserve(160 + rows.rows * (explain ? 200 : 60));
  if (oip) {
    EncodeInferResponse(scored, out);
  } else {
    EncodeV1Response(scored, explainer, explain, out);
  }
  response.headers.emplace_back("x-request-id", request_id);
  response.headers.emplace_back("x-fraudops-variant", std::string(variant_label));
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  // Live statistics, metrics, capture and shadows: after the response is built, nothing blocks.
  const double threshold = model->threshold();
  if (variant_stats)
    variant_stats->Record(seconds, scores.data(), rows.rows, false, threshold, scored.decisions);
  const ScoreMetrics& counted = ScoreMetricsFor(*match.route, endpoint_name, variant_label);
  size_t positives = 0;
  for (double s : scores) {
    counted.score->Observe(s);
    positives += s >= threshold;
  }
  if (positives) counted.predictions[1]->fetch_add(positives, std::memory_order_relaxed);
  if (rows.rows > positives)
    counted.predictions[0]->fetch_add(rows.rows - positives, std::memory_order_relaxed);
  const double sample = capture_sample_.load(std::memory_order_relaxed);
  if (sample > 0 && (sample >= 1 || NextUniform() < sample)) {
    std::string lines;
    RequestTrace::ScopedSpan span("capture");
    AppendCaptureRecords(scored, UtcNow(), seconds * 1e6, lines);
    capture_->Submit(endpoint_name, std::move(lines), rows.rows);
  }
  // Shadows compare with production's scores: only requests production answered.
  if (!snapshot->shadows.empty() && model == snapshot->production.get()) {
    ShadowJob job;
    job.snapshot = snapshot;
    job.rows = std::move(rows.values);
    job.count = rows.rows;
    job.production_scores = scores;
    job.production_seconds = scoring_seconds;
    shadows_->Submit(std::move(job));
  }
  counted.ok->fetch_add(1, std::memory_order_relaxed);
  counted.duration->Observe(std::chrono::duration<double>(SteadyClock::now() - start).count());
}

const ScoringServer::ScoreMetrics& ScoringServer::ScoreMetricsFor(const Route& route,
                                                                  std::string_view endpoint,
                                                                  std::string_view variant) {
  const auto key = std::make_tuple(&route, endpoint, variant);
  {
    ReaderLock lock(&score_metrics_mutex_);
    auto it = score_metrics_.find(key);
    if (it != score_metrics_.end()) return it->second;
  }
  const std::string e(endpoint), v(variant);
  ScoreMetrics found;
  found.ok = &metrics_.Counter("fraudops_http_requests_total", {route.pattern, "200", e, v});
  found.duration =
      &metrics_.HistogramOf("fraudops_http_request_duration_seconds", {route.pattern, e, v});
  found.score = &metrics_.HistogramOf("fraudops_prediction_score", {e, v});
  found.predictions[0] = &metrics_.Counter("fraudops_predictions_total", {e, v, "0"});
  found.predictions[1] = &metrics_.Counter("fraudops_predictions_total", {e, v, "1"});
  WriterLock lock(&score_metrics_mutex_);
  return score_metrics_.emplace(std::make_tuple(&route, e, v), found).first->second;
}

Result<VariantRef> ScoringServer::MultiTarget(const HttpRequest& request,
                                              const EndpointSnapshot& endpoint, bool oip) {
  const MultiModelTargets& multi = *endpoint.multi;
  std::string_view header = request.Header("x-fraudops-target-model");
  if (!header.empty()) {
    FOPS_ASSIGN_OR_RETURN(auto split, SplitModelTarget(header));
    auto version = ParseInt(split.second);
    if (version) return VariantRef{split.first, *version};
    // An alias or "latest": the registry says which version (the slow path; NAME@VERSION
    // needs no store).
    VariantRef ref;
    FOPS_RETURN_IF_ERROR(stores_->With([&](ServingStore& store) -> Status {
      FOPS_ASSIGN_OR_RETURN(ModelVersion found,
                            store.metadata().GetVersion(split.first, split.second));
      ref = {found.model, found.version};
      return Status::Ok();
    }));
    return ref;
  }
  if (!multi.routing_field.empty() && !oip) {
    if (auto value = AssignmentValue(request.body(), multi.routing_field)) {
      auto route = multi.routes.find(*value);
      if (route != multi.routes.end()) return route->second;
      if (multi.default_target.empty()) {
        return Status::InvalidArgument(multi.routing_field + " '" + *value + "' has no route on '" +
                                       endpoint.record.name + "' and it has no default model");
      }
    }
  }
  if (!multi.default_target.empty()) return multi.default_target;
  std::string routes;
  for (const auto& [value, ref] : multi.routes) routes += (routes.empty() ? "" : ", ") + value;
  return Status::InvalidArgument(
      "'" + endpoint.record.name +
      "' serves many models: name one in the x-fraudops-target-model header "
      "(NAME@VERSION or NAME@ALIAS)" +
      (multi.routing_field.empty() ? std::string()
                                   : " or send " + multi.routing_field + " (" + routes + ")"));
}

// ---------------------------------------------------------------------------------------
// Feedback: delayed ground truth.

bool ScoringServer::Enrich(const LoadedModel& model, ParsedRows& rows, HttpResponse& response,
                           ErrorStyle style) {
  RequestTrace::ScopedSpan span("feature_store.read", 3);
  const FeatureEnricher& enricher = *model.enricher();
  const size_t width = model.encoder().size();
  const auto start = SteadyClock::now();
  Status enriched =
      enricher.Enrich(*online_store_, rows.fields, model.request_fields()->size(),
                      model.enricher_slots(), rows.rows, rows.values.data(), EventTimeNow());
  metrics_.HistogramOf("fraudops_feature_store_read_seconds", {})
      .Observe(std::chrono::duration<double>(SteadyClock::now() - start).count());
  if (online_health_ && enriched.code() != StatusCode::kInvalidArgument) {
    online_health_->Report(enriched);
  }
  if (!enriched.ok()) {
    if (enriched.code() == StatusCode::kInvalidArgument) {
      WriteError(response, style, 400, "invalid_body", enriched.message());
      return false;
    }
    metrics_.Counter("fraudops_feature_store_errors_total", {})
        .fetch_add(1, std::memory_order_relaxed);
    if (config_.features.on_store_error != "missing") {
      logger_.Warn("serve", "feature store unavailable", {{"error", enriched.message()}});
      WriteError(response, style, 503, "feature_store_unavailable",
                 "the model's feature store features cannot be read: " + enriched.message());
      response.headers.emplace_back("Retry-After", "1");
      return false;
    }
    enricher.SetMissing(rows.rows, rows.values.data());  // features.on_store_error: missing
  }
  for (size_t r = 0; r < rows.rows; ++r) model.encoder().Derive(rows.values.data() + r * width);
  return true;
}

void ScoringServer::Features(const HttpRequest& request, HttpResponse& response,
                             const RouteMatch& match) {
  if (!guard_.Authorize(request, response, ErrorStyle::kV1, "features", "")) return;
  const std::string group_name(match.params[0]);
  const std::string key = PercentDecode(match.params[1], false);
  Result<FeatureGroup> group = Status::Internal("unread");
  Status read = stores_->With([&](ServingStore& store) -> Status {
    group = FeatureRegistry(store.metadata()).Get(group_name);
    return group.status();
  });
  if (!read.ok()) {
    WriteStatus(response, ErrorStyle::kV1, read);
    return;
  }
  EventTime at = EventTimeNow();
  if (request.HasQueryParam("at")) {
    std::optional<EventTime> parsed = ParseEventTime(request.QueryParam("at"));
    if (!parsed) {
      WriteError(response, ErrorStyle::kV1, 400, "bad_request",
                 std::string("at: not a time; accepted: ") + kEventTimeForms);
      return;
    }
    at = *parsed;
  }
  auto reader = GroupReader::Create(*group, group->FeatureNames());
  if (!reader.ok()) {
    WriteStatus(response, ErrorStyle::kV1, reader.status());
    return;
  }
  const std::string storage_key = OnlineKey(group->name, key);
  std::vector<std::optional<std::string>> found;
  Status got = online_store_->Get(std::span<const std::string>(&storage_key, 1), &found);
  if (!got.ok()) {
    WriteError(response, ErrorStyle::kV1, 503, "feature_store_unavailable", got.message());
    response.headers.emplace_back("Retry-After", "1");
    return;
  }
  std::optional<OnlineRecord> record;
  if (found[0]) {
    auto decoded = OnlineRecord::Decode(*found[0], reader->slots());
    if (!decoded.ok()) {
      WriteStatus(response, ErrorStyle::kV1, decoded.status());
      return;
    }
    record = std::move(*decoded);
  }
  std::vector<PolicyValue> values;
  reader->Read(record ? &*record : nullptr, at, values);
  Json features = Json::object();
  const std::vector<std::string> names = group->FeatureNames();
  // The store holds columns as float32: such values (and a min, a max, a count of them) read
  // in their shortest float form, 443.85 rather than 443.8500061035156.
  auto number = [](double n) {
    const auto as_float = static_cast<float>(n);
    return static_cast<double>(as_float) == n ? ShortestFloatAsDouble(as_float) : n;
  };
  for (size_t i = 0; i < names.size(); ++i) {
    const PolicyValue& v = values[i];
    features[names[i]] = v.kind == PolicyValue::Kind::kNumber   ? Json(number(v.number))
                         : v.kind == PolicyValue::Kind::kString ? Json(std::string(v.text))
                                                                : Json();
  }
  Json body = {{"group", group->name},      {"version", group->version},   {"key", key},
               {"at", FormatEventTime(at)}, {"found", record.has_value()}, {"features", features}};
  if (record && record->has_latest) {
    body["event_time"] = FormatEventTime(record->event);
    body["window_events"] = record->window.size();
  }
  WriteJson(response, body);
}

void ScoringServer::Feedback(const HttpRequest& request, HttpResponse& response,
                             const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  if (!guard_.Authorize(request, response, ErrorStyle::kV1, "feedback", endpoint)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  Json items = body.contains("labels") ? body["labels"] : Json::array({body});
  if (!items.is_array() || items.empty()) {
    WriteError(response, ErrorStyle::kV1, 400, "invalid_body",
               "send {\"request_id\": \"…\", \"label\": 0 or 1[, \"label_time\": \"ISO 8601\"]} or "
               "{\"labels\": [ … ]}");
    return;
  }
  std::vector<FeedbackRecord> labels;
  const std::string now = UtcNow();
  for (size_t i = 0; i < items.size(); ++i) {
    const Json& item = items[i];
    const std::string where = body.contains("labels") ? "/labels/" + std::to_string(i) : "";
    if (!item.is_object() || !item.contains("request_id") || !item["request_id"].is_string() ||
        item["request_id"].get<std::string>().empty()) {
      WriteError(response, ErrorStyle::kV1, 400, "invalid_body",
                 where + "/request_id: a non-empty string is required",
                 {{"pointer", where + "/request_id"}});
      return;
    }
    const Json& label = item.contains("label") ? item["label"] : Json();
    double value = -1;
    if (label.is_boolean()) value = label.get<bool>() ? 1 : 0;
    if (label.is_number()) value = label.get<double>();
    if (value != 0 && value != 1) {
      WriteError(response, ErrorStyle::kV1, 400, "invalid_body",
                 where + "/label: 0 or 1 (or false/true) is required",
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
        WriteError(
            response, ErrorStyle::kV1, 400, "invalid_body",
            where + "/label_time: an ISO 8601 UTC time such as 2026-11-23T10:00:00Z is required",
            {{"pointer", where + "/label_time"}});
        return;
      }
      record.label_time = item["label_time"].get<std::string>();
    }
    labels.push_back(std::move(record));
  }
  Status stored = Status::Ok();
  {
    RequestTrace::ScopedSpan span("metadata_store.record_feedback", 3);
    stored =
        stores_->With([&](ServingStore& store) { return store.RecordFeedback(endpoint, labels); });
    if (!stored.ok()) span.SetError();
  }
  if (!stored.ok()) return WriteStatus(response, ErrorStyle::kV1, stored);
  WriteJson(response, {{"stored", labels.size()}, {"endpoint", endpoint}});
}

// ---------------------------------------------------------------------------------------
// Open Inference Protocol metadata.

void ScoringServer::ServerReadyV2(const HttpRequest&, HttpResponse& response, const RouteMatch&) {
  const bool ready = Readiness()["ready"].get<bool>();
  WriteJson(response, {{"ready", ready}}, ready ? 200 : 503);
}

void ScoringServer::ModelMetadataV2(const HttpRequest& request, HttpResponse& response,
                                    const RouteMatch& match) {
  const std::string name(match.params[0]);
  if (!guard_.Authorize(request, response, ErrorStyle::kOpenInference, "invoke", name)) return;
  auto snapshot = controller_->Find(name);
  if (!snapshot || !snapshot->production) {
    WriteError(response, ErrorStyle::kOpenInference, 404, "not_found",
               "no model '" + name + "' is deployed");
    return;
  }
  Json metadata = InferModelMetadata(name, *snapshot);
  const Json& versions = metadata["versions"];
  // (json::contains looks up object keys; on the versions array it was always false, so
  // every /v2/models/{model}/versions/{version} answered 404.)
  if (match.params.size() > 1 && std::find(versions.begin(), versions.end(),
                                           Json(std::string(match.params[1]))) == versions.end()) {
    WriteError(
        response, ErrorStyle::kOpenInference, 404, "not_found",
        "version " + std::string(match.params[1]) + " of '" + name + "' is not being served");
    return;
  }
  WriteJson(response, metadata);
}

void ScoringServer::ModelReadyV2(const HttpRequest& request, HttpResponse& response,
                                 const RouteMatch& match) {
  const std::string name(match.params[0]);
  if (!guard_.Authorize(request, response, ErrorStyle::kOpenInference, "invoke", name)) return;
  auto snapshot = controller_->Find(name);
  const bool ready = snapshot && snapshot->production;
  WriteJson(response, {{"name", name}, {"ready", ready}}, ready ? 200 : 404);
}

}  // namespace fraudops
