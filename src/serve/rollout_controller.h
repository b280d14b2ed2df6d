#pragma once
/// The rollout controller of `fraudops serve`: owns the endpoint table requests read (the
/// immutable EndpointSnapshots, swapped atomically), the live statistics of each baking
/// deployment, and one background worker that
///   - polls the metadata store's change counters (api.poll_interval_ms, or at once when
///     poked) and reloads endpoints, or keys and plans, that another process changed;
///   - judges every baking deployment with its strategy (Decide) and records the outcome:
///     the next traffic step, promotion, or rollback with the alarm that fired;
///   - flushes the keys' usage counters to the store every second, and then seeds the
///     shared quota counters again when Redis lost them (a restart).
/// A model that fails to load keeps the previous production serving; a canary that fails to
/// load is rolled back.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/background_worker.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "serve/auth.h"
#include "serve/dependency_health.h"
#include "serve/endpoints.h"
#include "serve/model_cache.h"
#include "serve/store_access.h"
#include "store/deployment_strategy.h"

namespace fraudops {

/// What to do with a baking `deployment`, given what its current step `seen` (whose
/// step_seconds this fills in from the deployment's step start and `now`): the judgement
/// of the deployment's strategy. Pure: tests call it without a server. An unknown strategy
/// (a newer fraudops started it) is kept as it is.
RolloutDecision Decide(const DeploymentRecord& deployment, RolloutObservation seen,
                       std::chrono::system_clock::time_point now);

/// The statistics of a rollout's current step as the strategies judge them; the decision
/// shift when both versions have a decision policy.
RolloutObservation Observe(const RolloutStats& stats, const DecisionPolicy* production = nullptr,
                           const DecisionPolicy* canary = nullptr);

class RolloutController {
 public:
  struct Options {
    std::chrono::milliseconds poll_interval{1000};
    Logger* logger = nullptr;  ///< required
    /// The models of multi-model endpoints (their pins are set at each reload); null: none.
    ModelCache* cache = nullptr;
    /// How often the aliases multi-model endpoints name are resolved again.
    std::chrono::milliseconds alias_interval{10000};
    /// Where each pass reports whether the metadata store answered (null: nowhere).
    DependencyHealth* metadata_health = nullptr;
  };
  /// `stores`, `keys` and `shared_quotas` (null: quotas in-process) outlive the controller.
  RolloutController(Options options, StoreAccess& stores, KeyRing& keys,
                    SharedQuotas* shared_quotas);
  ~RolloutController();
  RolloutController(const RolloutController&) = delete;
  RolloutController& operator=(const RolloutController&) = delete;

  /// Loads every endpoint's models, the keys and plans (before serving).
  Status Load();
  /// Starts the worker.
  void Start();
  /// Looks at the store now instead of at the next poll.
  void Poke() { worker_.Wake(); }
  /// Reloads endpoints and keys at the next pass whatever the counters say.
  void ReloadAll();
  /// Reloads the keys and users now, on the caller's thread: a token this server just issued
  /// (login) works on the very next request.
  void ReloadKeysNow() EXCLUDES(state_mutex_);
  /// Stops the worker and flushes the usage counters.
  void Stop();

  /// The current table (a request keeps the one it got).
  std::shared_ptr<const EndpointMap> Endpoints() const EXCLUDES(endpoints_mutex_);
  std::shared_ptr<const EndpointSnapshot> Find(std::string_view name) const
      EXCLUDES(endpoints_mutex_);
  /// True once the first load finished.
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }

 private:
  static BackgroundWorker::Options WorkerOptions(const Options& options);
  BackgroundWorker::Duration Pass() EXCLUDES(state_mutex_);
  void ReloadEndpoints() REQUIRES(state_mutex_);
  /// True when a target of a multi-model endpoint now resolves to another version.
  bool AliasesMoved() REQUIRES(state_mutex_);
  void ReloadKeys();
  void JudgeRollouts();
  void FlushUsage();

  Options options_;
  Logger& logger_;
  StoreAccess& stores_;
  KeyRing& keys_;
  SharedQuotas* shared_quotas_;

  mutable Mutex endpoints_mutex_;
  std::shared_ptr<const EndpointMap> endpoints_ GUARDED_BY(endpoints_mutex_);
  std::atomic<bool> loaded_{false};
  std::atomic<bool> reload_all_{false};

  /// Taken by the worker's pass and by Load: the statistics of baking deployments (kept
  /// across reloads while the deployment's step lasts) and the change counters last seen.
  Mutex state_mutex_;
  std::map<std::string, std::shared_ptr<RolloutStats>> rollouts_ GUARDED_BY(state_mutex_);
  /// A/B tests' live statistics by "<endpoint> <test start> <variant>".
  std::map<std::string, std::shared_ptr<VariantStats>> ab_stats_ GUARDED_BY(state_mutex_);
  std::map<std::string, int64_t> counters_seen_ GUARDED_BY(state_mutex_);
  std::chrono::steady_clock::time_point last_flush_ GUARDED_BY(state_mutex_);
  std::chrono::steady_clock::time_point last_alias_check_ GUARDED_BY(state_mutex_);
  /// The multi-model targets as last resolved, to see when an alias moved.
  std::map<std::string, VariantRef> resolved_targets_ GUARDED_BY(state_mutex_);

  BackgroundWorker worker_;
};

}  // namespace fraudops
