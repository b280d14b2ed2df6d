#include "store/serving_store.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cmath>

#include "core/hash.h"
#include "core/ids.h"
#include "core/strings.h"
#include "store/identity.h"
#include "store/sql_values.h"

namespace fraudops {

namespace {

/// NotFound for `name`, a `kind` that is none of `names` (listed as `the_list`): the closest
/// one and the list, or `none_yet` when there are none.
Status NotAmong(const std::string& kind, const std::string& name,
                const std::vector<std::string>& names, const std::string& the_list,
                const std::string& none_yet) {
  if (names.empty()) return Status::NotFound("no " + kind + " '" + name + "': " + none_yet);
  return Status::NotFound("no " + kind + " '" + name + "'" + DidYouMean(name, names) + "; " +
                          the_list + ": " + Join(names, ", "));
}

using namespace store_internal;

const char* kEndpointColumns =
    "name, created_at, updated_at, production_model, production_version, "
    "canary_model, "
    "canary_version, "
    "canary_percent, shadows, deployment_id, generation, ab_variants, "
    "assignment_field, "
    "ab_started_at, multi_model, environment";
const char* kDeploymentColumns =
    "id, endpoint, created_at, updated_at, actor, strategy, model, version, "
    "previous_model, "
    "previous_version, "
    "params, status, reason, traffic_percent, step_started_at";

VariantRef VariantAt(const SqlRow& row, size_t model, size_t version) {
  if (IsNull(row[model])) return {};
  return {AsText(row[model]), AsInt(row[version])};
}

nlohmann::json VariantJson(const VariantRef& v) {
  if (v.empty()) return nullptr;
  return {{"model", v.model}, {"version", v.version}};
}

nlohmann::json ParseJsonColumn(const SqlValue& value, nlohmann::json fallback) {
  auto parsed = nlohmann::json::parse(AsText(value), nullptr, false);
  return parsed.is_discarded() ? fallback : parsed;
}

EndpointRecord EndpointFromRow(const SqlRow& row) {
  EndpointRecord e;
  e.name = AsText(row[0]);
  e.created_at = AsText(row[1]);
  e.updated_at = AsText(row[2]);
  e.production = VariantAt(row, 3, 4);
  e.canary = VariantAt(row, 5, 6);
  e.canary_percent = AsDouble(row[7]);
  for (const auto& s : ParseJsonColumn(row[8], nlohmann::json::array())) {
    e.shadows.push_back({s.value("model", ""), s.value("version", int64_t{0})});
  }
  e.deployment_id = IsNull(row[9]) ? "" : AsText(row[9]);
  e.generation = AsInt(row[10]);
  for (const auto& v : ParseJsonColumn(row[11], nlohmann::json::array())) {
    e.ab_variants.push_back(
        {{v.value("model", ""), v.value("version", int64_t{0})}, v.value("weight", 0.0)});
  }
  e.assignment_field = AsText(row[12]);
  e.ab_started_at = AsText(row[13]);
  const std::string multi = AsText(row[14]);
  if (!multi.empty()) {
    // Written by SetMultiModel, so valid; an unreadable one reads as none.
    auto spec = MultiModelSpec::FromJson(nlohmann::json::parse(multi, nullptr, false));
    if (spec.ok()) e.multi_model = *spec;
  }
  e.environment = AsText(row[15]);
  return e;
}

DeploymentRecord DeploymentFromRow(const SqlRow& row) {
  DeploymentRecord d;
  d.id = AsText(row[0]);
  d.endpoint = AsText(row[1]);
  d.created_at = AsText(row[2]);
  d.updated_at = AsText(row[3]);
  d.actor = AsText(row[4]);
  d.strategy = AsText(row[5]);
  d.target = {AsText(row[6]), AsInt(row[7])};
  d.previous = VariantAt(row, 8, 9);
  d.params = DeploymentParams::FromJson(ParseJsonColumn(row[10], nlohmann::json::object()));
  // An unknown name (a newer fraudops wrote it) reads as completed: nothing to
  // judge.
  d.status = ParseDeploymentStatus(AsText(row[11])).value_or(DeploymentStatus::kCompleted);
  d.reason = AsText(row[12]);
  d.traffic_percent = AsDouble(row[13]);
  d.step_started_at = AsText(row[14]);
  return d;
}

std::vector<std::string> JsonStrings(const SqlValue& value) {
  std::vector<std::string> out;
  for (const auto& s : ParseJsonColumn(value, nlohmann::json::array())) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

/// The endpoint's A/B variant named `name` ("v7" or "7"), or an error listing them.
Result<WeightedVariant> AbVariantOf(const EndpointRecord& e, const std::string& name) {
  if (const WeightedVariant* v = e.FindAbVariant(name)) return *v;
  const std::vector<std::string> names = e.AbVariantNames();
  return Status::InvalidArgument("no variant '" + name + "' on " + e.name +
                                 "; its variants: " + Join(names, ", ") + DidYouMean(name, names));
}

Status CheckName(const std::string& what, const std::string& name) {
  if (name.empty() || name.size() > 128 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
                             "XYZ0123456789_.-") != std::string::npos) {
    return Status::InvalidArgument(what + " name '" + name +
                                   "' is not valid; accepted: 1-128 letters, digits, '_', '.' "
                                   "or '-'");
  }
  return Status::Ok();
}

}  // namespace

nlohmann::json EndpointRecord::ToJson() const {
  nlohmann::json shadow_list = nlohmann::json::array();
  for (const VariantRef& s : shadows) shadow_list.push_back(VariantJson(s));
  return {
      {"name", name},
      {"created_at", created_at},
      {"updated_at", updated_at},
      {"production", VariantJson(production)},
      {"canary", VariantJson(canary)},
      {"canary_percent", canary_percent},
      {"shadows", shadow_list},
      {"deployment_id",
       deployment_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(deployment_id)},
      {"generation", generation},
      {"ab", AbJson()},
      {"multi_model", multi_model.empty() ? nlohmann::json(nullptr) : multi_model.ToJson()},
      {"environment", environment.empty() ? nlohmann::json(nullptr) : nlohmann::json(environment)}};
}

nlohmann::json MultiModelSpec::ToJson() const {
  return {{"routing_field",
           routing_field.empty() ? nlohmann::json(nullptr) : nlohmann::json(routing_field)},
          {"routes", routes},
          {"default",
           default_target.empty() ? nlohmann::json(nullptr) : nlohmann::json(default_target)},
          {"pinned", pinned}};
}

Result<MultiModelSpec> MultiModelSpec::FromJson(const nlohmann::json& json) {
  if (!json.is_object())
    return Status::InvalidArgument("a multi-model definition is a JSON object");
  MultiModelSpec spec;
  auto text = [&](const char* key, std::string* out) -> Status {
    if (!json.contains(key) || json[key].is_null()) return Status::Ok();
    if (!json[key].is_string())
      return Status::InvalidArgument(std::string("/") + key + ": a string is required");
    *out = json[key].get<std::string>();
    return Status::Ok();
  };
  FOPS_RETURN_IF_ERROR(text("routing_field", &spec.routing_field));
  FOPS_RETURN_IF_ERROR(text("default", &spec.default_target));
  if (json.contains("routes") && !json["routes"].is_null()) {
    if (!json["routes"].is_object())
      return Status::InvalidArgument("/routes: an object of value -> model is required");
    for (const auto& [value, target] : json["routes"].items()) {
      if (!target.is_string())
        return Status::InvalidArgument("/routes/" + value + ": a model (NAME@VERSION) is required");
      spec.routes[value] = target.get<std::string>();
    }
  }
  if (json.contains("pinned") && !json["pinned"].is_null()) {
    if (!json["pinned"].is_array())
      return Status::InvalidArgument("/pinned: an array of models is required");
    for (size_t i = 0; i < json["pinned"].size(); ++i) {
      if (!json["pinned"][i].is_string())
        return Status::InvalidArgument("/pinned/" + std::to_string(i) + ": a string is required");
      spec.pinned.push_back(json["pinned"][i].get<std::string>());
    }
  }
  if (!spec.routes.empty() && spec.routing_field.empty()) {
    return Status::InvalidArgument(
        "/routing_field: routes need the request field they are chosen by");
  }
  return spec;
}

Result<std::pair<std::string, std::string>> SplitModelTarget(std::string_view target) {
  const size_t at = target.find('@');
  std::string name(target.substr(0, at));
  if (name.empty())
    return Status::InvalidArgument("'" + std::string(target) +
                                   "' names no model (NAME@VERSION, NAME@ALIAS or NAME)");
  if (at == std::string_view::npos) return std::make_pair(name, std::string("latest"));
  std::string ref(target.substr(at + 1));
  if (ref.empty())
    return Status::InvalidArgument("'" + std::string(target) + "' has nothing after '@'");
  const bool number = ref.find_first_not_of("0123456789") == std::string::npos;
  return std::make_pair(name, number ? ref : "@" + ref);
}

nlohmann::json EndpointRecord::AbJson() const {
  if (ab_variants.empty()) return nullptr;
  nlohmann::json variants = nlohmann::json::array();
  for (const WeightedVariant& v : ab_variants) {
    variants.push_back({{"name", v.name()},
                        {"model", v.ref.model},
                        {"version", v.ref.version},
                        {"weight", v.weight}});
  }
  return {{"variants", variants},
          {"assignment_field",
           assignment_field.empty() ? nlohmann::json(nullptr) : nlohmann::json(assignment_field)},
          {"started_at", ab_started_at}};
}

std::vector<std::string> EndpointRecord::AbVariantNames() const {
  std::vector<std::string> names;
  for (const WeightedVariant& v : ab_variants) names.push_back(v.name());
  return names;
}

const WeightedVariant* EndpointRecord::FindAbVariant(std::string_view name) const {
  for (const WeightedVariant& v : ab_variants) {
    if (v.name() == name || std::to_string(v.ref.version) == name) return &v;
  }
  return nullptr;
}

nlohmann::json DeploymentParams::ToJson() const {
  return {{"canary_percent", canary_percent},
          {"bake_seconds", bake_seconds},
          {"linear_step_percent", linear_step_percent},
          {"linear_step_seconds", linear_step_seconds},
          {"max_error_rate", max_error_rate},
          {"max_p99_ms", max_p99_ms},
          {"max_score_psi", max_score_psi},
          {"max_decision_shift", max_decision_shift},
          {"min_requests", min_requests},
          {"ab_weight", ab_weight},
          {"ab_assignment_field", ab_assignment_field}};
}

DeploymentParams DeploymentParams::FromJson(const nlohmann::json& json) {
  DeploymentParams p;
  p.canary_percent = json.value("canary_percent", p.canary_percent);
  p.bake_seconds = json.value("bake_seconds", p.bake_seconds);
  p.linear_step_percent = json.value("linear_step_percent", p.linear_step_percent);
  p.linear_step_seconds = json.value("linear_step_seconds", p.linear_step_seconds);
  p.max_error_rate = json.value("max_error_rate", p.max_error_rate);
  p.max_p99_ms = json.value("max_p99_ms", p.max_p99_ms);
  p.max_score_psi = json.value("max_score_psi", p.max_score_psi);
  p.max_decision_shift = json.value("max_decision_shift", p.max_decision_shift);
  p.min_requests = json.value("min_requests", p.min_requests);
  p.ab_weight = json.value("ab_weight", p.ab_weight);
  p.ab_assignment_field = json.value("ab_assignment_field", p.ab_assignment_field);
  return p;
}

DeploymentParams DeploymentParamsFrom(const DeployConfig& deploy) {
  DeploymentParams p;
  p.canary_percent = deploy.canary_percent;
  p.bake_seconds = deploy.bake_seconds;
  p.linear_step_percent = deploy.linear_step_percent;
  p.linear_step_seconds = deploy.linear_step_seconds;
  p.max_error_rate = deploy.max_error_rate;
  p.max_p99_ms = deploy.max_p99_ms;
  p.max_score_psi = deploy.max_score_psi;
  p.max_decision_shift = deploy.max_decision_shift;
  p.min_requests = static_cast<int64_t>(deploy.min_requests);
  p.ab_weight = deploy.ab_weight;
  p.ab_assignment_field = deploy.ab_assignment_field;
  return p;
}

nlohmann::json DeploymentRecord::ToJson() const {
  return {{"id", id},
          {"endpoint", endpoint},
          {"created_at", created_at},
          {"updated_at", updated_at},
          {"actor", actor},
          {"strategy", strategy},
          {"target", VariantJson(target)},
          {"previous", VariantJson(previous)},
          {"params", params.ToJson()},
          {"status", DeploymentStatusName(status)},
          {"reason", reason},
          {"traffic_percent", traffic_percent},
          {"step_started_at", step_started_at}};
}

nlohmann::json UsagePlan::ToJson() const {
  return {{"name", name},
          {"rate_per_second", rate_per_second},
          {"burst", burst},
          {"daily_quota", daily_quota},
          {"monthly_quota", monthly_quota},
          {"created_at", created_at}};
}

nlohmann::json ApiKeyRecord::ToJson() const {
  return {
      {"id", id},
      {"name", name},
      {"scopes", scopes},
      {"endpoints", endpoints},
      {"plan", plan.empty() ? nlohmann::json(nullptr) : nlohmann::json(plan)},
      {"created_at", created_at},
      {"created_by", created_by},
      {"revoked_at", revoked_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(revoked_at)},
      {"owner", owner.empty() ? nlohmann::json(nullptr) : nlohmann::json(owner)},
      {"expires_at", expires_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(expires_at)}};
}

bool SplitApiKey(std::string_view key, std::string_view* id, std::string_view* secret) {
  if (!StartsWith(key, "fops_")) return false;
  key.remove_prefix(5);
  size_t underscore = key.find('_');
  if (underscore == std::string_view::npos || underscore == 0 || underscore + 1 >= key.size())
    return false;
  *id = key.substr(0, underscore);
  *secret = key.substr(underscore + 1);
  return true;
}

std::string HashKeySecret(std::string_view salt, std::string_view secret) {
  Sha256 hasher;
  hasher.Update(salt);
  hasher.Update(":");
  hasher.Update(secret);
  return hasher.HexDigest();
}

// ---------------------------------------------------------------------------------------
// Endpoints and deployments.

Result<std::optional<EndpointRecord>> ServingStore::LoadEndpoint(const std::string& name) {
  SqlValue p[] = {Text(name)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r,
      db_.Query(std::string("SELECT ") + kEndpointColumns + " FROM endpoints WHERE name = ?", p));
  if (r.rows.empty()) return std::optional<EndpointRecord>();
  return std::optional<EndpointRecord>(EndpointFromRow(r.rows[0]));
}

Result<std::optional<EndpointRecord>> ServingStore::LoadEndpointForChange(const std::string& name) {
  // PostgreSQL reads committed rows: two transactions reading the same endpoint would both
  // write their change on what they read (the later one losing the first, or failing on the
  // primary key when both create it). One lock for endpoint changes, held until the
  // transaction ends, orders them; SQLite's write transaction already holds the database.
  if (db_.Kind() == "postgresql") {
    FOPS_RETURN_IF_ERROR(
        db_.Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kEndpointChangeLock) + ")"));
  }
  return LoadEndpoint(name);
}

