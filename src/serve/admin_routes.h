#pragma once
/// The admin routes of `fraudops serve` (/v1/admin/…, docs/api.md): endpoints and their
/// deployments (deploy, history, rollback, shadow reports), API keys, usage plans and the
/// audit log. Every route needs a key with the admin scope; a change is written to the
/// metadata store with its audit entry and the rollout controller is poked, so this
/// server applies it at once (others at their next poll).

#include "core/config.h"
#include "core/mutex.h"
#include "serve/request_guard.h"
#include "serve/rollout_controller.h"
#include "serve/router.h"
#include "serve/shadow.h"
#include "serve/store_access.h"

namespace fraudops {

class AdminRoutes {
 public:
  /// Builds an endpoint's A/B report (the monitor module's, supplied by whoever composes the
  /// server: serve links no monitoring code).
  using AbReporter = std::function<Result<nlohmann::json>(const std::string& endpoint)>;

  /// Everything passed outlives the routes.
  AdminRoutes(RequestGuard& guard, StoreAccess& stores, RolloutController& controller,
              ShadowRunner& shadows, const DeployConfig& deploy_defaults, bool shadow_pending);

  /// Adds the routes to `router`.
  void Register(Router& router);
  /// The deploy.* settings a deployment without its own parameters uses, and
  /// register.shadow_pending (on reload).
  void SetDeployDefaults(const DeployConfig& deploy, bool shadow_pending) EXCLUDES(mutex_);
  /// Before the server starts.
  void SetAbReporter(AbReporter reporter) { ab_reporter_ = std::move(reporter); }

 private:
  void ListEndpoints(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ShowEndpoint(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Deploy(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void History(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Rollback(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Shadows(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ListKeys(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void CreateKey(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void RevokeKey(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AttachPlan(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ListPlans(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void CreatePlan(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Audit(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AbStatus(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AbWeights(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void AbConclude(const HttpRequest&, HttpResponse&, const RouteMatch&);
  /// The live statistics of this server's A/B arms, and the report when a reporter is set.
  nlohmann::json AbEvidence(const std::string& endpoint);

  /// Checks the admin scope (on `endpoint`, "" for none); `actor` gets "api-key:<id>".
  bool Admit(const HttpRequest& request, HttpResponse& response, std::string_view endpoint,
             std::string* actor = nullptr);

  RequestGuard& guard_;
  StoreAccess& stores_;
  RolloutController& controller_;
  ShadowRunner& shadows_;
  Mutex mutex_;
  DeployConfig deploy_ GUARDED_BY(mutex_);
  bool shadow_pending_ GUARDED_BY(mutex_) = false;
  AbReporter ab_reporter_;
};

}  // namespace fraudops
