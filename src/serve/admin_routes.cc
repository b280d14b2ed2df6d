#include "serve/admin_routes.h"

#include <optional>

#include "core/strings.h"
#include "serve/route_helpers.h"

namespace fraudops {

using Json = nlohmann::json;

namespace {

/// Writes {"<key>": [record.ToJson()…]} of the records `read` returns from the store, or its
/// error.
template <class Read>
void WriteRecords(StoreAccess& stores, HttpResponse& response, const char* key, Read read,
                  Json extra = Json::object()) {
  Json list = Json::array();
  Status status = stores.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto records, read(store));
    for (const auto& record : records) list.push_back(record.ToJson());
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  extra[key] = list;
  WriteJson(response, extra);
}

}  // namespace

namespace {

/// The principal as JSON with the permissions it holds.
Json WithPermissions(const Principal& principal) {
  Json out = principal.ToJson();
  Json permissions = Json::array();
  for (Permission p : {Permission::kRead, Permission::kRun, Permission::kApprove,
                       Permission::kDeploy, Permission::kAdmin}) {
    if (principal.Allows(p)) permissions.push_back(std::string(PermissionName(p)));
  }
  out["permissions"] = permissions;
  return out;
}

}  // namespace

AdminRoutes::AdminRoutes(RequestGuard& guard, StoreAccess& stores, RolloutController& controller,
                         ShadowRunner& shadows, const DeployConfig& deploy_defaults,
                         const DeployRules& rules, double token_days)
    : guard_(guard),
      stores_(stores),
      controller_(controller),
      shadows_(shadows),
      deploy_(deploy_defaults),
      rules_(rules),
      token_days_(token_days) {}

void AdminRoutes::Register(Router& router) {
  auto add = [&](const char* method, const char* pattern,
                 void (AdminRoutes::*handler)(const HttpRequest&, HttpResponse&,
                                              const RouteMatch&)) {
    router.Add(
        method, pattern,
        [this, handler](const HttpRequest& request, HttpResponse& response,
                        const RouteMatch& match) { (this->*handler)(request, response, match); });
  };
  add("GET", "/v1/admin/endpoints", &AdminRoutes::ListEndpoints);
  add("GET", "/v1/admin/endpoints/{endpoint}", &AdminRoutes::ShowEndpoint);
  add("POST", "/v1/admin/endpoints/{endpoint}/deployments", &AdminRoutes::Deploy);
  add("GET", "/v1/admin/endpoints/{endpoint}/deployments", &AdminRoutes::History);
  add("POST", "/v1/admin/endpoints/{endpoint}/rollback", &AdminRoutes::Rollback);
  add("GET", "/v1/admin/endpoints/{endpoint}/shadows", &AdminRoutes::Shadows);
  add("GET", "/v1/admin/keys", &AdminRoutes::ListKeys);
  add("POST", "/v1/admin/keys", &AdminRoutes::CreateKey);
  add("DELETE", "/v1/admin/keys/{key}", &AdminRoutes::RevokeKey);
  add("PUT", "/v1/admin/keys/{key}/plan", &AdminRoutes::AttachPlan);
  add("GET", "/v1/admin/plans", &AdminRoutes::ListPlans);
  add("POST", "/v1/admin/plans", &AdminRoutes::CreatePlan);
  add("GET", "/v1/admin/audit", &AdminRoutes::Audit);
  add("GET", "/v1/admin/endpoints/{endpoint}/ab", &AdminRoutes::AbStatus);
  add("PUT", "/v1/admin/endpoints/{endpoint}/ab/weights", &AdminRoutes::AbWeights);
  add("POST", "/v1/admin/endpoints/{endpoint}/ab/conclude", &AdminRoutes::AbConclude);
  add("POST", "/v1/admin/models/{model}/versions/{version}/approve", &AdminRoutes::Approve);
  add("POST", "/v1/admin/models/{model}/versions/{version}/reject", &AdminRoutes::Reject);
  add("POST", "/v1/admin/models/{model}/versions/{version}/promote", &AdminRoutes::Promote);
  add("PUT", "/v1/admin/endpoints/{endpoint}/environment", &AdminRoutes::SetEnvironment);
  add("GET", "/v1/admin/whoami", &AdminRoutes::WhoAmI);
  add("GET", "/v1/admin/users", &AdminRoutes::ListUsers);
  add("POST", "/v1/admin/users", &AdminRoutes::CreateUser);
  add("PATCH", "/v1/admin/users/{user}", &AdminRoutes::ChangeUser);
  add("POST", "/v1/admin/users/{user}/tokens", &AdminRoutes::CreateToken);
  add("POST", "/v1/login", &AdminRoutes::Login);
  add("POST", "/v1/sessions", &AdminRoutes::CreateSession);
  add("GET", "/v1/sessions/current", &AdminRoutes::CurrentSession);
  add("DELETE", "/v1/sessions/current", &AdminRoutes::EndSession);
}

