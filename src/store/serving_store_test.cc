// What serving keeps in the metadata store, against SQLite and PostgreSQL: deployments and
// their states, keys, plans, usage counters, feedback, and the change counters servers poll.
#include "store/serving_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "../../tests/backend_store.h"

namespace fraudops {
namespace {

class ServingStoreTest : public testing::BackendStoreTest {
 protected:
  void SetUp() override {
    BackendStoreTest::SetUp();
    if (NotSetUp()) return;
    serving_ = std::make_unique<ServingStore>(*store_);
    RunRecord run;
    run.run_id = "run-" + testing::RandomSuffix();
    run.experiment = "exp";
    run.start_time = UtcNow();
    run.code_version = run.host = run.user = "t";
    run.artifact_uri = "/tmp";
    ASSERT_TRUE(store_->CreateRun(run).ok());
    for (int i = 0; i < 4; ++i) {
      NewVersion v;
      v.model = "m";
      v.run_id = run.run_id;
      v.algorithm = "xgboost";
      v.bundle_uri = "/tmp/b";
      v.approve = true;
      ASSERT_TRUE(store_->CreateVersion(v, "t").ok());
    }
  }

  int64_t Counter(const std::string& name) { return serving_->ChangeCounters()->at(name); }

  std::unique_ptr<ServingStore> serving_;
};

TEST_P(ServingStoreTest, DeploymentsMoveThroughTheirStatesAndBumpTheCounter) {
  const int64_t before = Counter("endpoints");
  DeploymentParams params;
  EXPECT_NE(serving_->NoSuchEndpoint("e").message().find("nothing was deployed yet"),
            std::string::npos);
  // Nothing in production: a canary is deployed all at once.
  auto first = serving_->Deploy("e", {"m", 1}, "canary", params, "alice");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->status, DeploymentStatus::kCompleted);
  EXPECT_NE(first->reason.find("nothing in production"), std::string::npos);
  EXPECT_EQ(Counter("endpoints"), before + 1);
  // A mistyped name: the closest endpoint and the known ones.
  EXPECT_NE(serving_->NoSuchEndpoint("f").message().find("the endpoints: e"), std::string::npos);
  EXPECT_EQ(serving_->Rollback("ee", "r", "alice").status().message(),
            "no endpoint 'ee' (did you mean 'e'?); the endpoints: e");
  // A canary bakes; a newer one supersedes it.
  auto second = serving_->Deploy("e", {"m", 2}, "canary", params, "alice");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->status, DeploymentStatus::kBaking);
  EXPECT_EQ(second->previous, (VariantRef{"m", 1}));
  auto third = serving_->Deploy("e", {"m", 3}, "linear", params, "alice");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(serving_->GetDeployment(second->id)->status, DeploymentStatus::kSuperseded);
  auto endpoint = serving_->FindEndpoint("e");
  ASSERT_TRUE(endpoint.ok() && endpoint->has_value());
  EXPECT_EQ((*endpoint)->canary, (VariantRef{"m", 3}));
  EXPECT_EQ((*endpoint)->canary_percent, params.linear_step_percent);
  // A linear step, then promotion; a second decision finds nothing to do.
  EXPECT_TRUE(*serving_->SetTraffic(third->id, 50, "serve"));
  EXPECT_EQ((*serving_->FindEndpoint("e"))->canary_percent, 50);
  EXPECT_TRUE(
      *serving_->FinishDeployment(third->id, DeploymentStatus::kPromoted, "no alarm", "serve"));
  EXPECT_FALSE(*serving_->FinishDeployment(third->id, DeploymentStatus::kRolledBack, "late",
                                           "other-replica"));
  endpoint = serving_->FindEndpoint("e");
  EXPECT_EQ((*endpoint)->production, (VariantRef{"m", 3}));
  EXPECT_TRUE((*endpoint)->canary.empty());
  EXPECT_TRUE((*endpoint)->deployment_id.empty());
  // Rollback: production returns to the version before.
  auto rolled = serving_->Rollback("e", "bad night", "bob");
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(rolled->strategy, "rollback");
  EXPECT_EQ(rolled->target, (VariantRef{"m", 1}));
  EXPECT_EQ((*serving_->FindEndpoint("e"))->production, (VariantRef{"m", 1}));
  EXPECT_EQ(serving_->GetDeployment(third->id)->status, DeploymentStatus::kRolledBack);
  // A baking canary rolls back to nothing but itself.
  auto canary = serving_->Deploy("e", {"m", 4}, "canary", params, "alice");
  auto undone = serving_->Rollback("e", "", "bob");
  ASSERT_TRUE(undone.ok());
  EXPECT_EQ(undone->id, canary->id);
  EXPECT_EQ(undone->status, DeploymentStatus::kRolledBack);
  // Shadows.
  ASSERT_TRUE(serving_->Deploy("e", {"m", 2}, "shadow", params, "alice").ok());
  EXPECT_FALSE(serving_->Deploy("e", {"m", 2}, "shadow", params, "alice").ok());
  EXPECT_EQ((*serving_->FindEndpoint("e"))->shadows.size(), 1u);
  EXPECT_TRUE(serving_->RemoveShadow("e", {"m", 2}, "alice").ok());
  EXPECT_EQ(serving_->RemoveShadow("ee", {"m", 2}, "alice").message(),
            "no endpoint 'ee' (did you mean 'e'?); the endpoints: e");
  EXPECT_TRUE((*serving_->FindEndpoint("e"))->shadows.empty());
  EXPECT_EQ(serving_->History("e", 100)->size(), 6u);  // the refused second shadow is not one
  // Refusals name what is wrong.
  EXPECT_FALSE(
      serving_->Deploy("e", {"m", 1}, "all_at_once", params, "a").ok());  // already production
  EXPECT_EQ(serving_->Deploy("e", {"m", 2}, "big-bang", params, "a").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(serving_->Deploy("e", {"m", 9}, "canary", params, "a").status().code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(serving_->Deploy("bad name!", {"m", 2}, "canary", params, "a").ok());
  ASSERT_TRUE(store_->SetApproval("m", 2, "rejected", "carol", "leaks the label").ok());
  auto rejected = serving_->Deploy("e", {"m", 2}, "all_at_once", params, "a");
  EXPECT_NE(rejected.status().message().find("rejected"), std::string::npos);
  // Everything is in the audit log.
  int deployed = 0;
  auto audit = store_->Audit("m");
  ASSERT_TRUE(audit.ok());
  for (const AuditEntry& entry : *audit) deployed += entry.action == "deployed";
  EXPECT_EQ(deployed, 5);
}

TEST_P(ServingStoreTest, ConcurrentDeploysFromSeparateConnectionsAreAllApplied) {
  // Four processes' worth of connections deploy to one endpoint none of them has seen: each
  // deployment creates or changes it exactly once (no failure on its key, no lost change).
  // Deploying what another writer just made production is refused, and changes nothing.
  constexpr int kWriters = 4, kEach = 5;
  std::vector<std::string> errors(kWriters);
  std::atomic<int> applied{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto opened = MetadataStore::Open(url_, "");
      if (!opened.ok()) {
        errors[w] = opened.status().ToString();
        return;
      }
      ServingStore serving(**opened);
      for (int i = 0; i < kEach && errors[w].empty(); ++i) {
        auto deployed = serving.Deploy("race", {"m", 1 + (w + i) % 4}, "all_at_once",
                                       DeploymentParams(), "writer" + std::to_string(w));
        if (deployed.ok()) {
          ++applied;
        } else if (deployed.status().message().find("is already production") == std::string::npos) {
          errors[w] = deployed.status().ToString();
        }
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  for (const std::string& error : errors) EXPECT_EQ(error, "");
  auto endpoint = serving_->FindEndpoint("race");
  ASSERT_TRUE(endpoint.ok() && endpoint->has_value());
  EXPECT_GE(applied.load(), kEach);
  EXPECT_EQ((*endpoint)->generation, applied.load());
  EXPECT_EQ(serving_->History("race", 100)->size(), static_cast<size_t>(applied.load()));
}

TEST_P(ServingStoreTest, KeysPlansUsageAndFeedback) {
  ASSERT_TRUE(serving_->PutPlan({"gold", 10, 20, 1000, 0, ""}, false, "a").ok());
  EXPECT_EQ(serving_->PutPlan({"gold", 1, 1, 1, 1, ""}, false, "a").code(), StatusCode::kConflict);
  ASSERT_TRUE(serving_->PutPlan({"gold", 5, 20, 1000, 0, ""}, true, "a").ok());
  EXPECT_EQ(serving_->ListPlans()->at(0).rate_per_second, 5);
  const int64_t keys_before = Counter("keys");
  auto key = serving_->CreateKey("svc", {"invoke", "feedback"}, {"e"}, "gold", "a");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  std::string_view id, secret;
  ASSERT_TRUE(SplitApiKey(key->key, &id, &secret));
  EXPECT_EQ(id, key->record.id);
  auto keys = serving_->ListKeys();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].hash,
            HashKeySecret((*keys)[0].salt, secret));  // only the salted hash is stored
  EXPECT_EQ((*keys)[0].ToJson().dump().find(std::string(secret)), std::string::npos);
  EXPECT_GT(Counter("keys"), keys_before);
  EXPECT_FALSE(serving_->CreateKey("x", {"root"}, {"*"}, "", "a").ok());
  EXPECT_EQ(serving_->CreateKey("x", {"invoke"}, {"*"}, "platinum", "a").status().code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(serving_->AttachPlan(key->record.id, "", "a").ok());
  EXPECT_TRUE(serving_->RevokeKey(key->record.id, "a").ok());
  EXPECT_FALSE(serving_->ListKeys()->at(0).revoked_at.empty());
  EXPECT_EQ(serving_->RevokeKey("nope", "a").code(), StatusCode::kNotFound);

  ASSERT_TRUE(
      serving_->AddUsage({{{key->record.id, "d2026-11-23"}, 3}, {{key->record.id, "m2026-11"}, 3}})
          .ok());
  ASSERT_TRUE(serving_->AddUsage({{{key->record.id, "d2026-11-23"}, 2}}).ok());
  auto usage = serving_->Usage({"d2026-11-23", "m2026-11"});
  const std::pair<std::string, std::string> day{key->record.id, "d2026-11-23"},
      month{key->record.id, "m2026-11"};
  EXPECT_EQ(usage->at(day), 5);
  EXPECT_EQ(usage->at(month), 3);

  ASSERT_TRUE(
      serving_->RecordFeedback("e", {{"r1", 1, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"}})
          .ok());
  ASSERT_TRUE(serving_
                  ->RecordFeedback("e", {{"r1", 0, "2026-11-03T00:00:00Z", "2026-11-03T00:00:00Z"},
                                         {"r2", 1, "2026-11-03T00:00:00Z", "2026-11-03T00:00:00Z"}})
                  .ok());
  auto labels = serving_->Feedback("e");
  ASSERT_EQ(labels->size(), 2u);
  EXPECT_EQ((*labels)[0].request_id, "r1");
  EXPECT_EQ((*labels)[0].label, 0);  // the later truth wins
}

TEST_P(ServingStoreTest, UsersTokensAndTheApproverWhoMayNotDeploy) {
  auto hash = HashPassword("a long enough password");
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE(serving_->CreateUser("alice", {"approver", "deployer"}, *hash, "admin@host").ok());
  EXPECT_EQ(serving_->CreateUser("alice", {"viewer"}, "", "a").code(), StatusCode::kConflict);
  EXPECT_EQ(serving_->CreateUser("bob", {"root"}, "", "a").code(), StatusCode::kInvalidArgument);
  auto checked = serving_->CheckPassword("alice", "a long enough password");
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(serving_->CheckPassword("alice", "wrong").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(serving_->CheckPassword("nobody", "wrong").status().message(),
            serving_->CheckPassword("alice", "wrong").status().message());  // no name oracle
  auto token = serving_->CreateUserToken("alice", "laptop", std::chrono::hours(1), "user:alice");
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(token->record.owner, "alice");
  EXPECT_FALSE(token->record.expires_at.empty());
  EXPECT_EQ(serving_->ListKeys()->back().owner, "alice");
  ServingStore::UserChange disable;
  disable.disabled = true;
  ASSERT_TRUE(serving_->ChangeUser("alice", disable, "admin@host").ok());
  EXPECT_EQ(serving_->CheckPassword("alice", "a long enough password").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(serving_->CreateUserToken("alice", "x", std::chrono::hours(1), "a").status().code(),
            StatusCode::kConflict);
  // Nothing stored or audited holds the password.
  auto audit = store_->Audit("");
  ASSERT_TRUE(audit.ok());
  for (const AuditEntry& entry : *audit)
    EXPECT_EQ(entry.details.dump().find("a long enough password"), std::string::npos);

  // Segregation of duties: whoever approved a version by hand does not deploy it.
  ASSERT_TRUE(store_->SetApproval("m", 2, "approved", "user:alice", "reviewed").ok());
  const DeployRules rules{false, true, {}};
  auto refused = serving_->Deploy("e", {"m", 2}, "all_at_once", {}, "oidc:alice", rules);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("alice approved m@2 and may not also deploy it"),
            std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(serving_->Deploy("e", {"m", 2}, "all_at_once", {}, "user:carol", rules).ok());
  // Versions approved by register.approval: auto are not a person's approval.
  EXPECT_TRUE(serving_->Deploy("e", {"m", 1}, "all_at_once", {}, "t", rules).ok());
}

TEST(PromotionPolicyTest, ConditionsParseOrAreRefusedNamingTheKey) {
  auto policy = PromotionPolicy::Parse(
      "production", {"approved", "champion_passed", "served:staging:24h|shadowed:production:2h"},
      "promote.production");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  ASSERT_EQ(policy->requirements.size(), 3u);
  EXPECT_EQ(policy->requirements[2][1].seconds, 7200);
  for (const char* bad : {"served:staging", "served:qa:1h", "promoted", "served:staging:-1h"}) {
    auto refused = PromotionPolicy::Parse("production", {"approved", bad}, "promote.production");
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.status().message().find("promote.production[1]"), std::string::npos)
        << refused.status().message();
  }
}

TEST_P(ServingStoreTest, PromotionWaitsForTheEnvironmentsPolicyAndNamesWhatIsUnmet) {
  // m@4 serves the production endpoint before it is labelled.
  ASSERT_TRUE(serving_->Deploy("prod", {"m", 4}, "all_at_once", {}, "a").ok());
  ASSERT_TRUE(serving_->SetEnvironment("stage", "staging", "a").ok());
  ASSERT_TRUE(serving_->SetEnvironment("prod", "production", "a").ok());
  EXPECT_EQ(serving_->SetEnvironment("x", "qa", "a").code(), StatusCode::kInvalidArgument);
  DeployRules rules;
  rules.promotion = {*PromotionPolicy::Parse("staging", {"approved"}, "promote.staging"),
                     *PromotionPolicy::Parse(
                         "production", {"approved", "served:staging:1s|shadowed:production:1s"},
                         "promote.production")};
  PromotionCheck check;
  auto refused =
      serving_->Promote({"m", 1}, "production", "", "all_at_once", {}, "a", rules, &check);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kConflict);
  EXPECT_NE(refused.status().message().find(
                "unmet: served:staging:1s|shadowed:production:1s (never served on a staging "
                "endpoint; 1 s required"),
            std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(check.requirements[0].met);
  EXPECT_FALSE(check.allowed());
  // A plain deployment to the production endpoint is held to the same policy; a shadow is not.
  EXPECT_EQ(serving_->Deploy("prod", {"m", 1}, "canary", {}, "a", rules).status().code(),
            StatusCode::kConflict);
  EXPECT_TRUE(serving_->Deploy("prod", {"m", 3}, "shadow", {}, "a", rules).ok());
  // Staging takes any approved version; after a second there, production takes it.
  auto staged = serving_->Promote({"m", 1}, "staging", "", "all_at_once", {}, "a", rules, &check);
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  EXPECT_EQ(staged->endpoint, "stage");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  const PromotionPolicy& production = *rules.PolicyFor("production");
  while (!serving_->CheckPromotion({"m", 1}, production)->allowed() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polls the condition
  }
  auto promoted =
      serving_->Promote({"m", 1}, "production", "", "all_at_once", {}, "a", rules, &check);
  ASSERT_TRUE(promoted.ok()) << promoted.status().ToString();
  EXPECT_EQ(promoted->endpoint, "prod");
  EXPECT_NE(check.requirements[1].evidence.find("served staging (stage) for"), std::string::npos)
      << check.requirements[1].evidence;
  EXPECT_NE(check.requirements[1].evidence.find(" s; 1 s required"), std::string::npos)
      << check.requirements[1].evidence;
  // m@3 shadowed production long enough by now, too.
  EXPECT_TRUE(serving_->CheckPromotion({"m", 3}, production)->allowed());
  // A version whose run made no champion comparison does not meet champion_passed.
  auto champion = PromotionPolicy::Parse("production", {"champion_passed"}, "p");
  auto unmet = serving_->CheckPromotion({"m", 2}, *champion);
  EXPECT_FALSE(unmet->allowed());
  EXPECT_EQ(unmet->requirements[0].evidence, "its run made no champion comparison");
  size_t refusals = 0;
  auto audit = store_->Audit("m");
  ASSERT_TRUE(audit.ok());
  for (const AuditEntry& e : *audit) refusals += e.action == "promotion_refused";
  EXPECT_EQ(refusals, 2u);
}

TEST(ParseUtcTimeTest, ReadsWhatUtcNowWritesAndOffsets) {
  auto now = ParseUtcTime(UtcNow());
  ASSERT_TRUE(now.has_value());
  EXPECT_LT(std::chrono::abs(std::chrono::system_clock::now() - *now), std::chrono::seconds(2));
  auto a = ParseUtcTime("2026-11-23T10:00:00Z");
  auto b = ParseUtcTime("2026-11-23T11:30:00+01:30");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_FALSE(ParseUtcTime("2026-11-23 10:00:00"));
  EXPECT_FALSE(ParseUtcTime("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseUtcTime("2026-11-23T10:00:00Zjunk"));
}

INSTANTIATE_TEST_SUITE_P(Stores, ServingStoreTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace fraudops
