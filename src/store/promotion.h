#pragma once
/// Staged promotion (docs/governance.md#staged-promotion): endpoints carry an environment
/// (dev, staging, production) and each environment a promotion policy — conditions a version
/// must meet before it may take that environment's traffic. Conditions:
///   approved                  the version is approved
///   champion_passed           its run's champion comparison passed (register.champion_gate)
///   served:ENV:DURATION       it served (production, canary or A/B variant) on an endpoint of
///                             environment ENV for DURATION in one stretch, not rolled back
///   shadowed:ENV:DURATION     it ran as a shadow on an endpoint of environment ENV that long
/// A policy entry "a|b" is met when either is. ServingStore::Deploy checks the policy of the
/// endpoint's environment for every deployment that changes what answers (shadows are
/// exempt: they are how a version earns `shadowed`).

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace fraudops {

/// dev, staging, production.
const std::vector<std::string>& EnvironmentNames();
/// OK for "" (none) or one of EnvironmentNames(); otherwise what is accepted.
Status CheckEnvironment(const std::string& environment);

struct PromotionCondition {
  enum class Kind : uint8_t { kApproved, kChampionPassed, kServed, kShadowed };
  Kind kind = Kind::kApproved;
  std::string environment;  ///< served, shadowed
  double seconds = 0;       ///< served, shadowed
  std::string text;         ///< as written
};

struct PromotionPolicy {
  std::string environment;
  /// Every requirement must hold; a requirement holds when one of its alternatives does.
  std::vector<std::vector<PromotionCondition>> requirements;
  /// `entries` as the configuration writes them (`key` names them in errors).
  static Result<PromotionPolicy> Parse(const std::string& environment,
                                       const std::vector<std::string>& entries,
                                       const std::string& key);
};

/// A policy checked for one version: each requirement, met or not, with the evidence.
struct PromotionCheck {
  struct Requirement {
    std::string text;  ///< "served:staging:24h|shadowed:production:24h"
    bool met = false;
    std::string evidence;  ///< what was found ("served staging (fraud-staging) for 2.1 h")
  };
  std::string environment;
  std::vector<Requirement> requirements;
  bool allowed() const;
  /// "served:staging:24h (served staging (fraud-staging) for 2.1 h of 24 h); champion_passed (…)"
  std::string Unmet() const;
  nlohmann::json ToJson() const;
};

}  // namespace fraudops
