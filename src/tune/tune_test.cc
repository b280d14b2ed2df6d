// Tuning's parts without training: search spaces checked against the trainers' parameter
// tables, the samplers on a synthetic objective with a known optimum, the pruners on made-up
// curves, and the cross-validation folds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "core/embedded_files.h"
#include "eval/svg.h"
#include "train/lgbm_params.h"
#include "train/lgbm_trainer.h"
#include "train/xgboost_trainer.h"
#include "tune/folds.h"
#include "tune/pruner.h"
#include "tune/report.h"
#include "tune/sampler.h"
#include "tune/search_space.h"

namespace fraudops {
namespace {

using nlohmann::json;

Result<SearchSpace> ParseXgb(const json& spec) {
  return SearchSpace::Parse(spec, XgboostParamSpecs(), "xgboost", "space.json", {"eval_metric"});
}

TEST(SearchSpaceTest, TheBuiltInSpacesAreValid) {
  auto xgb = ParseXgb(json::parse(embedded::xgboost_space_json()));
  ASSERT_TRUE(xgb.ok()) << xgb.status().ToString();
  auto lgbm = SearchSpace::Parse(json::parse(embedded::lgbm_space_json()), LgbmParamSpecs(), "lgbm",
                                 "space.json", {"metric"});
  ASSERT_TRUE(lgbm.ok()) << lgbm.status().ToString();
  EXPECT_GE(xgb->dimensions().size(), 5u);
  EXPECT_GE(lgbm->dimensions().size(), 5u);
}

TEST(SearchSpaceTest, AliasesBecomeTheCanonicalName) {
  auto space =
      ParseXgb({{"learning_rate", {{"type", "log_uniform"}, {"low", 0.01}, {"high", 0.3}}}});
  ASSERT_TRUE(space.ok()) << space.status().ToString();
  EXPECT_EQ(space->dimensions()[0].name, "eta");
  EXPECT_EQ(space->ToJson()["eta"]["type"], "log_uniform");
}

TEST(SearchSpaceTest, MistakesAreNamedWithWhatIsAccepted) {
  const std::pair<json, std::string> cases[] = {
      {{{"max_dept", {{"type", "int"}, {"low", 3}, {"high", 8}}}}, "did you mean 'max_depth'"},
      {{{"subsample", {{"type", "uniform"}, {"low", 0.5}, {"high", 1.5}}}}, "out of range"},
      {{{"max_depth", {{"type", "uniform"}, {"low", 3}, {"high", 8}}}},
       "declare it \"type\": \"int\""},
      {{{"eta", {{"type", "log_uniform"}, {"low", 0}, {"high", 0.3}}}}, "log scale needs low > 0"},
      {{{"eta", {{"type", "uniform"}, {"low", 0.3}, {"high", 0.1}}}}, "must be less than high"},
      {{{"eta", {{"type", "gaussian"}, {"low", 0.1}, {"high", 0.3}}}}, "accepted: uniform"},
      {{{"eta", {{"type", "uniform"}, {"low", 0.1}, {"hi", 0.3}}}},
       "/eta/hi is not a declaration key"},
      {{{"tree_method", {{"type", "categorical"}, {"choices", {"hist", "histo"}}}}},
       "'histo' is not valid"},
      {{{"eval_metric", {{"type", "categorical"}, {"choices", {"auc"}}}}}, "set by the tuner"},
      {{{"max_leaves",
         {{"type", "int"}, {"low", 8}, {"high", 64}, {"when", {{"grow_policy", "lossguide"}}}}}},
       "'grow_policy' is not a dimension of the space"},
      {{{"eta", {{"type", "uniform"}, {"low", 0.1}, {"high", 0.3}}},
        {"max_depth", {{"type", "int"}, {"low", 3}, {"high", 8}, {"when", {{"eta", 0.2}}}}}},
       "must be a categorical dimension"},
  };
  for (const auto& [spec, expected] : cases) {
    auto space = ParseXgb(spec);
    ASSERT_FALSE(space.ok()) << spec.dump();
    EXPECT_NE(space.status().message().find(expected), std::string::npos)
        << spec.dump() << " → " << space.status().message();
    EXPECT_NE(space.status().message().find("space.json"), std::string::npos);
  }
}

TEST(SearchSpaceTest, AConditionalDimensionIsPresentOnlyUnderItsParentsValue) {
  auto space =
      ParseXgb({{"grow_policy", {{"type", "categorical"}, {"choices", {"depthwise", "lossguide"}}}},
                {"max_leaves",
                 {{"type", "int"},
                  {"low", 8},
                  {"high", 256},
                  {"log", true},
                  {"when", {{"grow_policy", "lossguide"}}}}},
                {"max_depth", {{"type", "int"}, {"low", 2}, {"high", 10}}}});
  ASSERT_TRUE(space.ok()) << space.status().ToString();
  std::mt19937_64 rng(3);
  int lossguide = 0;
  for (int i = 0; i < 200; ++i) {
    const json point = space->SampleRandom(rng);
    const bool with_leaves = point["grow_policy"] == "lossguide";
    lossguide += with_leaves;
    EXPECT_EQ(point.contains("max_leaves"), with_leaves) << point.dump();
    if (with_leaves) {
      EXPECT_GE(point["max_leaves"].get<int>(), 8);
      EXPECT_LE(point["max_leaves"].get<int>(), 256);
    }
    EXPECT_TRUE(space->Contains(point)) << point.dump();
  }
  EXPECT_GT(lossguide, 50);
  EXPECT_LT(lossguide, 150);
  EXPECT_FALSE(
      space->Contains({{"grow_policy", "depthwise"}, {"max_depth", 4}, {"max_leaves", 8}}));
  EXPECT_FALSE(space->Contains({{"grow_policy", "lossguide"}, {"max_depth", 4}}));
  EXPECT_FALSE(space->Contains({{"grow_policy", "depthwise"}, {"max_depth", 11}}));
}

/// A synthetic objective with its optimum (0) at x = 1.5, y = 0.01, z = -2, k = "b".
double Synthetic(const json& p) {
  const double x = p["x"].get<double>(), y = std::log10(p["y"].get<double>());
  const double z = p["z"].get<double>();
  return -(x - 1.5) * (x - 1.5) - (y + 2) * (y + 2) - (z + 2) * (z + 2) - (p["k"] == "b" ? 0 : 1);
}

SearchSpace SyntheticSpace() {
  // Parameters of xgboost stand for the axes: eta = x … only the names are borrowed.
  const std::vector<ParamSpec> specs = {
      {"x", ParamKind::kDouble, -5, 5, "", ""},
      {"y", ParamKind::kDouble, 1e-4, 100, "", ""},
      {"z", ParamKind::kDouble, -5, 5, "", ""},
      {"k", ParamKind::kString, 0, 0, "", "", {}, {"a", "b", "c"}}};
  auto space = SearchSpace::Parse({{"x", {{"type", "uniform"}, {"low", -5}, {"high", 5}}},
                                   {"y", {{"type", "log_uniform"}, {"low", 1e-3}, {"high", 10}}},
                                   {"z", {{"type", "uniform"}, {"low", -5}, {"high", 5}}},
                                   {"k", {{"type", "categorical"}, {"choices", {"a", "b", "c"}}}}},
                                  specs, "synthetic", "test");
  EXPECT_TRUE(space.ok()) << space.status().ToString();
  return std::move(*space);
}

/// The best trial after `trials` trials of `sampler` on the synthetic objective.
TrialRecord BestAfter(const Sampler& sampler, const SearchSpace& space, int trials, uint64_t seed) {
  std::vector<TrialRecord> done;
  TrialRecord best;
  best.value = -1e9;
  for (int n = 0; n < trials; ++n) {
    SampleRequest request{&space, done, /*maximize=*/true, seed, n, /*cheap_first=*/0, {}};
    TrialRecord trial;
    trial.number = n;
    trial.params = sampler.Suggest(request);
    EXPECT_TRUE(space.Contains(trial.params)) << trial.params.dump();
    trial.value = Synthetic(trial.params);
    trial.state = TrialState::kComplete;
    if (*trial.value > *best.value) best = trial;
    done.push_back(std::move(trial));
  }
  return best;
}

TEST(SamplerTest, TpeFindsTheOptimumOfASyntheticObjectiveBetterThanRandom) {
  SamplerRegistry samplers;
  const SearchSpace space = SyntheticSpace();
  double random_sum = 0, tpe_sum = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const TrialRecord random = BestAfter(**samplers.Find("random"), space, 80, seed);
    const TrialRecord tpe = BestAfter(**samplers.Find("tpe"), space, 80, seed);
    random_sum += *random.value;
    tpe_sum += *tpe.value;
    // Near the optimum on the continuous axes (x = 1.5, y = 0.01, z = -2). Univariate TPE can
    // settle on a categorical value the first good trials had (k = "b" is worth 1), as Optuna's
    // does.
    EXPECT_NEAR(tpe.params["x"].get<double>(), 1.5, 0.5) << "seed " << seed;
    EXPECT_NEAR(std::log10(tpe.params["y"].get<double>()), -2, 0.5) << "seed " << seed;
    EXPECT_NEAR(tpe.params["z"].get<double>(), -2, 0.5) << "seed " << seed;
    EXPECT_GT(*tpe.value, -1.25) << "seed " << seed;
  }
  EXPECT_GT(tpe_sum / 5, random_sum / 5 + 0.5)
      << "TPE " << tpe_sum / 5 << ", random " << random_sum / 5;
}

TEST(SamplerTest, SuggestionsAreDeterministicGivenTheSeedNumberAndTrials) {
  SamplerRegistry samplers;
  const SearchSpace space = SyntheticSpace();
  for (const char* name : {"random", "tpe"}) {
    EXPECT_EQ(BestAfter(**samplers.Find(name), space, 25, 9).params,
              BestAfter(**samplers.Find(name), space, 25, 9).params)
        << name;
    EXPECT_NE(BestAfter(**samplers.Find(name), space, 25, 9).params,
              BestAfter(**samplers.Find(name), space, 25, 10).params)
        << name;
  }
  auto unknown = samplers.Find("tp");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("did you mean 'tpe'"), std::string::npos);
}