void AdminRoutes::SetDeployDefaults(const DeployConfig& deploy, const DeployRules& rules,
                                    double token_days) {
  MutexLock lock(&mutex_);
  deploy_ = deploy;
  rules_ = rules;
  token_days_ = token_days;
}

bool AdminRoutes::Admit(const HttpRequest& request, HttpResponse& response, Permission permission,
                        std::string_view endpoint, std::string* actor, Principal* who) {
  return AdmitCaller(guard_, stores_, request, response, permission, endpoint, actor, who);
}

void AdminRoutes::ListEndpoints(const HttpRequest& request, HttpResponse& response,
                                const RouteMatch&) {
  if (!Admit(request, response, Permission::kRead, "")) return;
  WriteRecords(stores_, response, "endpoints",
               [](ServingStore& store) { return store.ListEndpoints(); });
}

void AdminRoutes::ShowEndpoint(const HttpRequest& request, HttpResponse& response,
                               const RouteMatch& match) {
  const std::string name(match.params[0]);
  if (!Admit(request, response, Permission::kRead, name)) return;
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto endpoint, store.FindEndpoint(name));
    if (!endpoint) return store.NoSuchEndpoint(name);
    out = endpoint->ToJson();
    if (!endpoint->deployment_id.empty()) {
      FOPS_ASSIGN_OR_RETURN(DeploymentRecord d, store.GetDeployment(endpoint->deployment_id));
      out["deployment"] = d.ToJson();
    }
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  auto snapshot = controller_.Find(name);
  out["loaded"] = snapshot && snapshot->production;
  if (snapshot && snapshot->rollout) {
    auto stats = [](const VariantStats& s) {
      return Json{{"requests", s.requests()},
                  {"errors", s.errors()},
                  {"p99_ms", 1e3 * s.LatencyQuantile(0.99)}};
    };
    out["rollout"] = {
        {"production", stats(snapshot->rollout->production)},
        {"canary", stats(snapshot->rollout->canary)},
        {"score_psi", PopulationStabilityIndex(snapshot->rollout->production.ScoreCounts(),
                                               snapshot->rollout->canary.ScoreCounts())}};
  }
  WriteJson(response, out);
}

AdminRoutes::DeployDefaults AdminRoutes::CurrentDeployDefaults() {
  MutexLock lock(&mutex_);
  return {DeploymentParamsFrom(deploy_), deploy_.strategy, rules_};
}

