#include "serve/admin_routes.h"

namespace fraudops {

using Json = nlohmann::json;

namespace {

/// Writes `status` unless it is OK; true when it was written.
bool Failed(HttpResponse& response, const Status& status) {
  if (status.ok()) return false;
  WriteStatus(response, ErrorStyle::kV1, status);
  return true;
}

/// 400 invalid_body for the member at `pointer`: "<pointer>: <what>".
void RefuseMember(HttpResponse& response, const std::string& pointer, const std::string& what) {
  WriteError(response, ErrorStyle::kV1, 400, "invalid_body", pointer + ": " + what,
             {{"pointer", pointer}});
}

/// 400 unless `body[key]` is a string; `what` says what it must be.
bool StringOrRefuse(const Json& body, HttpResponse& response, const std::string& key,
                    const std::string& what) {
  if (body.contains(key) && body[key].is_string()) return true;
  RefuseMember(response, "/" + key, what);
  return false;
}

/// 400 for a member that must be a number and is not.
bool NumbersOrRefuse(const Json& body, HttpResponse& response,
                     std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (body.contains(key) && !body[key].is_number()) {
      RefuseMember(response, std::string("/") + key, "a number is required");
      return false;
    }
  }
  return true;
}

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

AdminRoutes::AdminRoutes(RequestGuard& guard, StoreAccess& stores, RolloutController& controller,
                         ShadowRunner& shadows, const DeployConfig& deploy_defaults,
                         bool shadow_pending)
    : guard_(guard),
      stores_(stores),
      controller_(controller),
      shadows_(shadows),
      deploy_(deploy_defaults),
      shadow_pending_(shadow_pending) {}

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
}

void AdminRoutes::SetDeployDefaults(const DeployConfig& deploy, bool shadow_pending) {
  MutexLock lock(&mutex_);
  deploy_ = deploy;
  shadow_pending_ = shadow_pending;
}

bool AdminRoutes::Admit(const HttpRequest& request, HttpResponse& response,
                        std::string_view endpoint, std::string* actor) {
  std::string key_id;
  if (!guard_.Authorize(request, response, ErrorStyle::kV1, "admin", endpoint, &key_id))
    return false;
  if (actor) *actor = "api-key:" + (key_id.empty() ? "none" : key_id);
  return true;
}

void AdminRoutes::ListEndpoints(const HttpRequest& request, HttpResponse& response,
                                const RouteMatch&) {
  if (!Admit(request, response, "")) return;
  WriteRecords(stores_, response, "endpoints",
               [](ServingStore& store) { return store.ListEndpoints(); });
}

void AdminRoutes::ShowEndpoint(const HttpRequest& request, HttpResponse& response,
                               const RouteMatch& match) {
  const std::string name(match.params[0]);
  if (!Admit(request, response, name)) return;
  Json out;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto endpoint, store.FindEndpoint(name));
    if (!endpoint) return Status::NotFound("no endpoint '" + name + "'");
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

void AdminRoutes::Deploy(const HttpRequest& request, HttpResponse& response,
                         const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  std::string actor;
  if (!Admit(request, response, endpoint, &actor)) return;
  Json body;
  if (!ReadJsonObjectBody(request, response, &body)) return;
  if (!StringOrRefuse(body, response, "model", "the registered model's name is required")) return;
  DeploymentParams params;
  std::string strategy;
  bool shadow_pending = false;
  {
    MutexLock lock(&mutex_);
    params = DeploymentParamsFrom(deploy_);
    strategy = deploy_.strategy;
    shadow_pending = shadow_pending_;
  }
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
    FOPS_ASSIGN_OR_RETURN(DeploymentRecord d,
                          store.Deploy(endpoint, {version.model, version.version}, strategy, params,
                                       actor, shadow_pending));
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
  if (!Admit(request, response, endpoint)) return;
  WriteRecords(stores_, response, "deployments",
               [&](ServingStore& store) { return store.History(endpoint, 100); },
               {{"endpoint", endpoint}});
}

void AdminRoutes::Rollback(const HttpRequest& request, HttpResponse& response,
                           const RouteMatch& match) {
  const std::string endpoint(match.params[0]);
  std::string actor;
  if (!Admit(request, response, endpoint, &actor)) return;
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
  if (!Admit(request, response, endpoint)) return;
  if (request.HasQueryParam("flush")) shadows_.Flush();
  WriteJson(response, {{"endpoint", endpoint}, {"shadows", shadows_.Report(endpoint)}});
}

void AdminRoutes::ListKeys(const HttpRequest& request, HttpResponse& response, const RouteMatch&) {
  if (!Admit(request, response, "")) return;
  WriteRecords(stores_, response, "keys", [](ServingStore& store) { return store.ListKeys(); });
}

void AdminRoutes::CreateKey(const HttpRequest& request, HttpResponse& response, const RouteMatch&) {
  std::string actor;
  if (!Admit(request, response, "", &actor)) return;
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
  if (!Admit(request, response, "", &actor)) return;
  const std::string id(match.params[0]);
  Status status = stores_.With([&](ServingStore& store) { return store.RevokeKey(id, actor); });
  if (Failed(response, status)) return;
  controller_.Poke();
  WriteJson(response, {{"id", id}, {"revoked", true}});
}

void AdminRoutes::AttachPlan(const HttpRequest& request, HttpResponse& response,
                             const RouteMatch& match) {
  std::string actor;
  if (!Admit(request, response, "", &actor)) return;
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
  if (!Admit(request, response, "")) return;
  WriteRecords(stores_, response, "plans", [](ServingStore& store) { return store.ListPlans(); });
}

void AdminRoutes::CreatePlan(const HttpRequest& request, HttpResponse& response,
                             const RouteMatch&) {
  std::string actor;
  if (!Admit(request, response, "", &actor)) return;
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
  if (!Admit(request, response, "")) return;
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
  if (!Admit(request, response, endpoint)) return;
  Json ab;
  Status status = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(auto found, store.FindEndpoint(endpoint));
    if (!found) return Status::NotFound("no endpoint '" + endpoint + "'");
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
  if (!Admit(request, response, endpoint, &actor)) return;
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
  if (!Admit(request, response, endpoint, &actor)) return;
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

}  // namespace fraudops