TEST(SamplerTest, TpeSpreadsParallelTrialsInsteadOfRepeatingThePoint) {
  // After 20 complete trials, 6 trials are sampled while the earlier ones still run: each
  // sees the others as running (bad, by the constant liar), so they land apart.
  SamplerRegistry samplers;
  const Sampler& tpe = **samplers.Find("tpe");
  const SearchSpace space = SyntheticSpace();
  std::vector<TrialRecord> trials;
  std::mt19937_64 rng(5);
  for (int n = 0; n < 20; ++n) {
    TrialRecord trial;
    trial.number = n;
    trial.params = space.SampleRandom(rng);
    trial.value = Synthetic(trial.params);
    trial.state = TrialState::kComplete;
    trials.push_back(std::move(trial));
  }
  std::set<std::string> points;
  for (int n = 20; n < 26; ++n) {
    SampleRequest request{&space, trials, true, 11, n, /*cheap_first=*/0, {}};
    TrialRecord running;
    running.number = n;
    running.params = tpe.Suggest(request);
    running.state = TrialState::kRunning;
    points.insert(running.params.dump());
    trials.push_back(std::move(running));
  }
  EXPECT_EQ(points.size(), 6u);
}

TEST(SamplerTest, CheapFirstRunsTheSameRandomDrawsCheapestFirst) {
  // With cheap_first 10, trials 0–9 take the draws of trials 0–9 in the order of the cost
  // (here y, cheapest = smallest); trial 10 on is as without.
  SamplerRegistry samplers;
  const SearchSpace space = SyntheticSpace();
  auto cost = [](const json& point) { return point["y"].get<double>(); };
  for (const char* name : {"random", "tpe"}) {
    const Sampler& sampler = **samplers.Find(name);
    std::vector<TrialRecord> own, ordered;
    for (int n = 0; n < 12; ++n) {
      SampleRequest request{&space, own, true, 7, n, /*cheap_first=*/0, {}};
      SampleRequest cheap{&space, ordered, true, 7, n, /*cheap_first=*/10, cost};
      TrialRecord a, b;
      a.number = b.number = n;
      a.params = sampler.Suggest(request);
      b.params = sampler.Suggest(cheap);
      a.state = b.state = TrialState::kComplete;
      // The same value for both, so TPE's trial 10 on learns the same from either order.
      a.value = b.value = Synthetic(n < 10 ? a.params : b.params);
      own.push_back(std::move(a));
      ordered.push_back(std::move(b));
    }
    std::multiset<std::string> drawn, taken;
    for (int n = 0; n < 10; ++n) {
      drawn.insert(own[n].params.dump());
      taken.insert(ordered[n].params.dump());
      if (n > 0) {
        EXPECT_LE(cost(ordered[n - 1].params), cost(ordered[n].params)) << name << n;
      }
    }
    EXPECT_EQ(drawn, taken) << name;
    EXPECT_NE(own[0].params, ordered[0].params)
        << name << ": seed 7's first draw is not its cheapest";
    if (std::string(name) == "random") {
      for (int n = 10; n < 12; ++n) EXPECT_EQ(own[n].params, ordered[n].params) << n;
    }
  }
}