void AdminRoutes::Deploy(const HttpRequest& request, HttpResponse& response,
                         const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  std::string actor;
  if (!Admit(request, response, Permission::kDeploy, endpoint, &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "model", "the registered model's name is required")) return;
  DeployDefaults defaults = CurrentDeployDefaults();
  DeploymentParams& params = defaults.params;
  std::string& strategy = defaults.strategy;
  const DeployRules& rules = defaults.rules;
  strategy = body.value("strategy", strategy);
  if (!NumbersOrRefuse(body, response,
                       {"canary_percent", "bake_seconds", "linear_step_percent",
                        "linear_step_seconds", "max_error_rate", "max_p99_ms", "max_score_psi",
                        "max_decision_shift", "min_requests"})) {
    return;
  }
  Json merged = params.ToJson();
  for (auto& [k, v] : merged.items()) {
    if (body.contains(k)) v = body[k];
  }
  params = DeploymentParams::FromJson(merged);
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    std::string ref = "latest";
    if (body.contains("alias")) {
      ref = "@" + body["alias"].get<std::string>();
    } else if (body.contains("version")) {
      ref =
          body["version"].is_string() ? body["version"].get<std::string>() : body["version"].dump();
    }
    FOPS_ASSIGN_OR_RETURN(ModelVersion version,
                          store.metadata().GetVersion(body["model"].get<std::string>(), ref));
    FOPS_ASSIGN_OR_RETURN(
        DeploymentRecord d,
        store.Deploy(endpoint, {version.model, version.version}, strategy, params, actor, rules));
    out = d.ToJson();
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, out, 201);
}

void AdminRoutes::History(const HttpRequest& request, HttpResponse& response,
                          const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  if (!Admit(request, response, Permission::kRead, endpoint)) return;
  WriteRecords(stores_, response, "deployments",
               [&](ServingStore& store) { return store.History(endpoint, 100); },
               {{"endpoint", endpoint}});
}