Result<std::pair<EndpointRecord, bool>> ServingStore::LoadOrNewEndpoint(const std::string& name,
                                                                        const std::string& now) {
  FOPS_ASSIGN_OR_RETURN(std::optional<EndpointRecord> found, LoadEndpointForChange(name));
  if (found) return std::make_pair(std::move(*found), false);
  EndpointRecord e;
  e.name = name;
  e.created_at = now;
  return std::make_pair(std::move(e), true);
}

Result<std::optional<EndpointRecord>> ServingStore::FindEndpoint(const std::string& name) {
  return LoadEndpoint(name);
}

Result<std::vector<EndpointRecord>> ServingStore::ListEndpoints() {
  FOPS_ASSIGN_OR_RETURN(SqlResult r, db_.Query(std::string("SELECT ") + kEndpointColumns +
                                               " FROM endpoints ORDER BY name"));
  std::vector<EndpointRecord> out;
  for (const SqlRow& row : r.rows) out.push_back(EndpointFromRow(row));
  return out;
}

Status ServingStore::NoSuchEndpoint(const std::string& name) {
  std::vector<std::string> names;
  if (Result<std::vector<EndpointRecord>> listed = ListEndpoints(); listed.ok()) {
    for (const EndpointRecord& e : *listed) names.push_back(e.name);
  }
  return NotAmong("endpoint", name, names, "the endpoints",
                  "nothing was deployed yet (fraudops deploy VERSION --endpoint NAME)");
}

