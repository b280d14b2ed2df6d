#pragma once
/// Samplers choose each trial's point of the search space from the trials so far
/// (docs/tuning.md): `random` draws uniformly; `tpe` (Tree-structured Parzen Estimator) draws
/// from where the best trials were and away from the rest, after `kTpeStartupTrials` random
/// ones. Trials still running count as bad ones for TPE (a constant liar): parallel trials,
/// in this process or others sharing the study, are pushed apart instead of all sampling the
/// same point. A sampler is deterministic: the same seed, trial number and earlier trials give
/// the same point. The first random draws can be taken cheapest first (`SampleRequest::
/// cheap_first`): the same points, in another order.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/study_store.h"
#include "tune/search_space.h"

namespace fraudops {

/// TPE draws at random until this many trials have finished (complete or pruned).
inline constexpr int kTpeStartupTrials = 10;
/// Candidates TPE draws from the good trials' density to pick the best ratio among.
inline constexpr int kTpeCandidates = 24;

struct SampleRequest {
  const SearchSpace* space = nullptr;
  /// Every trial of the study so far, finished or running, by number.
  std::span<const TrialRecord> trials;
  bool maximize = true;
  uint64_t seed = 0;
  int64_t number = 0;  ///< the trial to sample
  /// Trials 0 … cheap_first − 1 take the random draws of those trials in the order of `cost`,
  /// cheapest first (ties keep their numbers' order): the set of points is the same, so is
  /// what a sampler learns from once they finish; what changes is which run before the others
  /// — the trials a pruner cannot judge yet (docs/tuning.md). 0: each trial its own draw.
  int cheap_first = 0;
  /// A trial's estimated relative cost from its point (Trainer::TrialCost); needed with
  /// cheap_first.
  std::function<double(const nlohmann::json& point)> cost;
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::string name() const = 0;
  virtual nlohmann::json Suggest(const SampleRequest& request) const = 0;
  /// How many finished trials it takes before a suggestion depends on earlier trials at all
  /// (until then it draws at random); INT_MAX: never.
  virtual int RandomTrials() const = 0;
};

class SamplerRegistry {
 public:
  SamplerRegistry();
  /// The sampler named `name`, or an error listing the known ones.
  Result<const Sampler*> Find(const std::string& name) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, std::unique_ptr<Sampler>> samplers_;
};

/// The random generator of trial `number` in a study seeded `seed`.
uint64_t TrialSeed(uint64_t seed, int64_t number);

/// A trial's loss for ranking: its value, negated when higher is better.
inline double Loss(double value, bool maximize) { return maximize ? -value : value; }

}  // namespace fraudops