/// A trainer's cost estimate of `base` with `over`'s values over it.
double CostOf(const Trainer& trainer, json base, const json& over) {
  base.update(over);
  return trainer.TrialCost(base);
}

TEST(TrainerCostTest, SlowerLearningDeeperTreesAndMoreRoundsCostMore) {
  const XgboostTrainer xgboost;
  const json base = {
      {"num_round", 300}, {"early_stopping_rounds", 30}, {"eta", 0.1}, {"max_depth", 6}};
  auto with = [&](const json& over) { return CostOf(xgboost, base, over); };
  EXPECT_LT(with({{"eta", 0.3}}), with({{"eta", 0.1}}));
  EXPECT_LT(with({{"eta", 0.1}}), with({{"eta", 0.03}}));
  // Below the rate at which it would train every round anyway, a slower one costs no more.
  EXPECT_EQ(with({{"eta", 0.02}}), with({{"eta", 0.01}}));
  EXPECT_LT(with({{"max_depth", 3}}), with({{"max_depth", 10}}));
  // Without early stopping every round is trained, whatever the rate.
  EXPECT_EQ(with({{"early_stopping_rounds", 0}, {"eta", 0.3}}),
            with({{"early_stopping_rounds", 0}, {"eta", 0.01}}));
  EXPECT_LT(with({{"early_stopping_rounds", 0}, {"num_round", 100}}),
            with({{"early_stopping_rounds", 0}}));
  // Lossguide trees of 8 leaves are 3 levels deep, below max_depth 6.
  EXPECT_EQ(with({{"grow_policy", "lossguide"}, {"max_leaves", 8}}), with({{"max_depth", 3}}));
  EXPECT_EQ(with({{"grow_policy", "lossguide"}, {"max_leaves", 8}, {"max_depth", 0}}),
            with({{"max_depth", 3}}));

  const LgbmTrainer lgbm;
  const json lgbm_base = {{"num_iterations", 300},
                          {"early_stopping_round", 30},
                          {"learning_rate", 0.1},
                          {"num_leaves", 31}};
  auto lgbm_with = [&](const json& over) { return CostOf(lgbm, lgbm_base, over); };
  EXPECT_LT(lgbm_with({{"learning_rate", 0.2}}), lgbm_with({{"learning_rate", 0.05}}));
  EXPECT_LT(lgbm_with({{"num_leaves", 8}}), lgbm_with({{"num_leaves", 255}}));
  EXPECT_EQ(lgbm_with({{"num_leaves", 255}, {"max_depth", 3}}), lgbm_with({{"num_leaves", 8}}));
}