void AdminRoutes::Rollback(const HttpRequest& request, HttpResponse& response,
                           const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  std::string actor;
  if (!Admit(request, response, Permission::kDeploy, endpoint, &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(
        DeploymentRecord d,
        store.Rollback(endpoint, body.value("reason", "rolled back through the API"), actor));
    out = d.ToJson();
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, out);
}

void AdminRoutes::Shadows(const HttpRequest& request, HttpResponse& response,
                          const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  if (!Admit(request, response, Permission::kRead, endpoint)) return;
  if (request.HasQueryParam("flush")) shadows_.Flush();
  WriteJson(response, {{"endpoint", endpoint}, {"shadows", shadows_.Report(endpoint)}});
}

void AdminRoutes::ListKeys(const HttpRequest& request, HttpResponse& response, const RouteMatch&) {
  if (!Admit(request, response, Permission::kAdmin, "")) return;
  WriteRecords(stores_, response, "keys", [](ServingStore& store) { return store.ListKeys(); });
}

void AdminRoutes::CreateKey(const HttpRequest& request, HttpResponse& response, const RouteMatch&) {
  std::string actor;
  if (!Admit(request, response, Permission::kAdmin, "", &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  auto strings = [&](const char* key, std::vector<std::string> fallback,
                     std::vector<std::string>* out) {
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
  if (!StringOrRefuse(body, response, "name", "a string is required")) return;
  if (!strings("scopes", {"invoke"}, &scopes) || !strings("endpoints", {"*"}, &endpoints)) {
    WriteError(response, ErrorStyle::kV1, 400, "invalid_body",
               "/scopes and /endpoints must be arrays of strings");
    return;
  }
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(CreatedKey created,
                          store.CreateKey(body["name"].get<std::string>(), scopes, endpoints,
                                          body.value("plan", ""), actor));
    out = created.record.ToJson();
    out["key"] = created.key;
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, out, 201);
}

void AdminRoutes::RevokeKey(const HttpRequest& request, HttpResponse& response,
                            const RouteMatch& match) {
  std::string actor;
  if (!Admit(request, response, Permission::kAdmin, "", &actor)) return;
  const std::string id(match.params[0]);
  Status status = stores_.With([&](ServingStore& store) { return store.RevokeKey(id, actor); });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, {{"id", id}, {"revoked", true}});
}

void AdminRoutes::AttachPlan(const HttpRequest& request, HttpResponse& response,
                             const RouteMatch& match) {
  std::string actor;
  if (!Admit(request, response, Permission::kAdmin, "", &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!body.contains("plan") || !(body["plan"].is_string() || body["plan"].is_null())) {
    RefuseMember(response, "/plan", "a plan name (or null to detach) is required");
    return;
  }
  const std::string id(match.params[0]);
  const std::string plan = body["plan"].is_null() ? "" : body["plan"].get<std::string>();
  Status status =
      stores_.With([&](ServingStore& store) { return store.AttachPlan(id, plan, actor); });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, {{"id", id}, {"plan", plan.empty() ? Json(nullptr) : Json(plan)}});
}

void AdminRoutes::ListPlans(const HttpRequest& request, HttpResponse& response, const RouteMatch&) {
  if (!Admit(request, response, Permission::kAdmin, "")) return;
  WriteRecords(stores_, response, "plans", [](ServingStore& store) { return store.ListPlans(); });
}

void AdminRoutes::CreatePlan(const HttpRequest& request, HttpResponse& response,
                             const RouteMatch&) {
  std::string actor;
  if (!Admit(request, response, Permission::kAdmin, "", &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "name", "a string is required")) return;
  if (!NumbersOrRefuse(body, response,
                       {"rate_per_second", "burst", "daily_quota", "monthly_quota"}))
    return;
  UsagePlan plan;
  plan.name = body["name"].get<std::string>();
  plan.rate_per_second = body.value("rate_per_second", 0.0);
  plan.burst = body.value("burst", int64_t{0});
  plan.daily_quota = body.value("daily_quota", int64_t{0});
  plan.monthly_quota = body.value("monthly_quota", int64_t{0});
  Status status = stores_.With([&](ServingStore& store) {
    return store.PutPlan(plan, body.value("replace", false), actor);
  });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, plan.ToJson(), 201);
}

void AdminRoutes::Audit(const HttpRequest& request, HttpResponse& response, const RouteMatch&) {
  if (!Admit(request, response, Permission::kRead, "")) return;
  WriteRecords(stores_, response, "audit", [&](ServingStore& store) {
    return store.metadata().Audit(request.QueryParam("model"));
  });
}

Json AdminRoutes::AbEvidence(const std::string& endpoint) {
  Json live = Json::object();
  if (auto snapshot = controller_.Find(endpoint)) {
    for (const AbArm& arm : snapshot->ab) live[arm.name] = arm.stats->ToJson();
  }
  Json out = {{"live", live}};
  if (ab_reporter_) {
    auto report = ab_reporter_(endpoint);
    out["report"] = report.ok() ? *report : Json(nullptr);
    if (!report.ok()) out["report_error"] = report.status().message();
  }
  return out;
}

void AdminRoutes::AbStatus(const HttpRequest& request, HttpResponse& response,
                           const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  if (!Admit(request, response, Permission::kRead, endpoint)) return;
  Json ab;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto found, store.FindEndpoint(endpoint));
    if (!found) return store.NoSuchEndpoint(endpoint);
    if (found->ab_variants.empty())
      return Status::NotFound("endpoint '" + endpoint + "' runs no A/B test");
    ab = found->AbJson();
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  Json out = AbEvidence(endpoint);
  out["endpoint"] = endpoint;
  out["ab"] = ab;
  WriteJson(response, out);
}

void AdminRoutes::AbWeights(const HttpRequest& request, HttpResponse& response,
                            const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  std::string actor;
  if (!Admit(request, response, Permission::kDeploy, endpoint, &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!body.contains("weights") || !body["weights"].is_object()) {
    RefuseMember(response, "/weights",
                 "an object of variant weights is required, e.g. {\"v7\": 30, \"v6\": 70}");
    return;
  }
  std::map<std::string, double> weights;
  for (const auto& [name, weight] : body["weights"].items()) {
    if (!weight.is_number()) {
      RefuseMember(response, "/weights/" + name, "a number is required");
      return;
    }
    weights[name] = weight.get<double>();
  }
  Json ab;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_RETURN_IF_ERROR(store.SetAbWeights(endpoint, weights, actor));
    FOPS_ASSIGN_OR_RETURN(auto found, store.FindEndpoint(endpoint));
    ab = found ? found->AbJson() : Json(nullptr);
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, {{"endpoint", endpoint}, {"ab", ab}});
}

