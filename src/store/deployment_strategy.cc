#include "store/deployment_strategy.h"

#include <algorithm>
#include <array>

#include "core/config.h"
#include "core/strings.h"
#include "store/serving_store.h"

namespace fraudops {

namespace {

constexpr std::array<std::pair<DeploymentStatus, std::string_view>, 7> kStatusNames = {{
    {DeploymentStatus::kBaking, "baking"},
    {DeploymentStatus::kPromoted, "promoted"},
    {DeploymentStatus::kCompleted, "completed"},
    {DeploymentStatus::kRolledBack, "rolled_back"},
    {DeploymentStatus::kSuperseded, "superseded"},
    {DeploymentStatus::kShadowing, "shadowing"},
    {DeploymentStatus::kShadowRemoved, "shadow_removed"},
}};

/// " (N canary requests, M production)": how much evidence a decision had.
std::string Evidence(const RolloutObservation& seen) {
  return " (" + std::to_string(seen.canary_requests) + " canary requests, " +
         std::to_string(seen.production_requests) + " production)";
}

Status AlreadyProduction(const EndpointRecord& endpoint, const DeploymentRecord& deployment) {
  return Status::InvalidArgument(deployment.target.ToString() + " is already production on " +
                                 endpoint.name);
}

/// Strategies that replace production wait for a running A/B test to be concluded.
Status RefuseDuringAbTest(const EndpointRecord& endpoint) {
  if (endpoint.ab_variants.empty()) return Status::Ok();
  const std::vector<std::string> names = endpoint.AbVariantNames();
  return Status::Conflict("endpoint '" + endpoint.name + "' runs an A/B test (" +
                          Join(names, ", ") + "); conclude it first: fraudops deploy conclude " +
                          endpoint.name + " --winner " + names.front());
}

/// Production becomes the target at once.
void ReplaceProduction(EndpointRecord& endpoint, DeploymentRecord& deployment, std::string reason) {
  endpoint.production = deployment.target;
  deployment.status = DeploymentStatus::kCompleted;
  deployment.traffic_percent = 100;
  deployment.reason = std::move(reason);
  std::erase(endpoint.shadows,
             endpoint.production);  // a version that becomes production stops shadowing
}

class AllAtOnce : public DeploymentStrategy {
 public:
  std::string_view name() const override { return "all_at_once"; }
  std::string_view description() const override {
    return "the new version takes all traffic at once";
  }
  Status Plan(EndpointRecord& endpoint, DeploymentRecord& deployment) const override {
    FOPS_RETURN_IF_ERROR(RefuseDuringAbTest(endpoint));
    if (endpoint.production == deployment.target) return AlreadyProduction(endpoint, deployment);
    ReplaceProduction(endpoint, deployment, "deployed all at once");
    return Status::Ok();
  }
};

/// A watched deployment: the target serves a share of traffic as the canary while its
/// statistics are compared with production's; alarms roll it back.
class Gradual : public DeploymentStrategy {
 public:
  Status Plan(EndpointRecord& endpoint, DeploymentRecord& deployment) const override {
    FOPS_RETURN_IF_ERROR(RefuseDuringAbTest(endpoint));
    if (endpoint.production == deployment.target) return AlreadyProduction(endpoint, deployment);
    if (endpoint.production.empty()) {
      ReplaceProduction(endpoint, deployment,
                        "nothing in production to compare against: deployed all at once");
      return Status::Ok();
    }
    endpoint.canary = deployment.target;
    endpoint.canary_percent = FirstPercent(deployment.params);
    endpoint.deployment_id = deployment.id;
    deployment.status = DeploymentStatus::kBaking;
    deployment.traffic_percent = endpoint.canary_percent;
    deployment.reason = "watching the canary";
    return Status::Ok();
  }
  RolloutDecision Judge(const DeploymentRecord& deployment,
                        const RolloutObservation& seen) const override {
    RolloutDecision decision;
    if (auto alarm = CanaryAlarm(deployment.params, seen)) {
      decision.action = RolloutAction::kRollBack;
      decision.reason = "alarm: " + *alarm + Evidence(seen);
      return decision;
    }
    if (seen.step_seconds < StepSeconds(deployment.params)) return decision;
    const double next = NextPercent(deployment);
    if (next > deployment.traffic_percent && deployment.traffic_percent < 100) {
      decision.action = RolloutAction::kAdvance;
      decision.traffic_percent = next;
      return decision;
    }
    decision.action = RolloutAction::kPromote;
    decision.reason = "no alarm during the bake" + Evidence(seen);
    return decision;
  }

 protected:
  /// The canary's share when the deployment starts.
  virtual double FirstPercent(const DeploymentParams& params) const = 0;
  /// The share after the current step; the current one when the next move is promotion.
  virtual double NextPercent(const DeploymentRecord& deployment) const {
    return deployment.traffic_percent;
  }
};

class Canary : public Gradual {
 public:
  std::string_view name() const override { return "canary"; }
  std::string_view description() const override {
    return "canary_percent of traffic for bake_seconds, then promoted unless an alarm fired";
  }
  Status Validate(const DeploymentParams& params) const override {
    if (!(params.canary_percent > 0 && params.canary_percent < 100)) {
      return Status::InvalidArgument("canary_percent must be above 0 and below 100");
    }
    return Status::Ok();
  }
  double StepSeconds(const DeploymentParams& params) const override { return params.bake_seconds; }