TrialCurve Curve(int64_t number, TrialState state, std::vector<double> values) {
  return {number, state, std::move(values)};
}

TEST(PrunerTest, MedianStopsATrialWorseThanTheMedianOfCompleteTrialsAtThatRound) {
  auto pruner = PrunerRegistry::Make("median", {});
  ASSERT_TRUE(pruner.ok());
  std::vector<TrialCurve> others;
  for (int n = 0; n < 5; ++n)
    others.push_back(Curve(n, TrialState::kComplete, std::vector<double>(30, 0.80 + 0.02 * n)));
  // Median of the others at every round: 0.84.
  std::vector<double> bad(20, 0.70), good(20, 0.90);
  PruneRequest request;
  request.number = 9;
  request.others = others;
  request.round = 19;
  request.values = bad;
  auto why = (*pruner)->ShouldStop(request);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->reason.find("median 0.84"), std::string::npos) << why->reason;
  request.values = good;
  EXPECT_FALSE((*pruner)->ShouldStop(request).has_value());
  // Not during the warm-up rounds, nor before enough trials completed.
  request.values = bad;
  request.round = kMedianWarmupRounds - 2;
  EXPECT_FALSE((*pruner)->ShouldStop(request).has_value());
  request.round = 19;
  std::vector<TrialCurve> few(others.begin(), others.begin() + kMedianStartupTrials - 1);
  request.others = few;
  EXPECT_FALSE((*pruner)->ShouldStop(request).has_value());
  // Lower is better for a minimized metric: the same values flip.
  request.others = others;
  request.maximize = false;
  EXPECT_FALSE((*pruner)->ShouldStop(request).has_value());
  request.values = good;
  EXPECT_TRUE((*pruner)->ShouldStop(request).has_value());
}

/// A curve that rises with progress (rounds × rate) towards `top`.
TrialCurve Learner(int64_t number, TrialState state, double rate, double top, int rounds) {
  std::vector<double> values;
  for (int r = 0; r < rounds; ++r) values.push_back(top * (1 - std::exp(-(r + 1) * rate)));
  return {number, state, std::move(values), rate};
}