Status ServingStore::SaveEndpoint(const EndpointRecord& e, bool insert) {
  nlohmann::json shadows = nlohmann::json::array();
  for (const VariantRef& s : e.shadows) shadows.push_back(VariantJson(s));
  nlohmann::json ab = nlohmann::json::array();
  for (const WeightedVariant& v : e.ab_variants) {
    ab.push_back({{"model", v.ref.model}, {"version", v.ref.version}, {"weight", v.weight}});
  }
  auto model_or_null = [](const VariantRef& v) {
    return v.empty() ? SqlValue() : SqlValue(v.model);
  };
  auto version_or_null = [](const VariantRef& v) {
    return v.empty() ? SqlValue() : SqlValue(v.version);
  };
  SqlValue p[] = {Text(e.created_at),
                  Text(e.updated_at),
                  model_or_null(e.production),
                  version_or_null(e.production),
                  model_or_null(e.canary),
                  version_or_null(e.canary),
                  Real(e.canary_percent),
                  Text(shadows.dump()),
                  OptionalText(e.deployment_id),
                  Int(e.generation),
                  Text(ab.dump()),
                  Text(e.assignment_field),
                  Text(e.ab_started_at),
                  Text(e.multi_model.empty() ? std::string() : e.multi_model.ToJson().dump()),
                  Text(e.environment),
                  Text(e.name)};
  if (insert) {
    return db_.Exec(
        "INSERT INTO endpoints (created_at, updated_at, production_model, "
        "production_version, "
        "canary_model, canary_version, canary_percent, shadows, deployment_id, "
        "generation, "
        "ab_variants, assignment_field, ab_started_at, multi_model, environment, name) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        p);
  }
  return db_.Exec(
      "UPDATE endpoints SET created_at = ?, updated_at = ?, "
      "production_model = ?, "
      "production_version = ?, canary_model = ?, canary_version = "
      "?, canary_percent = ?, "
      "shadows = ?, deployment_id = ?, generation = ?, ab_variants "
      "= ?, assignment_field = ?, "
      "ab_started_at = ?, multi_model = ?, environment = ? WHERE name = ?",
      p);
}

Status ServingStore::InsertDeployment(const DeploymentRecord& d) {
  SqlValue p[] = {Text(d.id),
                  Text(d.endpoint),
                  Text(d.created_at),
                  Text(d.updated_at),
                  Text(d.actor),
                  Text(d.strategy),
                  Text(d.target.model),
                  Int(d.target.version),
                  d.previous.empty() ? SqlValue() : SqlValue(d.previous.model),
                  d.previous.empty() ? SqlValue() : SqlValue(d.previous.version),
                  Text(d.params.ToJson().dump()),
                  Text(std::string(DeploymentStatusName(d.status))),
                  Text(d.reason),
                  Real(d.traffic_percent),
                  Text(d.step_started_at)};
  return db_.Exec(
      "INSERT INTO deployments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?)",
      p);
}

Status ServingStore::UpdateDeploymentStatus(const std::string& id, DeploymentStatus status,
                                            const std::string& reason) {
  SqlValue p[] = {Text(std::string(DeploymentStatusName(status))), Text(reason), Text(UtcNow()),
                  Text(id)};
  return db_.Exec(
      "UPDATE deployments SET status = ?, reason = ?, updated_at = "
      "? WHERE id = ?",
      p);
}

Status ServingStore::SaveProductionChange(EndpointRecord& e, const DeploymentRecord& d) {
  std::erase(e.shadows,
             e.production);  // a version that becomes production stops shadowing
  e.updated_at = d.created_at;
  ++e.generation;
  FOPS_RETURN_IF_ERROR(SaveEndpoint(e, false));
  FOPS_RETURN_IF_ERROR(InsertDeployment(d));
  return Bump("endpoints");
}

Status ServingStore::Bump(const std::string& counter) {
  SqlValue p[] = {Text(counter)};
  FOPS_RETURN_IF_ERROR(db_.Exec("UPDATE change_counters SET value = value + 1 WHERE name = ?", p));
  // PostgreSQL tells the servers listening (delivered when the transaction commits).
  if (db_.Kind() == "postgresql") {
    return db_.Exec("SELECT pg_notify('" + std::string(kChangeChannel) + "', ?)", p);
  }
  return Status::Ok();
}

Status Servable(const ModelVersion& version, bool shadow_of_pending_allowed, bool shadow) {
  const std::string ref = version.model + "@" + std::to_string(version.version);
  if (version.archived) return Status::Conflict(ref + " is archived; deploy a live version");
  if (version.approval == "rejected") {
    return Status::Conflict(ref + " was rejected (" + version.approval_reason +
                            "); only approved versions are deployed");
  }
  if (version.approval == "approved" || (shadow && shadow_of_pending_allowed)) return Status::Ok();
  return Status::Conflict(ref + " is " + version.approval +
                          " approval; only approved versions are deployed (fraudops models "
                          "approve " +
                          ref + ")" +
                          (shadow ? "; register.shadow_pending: true lets a pending version run "
                                    "as a shadow"
                                  : ""));
}

const PromotionPolicy* DeployRules::PolicyFor(const std::string& environment) const {
  for (const PromotionPolicy& policy : promotion) {
    if (policy.environment == environment) return &policy;
  }
  return nullptr;
}

Result<DeployRules> DeployRulesFrom(const Config& config) {
  DeployRules rules{config.register_.shadow_pending, config.register_.distinct_approver, {}};
  const std::pair<const char*, const std::vector<std::string>*> policies[] = {
      {"dev", &config.promote.dev},
      {"staging", &config.promote.staging},
      {"production", &config.promote.production}};
  for (const auto& [environment, entries] : policies) {
    FOPS_ASSIGN_OR_RETURN(
        PromotionPolicy policy,
        PromotionPolicy::Parse(environment, *entries, std::string("promote.") + environment));
    rules.promotion.push_back(std::move(policy));
  }
  return rules;
}

Status ServingStore::Refused(const Status& refusal, const std::string& action,
                             const VariantRef& target, nlohmann::json details,
                             const std::string& actor) {
  details["reason"] = refusal.message();
  (void)store_.AppendAudit(actor, action, target.model, target.version, details);
  return refusal;
}

Result<DeploymentRecord> ServingStore::Deploy(const std::string& endpoint_name,
                                              const VariantRef& target,
                                              const std::string& strategy_name,
                                              const DeploymentParams& params,
                                              const std::string& actor, const DeployRules& rules,
                                              PromotionCheck* promotion) {
  FOPS_RETURN_IF_ERROR(CheckName("endpoint", endpoint_name));
  FOPS_ASSIGN_OR_RETURN(const DeploymentStrategy* strategy,
                        DeploymentStrategies().Find(strategy_name));
  FOPS_ASSIGN_OR_RETURN(ModelVersion version,
                        store_.GetVersion(target.model, std::to_string(target.version)));
  if (Status servable = Servable(version, rules.shadow_pending, !strategy->ChangesProduction());
      !servable.ok()) {
    return Refused(servable, "deploy_refused", target,
                   {{"endpoint", endpoint_name}, {"strategy", strategy->name()}}, actor);
  }
  if (strategy->ChangesProduction()) {  // shadows are exempt: they earn `shadowed`
    FOPS_ASSIGN_OR_RETURN(auto endpoint, FindEndpoint(endpoint_name));
    const PromotionPolicy* policy = endpoint && !endpoint->environment.empty()
                                        ? rules.PolicyFor(endpoint->environment)
                                        : nullptr;
    if (policy != nullptr) {
      FOPS_ASSIGN_OR_RETURN(PromotionCheck check, CheckPromotion(target, *policy));
      if (promotion) *promotion = check;
      if (!check.allowed()) {
        return Refused(
            Status::Conflict("promotion of " + target.ToString() + " to " + policy->environment +
                             " (endpoint " + endpoint_name + ") refused; unmet: " + check.Unmet() +
                             " (promote." + policy->environment + ")"),
            "promotion_refused", target, {{"endpoint", endpoint_name}, {"check", check.ToJson()}},
            actor);
      }
    }
  }
  if (rules.distinct_approver && version.approval == "approved" && !version.ApprovedByRule() &&
      ActorIdentity(version.approval_by) == ActorIdentity(actor)) {
    return Refused(Status::PermissionDenied("segregation of duties: " + ActorIdentity(actor) +
                                            " approved " + target.ToString() +
                                            " and may not also deploy it; another deployer must "
                                            "(register.distinct_approver)"),
                   "deploy_refused", target,
                   {{"endpoint", endpoint_name}, {"strategy", strategy->name()}}, actor);
  }
  FOPS_RETURN_IF_ERROR(strategy->Validate(params));
  DeploymentRecord d;
  Status status = store_.InTransaction([&]() -> Status {
    const std::string now = UtcNow();
    FOPS_ASSIGN_OR_RETURN(auto loaded, LoadOrNewEndpoint(endpoint_name, now));
    EndpointRecord& e = loaded.first;
    const bool insert = loaded.second;
    if (!e.multi_model.empty()) {
      return Status::Conflict("endpoint '" + endpoint_name +
                              "' is a multi-model endpoint: its models are chosen per request "
                              "(fraudops deploy multi); deploy to an endpoint of its own");
    }
    d.id = NewUuidV7();
    d.endpoint = endpoint_name;
    d.created_at = d.updated_at = d.step_started_at = now;
    d.actor = actor;
    d.strategy = std::string(strategy->name());
    d.target = target;
    d.previous = e.production;
    d.params = params;
    if (strategy->ChangesProduction() &&
        !e.deployment_id.empty()) {  // a canary still baking is replaced
      FOPS_RETURN_IF_ERROR(UpdateDeploymentStatus(e.deployment_id, DeploymentStatus::kSuperseded,
                                                  "replaced by deployment " + d.id));
      e.canary = {};
      e.canary_percent = 0;
      e.deployment_id.clear();
    }
    FOPS_RETURN_IF_ERROR(strategy->Plan(e, d));
    e.updated_at = now;
    ++e.generation;
    FOPS_RETURN_IF_ERROR(SaveEndpoint(e, insert));
    FOPS_RETURN_IF_ERROR(InsertDeployment(d));
    FOPS_RETURN_IF_ERROR(Bump("endpoints"));
    return store_.AppendAudit(actor, "deployed", target.model, target.version,
                              {{"endpoint", endpoint_name},
                               {"deployment", d.id},
                               {"strategy", d.strategy},
                               {"status", DeploymentStatusName(d.status)},
                               {"previous", VariantJson(d.previous)}});
  });
  if (!status.ok()) return status;
  return d;
}

Result<bool> ServingStore::SetTraffic(const std::string& deployment_id, double percent,
                                      const std::string& actor) {
  bool changed = false;
  FOPS_RETURN_IF_ERROR(store_.InTransaction([&]() -> Status {
    FOPS_ASSIGN_OR_RETURN(DeploymentRecord d, GetDeployment(deployment_id));
    if (d.status != DeploymentStatus::kBaking) return Status::Ok();
    FOPS_ASSIGN_OR_RETURN(std::optional<EndpointRecord> e, LoadEndpointForChange(d.endpoint));
    if (!e || e->deployment_id != deployment_id) return Status::Ok();
    const std::string now = UtcNow();
    SqlValue p[] = {Real(percent), Text(now), Text(now), Text(deployment_id)};
    FOPS_RETURN_IF_ERROR(
        db_.Exec("UPDATE deployments SET traffic_percent = ?, "
                 "step_started_at = ?, updated_at = ? "
                 "WHERE id = ?",
                 p));
    e->canary_percent = percent;
    e->updated_at = now;
    ++e->generation;
    FOPS_RETURN_IF_ERROR(SaveEndpoint(*e, false));
    FOPS_RETURN_IF_ERROR(Bump("endpoints"));
    changed = true;
    return store_.AppendAudit(
        actor, "traffic_shifted", d.target.model, d.target.version,
        {{"endpoint", d.endpoint}, {"deployment", d.id}, {"percent", percent}});
  }));
  return changed;
}

Result<bool> ServingStore::FinishDeployment(const std::string& deployment_id,
                                            DeploymentStatus outcome, const std::string& reason,
                                            const std::string& actor) {
  if (outcome != DeploymentStatus::kPromoted && outcome != DeploymentStatus::kRolledBack) {
    return Status::InvalidArgument("a deployment ends promoted or rolled_back, not " +
                                   std::string(DeploymentStatusName(outcome)));
  }
  const bool promoted = outcome == DeploymentStatus::kPromoted;
  bool changed = false;
  FOPS_RETURN_IF_ERROR(store_.InTransaction([&]() -> Status {
    FOPS_ASSIGN_OR_RETURN(DeploymentRecord d, GetDeployment(deployment_id));
    if (d.status != DeploymentStatus::kBaking) return Status::Ok();
    FOPS_ASSIGN_OR_RETURN(std::optional<EndpointRecord> e, LoadEndpointForChange(d.endpoint));
    if (!e || e->deployment_id != deployment_id) return Status::Ok();
    if (promoted) {
      e->production = e->canary;
      std::erase(e->shadows, e->production);
    }
    e->canary = {};
    e->canary_percent = 0;
    e->deployment_id.clear();
    e->updated_at = UtcNow();
    ++e->generation;
    FOPS_RETURN_IF_ERROR(SaveEndpoint(*e, false));
    FOPS_RETURN_IF_ERROR(UpdateDeploymentStatus(deployment_id, outcome, reason));
    if (promoted) {
      SqlValue p[] = {Text(deployment_id)};
      FOPS_RETURN_IF_ERROR(
          db_.Exec("UPDATE deployments SET traffic_percent = 100 WHERE id = ?", p));
    }
    FOPS_RETURN_IF_ERROR(Bump("endpoints"));
    changed = true;
    return store_.AppendAudit(actor, promoted ? "canary_promoted" : "canary_rolled_back",
                              d.target.model, d.target.version,
                              {{"endpoint", d.endpoint}, {"deployment", d.id}, {"reason", reason}});
  }));
  return changed;
}

Result<DeploymentRecord> ServingStore::Rollback(const std::string& endpoint_name,
                                                const std::string& reason,
                                                const std::string& actor) {
  FOPS_ASSIGN_OR_RETURN(std::optional<EndpointRecord> found, LoadEndpoint(endpoint_name));
  if (!found) return NoSuchEndpoint(endpoint_name);
  if (!found->ab_variants.empty()) {
    return Status::Conflict("endpoint '" + endpoint_name +
                            "' runs an A/B test; conclude it (fraudops deploy " + "conclude " +
                            endpoint_name + " --winner " + found->ab_variants.front().name() +
                            " keeps the variant that was production) instead of rolling back");
  }
  if (!found->deployment_id.empty()) {
    FOPS_ASSIGN_OR_RETURN(
        bool done,
        FinishDeployment(found->deployment_id, DeploymentStatus::kRolledBack, reason, actor));
    (void)done;
    return GetDeployment(found->deployment_id);
  }
  // The last deployment that changed production, and the version it replaced.
  FOPS_ASSIGN_OR_RETURN(std::vector<DeploymentRecord> history, History(endpoint_name, 1000));
  const DeploymentRecord* last = nullptr;
  for (const DeploymentRecord& d : history) {
    if ((d.status == DeploymentStatus::kCompleted || d.status == DeploymentStatus::kPromoted) &&
        d.target == found->production) {
      last = &d;
      break;
    }
  }
  if (last == nullptr || last->previous.empty()) {
    return Status::InvalidArgument("endpoint '" + endpoint_name +
                                   "' has no earlier production version to roll back "
                                   "to");
  }
  // Only an approved version goes back into production.
  FOPS_ASSIGN_OR_RETURN(
      ModelVersion earlier,
      store_.GetVersion(last->previous.model, std::to_string(last->previous.version)));
  if (Status servable = Servable(earlier, false, false); !servable.ok()) {
    return Refused(Status::Conflict("cannot roll '" + endpoint_name + "' back to " +
                                    last->previous.ToString() + ": " + servable.message() +
                                    "; deploy an approved version instead"),
                   "rollback_refused", last->previous, {{"endpoint", endpoint_name}}, actor);
  }
  DeploymentRecord d;
  FOPS_RETURN_IF_ERROR(store_.InTransaction([&]() -> Status {
    FOPS_ASSIGN_OR_RETURN(std::optional<EndpointRecord> e, LoadEndpointForChange(endpoint_name));
    if (!e || e->production != found->production || !e->deployment_id.empty()) {
      return Status::Conflict("endpoint '" + endpoint_name +
                              "' changed while rolling back; try again");
    }
    const std::string now = UtcNow();
    d.id = NewUuidV7();
    d.endpoint = endpoint_name;
    d.created_at = d.updated_at = d.step_started_at = now;
    d.actor = actor;
    d.strategy = "rollback";
    d.target = last->previous;
    d.previous = e->production;
    d.params = last->params;
    d.status = DeploymentStatus::kCompleted;
    d.reason = reason.empty() ? "rolled back from " + e->production.ToString() : reason;
    d.traffic_percent = 100;
    FOPS_RETURN_IF_ERROR(UpdateDeploymentStatus(last->id, DeploymentStatus::kRolledBack,
                                                "rolled back by deployment " + d.id));
    e->production = last->previous;
    FOPS_RETURN_IF_ERROR(SaveProductionChange(*e, d));
    return store_.AppendAudit(actor, "rolled_back", d.target.model, d.target.version,
                              {{"endpoint", endpoint_name},
                               {"deployment", d.id},
                               {"from", VariantJson(d.previous)},
                               {"reason", d.reason}});
  }));
  return d;
}

Status ServingStore::SetAbWeights(const std::string& endpoint_name,
                                  const std::map<std::string, double>& weights,
                                  const std::string& actor) {
  return store_.InTransaction([&]() -> Status {
    FOPS_ASSIGN_OR_RETURN(std::optional<EndpointRecord> e, LoadEndpointForChange(endpoint_name));
    if (!e) return NoSuchEndpoint(endpoint_name);
    if (e->ab_variants.empty()) {
      return Status::InvalidArgument("endpoint '" + endpoint_name +
                                     "' runs no A/B test (fraudops deploy "
                                     "NAME@VERSION --strategy ab starts one)");
    }
    std::map<std::string, double> next;
    double sum = 0;
    for (const auto& [name, weight] : weights) {
      FOPS_ASSIGN_OR_RETURN(WeightedVariant v, AbVariantOf(*e, name));
      if (!(weight >= 0 && weight <= 100)) {
        return Status::InvalidArgument("the weight of " + name + " must be from 0 to 100, not " +
                                       FormatDouble(weight));
      }
      if (!next.emplace(v.name(), weight).second)
        return Status::InvalidArgument(v.name() + " is given twice");
      sum += weight;
    }
    if (next.size() != e->ab_variants.size()) {
      return Status::InvalidArgument("give every variant a weight (" +
                                     Join(e->AbVariantNames(), ", ") + ")");
    }
    if (std::abs(sum - 100) > 1e-6) {
      return Status::InvalidArgument("the weights must sum to 100, not " + FormatDouble(sum, 6));
    }
    nlohmann::json audit = nlohmann::json::object();
    for (WeightedVariant& v : e->ab_variants) {
      v.weight = next[v.name()];
      audit[v.name()] = v.weight;
    }
    e->updated_at = UtcNow();
    ++e->generation;
    FOPS_RETURN_IF_ERROR(SaveEndpoint(*e, false));
    FOPS_RETURN_IF_ERROR(Bump("endpoints"));
    return store_.AppendAudit(actor, "ab_weights", e->production.model, e->production.version,
                              {{"endpoint", endpoint_name}, {"weights", audit}});
  });
}

Result<DeploymentRecord> ServingStore::ConcludeAb(const std::string& endpoint_name,
                                                  const std::string& winner,
                                                  const std::string& reason,
                                                  const nlohmann::json& evidence,
                                                  const std::string& actor) {
  DeploymentRecord d;
  FOPS_RETURN_IF_ERROR(store_.InTransaction([&]() -> Status {
    FOPS_ASSIGN_OR_RETURN(std::optional<EndpointRecord> e, LoadEndpointForChange(endpoint_name));
    if (!e) return NoSuchEndpoint(endpoint_name);
    if (e->ab_variants.empty())
      return Status::InvalidArgument("endpoint '" + endpoint_name + "' runs no A/B test");
    FOPS_ASSIGN_OR_RETURN(const WeightedVariant chosen, AbVariantOf(*e, winner));
    const std::string now = UtcNow();
    d.id = NewUuidV7();
    d.endpoint = endpoint_name;
    d.created_at = d.updated_at = d.step_started_at = now;
    d.actor = actor;
    d.strategy = "ab_conclusion";
    d.target = chosen.ref;
    d.previous = e->production;
    d.status = DeploymentStatus::kCompleted;
    d.traffic_percent = 100;
    d.reason = reason.empty() ? "A/B test concluded: " + chosen.name() + " won" : reason;
    nlohmann::json losers = nlohmann::json::array();
    for (const WeightedVariant& v : e->ab_variants) {
      if (!(v == chosen)) losers.push_back(v.ref.ToString());
    }
    const std::string started = e->ab_started_at;
    e->production = chosen.ref;
    e->ab_variants.clear();
    e->assignment_field.clear();
    e->ab_started_at.clear();
    FOPS_RETURN_IF_ERROR(SaveProductionChange(*e, d));
    return store_.AppendAudit(actor, "ab_concluded", chosen.ref.model, chosen.ref.version,
                              {{"endpoint", endpoint_name},
                               {"deployment", d.id},
                               {"winner", chosen.name()},
                               {"losers", losers},
                               {"started_at", started},
                               {"reason", d.reason},
                               {"evidence", evidence}});
  }));
  return d;
}

Status ServingStore::SetMultiModel(const std::string& endpoint_name, const MultiModelSpec& spec,
                                   const std::string& actor) {
  FOPS_RETURN_IF_ERROR(CheckName("endpoint", endpoint_name));
  if (spec.empty()) {
    return Status::InvalidArgument(
        "a multi-model endpoint needs routes, a "
        "default model or pinned models");
  }
  std::vector<std::string> targets = spec.pinned;
  for (const auto& [value, target] : spec.routes) targets.push_back(target);
  if (!spec.default_target.empty()) targets.push_back(spec.default_target);
  for (const std::string& target : targets) {
    FOPS_ASSIGN_OR_RETURN(auto split, SplitModelTarget(target));
    Result<ModelVersion> version = store_.GetVersion(split.first, split.second);
    if (!version.ok()) return version.status().WithContext("multi-model target " + target);
    if (Status servable = Servable(*version, false, false); !servable.ok()) {
      return Refused(servable.WithContext("multi-model target " + target), "deploy_refused",
                     {version->model, version->version}, {{"endpoint", endpoint_name}}, actor);
    }
  }
  return store_.InTransaction([&]() -> Status {
    const std::string now = UtcNow();
    FOPS_ASSIGN_OR_RETURN(auto loaded, LoadOrNewEndpoint(endpoint_name, now));
    EndpointRecord& e = loaded.first;
    const bool insert = loaded.second;
    if (!e.production.empty()) {
      return Status::Conflict("endpoint '" + endpoint_name + "' serves " + e.production.ToString() +
                              " as a variant endpoint; a multi-model "
                              "endpoint needs a name of its own");
    }
    e.multi_model = spec;
    e.updated_at = now;
    ++e.generation;
    FOPS_RETURN_IF_ERROR(SaveEndpoint(e, insert));
    FOPS_RETURN_IF_ERROR(Bump("endpoints"));
    return store_.AppendAudit(actor, "multi_model_set", "", 0,
                              {{"endpoint", endpoint_name}, {"definition", spec.ToJson()}});
  });
}

Status ServingStore::SetEnvironment(const std::string& endpoint_name,
                                    const std::string& environment, const std::string& actor) {
  FOPS_RETURN_IF_ERROR(CheckName("endpoint", endpoint_name));
  FOPS_RETURN_IF_ERROR(CheckEnvironment(environment));
  return store_.InTransaction([&]() -> Status {
    const std::string now = UtcNow();
    FOPS_ASSIGN_OR_RETURN(auto loaded, LoadOrNewEndpoint(endpoint_name, now));
    EndpointRecord& e = loaded.first;
    const std::string previous = e.environment;
    e.environment = environment;
    e.updated_at = now;
    ++e.generation;
    FOPS_RETURN_IF_ERROR(SaveEndpoint(e, loaded.second));
    FOPS_RETURN_IF_ERROR(Bump("endpoints"));
    return store_.AppendAudit(
        actor, "environment_set", "", 0,
        {{"endpoint", endpoint_name}, {"environment", environment}, {"previous", previous}});
  });
}

namespace {

/// A stretch of time for people: seconds under two minutes, minutes under two hours, then hours.
std::string Stretch(double seconds) {
  if (seconds < 120) return FormatDouble(seconds, 3) + " s";
  if (seconds < 7200) return FormatDouble(seconds / 60.0, 3) + " min";
  return FormatDouble(seconds / 3600.0, 3) + " h";
}

double SecondsBetween(const std::string& from, const std::string& to) {
  auto a = ParseUtcTime(from), b = ParseUtcTime(to);
  if (!a || !b) return 0;
  return std::chrono::duration<double>(*b - *a).count();
}

}  // namespace

Result<PromotionCheck> ServingStore::CheckPromotion(const VariantRef& target,
                                                    const PromotionPolicy& policy) {
  FOPS_ASSIGN_OR_RETURN(ModelVersion version,
                        store_.GetVersion(target.model, std::to_string(target.version)));
  FOPS_ASSIGN_OR_RETURN(std::vector<EndpointRecord> endpoints, ListEndpoints());
  const std::string now = UtcNow();
  std::map<std::string, std::vector<DeploymentRecord>> histories;  // oldest first, read once
  // The longest stretch `target` served (or shadowed) on endpoints of `environment`.
  auto stretch = [&](bool shadow, const std::string& environment,
                     std::string* evidence) -> Result<double> {
    double best = 0;
    std::string where, rolled_back;
    for (const EndpointRecord& e : endpoints) {
      if (e.environment != environment) continue;
      if (!histories.count(e.name)) {
        FOPS_ASSIGN_OR_RETURN(std::vector<DeploymentRecord> newest_first, History(e.name, 100000));
        histories[e.name].assign(newest_first.rbegin(), newest_first.rend());
      }
      const std::vector<DeploymentRecord>& history = histories[e.name];
      const bool serving_now =
          e.production == target || e.canary == target ||
          std::any_of(e.ab_variants.begin(), e.ab_variants.end(),
                      [&](const WeightedVariant& v) { return v.ref == target; });
      for (size_t i = 0; i < history.size(); ++i) {
        const DeploymentRecord& d = history[i];
        if (d.target != target || (d.strategy == "shadow") != shadow) continue;
        if (d.status == DeploymentStatus::kRolledBack) {
          rolled_back = "rolled back on " + e.name + ": " + d.reason;
          continue;
        }
        std::string end = d.updated_at;
        if (d.status == DeploymentStatus::kBaking || d.status == DeploymentStatus::kShadowing) {
          end = now;
        } else if (!shadow && (d.status == DeploymentStatus::kCompleted ||
                               d.status == DeploymentStatus::kPromoted)) {
          end = serving_now ? now : d.updated_at;
          for (size_t j = i + 1; j < history.size(); ++j) {  // until something replaced it
            const DeploymentRecord& next = history[j];
            if (next.strategy == "shadow" || next.status == DeploymentStatus::kRolledBack ||
                next.status == DeploymentStatus::kBaking)
              continue;
            end = next.status == DeploymentStatus::kPromoted ? next.updated_at : next.created_at;
            break;
          }
        }
        const double seconds = SecondsBetween(d.created_at, end);
        if (seconds >= best) {
          best = seconds;
          where = e.name;
        }
      }
    }
    if (where.empty()) {
      *evidence = std::string(shadow ? "never shadowed" : "never served") + " on a " + environment +
                  " endpoint" + (rolled_back.empty() ? "" : "; " + rolled_back);
    } else {
      *evidence = std::string(shadow ? "shadowed " : "served ") + environment + " (" + where +
                  ") for " + Stretch(best);
    }
    return best;
  };
  PromotionCheck check;
  check.environment = policy.environment;
  for (const auto& alternatives : policy.requirements) {
    PromotionCheck::Requirement requirement;
    for (const PromotionCondition& c : alternatives) {
      requirement.text += (requirement.text.empty() ? "" : "|") + c.text;
      bool met = false;
      std::string evidence;
      switch (c.kind) {
        case PromotionCondition::Kind::kApproved:
          met = version.approval == "approved";
          evidence = version.approval;
          break;
        case PromotionCondition::Kind::kChampionPassed: {
          const nlohmann::json& gate = version.metrics.contains("champion_gate")
                                           ? version.metrics["champion_gate"]
                                           : nlohmann::json();
          met = gate.is_object() && gate.value("passed", false);
          evidence = !gate.is_object() ? "its run made no champion comparison"
                     : met             ? gate.value("summary", "passed")
                                       : gate.value("summary", "failed");
          break;
        }
        case PromotionCondition::Kind::kServed:
        case PromotionCondition::Kind::kShadowed: {
          FOPS_ASSIGN_OR_RETURN(
              double seconds,
              stretch(c.kind == PromotionCondition::Kind::kShadowed, c.environment, &evidence));
          met = seconds >= c.seconds;
          evidence += "; " + Stretch(c.seconds) + " required";
          break;
        }
      }
      requirement.met = requirement.met || met;
      requirement.evidence += (requirement.evidence.empty() ? "" : " / ") + evidence;
    }
    check.requirements.push_back(std::move(requirement));
  }
  return check;
}

Result<DeploymentRecord> ServingStore::Promote(
    const VariantRef& version, const std::string& environment, const std::string& endpoint,
    const std::string& strategy, const DeploymentParams& params, const std::string& actor,
    const DeployRules& rules, PromotionCheck* check) {
  FOPS_RETURN_IF_ERROR(CheckEnvironment(environment));
  if (environment.empty()) return Status::InvalidArgument("promote needs an environment (--to)");
  if (rules.PolicyFor(environment) == nullptr)
    return Status::Internal("no promotion policy for " + environment);
  FOPS_ASSIGN_OR_RETURN(std::vector<EndpointRecord> endpoints, ListEndpoints());
  std::vector<std::string> labelled;
  for (const EndpointRecord& e : endpoints) {
    if (e.environment == environment) labelled.push_back(e.name);
  }
  std::string target_endpoint = endpoint;
  if (target_endpoint.empty()) {
    if (labelled.empty()) {
      return Status::NotFound("no endpoint is labelled " + environment +
                              " (fraudops deploy environment ENDPOINT " + environment + ")");
    }
    if (labelled.size() > 1) {
      return Status::InvalidArgument("several endpoints are labelled " + environment + " (" +
                                     Join(labelled, ", ") + "); name one with --endpoint");
    }
    target_endpoint = labelled[0];
  } else if (std::find(labelled.begin(), labelled.end(), target_endpoint) == labelled.end()) {
    return Status::InvalidArgument("endpoint '" + target_endpoint + "' is not labelled " +
                                   environment);
  }
  return Deploy(target_endpoint, version, strategy, params, actor, rules, check);
}

Result<std::vector<ServedAt>> ServingStore::WhereServed(const VariantRef& version) {
  FOPS_ASSIGN_OR_RETURN(std::vector<EndpointRecord> endpoints, ListEndpoints());
  std::vector<ServedAt> out;
  for (const EndpointRecord& e : endpoints) {
    auto add = [&](ServedAt::Role role) { out.push_back({e.name, role}); };
    if (e.production == version) add(ServedAt::Role::kProduction);
    if (e.canary == version) add(ServedAt::Role::kCanary);
    if (std::find(e.shadows.begin(), e.shadows.end(), version) != e.shadows.end())
      add(ServedAt::Role::kShadow);
    for (const WeightedVariant& v : e.ab_variants) {
      if (v.ref == version && !(e.production == version)) add(ServedAt::Role::kAbVariant);
    }
    if (e.multi_model.empty()) continue;
    std::vector<std::string> targets = e.multi_model.pinned;
    for (const auto& [value, target] : e.multi_model.routes) targets.push_back(target);
    if (!e.multi_model.default_target.empty()) targets.push_back(e.multi_model.default_target);
    for (const std::string& target : targets) {
      auto split = SplitModelTarget(target);
      if (!split.ok() || split->first != version.model) continue;
      auto resolved = store_.GetVersion(split->first, split->second);  // an alias: where it points
      if (resolved.ok() && resolved->version == version.version) {
        add(ServedAt::Role::kMultiModelTarget);
        break;
      }
    }
  }
  return out;
}

std::string ServedAt::ToString() const {
  static constexpr std::string_view kNames[] = {"production", "canary", "shadow", "A/B variant",
                                                "multi-model target"};
  return "endpoint " + endpoint + " (" + std::string(kNames[static_cast<int>(role)]) + ")";
}

Status ServingStore::Retire(const VariantRef& version, RetireAction action,
                            const std::string& reason, const std::string& actor, bool roll_back) {
  const char* verb = action == RetireAction::kReject ? "reject" : "archive";
  FOPS_ASSIGN_OR_RETURN(std::vector<ServedAt> served, WhereServed(version));
  if (!served.empty()) {
    std::string where;
    for (const ServedAt& at : served) where += (where.empty() ? "" : ", ") + at.ToString();
    if (!roll_back) {
      return Refused(Status::Conflict("cannot " + std::string(verb) + " " + version.ToString() +
                                      ": it serves at " + where +
                                      "; take it out of service first, or add --rollback"),
                     std::string(verb) + "_refused", version, {{"serving", where}}, actor);
    }
    for (const ServedAt& at : served) {  // taken out of service first, each step audited
      const std::string why =
          std::string(verb) + " " + version.ToString() + (reason.empty() ? "" : ": " + reason);
      switch (at.role) {
        case ServedAt::Role::kProduction:
        case ServedAt::Role::kCanary:
          FOPS_RETURN_IF_ERROR(
              Rollback(at.endpoint, why, actor)
                  .status()
                  .WithContext("taking " + version.ToString() + " out of " + at.ToString()));
          break;
        case ServedAt::Role::kShadow:
          FOPS_RETURN_IF_ERROR(RemoveShadow(at.endpoint, version, actor));
          break;
        case ServedAt::Role::kAbVariant:
        case ServedAt::Role::kMultiModelTarget:
          return Refused(
              Status::Conflict("cannot take " + version.ToString() + " out of " + at.ToString() +
                               " here: " +
                               (at.role == ServedAt::Role::kAbVariant
                                    ? "conclude the A/B test with another winner first"
                                    : "change the endpoint's definition first (fraudops deploy "
                                      "multi)")),
              std::string(verb) + "_refused", version, {{"serving", where}}, actor);
      }
    }
  }
  if (action == RetireAction::kReject)
    return store_.SetApproval(version.model, version.version, "rejected", actor, reason);
  return store_.Archive(version.model, version.version, actor, reason);
}

Status ServingStore::RemoveShadow(const std::string& endpoint_name, const VariantRef& shadow,
                                  const std::string& actor) {
  return store_.InTransaction([&]() -> Status {
    FOPS_ASSIGN_OR_RETURN(std::optional<EndpointRecord> e, LoadEndpointForChange(endpoint_name));
    if (!e) return NoSuchEndpoint(endpoint_name);
    if (std::erase(e->shadows, shadow) == 0) {
      return Status::NotFound(shadow.ToString() + " does not shadow " + endpoint_name);
    }
    e->updated_at = UtcNow();
    ++e->generation;
    FOPS_RETURN_IF_ERROR(SaveEndpoint(*e, false));
    SqlValue p[] = {Text(std::string(DeploymentStatusName(DeploymentStatus::kShadowRemoved))),
                    Text(UtcNow()),
                    Text(endpoint_name),
                    Text(shadow.model),
                    Int(shadow.version),
                    Text(std::string(DeploymentStatusName(DeploymentStatus::kShadowing)))};
    FOPS_RETURN_IF_ERROR(
        db_.Exec("UPDATE deployments SET status = ?, updated_at = ? WHERE endpoint = ? "
                 "AND model = ? AND version = ? AND status = ?",
                 p));
    FOPS_RETURN_IF_ERROR(Bump("endpoints"));
    return store_.AppendAudit(actor, "shadow_removed", shadow.model, shadow.version,
                              {{"endpoint", endpoint_name}});
  });
}

Result<std::vector<DeploymentRecord>> ServingStore::History(const std::string& endpoint,
                                                            size_t limit) {
  SqlValue p[] = {Text(endpoint), Int(static_cast<int64_t>(limit))};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r, db_.Query(std::string("SELECT ") + kDeploymentColumns +
                                 " FROM deployments WHERE endpoint = ? ORDER BY id DESC LIMIT ?",
                             p));
  std::vector<DeploymentRecord> out;
  for (const SqlRow& row : r.rows) out.push_back(DeploymentFromRow(row));
  return out;
}

