#include "serve/rollout_controller.h"

#include <gtest/gtest.h>

namespace fraudops {
namespace {

using std::chrono::seconds;

DeploymentRecord Baking(const std::string& strategy, const std::string& step_started_at) {
  DeploymentRecord d;
  d.id = "d";
  d.strategy = strategy;
  d.status = DeploymentStatus::kBaking;
  d.traffic_percent = 10;
  d.step_started_at = step_started_at;
  d.params.bake_seconds = 300;
  d.params.min_requests = 100;
  return d;
}

RolloutObservation Seen(uint64_t canary_requests, uint64_t canary_errors) {
  RolloutObservation seen;
  seen.canary_requests = canary_requests;
  seen.canary_errors = canary_errors;
  seen.production_requests = 10 * canary_requests;
  return seen;
}

TEST(DecideTest, KeepsUntilTheBakeEndsThenPromotes) {
  const auto start = *ParseUtcTime("2026-12-01T10:00:00Z");
  const DeploymentRecord d = Baking("canary", "2026-12-01T10:00:00Z");
  EXPECT_EQ(Decide(d, Seen(500, 0), start + seconds(299)).action, RolloutAction::kKeep);
  RolloutDecision done = Decide(d, Seen(500, 0), start + seconds(300));
  EXPECT_EQ(done.action, RolloutAction::kPromote);
  EXPECT_EQ(done.reason, "no alarm during the bake (500 canary requests, 5000 production)");
}

TEST(DecideTest, RollsBackOnAnAlarmBeforeTheBakeEnds) {
  const auto start = *ParseUtcTime("2026-12-01T10:00:00Z");
  RolloutDecision decision =
      Decide(Baking("canary", "2026-12-01T10:00:00Z"), Seen(500, 50), start + seconds(5));
  EXPECT_EQ(decision.action, RolloutAction::kRollBack);
  EXPECT_EQ(decision.reason.rfind("alarm: error rate 10% > max_error_rate 1%", 0), 0u)
      << decision.reason;
}

TEST(DecideTest, LinearAdvancesByTheStep) {
  DeploymentRecord d = Baking("linear", "2026-12-01T10:00:00Z");
  d.params.linear_step_seconds = 60;
  d.params.linear_step_percent = 30;
  d.traffic_percent = 30;
  RolloutDecision decision = Decide(d, Seen(500, 0), *ParseUtcTime("2026-12-01T10:01:00Z"));
  EXPECT_EQ(decision.action, RolloutAction::kAdvance);
  EXPECT_EQ(decision.traffic_percent, 60);
}

TEST(DecideTest, OnlyBakingDeploymentsOfKnownStrategiesAreJudged) {
  const auto late = *ParseUtcTime("2030-01-01T00:00:00Z");
  DeploymentRecord done = Baking("canary", "2026-12-01T10:00:00Z");
  done.status = DeploymentStatus::kPromoted;
  EXPECT_EQ(Decide(done, Seen(500, 500), late).action, RolloutAction::kKeep);
  EXPECT_EQ(Decide(Baking("blue_green", "2026-12-01T10:00:00Z"), Seen(500, 500), late).action,
            RolloutAction::kKeep);
  // A step start that cannot be read counts as just begun: never promoted by accident.
  EXPECT_EQ(Decide(Baking("canary", "yesterday"), Seen(500, 0), late).action, RolloutAction::kKeep);
}

TEST(ObserveTest, TheDecisionShiftComparesSharesByDecisionNameAcrossTwoPolicies) {
  // Production decides decline/approve; the canary's policy adds review, so approve has
  // another index: shares are compared by name, not by index.
  auto production =
      DecisionPolicy::Parse("high: score > 0.9 -> decline\ndefault -> approve\n", "p");
  auto canary = DecisionPolicy::Parse(
      "high: score > 0.9 -> decline\nmid: score > 0.5 -> review\ndefault -> approve\n", "c");
  ASSERT_TRUE(production.ok() && canary.ok());
  RolloutStats stats;
  auto record = [](VariantStats& variant, const DecisionPolicy& policy, double score, int n) {
    std::vector<PolicyValue> values(policy.fields().size(), PolicyValue::Number(score));
    const PolicyDecision decision = policy.Evaluate(values);
    for (int i = 0; i < n; ++i) variant.Record(0.001, &score, 1, false, 2, &decision);
  };
  record(stats.production, *production, 0.1, 90);  // 90 % approve, 10 % decline
  record(stats.production, *production, 0.95, 10);
  record(stats.canary, *canary, 0.1, 70);  // 70 % approve, 20 % review, 10 % decline
  record(stats.canary, *canary, 0.6, 20);
  record(stats.canary, *canary, 0.95, 10);
  RolloutObservation seen = Observe(stats, &*production, &*canary);
  EXPECT_NEAR(seen.decision_shift, 0.2, 1e-12);
  EXPECT_TRUE(seen.decision_shifted == "approve" || seen.decision_shifted == "review")
      << seen.decision_shifted;
  // Without a policy on either side there is nothing to compare.
  EXPECT_EQ(Observe(stats, &*production, nullptr).decision_shift, 0);
  EXPECT_EQ(Observe(stats).decision_shift, 0);
}

}  // namespace
}  // namespace fraudops
