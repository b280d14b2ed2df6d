#include "serve/shared_quotas.h"

#include <string>

#include "core/strings.h"
#include "serve/tracing.h"

namespace fraudops {

namespace {

constexpr int64_t kPeriodTtlSeconds = 35 * 86400;  // outlives the longest period, a month

/// KEYS: day counter, month counter, bucket. ARGV: daily limit, monthly limit, rate per
/// second, burst (0 = none for each), counter TTL. Returns {outcome, milliseconds to retry}:
/// 0 admitted (both counters incremented), 1 daily quota, 2 monthly quota, 3 rate.
constexpr std::string_view kAdmitScript = R"lua(
local daily, monthly = tonumber(ARGV[1]), tonumber(ARGV[2])
local rate, burst, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if daily > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') >= daily then return {1, 0} end
if monthly > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= monthly then return {2, 0} end
if rate > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local state = redis.call('HMGET', KEYS[3], 'tokens', 'at')
  local tokens = tonumber(state[1]) or burst
  local at = tonumber(state[2]) or now
  if now > at then tokens = math.min(burst, tokens + (now - at) * rate) end
  if tokens < 1 then
    redis.call('HSET', KEYS[3], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
    redis.call('EXPIRE', KEYS[3], 3600)
    return {3, math.ceil((1 - tokens) / rate * 1000)}
  end
  redis.call('HSET', KEYS[3], 'tokens', tostring(tokens - 1), 'at', tostring(math.max(now, at)))
  redis.call('EXPIRE', KEYS[3], 3600)
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ttl)
return {0, 0}
)lua";

std::string QuotaKey(std::string_view key_id, std::string_view period) {
  return "fraudops:quota:" + std::string(key_id) + ":" + std::string(period);
}

}  // namespace

Result<std::unique_ptr<SharedQuotas>> SharedQuotas::Connect(const std::string& url) {
  FOPS_ASSIGN_OR_RETURN(std::unique_ptr<RedisClient> redis,
                        RedisClient::Connect(url, "api.quota_url", "the quota store", {}));
  return std::unique_ptr<SharedQuotas>(new SharedQuotas(std::move(redis)));
}

Result<SharedQuotas::Verdict> SharedQuotas::Admit(std::string_view key_id, std::string_view day,
                                                  std::string_view month, const UsagePlan& plan) {
  const double burst =
      plan.burst > 0 ? static_cast<double>(plan.burst) : std::max(1.0, plan.rate_per_second);
  static const RedisScript script(kAdmitScript);
  RequestTrace::ScopedSpan span("quota_store.admit", 3);  // a client call to Redis
  Result<std::vector<RedisValue>> replies = redis_->Eval(
      script,
      {{{QuotaKey(key_id, day), QuotaKey(key_id, month), "fraudops:bucket:" + std::string(key_id)},
        {std::to_string(plan.daily_quota), std::to_string(plan.monthly_quota),
         FormatDouble(plan.rate_per_second), FormatDouble(burst),
         std::to_string(kPeriodTtlSeconds)}}});
  if (health_) health_->Report(replies.status());
  if (!replies.ok()) {
    span.SetError();
    return replies.status();
  }
  const RedisValue& reply = (*replies)[0];
  Verdict verdict;
  bool understood = reply.type == RedisValue::Type::kArray && reply.elements.size() == 2 &&
                    reply.elements[0].type == RedisValue::Type::kInteger &&
                    reply.elements[1].type == RedisValue::Type::kInteger;
  if (understood) {
    const long long outcome = reply.elements[0].integer;
    understood = outcome >= 0 && outcome <= 3;
    verdict.outcome = static_cast<Outcome>(outcome);
    verdict.retry_after_seconds = static_cast<double>(reply.elements[1].integer) / 1000.0;
  }
  if (!understood) {
    return Status::IoError("the quota store " + redis_->redacted_url() +
                           " gave an unexpected answer" +
                           (reply.is_error() ? ": " + reply.text : std::string()));
  }
  return verdict;
}

Status SharedQuotas::Seed(const std::map<std::pair<std::string, std::string>, int64_t>& usage) {
  if (usage.empty()) return Status::Ok();
  std::vector<std::vector<std::string>> commands;
  for (const auto& [key, count] : usage) {
    commands.push_back({"SET", QuotaKey(key.first, key.second), std::to_string(count), "NX", "EX",
                        std::to_string(kPeriodTtlSeconds)});
  }
  return redis_->Pipeline(commands).status();
}

Result<bool> SharedQuotas::Forgot() {
  Result<std::vector<RedisValue>> replies =
      redis_->Pipeline({{"SET", "fraudops:quota:seeded", "1", "NX"}});
  if (health_) health_->Report(replies.status());
  if (!replies.ok()) return replies.status();
  return (*replies)[0].type != RedisValue::Type::kNil;  // "OK": it was not there
}

}  // namespace fraudops