 protected:
  double FirstPercent(const DeploymentParams& params) const override {
    return params.canary_percent;
  }
};

class Linear : public Gradual {
 public:
  std::string_view name() const override { return "linear"; }
  std::string_view description() const override {
    return "linear_step_percent more traffic every linear_step_seconds, promoted at 100%";
  }
  Status Validate(const DeploymentParams& params) const override {
    if (!(params.linear_step_percent >= 1 && params.linear_step_percent <= 100)) {
      return Status::InvalidArgument("linear_step_percent must be from 1 to 100");
    }
    return Status::Ok();
  }
  double StepSeconds(const DeploymentParams& params) const override {
    return params.linear_step_seconds;
  }

 protected:
  double FirstPercent(const DeploymentParams& params) const override {
    return params.linear_step_percent;
  }
  double NextPercent(const DeploymentRecord& deployment) const override {
    return std::min(100.0, deployment.traffic_percent + deployment.params.linear_step_percent);
  }
};

/// An A/B test: the target becomes one more production variant with ab_weight percent of
/// the traffic; the variants already there keep their proportions of the rest. Requests
/// are assigned by weight (at random, or by a request field's hash), and the test ends when
/// a person concludes it with a winner (ServingStore::ConcludeAb), never by itself.
class Ab : public DeploymentStrategy {
 public:
  std::string_view name() const override { return "ab"; }
  std::string_view description() const override {
    return "one more production variant with ab_weight percent of traffic (an A/B test, concluded "
           "by a person)";
  }
  Status Validate(const DeploymentParams& params) const override {
    if (!(params.ab_weight > 0 && params.ab_weight < 100)) {
      return Status::InvalidArgument("ab_weight must be above 0 and below 100");
    }
    return Status::Ok();
  }
  Status Plan(EndpointRecord& endpoint, DeploymentRecord& deployment) const override {
    const VariantRef& target = deployment.target;
    const DeploymentParams& params = deployment.params;
    if (endpoint.production.empty()) {
      return Status::InvalidArgument(
          "endpoint '" + endpoint.name +
          "' has no production variant to test against; deploy a version to it first");
    }
    if (endpoint.production == target) return AlreadyProduction(endpoint, deployment);
    const WeightedVariant added{target, params.ab_weight};
    for (const WeightedVariant& v : endpoint.ab_variants) {
      if (v.ref == target)
        return Status::InvalidArgument(target.ToString() + " is already a variant of " +
                                       endpoint.name);
      if (v.name() == added.name()) {
        return Status::InvalidArgument("variant name " + added.name() + " is taken on " +
                                       endpoint.name + " by " + v.ref.ToString() +
                                       "; A/B variants are named by version");
      }
    }
    if (endpoint.ab_variants.empty()) {
      endpoint.ab_variants.push_back({endpoint.production, 100});
      endpoint.ab_started_at = deployment.created_at;
      endpoint.assignment_field = params.ab_assignment_field;
    } else if (!params.ab_assignment_field.empty() &&
               params.ab_assignment_field != endpoint.assignment_field) {
      return Status::InvalidArgument("the A/B test on " + endpoint.name + " assigns by '" +
                                     endpoint.assignment_field +
                                     "'; a variant added to it cannot change that");
    }
    const double rest = (100 - params.ab_weight) / 100;
    for (WeightedVariant& v : endpoint.ab_variants) v.weight *= rest;
    endpoint.ab_variants.push_back(added);
    std::erase(endpoint.shadows, target);  // a variant answers; it no longer shadows
    std::string split;
    for (const WeightedVariant& v : endpoint.ab_variants) {
      split += (split.empty() ? "" : ", ") + v.name() + " " + FormatDouble(v.weight, 4) + "%";
    }
    deployment.status = DeploymentStatus::kCompleted;
    deployment.traffic_percent = params.ab_weight;
    deployment.reason =
        "A/B test: " + split +
        (endpoint.assignment_field.empty() ? " (random)"
                                           : " (by " + endpoint.assignment_field + ")");
    return Status::Ok();
  }
};

class Shadow : public DeploymentStrategy {
 public:
  std::string_view name() const override { return "shadow"; }
  std::string_view description() const override {
    return "a copy of the traffic, scored and compared with production, never answered";
  }
  bool ChangesProduction() const override { return false; }
  Status Plan(EndpointRecord& endpoint, DeploymentRecord& deployment) const override {
    const VariantRef& target = deployment.target;
    if (endpoint.production.empty()) {
      return Status::InvalidArgument(
          "endpoint '" + endpoint.name +
          "' has no production variant to shadow; deploy a version to it first");
    }
    if (endpoint.production == target) return AlreadyProduction(endpoint, deployment);
    if (std::find(endpoint.shadows.begin(), endpoint.shadows.end(), target) !=
        endpoint.shadows.end()) {
      return Status::InvalidArgument(target.ToString() + " already shadows " + endpoint.name);
    }
    endpoint.shadows.push_back(target);
    deployment.status = DeploymentStatus::kShadowing;
    deployment.reason =
        "receives a copy of the traffic; its responses are compared, never returned";
    return Status::Ok();
  }
};

}  // namespace

std::string_view DeploymentStatusName(DeploymentStatus status) {
  for (const auto& [value, name] : kStatusNames) {
    if (value == status) return name;
  }
  return "unknown";
}

Result<DeploymentStatus> ParseDeploymentStatus(std::string_view name) {
  std::vector<std::string> names;
  for (const auto& [value, text] : kStatusNames) {
    if (text == name) return value;
    names.emplace_back(text);
  }
  return Status::DataError("unknown deployment status '" + std::string(name) +
                           "'; known: " + Join(names, ", "));
}

std::string_view RolloutActionName(RolloutAction action) {
  switch (action) {
    case RolloutAction::kKeep:
      return "keep";
    case RolloutAction::kAdvance:
      return "advance";
    case RolloutAction::kPromote:
      return "promote";
    case RolloutAction::kRollBack:
      return "roll_back";
  }
  return "keep";
}

Status DeploymentStrategy::Validate(const DeploymentParams&) const { return Status::Ok(); }

RolloutDecision DeploymentStrategy::Judge(const DeploymentRecord&,
                                          const RolloutObservation&) const {
  return RolloutDecision();
}

double DeploymentStrategy::StepSeconds(const DeploymentParams&) const { return 0; }

void DeploymentStrategyRegistry::Register(std::unique_ptr<DeploymentStrategy> strategy) {
  std::string name(strategy->name());
  strategies_[name] = std::move(strategy);
}

Result<const DeploymentStrategy*> DeploymentStrategyRegistry::Find(std::string_view text) const {
  std::string name(text);
  std::replace(name.begin(), name.end(), '-', '_');
  auto it = strategies_.find(name);
  if (it != strategies_.end()) return it->second.get();
  const std::vector<std::string> names = Names();
  return Status::InvalidArgument("unknown deployment strategy '" + std::string(text) +
                                 "'; accepted: " + Join(names, ", ") + DidYouMean(name, names));
}

std::vector<std::string> DeploymentStrategyRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, strategy] : strategies_) names.push_back(name);
  return names;
}