TEST(PrunerTest, InItsStartUpTheMedianStopsATrialBehindEveryFinishedOneAtEqualProgress) {
  auto pruner = PrunerRegistry::Make("median", {});
  ASSERT_TRUE(pruner.ok());
  // Two finished trials: a fast learner (rate 0.2, 40 rounds, complete) and a slower one
  // (0.1, 80 rounds) pruned there.
  std::vector<TrialCurve> finished = {Learner(0, TrialState::kComplete, 0.2, 0.85, 40),
                                      Learner(1, TrialState::kPruned, 0.1, 0.80, 80)};
  auto judge = [&](const TrialCurve& trial, int round, bool maximize = true) {
    PruneRequest request;
    request.number = trial.number;
    request.round = round;
    request.values = std::span<const double>(trial.values).first(static_cast<size_t>(round) + 1);
    request.rate = trial.rate;
    request.others = finished;
    request.maximize = maximize;
    return (*pruner)->ShouldStop(request);
  };
  // A poor trial at the fast one's rate is behind both at every progress: it stops once warm.
  const TrialCurve poor = Learner(9, TrialState::kRunning, 0.2, 0.5, 100);
  EXPECT_FALSE(judge(poor, kMedianWarmupRounds - 2).has_value());
  auto why = judge(poor, kMedianWarmupRounds - 1);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->reason.find("progress 2 = rounds × learning rate"), std::string::npos)
      << why->reason;
  EXPECT_NE(why->reason.find("behind every one of the 2 finished trials"), std::string::npos)
      << why->reason;
  // A slow learner (rate 0.05) that ends best: at round 20 it is behind both at equal rounds,
  // not at equal progress, and goes on; so does a trial between the two.
  const TrialCurve slow = Learner(10, TrialState::kRunning, 0.05, 0.95, 300);
  for (int round : {19, 40, 120, 299}) EXPECT_FALSE(judge(slow, round).has_value()) << round;
  EXPECT_FALSE(judge(Learner(11, TrialState::kRunning, 0.2, 0.82, 100), 30).has_value());
  // Past the progress a finished trial ended at, its best counts: a trial that levels off
  // under both trials' bests stops, though it led them early on.
  TrialCurve plateau = Learner(12, TrialState::kRunning, 0.1, 0.9, 120);
  for (double& value : plateau.values) value = std::min(value, 0.78);
  EXPECT_FALSE(judge(plateau, 9).has_value());  // progress 1: ahead of both
  EXPECT_TRUE(judge(plateau, 99).has_value());  // progress 10: past both ends, behind both
  // A trial slower than every finished one has no verdict before it passes one round of theirs.
  const TrialCurve crawl = Learner(13, TrialState::kRunning, 0.009, 0.1, 30);
  EXPECT_FALSE(judge(crawl, 9).has_value());  // progress 0.09 < 0.1
  EXPECT_TRUE(judge(crawl, 29).has_value());  // progress 0.27
  // Unknown learning rates (0): no verdict before the median's trials have finished.
  TrialCurve unknown = poor;
  unknown.rate = 0;
  EXPECT_FALSE(judge(unknown, 30).has_value());
  // Lower is better for a minimized metric: the poor trial leads.
  EXPECT_FALSE(judge(poor, 30, false).has_value());
  // One finished trial is no yardstick, nor is a running one.
  finished[1].state = TrialState::kRunning;
  EXPECT_FALSE(judge(poor, 30).has_value());
  // Once kMedianStartupTrials have finished — pruned ones count — the median of the complete
  // trials at the same round judges: here trial 0's alone, which the slow learner is behind.
  finished[1].state = TrialState::kPruned;
  for (int n = 2; n < kMedianStartupTrials; ++n)
    finished.push_back(Learner(n, TrialState::kPruned, 0.2, 0.3, 12));
  why = judge(slow, 19);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->reason.find("worse than the median 0.834"), std::string::npos) << why->reason;
  EXPECT_NE(why->reason.find("of 1 complete trials"), std::string::npos) << why->reason;
}

TEST(PrunerTest, InItsStartUpTheMedianEndsATrialOutOfReachOfTheBestAsComplete) {
  auto pruner = PrunerRegistry::Make("median", {});
  ASSERT_TRUE(pruner.ok());
  // One finished trial, complete at 0.85 — the best so far.
  std::vector<TrialCurve> finished = {Learner(0, TrialState::kComplete, 0.2, 0.85, 40)};
  auto judge = [&](const std::vector<double>& values, int round, int rounds, bool maximize = true) {
    PruneRequest request;
    request.number = 9;
    request.round = round;
    request.values = std::span<const double>(values).first(static_cast<size_t>(round) + 1);
    request.rounds = rounds;
    request.others = finished;
    request.maximize = maximize;
    return (*pruner)->ShouldStop(request);
  };
  // 0.60 at round 100, gaining 0.0005 a round over the last 30: 200 more rounds reach 0.70.
  std::vector<double> flat(300);
  for (int r = 0; r < 300; ++r) flat[static_cast<size_t>(r)] = 0.55 + 0.0005 * std::min(r, 100);
  auto why = judge(flat, 99, 300);
  ASSERT_TRUE(why.has_value());
  EXPECT_TRUE(why->complete);
  EXPECT_NE(why->reason.find("round 100: out of reach"), std::string::npos) << why->reason;
  EXPECT_NE(why->reason.find("reaches 0.6995"), std::string::npos) << why->reason;
  EXPECT_NE(why->reason.find("best finished trial's 0.849"), std::string::npos) << why->reason;
  // At that pace 600 more rounds would pass the best: it goes on.
  EXPECT_FALSE(judge(flat, 99, 700).has_value());
  // Not before the pace can be read, nor when the trial's rounds are unknown.
  EXPECT_FALSE(judge(flat, kReachSlopeRounds - 1, 300).has_value());
  EXPECT_FALSE(judge(flat, 99, 0).has_value());
  // A steep learner, behind now but able to pass the best: it goes on.
  std::vector<double> steep(300);
  for (int r = 0; r < 300; ++r) steep[static_cast<size_t>(r)] = 0.3 + 0.002 * r;
  EXPECT_FALSE(judge(steep, 99, 300).has_value());
  // No finished trial, no yardstick.
  finished.clear();
  EXPECT_FALSE(judge(flat, 99, 300).has_value());
  // A minimized metric: the losses fall, and a trial that cannot get below the best stops.
  finished = {Curve(0, TrialState::kComplete, std::vector<double>(40, 0.10))};
  std::vector<double> loss(300);
  for (int r = 0; r < 300; ++r) loss[static_cast<size_t>(r)] = 0.40 - 0.0005 * std::min(r, 100);
  why = judge(loss, 99, 300, /*maximize=*/false);
  ASSERT_TRUE(why.has_value());
  EXPECT_TRUE(why->complete);
  EXPECT_FALSE(judge(loss, 99, 300, /*maximize=*/true).has_value());
  // Once kMedianStartupTrials have finished the median judges, and its stops prune.
  finished = {};
  for (int n = 0; n < kMedianStartupTrials; ++n)
    finished.push_back(Curve(n, TrialState::kComplete, std::vector<double>(300, 0.8)));
  why = judge(flat, 99, 300);
  ASSERT_TRUE(why.has_value());
  EXPECT_FALSE(why->complete);
  EXPECT_NE(why->reason.find("median"), std::string::npos) << why->reason;
}