void AdminRoutes::AbConclude(const HttpRequest& request, HttpResponse& response,
                             const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  std::string actor;
  if (!Admit(request, response, Permission::kDeploy, endpoint, &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "winner",
                      "the winning variant's name (e.g. v7) is required")) {
    return;
  }
  const Json evidence = AbEvidence(endpoint);
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(DeploymentRecord d,
                          store.ConcludeAb(endpoint, body["winner"].get<std::string>(),
                                           body.value("reason", ""), evidence, actor));
    out = d.ToJson();
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, out, 201);
}

// ---------------------------------------------------------------------------------------
// People: approval, users, tokens, sign-in.

namespace {

/// The version a route's {model}/{version} names (a number, "latest" or "@alias").
Result<ModelVersion> RoutedVersion(ServingStore& store, const RouteMatch& match) {
  return store.metadata().GetVersion(std::string(match.params[0]), std::string(match.params[1]));
}

/// The Argon2id hash of `body["password"]` into `hash` when the member is there (checked for
/// length; never kept in clear); false after a 400.
bool PasswordHashOrRefuse(const Json& body, HttpResponse& response,
                          std::optional<std::string>* hash) {
  if (!body.contains("password")) return true;
  if (!StringOrRefuse(body, response, "password", "a string is required")) return false;
  const std::string password = body["password"].get<std::string>();
  if (Failed(response, CheckPasswordStrength(password))) return false;
  auto hashed = HashPassword(password);
  if (!hashed.ok()) return !Failed(response, hashed.status());
  *hash = *hashed;
  return true;
}

}  // namespace

void AdminRoutes::Approve(const HttpRequest& request, HttpResponse& response,
                          const RouteMatch& match) {
  std::string actor;
  if (!Admit(request, response, Permission::kApprove, "", &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "reason", "why it is approved (a string) is required"))
    return;
  std::vector<std::string> aliases;
  if (!StringsOrRefuse(body, response, "aliases", &aliases)) return;
  bool distinct;
  {
    MutexLock lock(&mutex_);
    distinct = rules_.distinct_approver;
  }
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(ModelVersion version, RoutedVersion(store, match));
    FOPS_RETURN_IF_ERROR(store.metadata().SetApproval(version.model, version.version, "approved",
                                                      actor, body["reason"].get<std::string>(),
                                                      aliases, distinct));
    FOPS_ASSIGN_OR_RETURN(
        ModelVersion changed,
        store.metadata().GetVersion(version.model, std::to_string(version.version)));
    out = changed.ToJson();
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  WriteJson(response, out);
}

void AdminRoutes::Reject(const HttpRequest& request, HttpResponse& response,
                         const RouteMatch& match) {
  std::string actor;
  Principal principal;
  if (!Admit(request, response, Permission::kApprove, "", &actor, &principal)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "reason", "why it is rejected (a string) is required"))
    return;
  const bool roll_back = body.value("roll_back", false);
  if (roll_back && !principal.Allows(Permission::kDeploy)) {
    WriteError(response, ErrorStyle::kV1, 403, "forbidden",
               principal.actor +
                   " may not deploy, so may not roll back with the rejection; a "
                   "deployer rolls back first (POST …/rollback)",
               {{"permission", "deploy"}});
    return;
  }
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(ModelVersion version, RoutedVersion(store, match));
    FOPS_ASSIGN_OR_RETURN(out, RetireVersion(store, version, RetireAction::kReject,
                                             body["reason"].get<std::string>(), actor, roll_back));
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, out);
}

