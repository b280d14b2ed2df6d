#include "tune/pruner.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "core/strings.h"

namespace fraudops {

namespace {

double Loss(double value, bool maximize) { return maximize ? -value : value; }

/// The best loss among values[0 … round], NaN skipped; +inf when none.
double BestLossUpTo(std::span<const double> values, int round, bool maximize) {
  double best = std::numeric_limits<double>::infinity();
  const size_t end = std::min(values.size(), static_cast<size_t>(round) + 1);
  for (size_t r = 0; r < end; ++r) {
    if (!std::isnan(values[r])) best = std::min(best, Loss(values[r], maximize));
  }
  return best;
}

class NoPruner : public Pruner {
 public:
  std::string name() const override { return "none"; }
  int BlindTrials() const override { return std::numeric_limits<int>::max(); }
  std::optional<TrialStop> ShouldStop(const PruneRequest&) const override { return std::nullopt; }
};

/// The median pruner's start-up: before kMedianStartupTrials trials have finished, a trial
/// stops when its best value so far is behind every finished trial (at least
/// kStartupYardsticks of them) at the same progress, rounds × learning rate — not at the same
/// rounds, which would stop the slow learners, often the best models, for being slow. A
/// finished trial is read up to the rounds that made as much progress (its best up to there),
/// or whole when it ended sooner (complete: its curve; pruned: as far as it got); one whose
/// first round alone made more progress gives no verdict, and nor does a trial whose learning
/// rate is unknown. Behind every one — the pruned included — is the worst trial at its
/// progress so far.
std::optional<TrialStop> BehindEveryFinishedTrial(const PruneRequest& request,
                                                  const std::vector<const TrialCurve*>& finished) {
  if (finished.size() < static_cast<size_t>(kStartupYardsticks) || !(request.rate > 0))
    return std::nullopt;
  const double own = BestLossUpTo(request.values, request.round, request.maximize);
  const double progress = (request.round + 1) * request.rate;
  double best_other = std::numeric_limits<double>::infinity();
  for (const TrialCurve* other : finished) {
    if (!(other->rate > 0)) return std::nullopt;
    // The other trial's rounds with no more progress than this one's (slack for rounding).
    const double rounds = std::floor(progress / other->rate + 1e-9);
    if (rounds < 1) return std::nullopt;
    const double at = BestLossUpTo(
        other->values, static_cast<int>(std::min<double>(rounds, other->values.size()) - 1),
        request.maximize);
    if (!(own > at)) return std::nullopt;
    best_other = std::min(best_other, at);
  }
  return TrialStop{"round " + std::to_string(request.round + 1) + " (progress " +
                   FormatDouble(progress, 4) + " = rounds × learning rate): best value so far " +
                   FormatDouble(Loss(own, request.maximize), 6) + " is behind every one of the " +
                   std::to_string(finished.size()) +
                   " finished trials at the same progress (the best of them " +
                   FormatDouble(Loss(best_other, request.maximize), 6) + ")"};
}

/// The median pruner's start-up, second rule: a trial ends once it cannot reach the best value
/// any finished trial reached — its best so far, plus its gain over the last kReachSlopeRounds
/// rounds carried on at that pace for every round it has left, falls short. A boosting curve
/// flattens, so the straight line overestimates where it ends: a trial that could still become
/// the best goes on. It ends complete at its best round (TrialStop::complete): its value is a real
/// model's, and the median and the sampler that follow count it with the trials that ran to
/// the end — pruned, the trials behind the best would leave the median only the best trial's
/// curve to judge by, which stops nearly everything after it (BENCHMARKS.md, 2026-12-07).
std::optional<TrialStop> OutOfReach(const PruneRequest& request,
                                    const std::vector<const TrialCurve*>& finished) {
  if (finished.empty() || request.rounds <= 0 || request.round < kReachSlopeRounds)
    return std::nullopt;
  double best_finished = std::numeric_limits<double>::infinity();
  for (const TrialCurve* other : finished) {
    best_finished = std::min(
        best_finished,
        BestLossUpTo(other->values, static_cast<int>(other->values.size()) - 1, request.maximize));
  }
  const double own = BestLossUpTo(request.values, request.round, request.maximize);
  const double before =
      BestLossUpTo(request.values, request.round - kReachSlopeRounds, request.maximize);
  const double pace = (before - own) / kReachSlopeRounds;  // losses fall as values improve
  const int left = request.rounds - request.round - 1;
  const double reach = own - pace * left;
  if (!(reach > best_finished)) return std::nullopt;
  return TrialStop{
      "round " + std::to_string(request.round + 1) + ": out of reach — best value so far " +
          FormatDouble(Loss(own, request.maximize), 6) + ", at its pace over the last " +
          std::to_string(kReachSlopeRounds) + " rounds for the " + std::to_string(left) +
          " rounds left, reaches " + FormatDouble(Loss(reach, request.maximize), 6) +
          ", short of the best finished trial's " +
          FormatDouble(Loss(best_finished, request.maximize), 6) +
          "; ends complete at its best round",
      /*complete=*/true};
}

class MedianPruner : public Pruner {
 public:
  std::string name() const override { return "median"; }
  int BlindTrials() const override { return kMedianStartupTrials; }
  std::optional<TrialStop> ShouldStop(const PruneRequest& request) const override {
    if (request.round + 1 < kMedianWarmupRounds) return std::nullopt;
    std::vector<const TrialCurve*> finished;
    std::vector<double> at_round;
    for (const TrialCurve& other : request.others) {
      if (other.number == request.number) continue;
      const bool complete = other.state == TrialState::kComplete;
      if (complete || other.state == TrialState::kPruned) finished.push_back(&other);
      if (!complete) continue;
      const size_t r = static_cast<size_t>(request.round);
      if (r < other.values.size() && !std::isnan(other.values[r]))
        at_round.push_back(Loss(other.values[r], request.maximize));
    }
    if (finished.size() < static_cast<size_t>(kMedianStartupTrials)) {
      std::optional<TrialStop> behind = BehindEveryFinishedTrial(request, finished);
      return behind ? behind : OutOfReach(request, finished);
    }
    if (at_round.empty()) return std::nullopt;
    std::sort(at_round.begin(), at_round.end());
    const size_t n = at_round.size();
    const double median = n % 2 ? at_round[n / 2] : 0.5 * (at_round[n / 2 - 1] + at_round[n / 2]);
    const double own = BestLossUpTo(request.values, request.round, request.maximize);
    if (!(own > median)) return std::nullopt;
    return TrialStop{"round " + std::to_string(request.round + 1) + ": best value so far " +
                     FormatDouble(Loss(own, request.maximize), 6) + " is worse than the median " +
                     FormatDouble(Loss(median, request.maximize), 6) + " of " + std::to_string(n) +
                     " complete trials at that round"};
  }
};

class HyperbandPruner : public Pruner {
 public:
  explicit HyperbandPruner(PrunerSettings settings) : settings_(settings) {}
  std::string name() const override { return "hyperband"; }
  int BlindTrials() const override { return 0; }
  std::optional<TrialStop> ShouldStop(const PruneRequest& request) const override {
    const int bracket = HyperbandBracket(request.number, settings_);
    const std::vector<int> rungs = HyperbandRungs(bracket, settings_);
    const int rung = request.round + 1;
    if (std::find(rungs.begin(), rungs.end(), rung) == rungs.end()) return std::nullopt;
    const double own = BestLossUpTo(request.values, request.round, request.maximize);
    std::vector<double> competing = {own};
    for (const TrialCurve& other : request.others) {
      if (other.number == request.number || HyperbandBracket(other.number, settings_) != bracket ||
          other.values.size() < static_cast<size_t>(rung))
        continue;
      competing.push_back(BestLossUpTo(other.values, request.round, request.maximize));
    }
    std::sort(competing.begin(), competing.end());
    // The best 1/eta go on (at least the best one).
    const size_t keep = std::max<size_t>(1, competing.size() / static_cast<size_t>(settings_.eta));
    if (own <= competing[keep - 1]) return std::nullopt;
    return TrialStop{"round " + std::to_string(rung) + " (a rung of hyperband bracket " +
                     std::to_string(bracket) + "): value " +
                     FormatDouble(Loss(own, request.maximize), 6) + " is not among the best " +
                     std::to_string(keep) + " of the " + std::to_string(competing.size()) +
                     " trials that reached it"};
  }