TEST(PrunerTest, HyperbandKeepsTheBestThirdAtEachRungOfABracket) {
  PrunerSettings settings;
  settings.min_rounds = 10;
  settings.max_rounds = 100;
  settings.eta = 3;
  EXPECT_EQ(HyperbandRungs(0, settings), (std::vector<int>{10, 30, 90}));
  EXPECT_EQ(HyperbandRungs(1, settings), (std::vector<int>{30, 90}));
  // Brackets get trials in proportion to Hyperband's own budget: the most aggressive most.
  std::map<int, int> per_bracket;
  for (int64_t n = 0; n < 1000; ++n) ++per_bracket[HyperbandBracket(n, settings)];
  EXPECT_EQ(per_bracket.size(), 3u);
  EXPECT_GT(per_bracket[0], per_bracket[1]);
  EXPECT_GT(per_bracket[1], per_bracket[2]);

  auto pruner = PrunerRegistry::Make("hyperband", settings);
  ASSERT_TRUE(pruner.ok());
  std::vector<int64_t> bracket0;
  for (int64_t n = 0; bracket0.size() < 10; ++n) {
    if (HyperbandBracket(n, settings) == 0) bracket0.push_back(n);
  }
  // Nine trials reached round 10 with values 0.1 … 0.9; the tenth asks at its first rung.
  std::vector<TrialCurve> others;
  for (int i = 0; i < 9; ++i) {
    others.push_back(Curve(bracket0[static_cast<size_t>(i)], TrialState::kPruned,
                           std::vector<double>(10, 0.1 * (i + 1))));
  }
  PruneRequest request;
  request.number = bracket0[9];
  request.round = 9;  // the 10th round: the first rung
  request.others = others;
  std::vector<double> values(10, 0.65);  // 0.7, 0.8, 0.9 are better: not among the best 10/3
  request.values = values;
  auto why = (*pruner)->ShouldStop(request);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->reason.find("not among the best 3 of the 10"), std::string::npos) << why->reason;
  values.assign(10, 0.85);  // only 0.9 is better: goes on
  request.values = values;
  EXPECT_FALSE((*pruner)->ShouldStop(request).has_value());
  request.round = 14;  // not a rung
  values.assign(15, 0.01);
  request.values = values;
  EXPECT_FALSE((*pruner)->ShouldStop(request).has_value());

  auto refused = PrunerRegistry::Make("hyperband", {100, 50, 3});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("min_rounds"), std::string::npos);
  auto unknown = PrunerRegistry::Make("medain", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("did you mean 'median'"), std::string::npos);
}

TEST(PrunerTest, HyperbandFindsTheOptimumOfASyntheticStudyForAFractionOfTheRounds) {
  // A trial's curve rises to its quality 1 - (x - 0.3)², the same shape for every trial, so a
  // trial's rank at any rung is its final rank: successive halving must keep the best.
  PrunerSettings settings;
  settings.min_rounds = 5;
  settings.max_rounds = 80;
  settings.eta = 3;
  auto pruner = PrunerRegistry::Make("hyperband", settings);
  ASSERT_TRUE(pruner.ok());
  SamplerRegistry samplers;
  const std::vector<ParamSpec> specs = {{"x", ParamKind::kDouble, 0, 1, "", ""}};
  auto space = SearchSpace::Parse({{"x", {{"type", "uniform"}, {"low", 0}, {"high", 1}}}}, specs,
                                  "synthetic", "test");
  ASSERT_TRUE(space.ok());
  std::vector<TrialRecord> trials;
  std::vector<TrialCurve> curves;
  long long rounds_spent = 0;
  double best = -1, best_x = -1;
  for (int64_t n = 0; n < 60; ++n) {
    SampleRequest request{&*space, trials, true, 3, n, /*cheap_first=*/0, {}};
    TrialRecord trial;
    trial.number = n;
    trial.params = (**samplers.Find("random")).Suggest(request);
    const double x = trial.params["x"].get<double>(), quality = 1 - (x - 0.3) * (x - 0.3);
    std::vector<double> values;
    trial.state = TrialState::kComplete;
    for (int round = 0; round < settings.max_rounds; ++round) {
      values.push_back(quality * (1 - std::pow(0.5, (round + 1) / 10.0)));
      ++rounds_spent;
      PruneRequest prune{n, round, values, curves, true};
      if ((*pruner)->ShouldStop(prune)) {
        trial.state = TrialState::kPruned;
        break;
      }
    }
    if (trial.state == TrialState::kComplete) {
      trial.value = values.back();
      if (*trial.value > best) {
        best = *trial.value;
        best_x = x;
      }
    }
    curves.push_back({n, trial.state, values});
    trials.push_back(std::move(trial));
  }
  // The best of 60 uniform draws is near 0.3; hyperband kept it, and spent under half the
  // rounds of training every trial fully.
  double nearest = 1;
  for (const TrialRecord& trial : trials)
    nearest = std::min(nearest, std::abs(trial.params["x"].get<double>() - 0.3));
  EXPECT_NEAR(best_x, 0.3, nearest + 1e-12);
  EXPECT_LT(rounds_spent, 60 * settings.max_rounds / 2) << rounds_spent;
}

