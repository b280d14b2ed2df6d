#pragma once
/// The admin routes of `fraudops serve` (/v1/admin/…, docs/api.md): endpoints and their
/// deployments (deploy, history, rollback, shadow reports), approval of model versions, users
/// and their tokens, API keys, usage plans and the audit log, and POST /v1/login. Each route
/// needs a permission (store/identity.h) that the caller's roles or a service key's admin
/// scope grant (docs/governance.md); a change is written to the
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
              ShadowRunner& shadows, const DeployConfig& deploy_defaults, const DeployRules& rules,
              double token_days);

  /// Adds the routes to `router`.
  void Register(Router& router);
  /// The deploy.* settings a deployment without its own parameters uses, the register.*
  /// rules of approval (shadow_pending, distinct_approver), and how long tokens made by
  /// login last (api.token_days); on reload.
  void SetDeployDefaults(const DeployConfig& deploy, const DeployRules& rules, double token_days)
      EXCLUDES(mutex_);
  /// Before the server starts.
  void SetAbReporter(AbReporter reporter) { ab_reporter_ = std::move(reporter); }
  /// Whether the console's session cookie is marked Secure (the server speaks TLS); a request
  /// with X-Forwarded-Proto: https (behind a TLS-terminating balancer) gets it Secure anyway.
  void SetSecureCookies(bool secure) { secure_cookies_ = secure; }

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
  void Approve(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Reject(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void Promote(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void SetEnvironment(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void WhoAmI(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ListUsers(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void CreateUser(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void ChangeUser(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void CreateToken(const HttpRequest&, HttpResponse&, const RouteMatch&);
  /// POST /v1/login: a user's name and password for a personal access token.
  void Login(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void CreateSession(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void CurrentSession(const HttpRequest&, HttpResponse&, const RouteMatch&);
  void EndSession(const HttpRequest&, HttpResponse&, const RouteMatch&);
  /// The Set-Cookie header of the session cookie holding `token` (empty: cleared).
  std::string SessionCookie(const HttpRequest& request, const std::string& token,
                            int64_t max_age_seconds) const;
  /// The live statistics of this server's A/B arms, and the report when a reporter is set.
  nlohmann::json AbEvidence(const std::string& endpoint);

  /// Checks that the caller holds `permission` (on `endpoint`, "" for none); `actor` gets
  /// the principal's audit name, `who` the principal. A known principal refused is audited
  /// (access_refused).
  bool Admit(const HttpRequest& request, HttpResponse& response, Permission permission,
             std::string_view endpoint, std::string* actor = nullptr, Principal* who = nullptr);
  /// What a deployment asked for over the API starts from: deploy.* and the approval rules.
  struct DeployDefaults {
    DeploymentParams params;
    std::string strategy;
    DeployRules rules;
  };
  DeployDefaults CurrentDeployDefaults() EXCLUDES(mutex_);

  RequestGuard& guard_;
  StoreAccess& stores_;
  RolloutController& controller_;
  ShadowRunner& shadows_;
  Mutex mutex_;
  DeployConfig deploy_ GUARDED_BY(mutex_);
  DeployRules rules_ GUARDED_BY(mutex_);
  double token_days_ GUARDED_BY(mutex_) = 30;
  AbReporter ab_reporter_;
  bool secure_cookies_ = false;
};

}  // namespace fraudops