Result<DeploymentRecord> ServingStore::GetDeployment(const std::string& id) {
  SqlValue p[] = {Text(id)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r,
      db_.Query(std::string("SELECT ") + kDeploymentColumns + " FROM deployments WHERE id = ?", p));
  if (r.rows.empty()) return Status::NotFound("no deployment '" + id + "'");
  return DeploymentFromRow(r.rows[0]);
}

// ---------------------------------------------------------------------------------------
// Keys and plans.

Result<CreatedKey> ServingStore::CreateKey(const std::string& name,
                                           const std::vector<std::string>& scopes,
                                           const std::vector<std::string>& endpoints,
                                           const std::string& plan, const std::string& actor) {
  if (name.empty() || name.size() > 200)
    return Status::InvalidArgument("a key needs a name of 1-200 characters");
  if (scopes.empty())
    return Status::InvalidArgument("a key needs at least one scope; accepted: " +
                                   Join(KeyScopes(), ", "));
  for (const std::string& s : scopes) {
    if (std::find(KeyScopes().begin(), KeyScopes().end(), s) == KeyScopes().end()) {
      return Status::InvalidArgument("unknown scope '" + s + "'; accepted: " +
                                     Join(KeyScopes(), ", ") + DidYouMean(s, KeyScopes()));
    }
  }
  if (endpoints.empty())
    return Status::InvalidArgument("a key needs at least one endpoint (or '*' for all)");
  for (const std::string& e : endpoints) {
    if (e != "*") FOPS_RETURN_IF_ERROR(CheckName("endpoint", e));
  }
  CreatedKey created = NewKey(name, actor);
  ApiKeyRecord& k = created.record;
  k.scopes = scopes;
  k.endpoints = endpoints;
  k.plan = plan;
  FOPS_RETURN_IF_ERROR(store_.InTransaction([&]() -> Status {
    if (!plan.empty()) {
      FOPS_RETURN_IF_ERROR(RequirePlan(plan));
    }
    return InsertKey(k, "key_created",
                     {{"key", k.id},
                      {"name", name},
                      {"scopes", scopes},
                      {"endpoints", endpoints},
                      {"plan", plan}});
  }));
  return created;
}

