#include "serve/rollout_controller.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "core/strings.h"

namespace fraudops {

using SystemClock = std::chrono::system_clock;

RolloutDecision Decide(const DeploymentRecord& deployment, RolloutObservation seen,
                       SystemClock::time_point now) {
  if (deployment.status != DeploymentStatus::kBaking) return RolloutDecision();
  auto strategy = DeploymentStrategies().Find(deployment.strategy);
  if (!strategy.ok()) return RolloutDecision();
  auto started = ParseUtcTime(deployment.step_started_at);
  seen.step_seconds =
      started ? std::max(0.0, std::chrono::duration<double>(now - *started).count()) : 0;
  return (*strategy)->Judge(deployment, seen);
}

RolloutObservation Observe(const RolloutStats& stats, const DecisionPolicy* production,
                           const DecisionPolicy* canary) {
  RolloutObservation seen;
  if (production && canary) {  // the largest change in any decision's share of rows
    auto shares = [](const DecisionPolicy& policy, const std::vector<uint64_t>& counts) {
      std::map<std::string, double> share;
      const double total =
          static_cast<double>(std::accumulate(counts.begin(), counts.end(), uint64_t{0}));
      for (size_t i = 0; i < policy.decisions().size() && i < counts.size(); ++i)
        share[policy.decisions()[i]] = total > 0 ? static_cast<double>(counts[i]) / total : 0;
      return share;
    };
    auto before = shares(*production, stats.production.DecisionCounts());
    auto after = shares(*canary, stats.canary.DecisionCounts());
    for (const auto& [name, share] : after) before.try_emplace(name, 0.0);
    for (const auto& [name, share] : before) {
      auto it = after.find(name);
      const double shift = std::abs((it == after.end() ? 0.0 : it->second) - share);
      if (shift > seen.decision_shift) {
        seen.decision_shift = shift;
        seen.decision_shifted = name;
      }
    }
  }
  seen.canary_requests = stats.canary.requests();
  seen.canary_errors = stats.canary.errors();
  seen.canary_p99_ms = 1e3 * stats.canary.LatencyQuantile(0.99);
  seen.production_requests = stats.production.requests();
  seen.score_psi =
      PopulationStabilityIndex(stats.production.ScoreCounts(), stats.canary.ScoreCounts());
  return seen;
}

BackgroundWorker::Options RolloutController::WorkerOptions(const Options& options) {
  BackgroundWorker::Options worker;
  worker.name = "rollout";
  worker.logger = options.logger;
  worker.first_delay = options.poll_interval;
  return worker;
}

RolloutController::RolloutController(Options options, StoreAccess& stores, KeyRing& keys,
                                     SharedQuotas* shared_quotas)
    : options_(options),
      logger_(*options.logger),
      stores_(stores),
      keys_(keys),
      shared_quotas_(shared_quotas),
      endpoints_(std::make_shared<EndpointMap>()),
      worker_(WorkerOptions(options), [this] { return Pass(); }) {}

RolloutController::~RolloutController() { worker_.Stop(); }

Status RolloutController::Load() {
  MutexLock lock(&state_mutex_);
  std::map<std::string, int64_t> counters;
  FOPS_RETURN_IF_ERROR(stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(counters, store.ChangeCounters());
    return Status::Ok();
  }));
  counters_seen_ = std::move(counters);
  last_flush_ = std::chrono::steady_clock::now();
  ReloadEndpoints();
  ReloadKeys();
  return Status::Ok();
}

void RolloutController::Start() { worker_.Start(); }

void RolloutController::ReloadAll() {
  reload_all_.store(true, std::memory_order_release);
  worker_.Wake();
}

void RolloutController::Stop() {
  worker_.Stop();
  FlushUsage();
}

std::shared_ptr<const EndpointMap> RolloutController::Endpoints() const {
  MutexLock lock(&endpoints_mutex_);
  return endpoints_;
}

std::shared_ptr<const EndpointSnapshot> RolloutController::Find(std::string_view name) const {
  std::shared_ptr<const EndpointMap> endpoints = Endpoints();
  auto it = endpoints->find(name);
  return it == endpoints->end() ? nullptr : it->second;
}