TEST(FoldsTest, StratifiedFoldsAreDisjointCoverEveryRowAndKeepTheClassBalance) {
  std::vector<float> labels(1000, 0.0f);
  for (size_t i = 0; i < labels.size(); i += 20) labels[i] = 1.0f;  // 50 positives
  auto folds = StratifiedFolds(labels, 5, 7);
  ASSERT_TRUE(folds.ok()) << folds.status().ToString();
  ASSERT_EQ(folds->size(), 5u);
  std::vector<int> seen(labels.size(), 0);
  for (const Fold& fold : *folds) {
    EXPECT_EQ(fold.train.size() + fold.validation.size(), labels.size());
    std::set<uint32_t> train(fold.train.begin(), fold.train.end());
    size_t positives = 0;
    for (uint32_t row : fold.validation) {
      EXPECT_FALSE(train.count(row)) << row;
      ++seen[row];
      positives += labels[row] > 0.5f;
    }
    EXPECT_EQ(positives, 10u);  // 50 / 5 in every fold
    EXPECT_EQ(fold.validation.size(), 200u);
  }
  for (int count : seen) EXPECT_EQ(count, 1);

  auto too_few = StratifiedFolds(std::vector<float>{1, 0, 0, 0, 0, 0}, 3, 1);
  ASSERT_FALSE(too_few.ok());
  EXPECT_NE(too_few.status().message().find("at least 3 rows of each class"), std::string::npos);
  EXPECT_FALSE(StratifiedFolds(labels, 1, 1).ok());
}

TEST(FoldsTest, ANegativeSampleKeepsEveryPositiveAndWeighsItsNegativesUpToTheirTotal) {
  std::vector<float> labels(10000, 0.0f);
  for (size_t i = 0; i < labels.size(); i += 100) labels[i] = 1.0f;  // 100 positives
  const NegativeSample sample = SampleNegatives(labels, 20, 500, 7);
  ASSERT_EQ(sample.negatives, 9900u);
  ASSERT_EQ(sample.kept_negatives, 2000u);  // 20 a positive, over the floor of 500
  ASSERT_EQ(sample.rows.size(), 2100u);
  ASSERT_EQ(sample.weights.size(), 2100u);
  EXPECT_TRUE(std::is_sorted(sample.rows.begin(), sample.rows.end()));
  EXPECT_EQ(std::adjacent_find(sample.rows.begin(), sample.rows.end()), sample.rows.end());
  size_t positives = 0;
  double negative_weight = 0;
  for (size_t i = 0; i < sample.rows.size(); ++i) {
    if (labels[sample.rows[i]] > 0.5f) {
      ++positives;
      EXPECT_EQ(sample.weights[i], 1.0f);
    } else {
      negative_weight += sample.weights[i];
    }
  }
  EXPECT_EQ(positives, 100u);
  EXPECT_NEAR(negative_weight, 9900, 1e-2) << "the drawn negatives stand for all of them";
  // The seed decides the draw, and only the seed.
  EXPECT_EQ(SampleNegatives(labels, 20, 500, 7).rows, sample.rows);
  EXPECT_NE(SampleNegatives(labels, 20, 500, 8).rows, sample.rows);
  // The floor, and no sample where it would keep most negatives, or nothing is asked.
  EXPECT_EQ(SampleNegatives(labels, 1, 3000, 7).kept_negatives, 3000u);
  EXPECT_EQ(SampleNegatives(labels, 49, 500, 7).kept_negatives, 4900u);
  EXPECT_TRUE(SampleNegatives(labels, 50, 500, 7).rows.empty()) << "5,000 of 9,900: over half";
  EXPECT_TRUE(SampleNegatives(labels, 0, 500, 7).rows.empty());
  EXPECT_TRUE(SampleNegatives(std::vector<float>(1000, 0.0f), 20, 10, 7).rows.empty());
}