CreatedKey ServingStore::NewKey(const std::string& name, const std::string& actor) {
  CreatedKey created;
  ApiKeyRecord& k = created.record;
  k.id = ToLower(SecureRandomToken(12));
  std::string secret = SecureRandomToken(40);  // 40 base-62 characters: 238 bits
  k.name = name;
  k.salt = SecureRandomToken(24);
  k.hash = HashKeySecret(k.salt, secret);
  k.created_at = UtcNow();
  k.created_by = actor;
  created.key = "fops_" + k.id + "_" + secret;
  return created;
}

Status ServingStore::InsertKey(const ApiKeyRecord& k, const std::string& action,
                               const nlohmann::json& details) {
  SqlValue p[] = {Text(k.id),
                  Text(k.name),
                  Text(k.salt),
                  Text(k.hash),
                  Text(nlohmann::json(k.scopes).dump()),
                  Text(nlohmann::json(k.endpoints).dump()),
                  OptionalText(k.plan),
                  Text(k.created_at),
                  Text(k.created_by),
                  Text(k.owner),
                  Text(k.expires_at)};
  FOPS_RETURN_IF_ERROR(
      db_.Exec("INSERT INTO api_keys (id, name, salt, hash, scopes, endpoints, plan, created_at, "
               "created_by, owner, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               p));
  FOPS_RETURN_IF_ERROR(Bump("keys"));
  return store_.AppendAudit(k.created_by, action, "", 0, details);
}

Result<CreatedKey> ServingStore::CreateUserToken(const std::string& user, const std::string& name,
                                                 std::chrono::seconds lifetime,
                                                 const std::string& actor,
                                                 const std::string& action) {
  if (name.empty() || name.size() > 200)
    return Status::InvalidArgument("a token needs a name of 1-200 characters");
  if (lifetime.count() <= 0) return Status::InvalidArgument("a token's lifetime must be positive");
  CreatedKey created = NewKey(name, actor);
  ApiKeyRecord& k = created.record;
  k.endpoints = {"*"};
  k.owner = user;
  k.expires_at = FormatUtc(std::chrono::system_clock::now() + lifetime);
  FOPS_RETURN_IF_ERROR(store_.InTransaction([&]() -> Status {
    FOPS_ASSIGN_OR_RETURN(auto found, FindUser(user));
    if (!found) return Status::NotFound("no user '" + user + "' (fraudops users list)");
    if (found->disabled()) return Status::Conflict("user '" + user + "' is disabled");
    return InsertKey(k, action,
                     {{"key", k.id}, {"name", name}, {"user", user}, {"expires_at", k.expires_at}});
  }));
  return created;
}

// ---------------------------------------------------------------------------------------
// Users.

namespace {

constexpr const char* kUserColumns =
    "name, roles, password_hash, created_at, created_by, disabled_at";

UserRecord UserFromRow(const SqlRow& row) {
  UserRecord u;
  u.name = AsText(row[0]);
  u.roles = JsonStrings(row[1]);
  u.password_hash = AsText(row[2]);
  u.created_at = AsText(row[3]);
  u.created_by = AsText(row[4]);
  u.disabled_at = IsNull(row[5]) ? "" : AsText(row[5]);
  return u;
}

}  // namespace

Status ServingStore::CreateUser(const std::string& name, const std::vector<std::string>& roles,
                                const std::string& password_hash, const std::string& actor) {
  FOPS_RETURN_IF_ERROR(CheckUserName(name));
  FOPS_RETURN_IF_ERROR(CheckRoles(roles));
  return store_.InTransaction([&]() -> Status {
    FOPS_ASSIGN_OR_RETURN(auto existing, FindUser(name));
    if (existing) return Status::Conflict("user '" + name + "' exists (fraudops users set)");
    SqlValue p[] = {Text(name), Text(nlohmann::json(roles).dump()), Text(password_hash),
                    Text(UtcNow()), Text(actor)};
    FOPS_RETURN_IF_ERROR(
        db_.Exec("INSERT INTO users (name, roles, password_hash, created_at, "
                 "created_by) VALUES (?, ?, ?, ?, ?)",
                 p));
    FOPS_RETURN_IF_ERROR(Bump("keys"));
    return store_.AppendAudit(
        actor, "user_created", "", 0,
        {{"user", name}, {"roles", roles}, {"password", !password_hash.empty()}});
  });
}

Status ServingStore::ChangeUser(const std::string& name, const UserChange& change,
                                const std::string& actor) {
  if (change.roles) FOPS_RETURN_IF_ERROR(CheckRoles(*change.roles));
  return store_.InTransaction([&]() -> Status {
    FOPS_ASSIGN_OR_RETURN(auto user, FindUser(name));
    if (!user) return Status::NotFound("no user '" + name + "' (fraudops users list)");
    nlohmann::json details = {{"user", name}};
    if (change.roles) {
      SqlValue p[] = {Text(nlohmann::json(*change.roles).dump()), Text(name)};
      FOPS_RETURN_IF_ERROR(db_.Exec("UPDATE users SET roles = ? WHERE name = ?", p));
      details["roles"] = *change.roles;
      details["previous_roles"] = user->roles;
    }
    if (change.disabled) {
      SqlValue p[] = {*change.disabled ? Text(UtcNow()) : SqlValue(), Text(name)};
      FOPS_RETURN_IF_ERROR(db_.Exec("UPDATE users SET disabled_at = ? WHERE name = ?", p));
      details["disabled"] = *change.disabled;
    }
    if (change.password_hash) {
      SqlValue p[] = {Text(*change.password_hash), Text(name)};
      FOPS_RETURN_IF_ERROR(db_.Exec("UPDATE users SET password_hash = ? WHERE name = ?", p));
      details["password"] = !change.password_hash->empty();  // never the hash itself
    }
    FOPS_RETURN_IF_ERROR(Bump("keys"));
    return store_.AppendAudit(actor,
                              change.password_hash && !change.roles && !change.disabled
                                  ? "user_password_set"
                                  : "user_changed",
                              "", 0, details);
  });
}

Result<std::optional<UserRecord>> ServingStore::FindUser(const std::string& name) {
  SqlValue p[] = {Text(name)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r,
      db_.Query(std::string("SELECT ") + kUserColumns + " FROM users WHERE name = ?", p));
  if (r.rows.empty()) return std::optional<UserRecord>();
  return std::optional<UserRecord>(UserFromRow(r.rows[0]));
}

Result<std::vector<UserRecord>> ServingStore::ListUsers() {
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r, db_.Query(std::string("SELECT ") + kUserColumns + " FROM users ORDER BY name"));
  std::vector<UserRecord> out;
  for (const SqlRow& row : r.rows) out.push_back(UserFromRow(row));
  return out;
}

Result<UserRecord> ServingStore::CheckPassword(const std::string& name, std::string_view password) {
  FOPS_ASSIGN_OR_RETURN(auto user, FindUser(name));
  // The same answer for an unknown user, a wrong password and a user without one, so the
  // answer does not tell which names exist.
  const bool ok = user && !user->password_hash.empty() &&
                  VerifyPassword(user->password_hash, password) && !user->disabled();
  if (!ok) {
    FOPS_RETURN_IF_ERROR(store_.InTransaction(
        [&] { return store_.AppendAudit("user:" + name, "login_failed", "", 0, {}); }));
    return Status::Unauthenticated("unknown user or wrong password");
  }
  return *user;
}

Result<std::vector<ApiKeyRecord>> ServingStore::ListKeys() {
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r, db_.Query("SELECT id, name, salt, hash, scopes, endpoints, plan, created_at, "
                             "created_by, revoked_at, owner, expires_at FROM api_keys ORDER BY "
                             "created_at, id"));
  std::vector<ApiKeyRecord> out;
  for (const SqlRow& row : r.rows) {
    ApiKeyRecord k;
    k.id = AsText(row[0]);
    k.name = AsText(row[1]);
    k.salt = AsText(row[2]);
    k.hash = AsText(row[3]);
    k.scopes = JsonStrings(row[4]);
    k.endpoints = JsonStrings(row[5]);
    k.plan = IsNull(row[6]) ? "" : AsText(row[6]);
    k.created_at = AsText(row[7]);
    k.created_by = AsText(row[8]);
    k.revoked_at = IsNull(row[9]) ? "" : AsText(row[9]);
    k.owner = AsText(row[10]);
    k.expires_at = AsText(row[11]);
    out.push_back(std::move(k));
  }
  return out;
}