BackgroundWorker::Duration RolloutController::Pass() {
  MutexLock lock(&state_mutex_);
  if (reload_all_.exchange(false, std::memory_order_acq_rel)) counters_seen_.clear();
  std::map<std::string, int64_t> counters;
  Status read = stores_.With([&](ServingStore& store) -> Status {
    FOPS_ASSIGN_OR_RETURN(counters, store.ChangeCounters());
    return Status::Ok();
  });
  if (options_.metadata_health) {
    if (!read.ok() && options_.metadata_health->up()) {
      logger_.Warn("serve", "cannot read the metadata store; serving what is loaded",
                   {{"error", read.message()}});
    } else if (read.ok() && !options_.metadata_health->up()) {
      logger_.Info("serve", "the metadata store answers again");
    }
    options_.metadata_health->Report(read);
  } else if (!read.ok()) {
    logger_.Warn("serve", "cannot read the metadata store; serving what is loaded",
                 {{"error", read.message()}});
  }
  if (!read.ok()) return options_.poll_interval;
  bool reload = counters["endpoints"] != counters_seen_["endpoints"];
  if (!reload && !resolved_targets_.empty() &&
      std::chrono::steady_clock::now() - last_alias_check_ >= options_.alias_interval) {
    last_alias_check_ = std::chrono::steady_clock::now();
    reload = AliasesMoved();
  }
  if (reload) ReloadEndpoints();
  if (counters["keys"] != counters_seen_["keys"]) ReloadKeys();
  counters_seen_ = counters;
  JudgeRollouts();
  if (std::chrono::steady_clock::now() - last_flush_ >= std::chrono::seconds(1)) {
    FlushUsage();
    last_flush_ = std::chrono::steady_clock::now();
    if (shared_quotas_) {
      auto forgot = shared_quotas_->Forgot();
      if (forgot.ok() && *forgot) {
        logger_.Info("serve", "the quota store lost its counters; seeding them from the store");
        ReloadKeys();
      }
    }
  }
  return options_.poll_interval;
}

bool RolloutController::AliasesMoved() {
  bool moved = false;
  (void)stores_.With([&](ServingStore& store) REQUIRES(state_mutex_) -> Status {
    for (const auto& [target, ref] : resolved_targets_) {
      auto split = SplitModelTarget(target);
      if (!split.ok()) continue;
      auto version = store.metadata().GetVersion(split->first, split->second);
      if (version.ok() && version->version != ref.version) moved = true;
    }
    return Status::Ok();
  });
  return moved;
}