void AdminRoutes::Promote(const HttpRequest& request, HttpResponse& response,
                          const RouteMatch& match) {
  std::string actor;
  if (!Admit(request, response, Permission::kDeploy, "", &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "to", "the environment (dev, staging, production)")) return;
  DeployDefaults defaults = CurrentDeployDefaults();
  DeploymentParams& params = defaults.params;
  std::string& strategy = defaults.strategy;
  const DeployRules& rules = defaults.rules;
  if (body.contains("strategy") &&
      !StringOrRefuse(body, response, "strategy", "a strategy name is required"))
    return;
  strategy = body.value("strategy", strategy);
  PromotionCheck check;
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(ModelVersion version, RoutedVersion(store, match));
    FOPS_ASSIGN_OR_RETURN(
        DeploymentRecord d,
        store.Promote({version.model, version.version}, body["to"].get<std::string>(),
                      body.value("endpoint", ""), strategy, params, actor, rules, &check));
    out = {{"deployment", d.ToJson()}, {"check", check.ToJson()}};
    return Status::Ok();
  });
  if (status.code() == StatusCode::kConflict && !check.requirements.empty() && !check.allowed()) {
    WriteError(response, ErrorStyle::kV1, 409, "promotion_refused", status.message(),
               check.ToJson());
    return;
  }
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, out, 201);
}

void AdminRoutes::SetEnvironment(const HttpRequest& request, HttpResponse& response,
                                 const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  std::string actor;
  if (!Admit(request, response, Permission::kAdmin, endpoint, &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "environment", "dev, staging, production, or \"\" for none"))
    return;
  const std::string environment = body["environment"].get<std::string>();
  Status status = stores_.With(
      [&](ServingStore& store) { return store.SetEnvironment(endpoint, environment, actor); });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, {{"endpoint", endpoint}, {"environment", environment}});
}

void AdminRoutes::WhoAmI(const HttpRequest& request, HttpResponse& response, const RouteMatch&) {
  Principal principal;
  if (!Admit(request, response, Permission::kRead, "", nullptr, &principal)) return;
  Json out = WithPermissions(principal);
  WriteJson(response, out);
}

void AdminRoutes::ListUsers(const HttpRequest& request, HttpResponse& response, const RouteMatch&) {
  if (!Admit(request, response, Permission::kAdmin, "")) return;
  WriteRecords(stores_, response, "users", [](ServingStore& store) { return store.ListUsers(); });
}

void AdminRoutes::CreateUser(const HttpRequest& request, HttpResponse& response,
                             const RouteMatch&) {
  std::string actor;
  if (!Admit(request, response, Permission::kAdmin, "", &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "name", "the user's name (a string) is required")) return;
  std::vector<std::string> roles;
  if (!StringsOrRefuse(body, response, "roles", &roles)) return;
  std::optional<std::string> hash;
  if (!PasswordHashOrRefuse(body, response, &hash)) return;
  const std::string name = body["name"].get<std::string>();
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_RETURN_IF_ERROR(store.CreateUser(name, roles, hash.value_or(""), actor));
    FOPS_ASSIGN_OR_RETURN(auto user, store.FindUser(name));
    out = user ? user->ToJson() : Json(nullptr);
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, out, 201);
}

