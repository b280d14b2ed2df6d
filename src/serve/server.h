#pragma once
/// `fraudops serve`: the REST API (docs/api.md, docs/openapi.json) over the endpoints in the
/// metadata store. Owns the HTTP server, the endpoint table (swapped atomically), API keys
/// and usage plans, data capture, shadow scoring, Prometheus metrics, and the controller
/// thread that polls the store for deployments, keys and plans changed by other processes
/// (api.poll_interval_ms), judges canaries against their alarms, promotes or rolls them
/// back, and flushes usage counters.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>

#include "core/config.h"
#include "core/logging.h"
#include "serve/auth.h"
#include "serve/capture.h"
#include "serve/endpoints.h"
#include "serve/http_server.h"
#include "serve/metrics.h"
#include "serve/shadow.h"
#include "store/artifact_store.h"
#include "store/serving_store.h"

namespace fraudops {

struct ServeOptions {
  std::string listen;  ///< overrides api.listen when set
  long long workers = -1;  ///< overrides api.workers when >= 0
};

class ScoringServer {
 public:
  /// Opens the stores named by `config` and prepares (does not start) the server.
  static Result<std::unique_ptr<ScoringServer>> Create(const Config& config, const ServeOptions& options,
                                                       Logger& logger);
  ~ScoringServer();

  /// Loads every endpoint's models and the keys, then listens.
  Status Start();
  uint16_t port() const { return http_->port(); }
  /// Re-reads the configuration's live settings (auth, capture sample, limits on rows, log
  /// level) and reloads endpoints and keys now. Listen address and workers need a restart.
  void Reload(const Config& config);
  /// Stops accepting, finishes requests in flight (api.drain_timeout_ms), stops the
  /// controller, flushes capture and usage counters.
  void Drain();
  /// The /metrics registry (callers add collectors for gauges of their own).
  MetricRegistry& metrics() { return metrics_; }

  struct Route;
  struct RouteMatch;

 private:
  ScoringServer(Config config, Logger& logger);
  void Handle(const HttpRequest& request, HttpResponse& response);

  // Routes.
  void Health(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Ready(const HttpRequest&, HttpResponse&, const RouteMatch&);
  /// {"ready", "endpoints", "reason"}: ready when every endpoint's production model is loaded.
  nlohmann::json Readiness() const;
  void Metrics(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void OpenApi(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ListEndpointsRoute(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Predict(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Feedback(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ServerMetadataV2(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ServerReadyV2(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ModelMetadataV2(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ModelReadyV2(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void InferV2(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminEndpoints(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminEndpoint(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminDeploy(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminHistory(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminRollback(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminShadows(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminListKeys(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminCreateKey(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminRevokeKey(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminAttachPlan(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminListPlans(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminCreatePlan(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AdminAudit(const HttpRequest&, HttpResponse&, const RouteMatch&);

  /// The predict path shared by /v1 predict and /v2 infer.
  void Score(const HttpRequest& request, HttpResponse& response, const RouteMatch& match, bool oip);
  /// False (with the response written) unless the caller may use `scope` on `endpoint`.
  bool Authorize(const HttpRequest& request, HttpResponse& response, const RouteMatch& match,
                 std::string_view scope, std::string_view endpoint, std::string* key_id);
  /// The current endpoint table (requests keep the one they got).
  std::shared_ptr<const EndpointMap> Endpoints() const;
  std::shared_ptr<const EndpointSnapshot> FindEndpoint(std::string_view name) const;
  /// Runs `body` with the metadata store (one connection, shared by the controller and admin
  /// routes, under a lock); its Status becomes the response on failure.
  Status WithStore(const std::function<Status(ServingStore&)>& body);

  // Controller.
  void ControllerLoop();
  void ReloadEndpoints();
  void ReloadKeys();
  void JudgeRollouts();
  void FlushUsage();
  void Poke();

  void DeclareMetrics();
  /// The metric children a scored request updates (children live as long as the registry),
  /// looked up once per route, endpoint and variant instead of five labelled lookups per
  /// request.
  struct ScoreMetrics {
    std::atomic<uint64_t>* ok = nullptr;  ///< requests answered 200
    Histogram* duration = nullptr;
    Histogram* score = nullptr;
    std::atomic<uint64_t>* predictions[2] = {nullptr, nullptr};  ///< by label 0, 1
  };
  const ScoreMetrics& ScoreMetricsFor(const Route& route, std::string_view endpoint, std::string_view variant);

  Config config_;
  Logger& logger_;
  std::unique_ptr<MetadataStore> metadata_;
  std::unique_ptr<ArtifactStore> artifacts_;
  std::unique_ptr<ServingStore> serving_;
  std::unique_ptr<ModelLoader> loader_;
  std::mutex store_mutex_;  // guards metadata_, serving_, loader_ (one SQL connection)

  mutable std::mutex endpoints_mutex_;
  std::shared_ptr<const EndpointMap> endpoints_;  // guarded by endpoints_mutex_ (the pointer)
  std::map<std::string, std::shared_ptr<RolloutStats>> rollouts_;  // controller thread only
  std::atomic<bool> loaded_{false};

  KeyRing keys_;
  std::unique_ptr<SharedQuotas> shared_quotas_;  // api.quota_url; null: quotas in-process
  std::atomic<int64_t> quota_store_warned_{-100};  // steady seconds of the last 503 warning
  MetricRegistry metrics_;
  std::shared_mutex score_metrics_mutex_;
  /// Orders (route, endpoint, variant) keys, stored with strings, looked up with views.
  struct ScoreMetricsLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      if (std::get<0>(a) != std::get<0>(b)) return std::less<const Route*>()(std::get<0>(a), std::get<0>(b));
      const int endpoint = std::string_view(std::get<1>(a)).compare(std::get<1>(b));
      if (endpoint != 0) return endpoint < 0;
      return std::string_view(std::get<2>(a)) < std::string_view(std::get<2>(b));
    }
  };
  std::map<std::tuple<const Route*, std::string, std::string>, ScoreMetrics, ScoreMetricsLess>
      score_metrics_;  // guarded by score_metrics_mutex_; entries are never removed
  std::unique_ptr<CaptureWriter> capture_;
  std::unique_ptr<ShadowRunner> shadows_;
  std::unique_ptr<HttpServer> http_;
  std::vector<Route> routes_;

  std::atomic<bool> auth_required_{true};
  std::atomic<double> capture_sample_{0};
  std::atomic<size_t> max_rows_{10000};

  std::thread controller_;
  std::mutex controller_mutex_;
  std::condition_variable controller_wake_;
  bool stop_ = false, poked_ = false, reload_all_ = false;  // guarded by controller_mutex_
  std::map<std::string, int64_t> counters_seen_;  // controller thread only
};

}  // namespace fraudops