void RolloutController::ReloadEndpoints() {
  std::shared_ptr<const EndpointMap> current = Endpoints();
  auto next = std::make_shared<EndpointMap>();
  std::vector<VariantRef> pins;
  resolved_targets_.clear();
  last_alias_check_ = std::chrono::steady_clock::now();
  // (The lambda runs on this thread, inside this function's hold of state_mutex_.)
  Status listed = stores_.WithLoader([&](ServingStore& store,
                                         ModelLoader& loader) REQUIRES(state_mutex_) -> Status {
    FOPS_ASSIGN_OR_RETURN(std::vector<EndpointRecord> records, store.ListEndpoints());
    for (const EndpointRecord& record : records) {
      auto snapshot = std::make_shared<EndpointSnapshot>();
      snapshot->record = record;
      auto previous = current->find(record.name);
      if (!record.multi_model.empty()) {
        // Targets resolve to versions now (an alias is followed: see AliasesMoved).
        auto multi = std::make_shared<MultiModelTargets>();
        multi->routing_field = record.multi_model.routing_field;
        auto resolve = [&](const std::string& target) REQUIRES(state_mutex_) -> VariantRef {
          auto split = SplitModelTarget(target);
          auto version = split.ok() ? store.metadata().GetVersion(split->first, split->second)
                                    : Result<ModelVersion>(split.status());
          if (!version.ok()) {
            logger_.Error("serve", "a multi-model target does not resolve; it gets no traffic",
                          {{"endpoint", record.name},
                           {"target", target},
                           {"error", version.status().message()}});
            return {};
          }
          VariantRef ref{version->model, version->version};
          resolved_targets_[target] = ref;
          return ref;
        };
        for (const auto& [value, target] : record.multi_model.routes) {
          VariantRef ref = resolve(target);
          if (!ref.empty()) multi->routes.emplace(value, ref);
        }
        if (!record.multi_model.default_target.empty())
          multi->default_target = resolve(record.multi_model.default_target);
        for (const std::string& target : record.multi_model.pinned) {
          VariantRef ref = resolve(target);
          if (!ref.empty()) pins.push_back(ref);
        }
        snapshot->multi = std::move(multi);
      }
      if (!record.production.empty()) {
        auto model = loader.Load(record.production);
        if (model.ok()) {
          snapshot->production = *model;
        } else {
          logger_.Error("serve", "cannot load the production model; keeping the previous one",
                        {{"endpoint", record.name},
                         {"model", record.production.ToString()},
                         {"error", model.status().message()}});
          if (previous != current->end()) snapshot->production = previous->second->production;
        }
      }
      if (!record.canary.empty()) {
        auto model = loader.Load(record.canary);
        if (model.ok()) {
          snapshot->canary = *model;
          snapshot->canary_fraction = record.canary_percent / 100.0;
        } else {
          logger_.Error("serve", "cannot load the canary; rolling it back",
                        {{"endpoint", record.name},
                         {"model", record.canary.ToString()},
                         {"error", model.status().message()}});
          (void)store.FinishDeployment(record.deployment_id, DeploymentStatus::kRolledBack,
                                       "the model failed to load: " + model.status().message(),
                                       "fraudops-serve");
        }
      }
      for (const VariantRef& ref : record.shadows) {
        auto model = loader.Load(ref);
        if (model.ok()) {
          snapshot->shadows.push_back(*model);
        } else {
          logger_.Error("serve", "cannot load a shadow; it gets no traffic",
                        {{"endpoint", record.name},
                         {"model", ref.ToString()},
                         {"error", model.status().message()}});
        }
      }
      // An A/B test: the loaded variants share the buckets in proportion to their weights
      // (a variant that failed to load gets none).
      // (The loader hands back a version it already holds, production's among them.)
      std::vector<double> weights;  // of the loaded arms
      double loaded_weight = 0;
      for (const WeightedVariant& v : record.ab_variants) {
        auto model = loader.Load(v.ref);
        if (!model.ok()) {
          logger_.Error("serve", "cannot load an A/B variant; it gets no traffic",
                        {{"endpoint", record.name},
                         {"model", v.ref.ToString()},
                         {"error", model.status().message()}});
          continue;
        }
        auto& stats = ab_stats_[record.name + " " + record.ab_started_at + " " + v.name()];
        if (!stats) stats = std::make_shared<VariantStats>();
        snapshot->ab.push_back({v.name(), *model, 0, stats});
        weights.push_back(v.weight);
        loaded_weight += v.weight;
      }
      double cumulative = 0;
      for (size_t i = 0; i < snapshot->ab.size(); ++i) {
        cumulative += weights[i];
        snapshot->ab[i].end =
            i + 1 == snapshot->ab.size() || loaded_weight <= 0
                ? kAbBuckets
                : static_cast<uint32_t>(std::llround(cumulative / loaded_weight * kAbBuckets));
      }
      if (!record.deployment_id.empty() && snapshot->canary) {
        auto& stats = rollouts_[record.deployment_id];
        if (!stats ||
            stats->traffic_percent != record.canary_percent) {  // a new deployment or a new step
          stats = std::make_shared<RolloutStats>();
          stats->deployment_id = record.deployment_id;
          stats->traffic_percent = record.canary_percent;
        }
        snapshot->rollout = stats;
      }
      const std::string before = previous == current->end() || !previous->second->production
                                     ? ""
                                     : previous->second->production->label();
      if (snapshot->production && snapshot->production->label() != before) {
        logger_.Info("serve", "endpoint now serves",
                     {{"endpoint", record.name},
                      {"production", snapshot->production->label()},
                      {"canary", snapshot->canary ? snapshot->canary->label() : ""}});
      }
      next->emplace(record.name, std::move(snapshot));
    }
    return Status::Ok();
  });
  if (!listed.ok()) {
    logger_.Error("serve", "cannot list endpoints", {{"error", listed.message()}});
    return;
  }
  if (options_.cache) options_.cache->Pin(pins);  // outside the store's lock: pins load models
  std::erase_if(ab_stats_, [&](const auto& entry) {
    for (const auto& [name, e] : *next) {
      for (const AbArm& arm : e->ab) {
        if (arm.stats == entry.second) return false;
      }
    }
    return true;
  });
  std::erase_if(rollouts_, [&](const auto& entry) {
    for (const auto& [name, e] : *next) {
      if (e->record.deployment_id == entry.first) return false;
    }
    return true;
  });
  {
    MutexLock lock(&endpoints_mutex_);
    endpoints_ = std::move(next);  // the swap: requests in flight keep the snapshot they hold
  }
  loaded_.store(true, std::memory_order_release);
}