void AdminRoutes::ChangeUser(const HttpRequest& request, HttpResponse& response,
                             const RouteMatch& match) {
  std::string actor;
  if (!Admit(request, response, Permission::kAdmin, "", &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  ServingStore::UserChange change;
  if (body.contains("roles")) {
    std::vector<std::string> roles;
    if (!StringsOrRefuse(body, response, "roles", &roles)) return;
    change.roles = roles;
  }
  if (body.contains("disabled")) {
    if (!body["disabled"].is_boolean()) {
      RefuseMember(response, "/disabled", "true or false is required");
      return;
    }
    change.disabled = body["disabled"].get<bool>();
  }
  if (!PasswordHashOrRefuse(body, response, &change.password_hash)) return;
  const std::string name(match.params[0]);
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_RETURN_IF_ERROR(store.ChangeUser(name, change, actor));
    FOPS_ASSIGN_OR_RETURN(auto user, store.FindUser(name));
    out = user ? user->ToJson() : Json(nullptr);
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, out);
}

void AdminRoutes::CreateToken(const HttpRequest& request, HttpResponse& response,
                              const RouteMatch& match) {
  const std::string user(match.params[0]);
  std::string actor;
  Principal principal;
  // Anyone signed in may make tokens for themselves; for others it takes admin.
  if (!Admit(request, response, Permission::kRead, "", &actor, &principal)) return;
  if (principal.actor != "user:" + user && principal.actor != "oidc:" + user &&
      !principal.Allows(Permission::kAdmin)) {
    WriteError(response, ErrorStyle::kV1, 403, "forbidden",
               principal.actor + " may make tokens only for itself (admin makes them for others)",
               {{"permission", "admin"}});
    return;
  }
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!NumbersOrRefuse(body, response, {"days"})) return;
  double days;
  {
    MutexLock lock(&mutex_);
    days = body.value("days", token_days_);
  }
  if (!(days > 0 && days <= 366)) {
    RefuseMember(response, "/days", "between 0 and 366 days is required");
    return;
  }
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(
        CreatedKey created,
        store.CreateUserToken(user, body.value("name", "personal token"),
                              std::chrono::seconds(static_cast<int64_t>(days * 86400)), actor));
    out = created.record.ToJson();
    out["key"] = created.key;
    return Status::Ok();
  });
  if (Failed(response, status)) return;
  controller_.ReloadKeysNow();  // the token works on the next request
  WriteJson(response, out, 201);
}

void AdminRoutes::Login(const HttpRequest& request, HttpResponse& response, const RouteMatch&) {
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "user", "the user's name (a string) is required") ||
      !StringOrRefuse(body, response, "password", "the password (a string) is required"))
    return;
  double days;
  {
    MutexLock lock(&mutex_);
    days = token_days_;
  }
  const std::string user = body["user"].get<std::string>();
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(UserRecord found,
                          store.CheckPassword(user, body["password"].get<std::string>()));
    FOPS_ASSIGN_OR_RETURN(
        CreatedKey created,
        store.CreateUserToken(found.name, body.value("token_name", "fraudops login"),
                              std::chrono::seconds(static_cast<int64_t>(days * 86400)),
                              "user:" + found.name, "login"));
    out = {{"user", found.name},
           {"roles", found.roles},
           {"key", created.key},
           {"id", created.record.id},
           {"expires_at", created.record.expires_at}};
    return Status::Ok();
  });
  if (status.code() == StatusCode::kUnauthenticated) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  if (Failed(response, status)) return;
  controller_.ReloadKeysNow();  // the token works on the next request
  WriteJson(response, out, 201);
}

// ---------------------------------------------------------------------------------------
// The console's sessions: a personal access token in an HttpOnly cookie, and its CSRF token.

namespace {

constexpr int64_t kSessionSeconds = 12 * 3600;  ///< a console session lasts a working day

}  // namespace

