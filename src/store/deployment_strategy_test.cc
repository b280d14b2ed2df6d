#include "store/deployment_strategy.h"

#include <gtest/gtest.h>

#include "store/serving_store.h"

namespace fraudops {
namespace {

/// An endpoint serving m@1 with a deployment of m@2 about to start.
struct Start {
  EndpointRecord endpoint;
  DeploymentRecord deployment;
  Start() {
    endpoint.name = "fraud";
    endpoint.production = {"m", 1};
    deployment.id = "d2";
    deployment.target = {"m", 2};
    deployment.previous = endpoint.production;
  }
};

DeploymentRecord Baking(const std::string& strategy, double traffic_percent) {
  DeploymentRecord d;
  d.id = "d2";
  d.strategy = strategy;
  d.target = {"m", 2};
  d.status = DeploymentStatus::kBaking;
  d.traffic_percent = traffic_percent;
  d.params.bake_seconds = 300;
  d.params.linear_step_seconds = 60;
  d.params.linear_step_percent = 25;
  d.params.min_requests = 100;
  d.params.max_error_rate = 0.01;
  d.params.max_p99_ms = 50;
  d.params.max_score_psi = 0.25;
  d.params.max_decision_shift = 0.1;
  return d;
}

RolloutObservation Healthy(double step_seconds) {
  RolloutObservation seen;
  seen.canary_requests = 1000;
  seen.production_requests = 9000;
  seen.canary_p99_ms = 2;
  seen.score_psi = 0.01;
  seen.step_seconds = step_seconds;
  return seen;
}

TEST(DeploymentStrategyTest, EveryRegisteredStrategyPlansOnAnEndpointWithProduction) {
  const auto names = DeploymentStrategies().Names();
  EXPECT_EQ(names, (std::vector<std::string>{"ab", "all_at_once", "canary", "linear", "shadow"}));
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const DeploymentStrategy* strategy = *DeploymentStrategies().Find(name);
    EXPECT_EQ(strategy->name(), name);
    EXPECT_FALSE(strategy->description().empty());
    Start s;
    s.deployment.params = DeploymentParams();
    ASSERT_TRUE(strategy->Validate(s.deployment.params).ok());
    ASSERT_TRUE(strategy->Plan(s.endpoint, s.deployment).ok());
    // Whatever it planned, the target now receives traffic or a copy of it.
    const bool serves = s.endpoint.production == s.deployment.target ||
                        s.endpoint.canary == s.deployment.target || !s.endpoint.shadows.empty() ||
                        s.endpoint.FindAbVariant("v2") != nullptr;
    EXPECT_TRUE(serves);
    EXPECT_FALSE(s.deployment.reason.empty());
    // Deploying what is already production is refused by every strategy.
    Start again;
    again.deployment.target = again.endpoint.production;
    EXPECT_EQ(strategy->Plan(again.endpoint, again.deployment).code(),
              StatusCode::kInvalidArgument);
  }
}

TEST(DeploymentStrategyTest, PlansPerStrategy) {
  {
    Start s;
    ASSERT_TRUE((*DeploymentStrategies().Find("all-at-once"))->Plan(s.endpoint, s.deployment).ok());
    EXPECT_EQ(s.endpoint.production, (VariantRef{"m", 2}));
    EXPECT_EQ(s.deployment.status, DeploymentStatus::kCompleted);
    EXPECT_EQ(s.deployment.traffic_percent, 100);
  }
  {
    Start s;
    s.deployment.params.canary_percent = 7;
    ASSERT_TRUE((*DeploymentStrategies().Find("canary"))->Plan(s.endpoint, s.deployment).ok());
    EXPECT_EQ(s.endpoint.production, (VariantRef{"m", 1}));
    EXPECT_EQ(s.endpoint.canary, (VariantRef{"m", 2}));
    EXPECT_EQ(s.endpoint.canary_percent, 7);
    EXPECT_EQ(s.endpoint.deployment_id, "d2");
    EXPECT_EQ(s.deployment.status, DeploymentStatus::kBaking);
  }
  {
    Start s;  // nothing in production: a gradual strategy has nothing to compare with
    s.endpoint.production = {};
    ASSERT_TRUE((*DeploymentStrategies().Find("linear"))->Plan(s.endpoint, s.deployment).ok());
    EXPECT_EQ(s.endpoint.production, (VariantRef{"m", 2}));
    EXPECT_EQ(s.deployment.status, DeploymentStatus::kCompleted);
    EXPECT_NE(s.deployment.reason.find("nothing in production"), std::string::npos);
  }
  {
    Start s;
    s.deployment.params.linear_step_percent = 20;
    ASSERT_TRUE((*DeploymentStrategies().Find("linear"))->Plan(s.endpoint, s.deployment).ok());
    EXPECT_EQ(s.endpoint.canary_percent, 20);
  }
  {
    Start s;
    const DeploymentStrategy* shadow = *DeploymentStrategies().Find("shadow");
    EXPECT_FALSE(shadow->ChangesProduction());
    ASSERT_TRUE(shadow->Plan(s.endpoint, s.deployment).ok());
    EXPECT_EQ(s.endpoint.shadows, (std::vector<VariantRef>{{"m", 2}}));
    EXPECT_EQ(s.deployment.status, DeploymentStatus::kShadowing);
    EXPECT_EQ(shadow->Plan(s.endpoint, s.deployment).code(),
              StatusCode::kInvalidArgument);  // already shadows
    Start empty;
    empty.endpoint.production = {};
    EXPECT_EQ(shadow->Plan(empty.endpoint, empty.deployment).code(), StatusCode::kInvalidArgument);
  }
}

TEST(DeploymentStrategyTest, AbAddsWeightedVariantsAndBlocksReplacingProduction) {
  const DeploymentStrategy* ab = *DeploymentStrategies().Find("ab");
  Start s;
  s.deployment.created_at = "2026-12-01T10:00:00.000Z";
  s.deployment.params.ab_weight = 30;
  s.deployment.params.ab_assignment_field = "card_id";
  ASSERT_TRUE(ab->Plan(s.endpoint, s.deployment).ok());
  EXPECT_EQ(s.endpoint.production, (VariantRef{"m", 1}));  // the reference stays production
  ASSERT_EQ(s.endpoint.ab_variants.size(), 2u);
  EXPECT_EQ(s.endpoint.ab_variants[0], (WeightedVariant{{"m", 1}, 70}));
  EXPECT_EQ(s.endpoint.ab_variants[1], (WeightedVariant{{"m", 2}, 30}));
  EXPECT_EQ(s.endpoint.assignment_field, "card_id");
  EXPECT_EQ(s.endpoint.ab_started_at, "2026-12-01T10:00:00.000Z");
  // A third variant takes its weight; the others keep their proportions of the rest.
  DeploymentRecord third = s.deployment;
  third.target = {"m", 3};
  third.params.ab_weight = 50;
  ASSERT_TRUE(ab->Plan(s.endpoint, third).ok());
  EXPECT_DOUBLE_EQ(s.endpoint.ab_variants[0].weight, 35);
  EXPECT_DOUBLE_EQ(s.endpoint.ab_variants[1].weight, 15);
  EXPECT_DOUBLE_EQ(s.endpoint.ab_variants[2].weight, 50);
  EXPECT_EQ(ab->Plan(s.endpoint, third).code(), StatusCode::kInvalidArgument);  // already a variant
  third.target = {"m", 4};
  third.params.ab_assignment_field = "merchant";
  EXPECT_EQ(ab->Plan(s.endpoint, third).code(), StatusCode::kInvalidArgument);  // another field
  // While the test runs, nothing replaces production behind its back.
  for (const char* name : {"all_at_once", "canary", "linear"}) {
    DeploymentRecord next = s.deployment;
    next.target = {"m", 9};
    Status refused = (*DeploymentStrategies().Find(name))->Plan(s.endpoint, next);
    EXPECT_EQ(refused.code(), StatusCode::kConflict) << name;
    EXPECT_NE(refused.message().find("conclude"), std::string::npos) << refused.message();
  }
  DeploymentParams params;
  params.ab_weight = 100;
  EXPECT_FALSE(ab->Validate(params).ok());
}

TEST(DeploymentStrategyTest, ValidationNamesTheParameter) {
  DeploymentParams params;
  params.canary_percent = 100;
  Status canary = (*DeploymentStrategies().Find("canary"))->Validate(params);
  EXPECT_NE(canary.message().find("canary_percent"), std::string::npos);
  params.linear_step_percent = 0.5;
  Status linear = (*DeploymentStrategies().Find("linear"))->Validate(params);
  EXPECT_NE(linear.message().find("linear_step_percent"), std::string::npos);
  EXPECT_TRUE((*DeploymentStrategies().Find("all_at_once"))->Validate(params).ok());
}

TEST(DeploymentStrategyTest, AnUnknownNameListsTheValidOnes) {
  auto found = DeploymentStrategies().Find("canery");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(found.status().message().find("ab, all_at_once, canary, linear, shadow"),
            std::string::npos);
  EXPECT_NE(found.status().message().find("did you mean 'canary'"), std::string::npos)
      << found.status().message();
  DeployConfig deploy;
  deploy.strategy = "big-bang";
  Status valid = ValidateDeployConfig(deploy);
  EXPECT_EQ(valid.message().rfind("deploy.strategy: ", 0), 0u) << valid.message();
}

TEST(DeploymentStrategyTest, StatusNamesRoundTrip) {
  for (DeploymentStatus status :
       {DeploymentStatus::kBaking, DeploymentStatus::kPromoted, DeploymentStatus::kCompleted,
        DeploymentStatus::kRolledBack, DeploymentStatus::kSuperseded, DeploymentStatus::kShadowing,
        DeploymentStatus::kShadowRemoved}) {
    auto parsed = ParseDeploymentStatus(DeploymentStatusName(status));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, status);
  }
  EXPECT_FALSE(ParseDeploymentStatus("cooking").ok());
}