 private:
  PrunerSettings settings_;
};

/// s_max + 1 brackets: bracket b's first rung is min_rounds × eta^b.
int BracketCount(const PrunerSettings& s) {
  int count = 1;
  for (long long r = s.min_rounds; r * s.eta <= s.max_rounds; r *= s.eta) ++count;
  return count;
}

}  // namespace

int HyperbandBracket(int64_t number, const PrunerSettings& settings) {
  const int count = BracketCount(settings);
  // Hyperband's trials per bracket: ceil((s_max + 1) / (s + 1) × eta^s), s = count − 1 − b
  // rungs of halving in bracket b.
  std::vector<long long> budget;
  long long total = 0;
  for (int b = 0; b < count; ++b) {
    const int s = count - 1 - b;
    budget.push_back(static_cast<long long>(
        std::ceil(static_cast<double>(count) / (s + 1) * std::pow(settings.eta, s))));
    total += budget.back();
  }
  long long slot = number % total;
  for (int b = 0; b < count; ++b) {
    if (slot < budget[static_cast<size_t>(b)]) return b;
    slot -= budget[static_cast<size_t>(b)];
  }
  return count - 1;
}

std::vector<int> HyperbandRungs(int bracket, const PrunerSettings& settings) {
  std::vector<int> rungs;
  long long r = settings.min_rounds;
  for (int b = 0; b < bracket; ++b) r *= settings.eta;
  for (; r < settings.max_rounds; r *= settings.eta) rungs.push_back(static_cast<int>(r));
  return rungs;
}

namespace {

Result<std::unique_ptr<Pruner>> MakeHyperband(const PrunerSettings& settings) {
  if (settings.eta < 2 || settings.min_rounds < 1 || settings.min_rounds >= settings.max_rounds) {
    return Status::InvalidArgument(
        "hyperband needs eta >= 2 and 1 <= min_rounds < the trial's rounds (min_rounds " +
        std::to_string(settings.min_rounds) + ", rounds " + std::to_string(settings.max_rounds) +
        ", eta " + std::to_string(settings.eta) + ")");
  }
  return std::unique_ptr<Pruner>(new HyperbandPruner(settings));
}

struct PrunerEntry {
  const char* name;
  Result<std::unique_ptr<Pruner>> (*make)(const PrunerSettings&);
};

constexpr PrunerEntry kPruners[] = {
    {"hyperband", MakeHyperband},
    {"median",
     [](const PrunerSettings&) -> Result<std::unique_ptr<Pruner>> {
       return std::unique_ptr<Pruner>(new MedianPruner());
     }},
    {"none",
     [](const PrunerSettings&) -> Result<std::unique_ptr<Pruner>> {
       return std::unique_ptr<Pruner>(new NoPruner());
     }},
};

}  // namespace

Result<std::unique_ptr<Pruner>> PrunerRegistry::Make(const std::string& name,
                                                     const PrunerSettings& settings) {
  for (const PrunerEntry& entry : kPruners) {
    if (entry.name == name) return entry.make(settings);
  }
  const std::vector<std::string> names = Names();
  return Status::InvalidArgument("pruner '" + name + "' is not known; accepted: " +
                                 Join(names, ", ") + DidYouMean(name, names));
}

std::vector<std::string> PrunerRegistry::Names() {
  std::vector<std::string> names;
  for (const PrunerEntry& entry : kPruners) names.emplace_back(entry.name);
  return names;
}

}  // namespace fraudops
