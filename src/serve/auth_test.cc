#include "serve/auth.h"

#include <gtest/gtest.h>

#include <atomic>
#include <ctime>
#include <thread>

namespace fraudops {
namespace {

KeyRing::Clock::time_point Utc(int year, int month, int day, int hour, int minute, double second) {
  std::tm t{};
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  t.tm_mday = day;
  t.tm_hour = hour;
  t.tm_min = minute;
  const auto whole = KeyRing::Clock::from_time_t(timegm(&t));
  return whole + std::chrono::duration_cast<KeyRing::Clock::duration>(
                     std::chrono::duration<double>(second));
}

ApiKeyRecord Record(const std::string& id, const std::string& secret,
                    std::vector<std::string> scopes, std::vector<std::string> endpoints,
                    const std::string& plan = "") {
  ApiKeyRecord r;
  r.id = id;
  r.salt = "salt-" + id;
  r.hash = HashKeySecret(r.salt, secret);
  r.scopes = std::move(scopes);
  r.endpoints = std::move(endpoints);
  r.plan = plan;
  return r;
}

UsagePlan Plan(const std::string& name, double rate, int64_t burst, int64_t daily,
               int64_t monthly) {
  UsagePlan p;
  p.name = name;
  p.rate_per_second = rate;
  p.burst = burst;
  p.daily_quota = daily;
  p.monthly_quota = monthly;
  return p;
}

TEST(KeyRingTest, ValidKeysScopesAndEndpoints) {
  const auto now = Utc(2026, 11, 23, 12, 0, 0);
  KeyRing ring;
  ApiKeyRecord revoked = Record("gone", "s3cret", {"invoke"}, {"*"});
  revoked.revoked_at = "2026-11-22T00:00:00Z";
  ring.Load({Record("abc", "s3cret", {"invoke"}, {"fraud"}),
             Record("adm", "root", {"admin", "invoke"}, {"*"}), revoked},
            {}, {}, now);
  EXPECT_EQ(ring.Authorize("fops_abc_s3cret", "invoke", "fraud", now).status, 200);
  EXPECT_EQ(ring.Authorize("fops_abc_s3cret", "invoke", "fraud", now).key_id, "abc");
  EXPECT_EQ(ring.Authorize("", "invoke", "fraud", now).status, 401);
  EXPECT_EQ(ring.Authorize("fops_abc_s3creT", "invoke", "fraud", now).status, 401);  // wrong secret
  EXPECT_EQ(ring.Authorize("fops_abc_s3cre", "invoke", "fraud", now).status,
            401);  // a prefix of it
  EXPECT_EQ(ring.Authorize("fops_nobody_s3cret", "invoke", "fraud", now).status, 401);
  EXPECT_EQ(ring.Authorize("abc_s3cret", "invoke", "fraud", now).status, 401);
  EXPECT_EQ(ring.Authorize("fops_gone_s3cret", "invoke", "fraud", now).status, 401);  // revoked
  AuthDecision scope = ring.Authorize("fops_abc_s3cret", "admin", "fraud", now);
  EXPECT_EQ(scope.status, 403);
  EXPECT_NE(scope.message.find("lacks the 'admin' scope (it has: invoke)"), std::string::npos)
      << scope.message;
  EXPECT_EQ(ring.Authorize("fops_abc_s3cret", "invoke", "other", now).status, 403);
  EXPECT_EQ(ring.Authorize("fops_abc_s3cret", "invoke", "", now).status,
            403);  // routes over all endpoints
  EXPECT_EQ(ring.Authorize("fops_adm_root", "admin", "", now).status, 200);
  EXPECT_EQ(ring.Authorize("fops_adm_root", "invoke", "anything", now).status, 200);
}

TEST(KeyRingTest, PersonalTokensActWithTheirUsersRolesUntilTheyExpireOrTheUserIsDisabled) {
  const auto now = Utc(2026, 11, 23, 12, 0, 0);
  KeyRing ring;
  ApiKeyRecord alice = Record("al", "s", {}, {"*"});
  alice.owner = "alice";
  alice.expires_at = "2026-11-24T00:00:00.000Z";
  ApiKeyRecord bob = Record("bo", "s", {}, {"*"});
  bob.owner = "bob";
  ApiKeyRecord ghost = Record("gh", "s", {}, {"*"});
  ghost.owner = "nobody";  // a user since deleted
  UserRecord a{"alice", {"approver"}, "", "", "", ""};
  UserRecord b{"bob", {"deployer"}, "", "", "", "2026-11-20T00:00:00Z"};  // disabled
  ring.Load({alice, bob, ghost}, {}, {}, now, {a, b});
  AuthDecision decision = ring.Authorize("fops_al_s", "admin", "", now);
  EXPECT_EQ(decision.status, 200) << decision.message;
  EXPECT_EQ(decision.owner, "alice");
  EXPECT_EQ(decision.roles, std::vector<std::string>{"approver"});
  // For scoring, a personal token is the wrong credential.
  decision = ring.Authorize("fops_al_s", "invoke", "fraud", now);
  EXPECT_EQ(decision.status, 403);
  EXPECT_NE(decision.message.find("personal access token of alice"), std::string::npos);
  decision = ring.Authorize("fops_al_s", "admin", "", Utc(2026, 11, 24, 0, 0, 1));
  EXPECT_EQ(decision.status, 401);
  EXPECT_NE(decision.message.find("expired"), std::string::npos) << decision.message;
  EXPECT_EQ(ring.Authorize("fops_bo_s", "admin", "", now).status, 401);  // disabled user
  EXPECT_EQ(ring.Authorize("fops_gh_s", "admin", "", now).status, 401);  // unknown user
}

TEST(KeyRingTest, TokenBucketRefillsAtTheRateUpToTheBurst) {
  auto t = Utc(2026, 11, 23, 12, 0, 0);
  KeyRing ring;
  ring.Load({Record("k", "s", {"invoke"}, {"*"}, "slow")}, {Plan("slow", 2, 3, 0, 0)}, {}, t);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(ring.Authorize("fops_k_s", "invoke", "e", t).status, 200) << i;
  AuthDecision limited = ring.Authorize("fops_k_s", "invoke", "e", t);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.limit, "rate");
  EXPECT_EQ(limited.retry_after, 1);
  t += std::chrono::milliseconds(500);  // one token at 2 per second
  EXPECT_EQ(ring.Authorize("fops_k_s", "invoke", "e", t).status, 200);
  EXPECT_EQ(ring.Authorize("fops_k_s", "invoke", "e", t).status, 429);
  t += std::chrono::seconds(60);  // the bucket holds at most the burst
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(ring.Authorize("fops_k_s", "invoke", "e", t).status, 200) << i;
  EXPECT_EQ(ring.Authorize("fops_k_s", "invoke", "e", t).status, 429);
  // A refused request is not counted in the usage.
  auto usage = ring.TakeUsage();
  EXPECT_EQ((usage[{"k", "d2026-11-23"}]), 7);
}

TEST(KeyRingTest, DailyAndMonthlyQuotasResetAtUtcMidnightAndTheFirst) {
  auto t = Utc(2026, 11, 30, 23, 59, 58);
  KeyRing ring;
  ring.Load({Record("k", "s", {"invoke"}, {"*"}, "metered")}, {Plan("metered", 0, 0, 3, 5)}, {}, t);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(ring.Authorize("fops_k_s", "invoke", "e", t).status, 200) << i;
  AuthDecision daily = ring.Authorize("fops_k_s", "invoke", "e", t);
  EXPECT_EQ(daily.status, 429);
  EXPECT_EQ(daily.limit, "daily_quota");
  EXPECT_EQ(daily.retry_after, 2);  // 23:59:58 -> 00:00:00
  // A new day and a new month: both counters start again.
  t = Utc(2026, 12, 1, 0, 0, 1);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(ring.Authorize("fops_k_s", "invoke", "e", t).status, 200) << i;
  t = Utc(2026, 12, 2, 8, 0, 0);
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(ring.Authorize("fops_k_s", "invoke", "e", t).status, 200) << i;
  AuthDecision monthly = ring.Authorize("fops_k_s", "invoke", "e", t);
  EXPECT_EQ(monthly.status, 429);
  EXPECT_EQ(monthly.limit, "monthly_quota");
  EXPECT_EQ(monthly.retry_after, (29 * 24 + 16) * 3600);  // to 2027-01-01T00:00:00Z
  auto usage = ring.TakeUsage();
  EXPECT_EQ((usage[{"k", "d2026-11-30"}]), 3);
  EXPECT_EQ((usage[{"k", "m2026-11"}]), 3);
  EXPECT_EQ((usage[{"k", "d2026-12-01"}]), 3);
  EXPECT_EQ((usage[{"k", "d2026-12-02"}]), 2);
  EXPECT_EQ((usage[{"k", "m2026-12"}]), 5);
}

TEST(KeyRingTest, StoredUsageCountsAfterARestartAndReloadsKeepTheCounters) {
  const auto t = Utc(2026, 11, 23, 10, 0, 0);
  KeyRing ring;
  const std::vector<UsagePlan> plans = {Plan("p", 0, 0, 5, 0)};
  ring.Load({Record("k", "s", {"invoke"}, {"*"}, "p")}, plans, {{{"k", "d2026-11-23"}, 4}}, t);
  EXPECT_EQ(ring.Authorize("fops_k_s", "invoke", "e", t).status, 200);
  EXPECT_EQ(ring.Authorize("fops_k_s", "invoke", "e", t).status, 429);
  // A reload (e.g. another key created) keeps this key's counts, whatever the store says.
  ring.Load({Record("k", "s", {"invoke"}, {"*"}, "p"), Record("k2", "s", {"invoke"}, {"*"})}, plans,
            {}, t);
  EXPECT_EQ(ring.Authorize("fops_k_s", "invoke", "e", t).status, 429);
  EXPECT_EQ(ring.Authorize("fops_k2_s", "invoke", "e", t).status, 200);
  // Counts taken for the store and given back when storing failed come out again.
  auto usage = ring.TakeUsage();
  EXPECT_EQ((usage[{"k", "d2026-11-23"}]), 1);
  EXPECT_TRUE(ring.TakeUsage().empty());
  ring.ReturnUsage(usage);
  EXPECT_EQ((ring.TakeUsage()[{"k", "d2026-11-23"}]), 1);
}

TEST(KeyRingTest, AQuotaOfNAdmitsExactlyNAcrossThreads) {
  const auto t = Utc(2026, 11, 23, 10, 0, 0);
  KeyRing ring;
  ring.Load({Record("k", "s", {"invoke"}, {"*"}, "p")}, {Plan("p", 0, 0, 1000, 0)}, {}, t);
  std::atomic<int> admitted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 300; ++j) {
        (ring.Authorize("fops_k_s", "invoke", "e", t).status == 200 ? admitted : refused)++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 1000);
  EXPECT_EQ(refused.load(), 1400);
}

TEST(SharedQuotasTest, RedisUrls) {
  auto plain = ParseRedisUrl("redis://cache.internal");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->host, "cache.internal");
  EXPECT_EQ(plain->port, 6379);
  EXPECT_EQ(plain->database, 0);
  EXPECT_EQ(plain->password, "");
  auto full = ParseRedisUrl("redis://default:p@ss:w0rd@10.0.0.5:6380/3");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->host, "10.0.0.5");
  EXPECT_EQ(full->port, 6380);
  EXPECT_EQ(full->database, 3);
  EXPECT_EQ(full->password, "p@ss:w0rd");  // USER:PASSWORD: after the first colon, up to the last @
  auto v6 = ParseRedisUrl("redis://:secret@[::1]:7000/");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  EXPECT_EQ(v6->password, "secret");
  for (const char* bad : {"http://host", "redis://", "redis://host:0", "redis://host:http",
                          "redis://host/x", "redis://:pw@/1"}) {
    auto parsed = ParseRedisUrl(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find("accepted: redis://"), std::string::npos)
        << parsed.status().message();
  }
  EXPECT_EQ(ParseRedisUrl("redis://:hunter2@host:x").status().message().find("hunter2"),
            std::string::npos);
}

}  // namespace
}  // namespace fraudops