TEST(FoldsTest, TimeFoldsNeverTrainOnTheFuture) {
  // Times out of order, with runs of equal times that a cut must not separate.
  std::mt19937_64 rng(4);
  std::vector<double> times(600);
  std::vector<float> labels(600);
  for (size_t i = 0; i < times.size(); ++i) {
    times[i] = static_cast<double>(rng() % 200);
    labels[i] = i % 10 == 0 ? 1.0f : 0.0f;
  }
  auto folds = TimeFolds(times, labels, 4);
  ASSERT_TRUE(folds.ok()) << folds.status().ToString();
  ASSERT_EQ(folds->size(), 4u);
  size_t previous_train = 0;
  for (const Fold& fold : *folds) {
    double latest_train = -1, earliest_validation = 1e9;
    for (uint32_t row : fold.train) latest_train = std::max(latest_train, times[row]);
    for (uint32_t row : fold.validation)
      earliest_validation = std::min(earliest_validation, times[row]);
    EXPECT_LT(latest_train, earliest_validation);
    EXPECT_GT(fold.train.size(), previous_train);  // forward chaining: the past grows
    previous_train = fold.train.size();
  }
  times[3] = std::nan("");
  auto missing = TimeFolds(times, labels, 4);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("row 4 has no time"), std::string::npos);
}

TEST(StudyReportTest, ImportanceFindsTheParameterThatMattersAndTheReportDrawsTheStudy) {
  TuneResult study;
  study.study.name = "s<1>";
  study.study.algorithm = "xgboost";
  study.study.definition = {
      {"objective", "pr_auc"},
      {"direction", "maximize"},
      {"round_metric", "aucpr"},
      {"strategy", "tpe"},
      {"pruner", "median"},
      {"space",
       {{"eta", {{"type", "log_uniform"}, {"low", 0.01}, {"high", 0.3}}},
        {"max_depth", {{"type", "int"}, {"low", 2}, {"high", 9}}},
        {"booster", {{"type", "categorical"}, {"choices", {"gbtree", "dart"}}}}}}};
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int n = 0; n < 40; ++n) {
    TrialRecord trial;
    trial.number = n;
    const double eta = 0.01 * std::pow(30.0, unit(rng));
    trial.params = {{"eta", eta},
                    {"max_depth", 2 + static_cast<int>(unit(rng) * 8)},
                    {"booster", unit(rng) < 0.5 ? "gbtree" : "dart"}};
    // Only eta matters (and a little noise).
    trial.value = 0.9 - 0.5 * std::abs(std::log10(eta) + 1.3) + 0.001 * unit(rng);
    trial.state = n % 7 == 6 ? TrialState::kPruned : TrialState::kComplete;
    if (trial.state == TrialState::kPruned) trial.value.reset();
    trial.detail = {{"curve", {{0, 0.5}, {1, 0.6}, {2, 0.65}}}, {"rounds", {3}}};
    if (!study.best || (trial.value && *trial.value > *study.best->value)) {
      if (trial.value) study.best = trial;
    }
    study.trials.push_back(std::move(trial));
  }
  const auto importance = ParameterImportance(study);
  ASSERT_EQ(importance.size(), 3u);
  EXPECT_EQ(importance[0].first, "eta");
  EXPECT_GT(importance[0].second, 0.8);
  double total = 0;
  for (const auto& [name, share] : importance) total += share;
  EXPECT_NEAR(total, 1.0, 1e-9);

  const std::string html = StudyReportHtml(study);
  EXPECT_NE(html.find("Tuning study s&lt;1&gt;"), std::string::npos);
  EXPECT_NE(html.find("Optimization history"), std::string::npos);
  EXPECT_NE(html.find("Parallel coordinates"), std::string::npos);
  EXPECT_NE(html.find("Parameter importance"), std::string::npos);
  EXPECT_NE(html.find("Validation aucpr by round"), std::string::npos);
  EXPECT_NE(html.find("Best trial: #" + std::to_string(study.best->number)), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  size_t rows = 0;
  for (size_t at = html.find("<tr><td>"); at != std::string::npos;
       at = html.find("<tr><td>", at + 1))
    ++rows;
  EXPECT_EQ(rows, 3u + 40u);  // the best trial's 3 parameters, then every trial
  // The trials table shows a trial's parameters as name=value to 4 digits (the best trial's
  // own table keeps them whole).
  const std::string first = ParamsForPeople(study.trials[0].params);
  EXPECT_EQ(first.find('{'), std::string::npos) << first;
  EXPECT_NE(html.find(first), std::string::npos) << first;
  EXPECT_EQ(ParamsForPeople({{"eta", 0.0123456789}, {"max_depth", 7}, {"booster", "dart"}}),
            "booster=dart eta=0.01235 max_depth=7");
  // Trial numbers and rounds are marked on whole numbers.
  EXPECT_EQ(svg::IntegerTicks(1, 300), (std::vector<double>{1, 100, 200, 300}));
  EXPECT_EQ(svg::IntegerTicks(0, 8), (std::vector<double>{0, 2, 4, 6, 8}));
  EXPECT_EQ(svg::IntegerTicks(0, 3), (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(svg::IntegerTicks(1, 57), (std::vector<double>{1, 20, 40}));

  TuneResult empty;
  empty.study.definition = study.study.definition;
  EXPECT_TRUE(ParameterImportance(empty).empty());
  EXPECT_NE(StudyReportHtml(empty).find("0 trials"), std::string::npos);
}

}  // namespace
}  // namespace fraudops