void RolloutController::ReloadKeysNow() {
  MutexLock lock(&state_mutex_);
  ReloadKeys();
}

void RolloutController::ReloadKeys() {
  Status loaded = stores_.With([&](ServingStore& store) -> Status {
    const auto now = SystemClock::now();
    auto [day, month] = KeyRing::Periods(now);
    FOPS_ASSIGN_OR_RETURN(auto keys, store.ListKeys());
    FOPS_ASSIGN_OR_RETURN(auto plans, store.ListPlans());
    FOPS_ASSIGN_OR_RETURN(auto usage, store.Usage({day, month}));
    FOPS_ASSIGN_OR_RETURN(auto users, store.ListUsers());
    keys_.Load(keys, plans, usage, now, users);
    if (shared_quotas_) {  // counts Redis lost (a restart without persistence) come back from the
                           // store
      Status seeded = shared_quotas_->Seed(usage);
      if (!seeded.ok()) logger_.Warn("serve", seeded.message());
    }
    return Status::Ok();
  });
  if (!loaded.ok()) logger_.Error("serve", "cannot read API keys and plans; keeping those loaded");
}

void RolloutController::JudgeRollouts() {
  std::shared_ptr<const EndpointMap> endpoints = Endpoints();
  for (const auto& [endpoint_name, e] : *endpoints) {
    if (!e->rollout) continue;
    const std::string& name = endpoint_name;  // a structured binding cannot be captured (C++20)
    const RolloutStats& rollout = *e->rollout;
    const RolloutObservation seen =
        Observe(rollout, e->production ? e->production->policy() : nullptr,
                e->canary ? e->canary->policy() : nullptr);
    bool changed = false;
    (void)stores_.With([&](ServingStore& store) -> Status {
      FOPS_ASSIGN_OR_RETURN(DeploymentRecord deployment,
                            store.GetDeployment(rollout.deployment_id));
      const RolloutDecision decision = Decide(deployment, seen, SystemClock::now());
      switch (decision.action) {
        case RolloutAction::kKeep:
          break;
        case RolloutAction::kRollBack: {
          auto done = store.FinishDeployment(deployment.id, DeploymentStatus::kRolledBack,
                                             decision.reason, "fraudops-serve");
          changed = done.ok() && *done;
          if (changed)
            logger_.Warn("serve", "canary rolled back",
                         {{"endpoint", name}, {"reason", decision.reason}});
          break;
        }
        case RolloutAction::kAdvance: {
          auto done = store.SetTraffic(deployment.id, decision.traffic_percent, "fraudops-serve");
          changed = done.ok() && *done;
          if (changed)
            logger_.Info("serve", "linear step",
                         {{"endpoint", name}, {"percent", decision.traffic_percent}});
          break;
        }
        case RolloutAction::kPromote: {
          auto done = store.FinishDeployment(deployment.id, DeploymentStatus::kPromoted,
                                             decision.reason, "fraudops-serve");
          changed = done.ok() && *done;
          if (changed) {
            logger_.Info("serve", "canary promoted",
                         {{"endpoint", name}, {"model", deployment.target.ToString()}});
          }
          break;
        }
      }
      return Status::Ok();
    });
    if (changed) Poke();
  }
}

void RolloutController::FlushUsage() {
  auto usage = keys_.TakeUsage();
  if (usage.empty()) return;
  Status stored = stores_.With([&](ServingStore& store) { return store.AddUsage(usage); });
  if (!stored.ok()) {
    keys_.ReturnUsage(usage);
    logger_.Warn("serve", "cannot store usage counters; will retry", {{"error", stored.message()}});
  }
}

}  // namespace fraudops