void RegisterBuiltinStrategies(DeploymentStrategyRegistry& registry) {
  registry.Register(std::make_unique<AllAtOnce>());
  registry.Register(std::make_unique<Ab>());
  registry.Register(std::make_unique<Canary>());
  registry.Register(std::make_unique<Linear>());
  registry.Register(std::make_unique<Shadow>());
}

const DeploymentStrategyRegistry& DeploymentStrategies() {
  static const DeploymentStrategyRegistry* const registry = [] {
    auto* built = new DeploymentStrategyRegistry();
    RegisterBuiltinStrategies(*built);
    return built;
  }();
  return *registry;
}

Status ValidateDeployConfig(const DeployConfig& deploy) {
  auto strategy = DeploymentStrategies().Find(deploy.strategy);
  if (!strategy.ok())
    return Status::InvalidArgument("deploy.strategy: " + strategy.status().message());
  Status valid = (*strategy)->Validate(DeploymentParamsFrom(deploy));
  if (!valid.ok()) return Status::InvalidArgument("deploy." + valid.message());
  return Status::Ok();
}

std::optional<std::string> CanaryAlarm(const DeploymentParams& p, const RolloutObservation& seen) {
  const uint64_t n = seen.canary_requests;
  if (n < static_cast<uint64_t>(p.min_requests)) return std::nullopt;
  const double error_rate = static_cast<double>(seen.canary_errors) / static_cast<double>(n);
  if (error_rate > p.max_error_rate) {
    return "error rate " + FormatDouble(100 * error_rate, 3) + "% > max_error_rate " +
           FormatDouble(100 * p.max_error_rate, 3) + "%";
  }
  if (p.max_p99_ms > 0 && seen.canary_p99_ms > p.max_p99_ms) {
    return "p99 latency " + FormatDouble(seen.canary_p99_ms, 3) + " ms > max_p99_ms " +
           FormatDouble(p.max_p99_ms, 3) + " ms";
  }
  if (p.max_score_psi > 0 && seen.production_requests >= static_cast<uint64_t>(p.min_requests) &&
      seen.score_psi > p.max_score_psi) {
    return "score PSI against production " + FormatDouble(seen.score_psi, 3) + " > max_score_psi " +
           FormatDouble(p.max_score_psi, 3);
  }
  if (p.max_decision_shift > 0 &&
      seen.production_requests >= static_cast<uint64_t>(p.min_requests) &&
      seen.decision_shift > p.max_decision_shift) {
    return "the share of '" + seen.decision_shifted + "' decisions moved " +
           FormatDouble(100 * seen.decision_shift, 3) + " points from production's > " +
           "max_decision_shift " + FormatDouble(100 * p.max_decision_shift, 3) + " points";
  }

  return std::nullopt;
}

}  // namespace fraudops
