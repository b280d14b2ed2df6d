#pragma once
/// `fraudops serve`: the REST API (docs/api.md, docs/openapi.json) over the endpoints in the
/// metadata store. The server orchestrates; its collaborators own the work:
///   - Router (router.h): the route table, 404/405, exceptions to 400/500;
///   - RequestGuard (request_guard.h): API keys and usage plans per route;
///   - RolloutController (rollout_controller.h): the endpoint table, rollouts, polling;
///   - AdminRoutes (admin_routes.h): deployments, keys, plans, audit;
///   - the response encoders (v1_response.h, oip_response.h) and the capture record
///     (capture.h), shadow scoring (shadow.h), Prometheus metrics (metrics.h).
/// What stays here: construction, the scoring and feedback routes, health and readiness.

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

#include "core/config.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "serve/admin_routes.h"
#include "serve/auth.h"
#include "serve/capture.h"
#include "serve/change_feed.h"
#include "serve/dependency_health.h"
#include "serve/endpoints.h"
#include "serve/http_server.h"
#include "serve/metrics.h"
#include "serve/model_cache.h"
#include "serve/request_guard.h"
#include "serve/rollout_controller.h"
#include "serve/router.h"
#include "serve/shadow.h"
#include "serve/store_access.h"
#include "serve/tracing.h"
#include "serve/workspace_routes.h"

namespace fraudops {

struct ServeOptions {
  std::string listen;      ///< overrides api.listen when set
  long long workers = -1;  ///< overrides api.workers when >= 0
};

class ScoringServer {
 public:
  /// Opens the stores named by `config` and prepares (does not start) the server.
  static Result<std::unique_ptr<ScoringServer>> Create(const Config& config,
                                                       const ServeOptions& options, Logger& logger);
  ~ScoringServer();

  /// Loads every endpoint's models and the keys, then listens.
  Status Start();
  uint16_t port() const { return http_->port(); }
  /// True when it serves HTTPS (api.tls_cert_file).
  bool tls() const { return http_->tls(); }
  /// Re-reads the configuration's live settings (auth, capture sample, limits on rows, log
  /// level, deploy defaults) and reloads endpoints and keys now. Listen address and workers
  /// need a restart.
  void Reload(const Config& config);
  /// The first step of a graceful stop: /readyz answers 503 ("draining") while requests are
  /// still served, so a load balancer takes this replica out before Drain().
  void BeginDrain() { draining_.store(true, std::memory_order_release); }
  /// Stops accepting, finishes requests in flight (api.drain_timeout_ms), stops the
  /// controller, flushes capture and usage counters.
  void Drain();
  /// Supplies the A/B report of the admin route /v1/admin/endpoints/{e}/ab (before Start).
  void SetAbReporter(AdminRoutes::AbReporter reporter) {
    admin_->SetAbReporter(std::move(reporter));
  }
  /// The /metrics registry (callers add collectors for gauges of their own).
  MetricRegistry& metrics() { return metrics_; }

 private:
  ScoringServer(Config config, Logger& logger);
  void RegisterRoutes();
  void Handle(const HttpRequest& request, HttpResponse& response);

