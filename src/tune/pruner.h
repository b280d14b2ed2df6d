#pragma once
/// Pruners stop a trial early from its per-round validation metric (docs/tuning.md):
///   median    — once `kMedianStartupTrials` trials have finished, from round
///               `kMedianWarmupRounds` on, a trial whose best value so far is worse than the
///               median of the complete trials' values at the same round stops; before that
///               (its start-up), a trial stops that is behind every finished trial (at least
///               `kStartupYardsticks`) at equal progress — rounds × learning rate: a trial at
///               0.05 after 100 rounds is judged against one at 0.2 after 25 — when the
///               trials' learning rates are known; and a trial ends, complete at its best
///               round, once it is out of reach of the best finished trial: its best value
///               plus its gain over the last `kReachSlopeRounds` rounds, carried on at that
///               pace for every round it has left, falls short;
///   hyperband — successive halving in brackets (asynchronous, as ASHA): each trial belongs to
///               a bracket; at its bracket's rungs (min_rounds × eta^k rounds) it goes on only
///               if its value is among the best 1/eta of the trials that reached that rung;
///   none.
/// Pruners see the curves of the trials that finished (in any process) and of those running in
/// this process.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/study_store.h"

namespace fraudops {

inline constexpr int kMedianStartupTrials = 5;
inline constexpr int kMedianWarmupRounds = 10;
/// The finished trials the median's start-up needs before it judges a trial.
inline constexpr int kStartupYardsticks = 2;
/// Out of reach reads a trial's pace over its last this many rounds (and not before them).
inline constexpr int kReachSlopeRounds = 30;

/// One trial's per-round metric: values[r] is round r's (NaN where not reported).
struct TrialCurve {
  int64_t number = 0;
  TrialState state = TrialState::kRunning;
  std::vector<double> values;
  /// The trial's learning rate (a round's shrinkage): round r is progress (r + 1) × rate.
  /// 0 when unknown: the trial is judged only round for round.
  double rate = 0;
};

struct PruneRequest {
  int64_t number = 0;              ///< the trial asking
  int round = 0;                   ///< 0-based: the round just trained
  std::span<const double> values;  ///< the trial's own values, rounds 0 … round
  std::span<const TrialCurve> others;
  bool maximize = true;
  double rate = 0;  ///< the trial's learning rate (TrialCurve::rate)
  int rounds = 0;   ///< the most rounds the trial trains; 0 when unknown
};

/// Why a trial stops now, and how it ends.
struct TrialStop {
  std::string reason;
  /// It ends complete, its model kept at its best round as early stopping keeps one, and its
  /// value counts: it trained far enough to be judged and cannot become the best. Otherwise it
  /// is pruned.
  bool complete = false;
};

struct PrunerSettings {
  int min_rounds = 10;   ///< hyperband: the smallest rung
  int max_rounds = 100;  ///< hyperband: the most rounds a trial trains
  int eta = 3;           ///< hyperband: 1/eta of the trials go on at each rung
};

class Pruner {
 public:
  virtual ~Pruner() = default;
  virtual std::string name() const = 0;
  /// Why the trial should stop now and how it ends, or nullopt to go on.
  virtual std::optional<TrialStop> ShouldStop(const PruneRequest& request) const = 0;
  /// How many trials must finish before it judges by its main rule (INT_MAX: it never stops
  /// one); the tuner runs that many cheapest first and side by side. The median's start-up can
  /// stop some of them, from the second to finish on.
  virtual int BlindTrials() const = 0;
};

class PrunerRegistry {
 public:
  /// The pruner named `name` (median, hyperband, none) for these settings; an error listing the
  /// known names otherwise.
  static Result<std::unique_ptr<Pruner>> Make(const std::string& name,
                                              const PrunerSettings& settings);
  static std::vector<std::string> Names();
};

/// Hyperband's bracket of a trial: brackets hold trials in proportion to Hyperband's own
/// budget per bracket, assigned by trial number (deterministic). Exposed for the tests.
int HyperbandBracket(int64_t number, const PrunerSettings& settings);
/// The rungs (rounds, 1-based) of a bracket.
std::vector<int> HyperbandRungs(int bracket, const PrunerSettings& settings);

}  // namespace fraudops