std::string AdminRoutes::SessionCookie(const HttpRequest& request, const std::string& token,
                                       int64_t max_age_seconds) const {
  const bool secure = secure_cookies_ || request.Header("x-forwarded-proto") == "https";
  return std::string(kSessionCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict" +
         (secure ? "; Secure" : "") + "; Max-Age=" + std::to_string(max_age_seconds);
}

void AdminRoutes::CreateSession(const HttpRequest& request, HttpResponse& response,
                                const RouteMatch&) {
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  std::string token;
  Json who;
  if (body.contains("token")) {
    // A token the person already holds (an OIDC token from the bank's identity provider, or a
    // personal access token): checked as any request's would be, then kept in the cookie.
    if (!StringOrRefuse(body, response, "token", "a token (a string) is required")) return;
    token = body["token"].get<std::string>();
    Principal principal;
    if (guard_.AuthorizeCredential(token, Permission::kRead, "", response, &principal) !=
        Access::kAllowed)
      return;
    if (principal.service) {
      WriteError(response, ErrorStyle::kV1, 403, "forbidden",
                 "a service key cannot open a console session; sign in as a person");
      return;
    }
    who = principal.ToJson();
  } else {
    if (!StringOrRefuse(body, response, "user", "the user's name (a string) is required") ||
        !StringOrRefuse(body, response, "password", "the password (a string) is required"))
      return;
    const std::string user = body["user"].get<std::string>();
    Status status = stores_.With([&](ServingStore& store) -> Status {
      FOPS_ASSIGN_OR_RETURN(UserRecord found,
                            store.CheckPassword(user, body["password"].get<std::string>()));
      FOPS_ASSIGN_OR_RETURN(CreatedKey created,
                            store.CreateUserToken(found.name, "console session",
                                                  std::chrono::seconds(kSessionSeconds),
                                                  "user:" + found.name, "login"));
      token = created.key;
      who = {{"actor", "user:" + found.name},
             {"kind", "user"},
             {"name", found.name},
             {"roles", found.roles}};
      return Status::Ok();
    });
    if (Failed(response, status)) return;
    controller_.ReloadKeysNow();  // the session works on the next request
  }
  who["csrf_token"] = CsrfTokenFor(token);
  response.headers.emplace_back("Set-Cookie", SessionCookie(request, token, kSessionSeconds));
  response.headers.emplace_back("Cache-Control", "no-store");
  WriteJson(response, who, 201);
}

void AdminRoutes::CurrentSession(const HttpRequest& request, HttpResponse& response,
                                 const RouteMatch&) {
  // Nobody signed in yet is an answer, not a refusal (the console's first look).
  if (guard_.required() && request.Header("x-api-key").empty() &&
      request.Header("authorization").empty() && CookieValue(request, kSessionCookie).empty()) {
    response.headers.emplace_back("Cache-Control", "no-store");
    WriteJson(response, {{"signed_in", false}});
    return;
  }
  Principal principal;
  if (!Admit(request, response, Permission::kRead, "", nullptr, &principal)) return;
  Json out = WithPermissions(principal);
  out["signed_in"] = true;
  // Only a cookie session has (and needs) a CSRF token; the same-origin policy keeps this
  // answer from other sites' pages.
  const std::string session = CookieValue(request, kSessionCookie);
  if (!session.empty() && request.Header("x-api-key").empty() &&
      request.Header("authorization").empty())
    out["csrf_token"] = CsrfTokenFor(session);
  response.headers.emplace_back("Cache-Control", "no-store");
  WriteJson(response, out);
}

void AdminRoutes::EndSession(const HttpRequest& request, HttpResponse& response,
                             const RouteMatch&) {
  std::string actor;
  if (!Admit(request, response, Permission::kRead, "", &actor)) return;
  // A session made by signing in ends with its token; one that holds a token made elsewhere
  // (OIDC, a personal token) only loses its cookie.
  const std::string session = CookieValue(request, kSessionCookie);
  const std::vector<std::string> parts = Split(session, '_');
  if (parts.size() == 3 && parts[0] == "fops") {
    (void)stores_.With([&](ServingStore& store) -> Status {
      FOPS_ASSIGN_OR_RETURN(auto keys, store.ListKeys());
      for (const ApiKeyRecord& key : keys) {
        if (key.id == parts[1] && key.name == "console session")
          return store.RevokeKey(key.id, actor);
      }
      return Status::Ok();
    });
    controller_.ReloadKeysNow();
  }
  response.headers.emplace_back("Set-Cookie", SessionCookie(request, "", 0));
  WriteJson(response, {{"ended", true}});
}

}  // namespace fraudops