  // Routes.
  void Health(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Features(const HttpRequest&, HttpResponse&, const RouteMatch&);
  /// fraudops_feature_freshness_seconds of the groups served models read.
  void WriteFreshness(const EndpointMap& endpoints, std::string& out);
  /// Fills `model`'s feature store features of `rows`; false when it answered an error.
  bool Enrich(const LoadedModel& model, ParsedRows& rows, HttpResponse& response, ErrorStyle style);
  void Ready(const HttpRequest&, HttpResponse&, const RouteMatch&);
  /// {"ready", "endpoints", "reason", "degraded", "dependencies"}: ready when every endpoint's
  /// production model is loaded and the server is not draining; degraded when a dependency
  /// (metadata store, change feed, quota store, online store) did not answer last time.
  nlohmann::json Readiness() const;
  void ListEndpoints(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Feedback(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ServerReadyV2(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ModelMetadataV2(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ModelReadyV2(const HttpRequest&, HttpResponse&, const RouteMatch&);
  /// The model a request to a multi-model endpoint names: the x-fraudops-target-model header
  /// (NAME@VERSION, NAME@ALIAS, NAME), else the routing field's route, else the default.
  Result<VariantRef> MultiTarget(const HttpRequest& request, const EndpointSnapshot& endpoint,
                                 bool oip);
  /// The predict path shared by /v1 predict and /v2 infer.
  void Score(const HttpRequest& request, HttpResponse& response, const RouteMatch& match,
             ErrorStyle style);

  void DeclareMetrics();
  /// fraudops_pipeline_* from the metadata store's runs, read at most every 15 s.
  void WritePipelineGauges(std::string& out) EXCLUDES(pipeline_mutex_);
  /// The metric children a scored request updates (children live as long as the registry),
  /// looked up once per route, endpoint and variant instead of five labelled lookups per
  /// request.
  struct ScoreMetrics {
    std::atomic<uint64_t>* ok = nullptr;  ///< requests answered 200
    Histogram* duration = nullptr;
    Histogram* score = nullptr;
    std::atomic<uint64_t>* predictions[2] = {nullptr, nullptr};  ///< by label 0, 1
  };
  const ScoreMetrics& ScoreMetricsFor(const Route& route, std::string_view endpoint,
                                      std::string_view variant) EXCLUDES(score_metrics_mutex_);

  Config config_;
  Logger& logger_;
  std::unique_ptr<StoreAccess> stores_;
  MetricRegistry metrics_;
  HealthBoard health_;
  KeyRing keys_;
  std::unique_ptr<SharedQuotas> shared_quotas_;  ///< api.quota_url; null: quotas in-process
  /// The online feature store enrichment reads (features.online_url, or the embedded one).
  std::unique_ptr<OnlineStore> online_store_;
  DependencyHealth* online_health_ = nullptr;  ///< a Redis online store's
  RequestGuard guard_{keys_, metrics_, logger_};
  std::unique_ptr<ModelCache> model_cache_;
  std::unique_ptr<RolloutController> controller_;
  std::unique_ptr<ChangeFeed> change_feed_;  ///< PostgreSQL metadata store only
  std::unique_ptr<CaptureWriter> capture_;
  std::unique_ptr<ShadowRunner> shadows_;
  std::unique_ptr<Tracer> tracer_;
  std::unique_ptr<AdminRoutes> admin_;
  std::unique_ptr<WorkspaceRoutes> workspace_;
  std::unique_ptr<HttpServer> http_;
  Router router_;

  SharedMutex score_metrics_mutex_;
  /// Orders (route, endpoint, variant) keys, stored with strings, looked up with views.
  struct ScoreMetricsLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      if (std::get<0>(a) != std::get<0>(b))
        return std::less<const Route*>()(std::get<0>(a), std::get<0>(b));
      const int endpoint = std::string_view(std::get<1>(a)).compare(std::get<1>(b));
      if (endpoint != 0) return endpoint < 0;
      return std::string_view(std::get<2>(a)) < std::string_view(std::get<2>(b));
    }
  };
  /// Entries are never removed.
  std::map<std::tuple<const Route*, std::string, std::string>, ScoreMetrics, ScoreMetricsLess>
      score_metrics_ GUARDED_BY(score_metrics_mutex_);

  Mutex pipeline_mutex_;
  std::string pipeline_gauges_ GUARDED_BY(pipeline_mutex_);
  std::chrono::steady_clock::time_point pipeline_read_at_ GUARDED_BY(pipeline_mutex_);

  std::atomic<double> capture_sample_{0};
  std::atomic<size_t> max_rows_{10000};
  std::atomic<bool> drained_{false};
  std::atomic<bool> draining_{false};
};

}  // namespace fraudops