TEST(DeploymentStrategyTest, CanaryJudgement) {
  const DeploymentStrategy* canary = *DeploymentStrategies().Find("canary");
  const DeploymentRecord d = Baking("canary", 10);
  EXPECT_EQ(canary->Judge(d, Healthy(10)).action, RolloutAction::kKeep);
  RolloutDecision done = canary->Judge(d, Healthy(300));
  EXPECT_EQ(done.action, RolloutAction::kPromote);
  EXPECT_EQ(done.reason, "no alarm during the bake (1000 canary requests, 9000 production)");
  // Alarms, in order: errors, then p99, then score PSI.
  RolloutObservation errors = Healthy(10);
  errors.canary_errors = 11;
  RolloutDecision rolled = canary->Judge(d, errors);
  EXPECT_EQ(rolled.action, RolloutAction::kRollBack);
  EXPECT_EQ(rolled.reason,
            "alarm: error rate 1.1% > max_error_rate 1% (1000 canary requests, 9000 production)");
  RolloutObservation slow = Healthy(10);
  slow.canary_p99_ms = 80;
  EXPECT_EQ(canary->Judge(d, slow).reason.rfind("alarm: p99 latency 80 ms > max_p99_ms 50 ms", 0),
            0u);
  RolloutObservation drifted = Healthy(10);
  drifted.score_psi = 0.5;
  EXPECT_EQ(canary->Judge(d, drifted).reason.rfind("alarm: score PSI against production 0.5", 0),
            0u);
  // Too little evidence: no alarm, whatever the numbers.
  RolloutObservation few = errors;
  few.canary_requests = 99;
  EXPECT_EQ(canary->Judge(d, few).action, RolloutAction::kKeep);
  // A decision policy that declines 12 points more of the same traffic.
  RolloutObservation stricter = Healthy(10);
  stricter.decision_shift = 0.12;
  stricter.decision_shifted = "decline";
  EXPECT_EQ(canary->Judge(d, stricter).reason,
            "alarm: the share of 'decline' decisions moved 12 points from production's > "
            "max_decision_shift 10 points (1000 canary requests, 9000 production)");
  stricter.decision_shift = 0.09;
  EXPECT_EQ(canary->Judge(d, stricter).action, RolloutAction::kKeep);
  // PSI and the decision shift need production's requests too.
  drifted.production_requests = 10;
  EXPECT_EQ(canary->Judge(d, drifted).action, RolloutAction::kKeep);
  stricter.decision_shift = 0.5;
  stricter.production_requests = 10;
  EXPECT_EQ(canary->Judge(d, stricter).action, RolloutAction::kKeep);
}