Status ServingStore::RevokeKey(const std::string& id, const std::string& actor) {
  return store_.InTransaction([&]() -> Status {
    SqlValue p[] = {Text(UtcNow()), Text(id)};
    FOPS_ASSIGN_OR_RETURN(SqlResult r, db_.Query("UPDATE api_keys SET revoked_at = ? WHERE "
                                                 "id = ? AND revoked_at IS NULL",
                                                 p));
    if (r.affected == 0) {
      SqlValue q[] = {Text(id)};
      FOPS_ASSIGN_OR_RETURN(SqlResult found,
                            db_.Query("SELECT revoked_at FROM api_keys WHERE id = ?", q));
      if (found.rows.empty())
        return Status::NotFound("no API key with id '" + id + "' (fraudops keys list)");
      return Status::Ok();  // already revoked
    }
    FOPS_RETURN_IF_ERROR(Bump("keys"));
    return store_.AppendAudit(actor, "key_revoked", "", 0, {{"key", id}});
  });
}

Status ServingStore::RequirePlan(const std::string& plan) {
  FOPS_ASSIGN_OR_RETURN(const std::vector<UsagePlan> plans, ListPlans());
  std::vector<std::string> names;
  for (const UsagePlan& p : plans) {
    if (p.name == plan) return Status::Ok();
    names.push_back(p.name);
  }
  return NotAmong("usage plan", plan, names, "the plans",
                  "there is none yet (fraudops plans create NAME --rate …)");
}

