#pragma once
/// Deployment strategies: how a new version reaches an endpoint's traffic and how a
/// deployment under watch is judged (docs/serving.md). Each strategy is one registry entry
/// that owns its validation (the parameters it uses), its plan (what starting it does to
/// the endpoint's variants) and its judging (what the rollout controller does next, from
/// the live statistics of the current step). The registry is built once, from
/// RegisterBuiltinStrategies; a lookup of an unknown name lists the valid ones.
///
/// Statuses are enums inside the process; their names appear only at the edges (SQL, JSON,
/// CLI).

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fraudops {

struct EndpointRecord;
struct DeploymentRecord;
struct DeploymentParams;
struct DeployConfig;

/// Where a deployment is.
enum class DeploymentStatus {
  kBaking,         ///< canary or linear under watch
  kPromoted,       ///< the watched version became production
  kCompleted,      ///< all at once, or a rollback deployment
  kRolledBack,     ///< the watched version was removed (alarm, person), or production undone
  kSuperseded,     ///< a newer deployment replaced it while it baked
  kShadowing,      ///< a shadow receiving copies of the traffic
  kShadowRemoved,  ///< a shadow no longer receiving them
};
std::string_view DeploymentStatusName(DeploymentStatus status);
/// The status a stored name stands for; an error naming the accepted ones otherwise.
Result<DeploymentStatus> ParseDeploymentStatus(std::string_view name);

/// What the rollout controller saw of a baking deployment's current step.
struct RolloutObservation {
  uint64_t canary_requests = 0;
  uint64_t canary_errors = 0;
  double canary_p99_ms = 0;
  uint64_t production_requests = 0;
  /// PSI of the canary's scores against production's on the same live traffic.
  double score_psi = 0;
  /// The largest change between production and the canary in the share of rows given one
  /// decision by their decision policies (0 unless both have one), and that decision.
  double decision_shift = 0;
  std::string decision_shifted;
  /// How long the current step has been watched.
  double step_seconds = 0;
};

enum class RolloutAction {
  kKeep,      ///< go on watching
  kAdvance,   ///< move to the next traffic share (traffic_percent)
  kPromote,   ///< the watched version becomes production
  kRollBack,  ///< remove the watched version (reason says why)
};
std::string_view RolloutActionName(RolloutAction action);

struct RolloutDecision {
  RolloutAction action = RolloutAction::kKeep;
  double traffic_percent = 0;  ///< kAdvance: the share of the next step
  std::string reason;          ///< kPromote and kRollBack: recorded with the deployment
};

class DeploymentStrategy {
 public:
  virtual ~DeploymentStrategy() = default;
  /// The name users write (deploy.strategy, --strategy, the admin API's "strategy").
  virtual std::string_view name() const = 0;
  /// One line for help texts.
  virtual std::string_view description() const = 0;
  /// False for strategies that leave production and a baking deployment alone (shadow).
  virtual bool ChangesProduction() const { return true; }
  /// Checks the parameters this strategy uses.
  virtual Status Validate(const DeploymentParams& params) const;
  /// Starts `deployment` on `endpoint`: changes the endpoint's variants and sets the
  /// deployment's status, traffic share and reason. A baking deployment the endpoint had
  /// was already superseded when ChangesProduction().
  virtual Status Plan(EndpointRecord& endpoint, DeploymentRecord& deployment) const = 0;
  /// What to do with a baking deployment of this strategy. Pure: no clock, no store.
  virtual RolloutDecision Judge(const DeploymentRecord& deployment,
                                const RolloutObservation& seen) const;
  /// How long one step of a baking deployment is watched, seconds.
  virtual double StepSeconds(const DeploymentParams& params) const;
};

class DeploymentStrategyRegistry {
 public:
  void Register(std::unique_ptr<DeploymentStrategy> strategy);
  /// By name ("all-at-once" is "all_at_once"); the error lists the names.
  Result<const DeploymentStrategy*> Find(std::string_view name) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, std::unique_ptr<DeploymentStrategy>, std::less<>> strategies_;
};

/// all_at_once, canary, linear, shadow.
void RegisterBuiltinStrategies(DeploymentStrategyRegistry& registry);
/// The registry with the built-in strategies (built on first use).
const DeploymentStrategyRegistry& DeploymentStrategies();

/// Checks deploy.* against the strategies (deploy.strategy names one; its parameters are
/// valid); the error names the key.
Status ValidateDeployConfig(const DeployConfig& deploy);

/// The alarm a canary's statistics raise under `params` (error rate, p99, score PSI), if
/// any; judged only once the canary has min_requests requests.
std::optional<std::string> CanaryAlarm(const DeploymentParams& params,
                                       const RolloutObservation& seen);

}  // namespace fraudops