TEST(DeploymentStrategyTest, LinearJudgementSteps) {
  const DeploymentStrategy* linear = *DeploymentStrategies().Find("linear");
  EXPECT_EQ(linear->Judge(Baking("linear", 25), Healthy(59)).action, RolloutAction::kKeep);
  RolloutDecision step = linear->Judge(Baking("linear", 25), Healthy(60));
  EXPECT_EQ(step.action, RolloutAction::kAdvance);
  EXPECT_EQ(step.traffic_percent, 50);
  EXPECT_EQ(linear->Judge(Baking("linear", 90), Healthy(60)).traffic_percent, 100);
  EXPECT_EQ(linear->Judge(Baking("linear", 100), Healthy(60)).action, RolloutAction::kPromote);
  RolloutObservation errors = Healthy(60);
  errors.canary_errors = 500;
  EXPECT_EQ(linear->Judge(Baking("linear", 25), errors).action, RolloutAction::kRollBack);
}

TEST(DeploymentStrategyTest, StrategiesThatNeverBakeKeep) {
  for (const char* name : {"all_at_once", "shadow"}) {
    EXPECT_EQ((*DeploymentStrategies().Find(name))->Judge(Baking(name, 100), Healthy(1e9)).action,
              RolloutAction::kKeep);
  }
}

}  // namespace
}  // namespace fraudops