Status ServingStore::AttachPlan(const std::string& key_id, const std::string& plan,
                                const std::string& actor) {
  return store_.InTransaction([&]() -> Status {
    if (!plan.empty()) {
      FOPS_RETURN_IF_ERROR(RequirePlan(plan));
    }
    SqlValue p[] = {OptionalText(plan), Text(key_id)};
    FOPS_ASSIGN_OR_RETURN(SqlResult r, db_.Query("UPDATE api_keys SET plan = ? WHERE id = ?", p));
    if (r.affected == 0)
      return Status::NotFound("no API key with id '" + key_id + "' (fraudops keys list)");
    FOPS_RETURN_IF_ERROR(Bump("keys"));
    return store_.AppendAudit(actor, "plan_attached", "", 0, {{"key", key_id}, {"plan", plan}});
  });
}

Status ServingStore::PutPlan(const UsagePlan& plan, bool replace, const std::string& actor) {
  FOPS_RETURN_IF_ERROR(CheckName("plan", plan.name));
  if (!(plan.rate_per_second >= 0) || plan.burst < 0 || plan.daily_quota < 0 ||
      plan.monthly_quota < 0) {
    return Status::InvalidArgument("plan '" + plan.name +
                                   "': rate, burst and quotas must be 0 (unlimited) or more");
  }
  return store_.InTransaction([&]() -> Status {
    SqlValue find[] = {Text(plan.name)};
    FOPS_ASSIGN_OR_RETURN(SqlResult r,
                          db_.Query("SELECT name FROM usage_plans WHERE name = ?", find));
    if (!r.rows.empty() && !replace) {
      return Status::Conflict("usage plan '" + plan.name + "' exists; pass --replace to change it");
    }
    SqlValue p[] = {Text(plan.name),       Real(plan.rate_per_second), Int(plan.burst),
                    Int(plan.daily_quota), Int(plan.monthly_quota),    Text(UtcNow())};
    if (r.rows.empty()) {
      FOPS_RETURN_IF_ERROR(db_.Exec("INSERT INTO usage_plans VALUES (?, ?, ?, ?, ?, ?)", p));
    } else {
      SqlValue u[] = {Real(plan.rate_per_second), Int(plan.burst), Int(plan.daily_quota),
                      Int(plan.monthly_quota), Text(plan.name)};
      FOPS_RETURN_IF_ERROR(
          db_.Exec("UPDATE usage_plans SET rate_per_second = "
                   "?, burst = ?, daily_quota = ?, "
                   "monthly_quota = ? WHERE name = ?",
                   u));
    }
    FOPS_RETURN_IF_ERROR(Bump("keys"));
    nlohmann::json details = plan.ToJson();
    details.erase("created_at");
    return store_.AppendAudit(actor, r.rows.empty() ? "plan_created" : "plan_replaced", "", 0,
                              details);
  });
}

Result<std::vector<UsagePlan>> ServingStore::ListPlans() {
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r, db_.Query("SELECT name, rate_per_second, burst, daily_quota, monthly_quota, "
                             "created_at FROM usage_plans ORDER BY name"));
  std::vector<UsagePlan> out;
  for (const SqlRow& row : r.rows) {
    UsagePlan p;
    p.name = AsText(row[0]);
    p.rate_per_second = AsDouble(row[1]);
    p.burst = AsInt(row[2]);
    p.daily_quota = AsInt(row[3]);
    p.monthly_quota = AsInt(row[4]);
    p.created_at = AsText(row[5]);
    out.push_back(p);
  }
  return out;
}

Status ServingStore::AddUsage(
    const std::map<std::pair<std::string, std::string>, int64_t>& counts) {
  if (counts.empty()) return Status::Ok();
  return store_.InTransaction([&]() -> Status {
    for (const auto& [key, used] : counts) {
      SqlValue p[] = {Text(key.first), Text(key.second), Int(used)};
      FOPS_RETURN_IF_ERROR(
          db_.Exec("INSERT INTO usage_counters VALUES (?, ?, ?) ON CONFLICT "
                   "(key_id, period) DO "
                   "UPDATE SET used = usage_counters.used + excluded.used",
                   p));
    }
    return Status::Ok();
  });
}

Result<std::map<std::pair<std::string, std::string>, int64_t>> ServingStore::Usage(
    const std::vector<std::string>& periods) {
  std::map<std::pair<std::string, std::string>, int64_t> out;
  for (const std::string& period : periods) {
    SqlValue p[] = {Text(period)};
    FOPS_ASSIGN_OR_RETURN(SqlResult r,
                          db_.Query("SELECT key_id, used FROM usage_counters WHERE period = ?", p));
    for (const SqlRow& row : r.rows) out[{AsText(row[0]), period}] = AsInt(row[1]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Feedback.

Status ServingStore::RecordFeedback(const std::string& endpoint,
                                    const std::vector<FeedbackRecord>& labels) {
  return store_.InTransaction([&]() -> Status {
    for (const FeedbackRecord& f : labels) {
      SqlValue p[] = {Text(endpoint), Text(f.request_id), Real(f.label), Text(f.label_time),
                      Text(f.received_at)};
      FOPS_RETURN_IF_ERROR(
          db_.Exec("INSERT INTO feedback VALUES (?, ?, ?, ?, "
                   "?) ON CONFLICT (endpoint, request_id) "
                   "DO UPDATE SET label = excluded.label, "
                   "label_time = excluded.label_time, "
                   "received_at = excluded.received_at",
                   p));
    }
    return Status::Ok();
  });
}

Result<std::vector<FeedbackRecord>> ServingStore::Feedback(const std::string& endpoint) {
  SqlValue p[] = {Text(endpoint)};
  FOPS_ASSIGN_OR_RETURN(SqlResult r, db_.Query("SELECT request_id, label, label_time, "
                                               "received_at FROM feedback WHERE "
                                               "endpoint = ? ORDER BY received_at, request_id",
                                               p));
  std::vector<FeedbackRecord> out;
  for (const SqlRow& row : r.rows)
    out.push_back({AsText(row[0]), AsDouble(row[1]), AsText(row[2]), AsText(row[3])});
  return out;
}

Result<std::map<std::string, int64_t>> ServingStore::ChangeCounters() {
  FOPS_ASSIGN_OR_RETURN(SqlResult r, db_.Query("SELECT name, value FROM change_counters"));
  std::map<std::string, int64_t> out;
  for (const SqlRow& row : r.rows) out[AsText(row[0])] = AsInt(row[1]);
  return out;
}

}  // namespace fraudops
