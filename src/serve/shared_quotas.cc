#include "serve/shared_quotas.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <string>

#include "core/hash.h"
#include "core/strings.h"

namespace fraudops {

namespace {

constexpr int64_t kPeriodTtlSeconds = 35 * 86400;  // outlives the longest period, a month
constexpr timeval kConnectTimeout{1, 0};
constexpr timeval kCommandTimeout{0, 500000};

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

/// Runs one command; the reply (caller frees) or nullptr with `error` set.
redisReply* Command(redisContext* context, const std::vector<std::string>& args,
                    std::string* error) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr) {
    *error = context->errstr[0] ? context->errstr : "no reply";
    return nullptr;
  }
  return reply;
}

std::string QuotaKey(std::string_view key_id, std::string_view period) {
  return "fraudops:quota:" + std::string(key_id) + ":" + std::string(period);
}

}  // namespace

Result<RedisAddress> ParseRedisUrl(std::string_view url) {
  const std::string shown = RedactUrl(url);
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(
        "api.quota_url '" + shown + "': " + why +
        " (accepted: redis://[:PASSWORD@]HOST[:PORT][/DB], e.g. redis://127.0.0.1:6379/0)");
  };
  if (!StartsWith(url, "redis://")) return bad("not a redis:// URL");
  std::string_view rest = url.substr(8);
  RedisAddress address;
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view credentials = rest.substr(0, at);
    const size_t colon = credentials.find(':');
    address.password =
        std::string(colon == std::string_view::npos ? credentials : credentials.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  const size_t slash = rest.find('/');
  std::string_view host_port = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto n = ParseInt(db);
      if (!n || *n < 0 || *n > 1000000) return bad("the database must be a number");
      address.database = static_cast<int>(*n);
    }
  }
  const size_t bracket = host_port.find(']');  // [IPv6]:PORT
  const size_t colon = host_port.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    auto port = ParseInt(host_port.substr(colon + 1));
    if (!port || *port < 1 || *port > 65535)
      return bad("the port must be a number from 1 to 65535");
    address.port = static_cast<int>(*port);
    host_port = host_port.substr(0, colon);
  }
  if (host_port.size() >= 2 && host_port.front() == '[' && host_port.back() == ']') {
    host_port = host_port.substr(1, host_port.size() - 2);
  }
  if (host_port.empty()) return bad("it names no host");
  address.host = std::string(host_port);
  return address;
}

Result<std::unique_ptr<SharedQuotas>> SharedQuotas::Connect(const std::string& url) {
  auto address = ParseRedisUrl(url);
  if (!address.ok()) return address.status();
  std::unique_ptr<SharedQuotas> quotas(new SharedQuotas(*address, RedactUrl(url)));
  std::string error;
  redisContext* context = quotas->Acquire(&error);
  if (context == nullptr) return Status::IoError(error);
  quotas->Release(context, true);
  return quotas;
}

SharedQuotas::~SharedQuotas() {
  MutexLock lock(&mutex_);
  for (redisContext* context : idle_) redisFree(context);
}

redisContext* SharedQuotas::Acquire(std::string* error) {
  {
    MutexLock lock(&mutex_);
    if (!idle_.empty()) {
      redisContext* context = idle_.back();
      idle_.pop_back();
      return context;
    }
  }
  redisContext* context =
      redisConnectWithTimeout(address_.host.c_str(), address_.port, kConnectTimeout);
  auto fail = [&](const std::string& why) -> redisContext* {
    *error = "the quota store " + redacted_url_ + " cannot be used: " + why;
    if (context) redisFree(context);
    return nullptr;
  };
  if (context == nullptr) return fail("out of memory");
  if (context->err) return fail(context->errstr);
  redisSetTimeout(context, kCommandTimeout);
  std::vector<std::vector<std::string>> setup;
  if (!address_.password.empty()) setup.push_back({"AUTH", address_.password});
  if (address_.database != 0) setup.push_back({"SELECT", std::to_string(address_.database)});
  setup.push_back({"PING"});
  for (const auto& command : setup) {
    std::string why;
    redisReply* reply = Command(context, command, &why);
    if (reply == nullptr) return fail(why);
    const bool refused = reply->type == REDIS_REPLY_ERROR;
    const std::string text = refused ? std::string(reply->str, reply->len) : "";
    freeReplyObject(reply);
    if (refused) return fail(command[0] + " refused: " + text);
  }
  return context;
}

void SharedQuotas::Release(redisContext* context, bool healthy) {
  if (!healthy) {
    redisFree(context);
    return;
  }
  MutexLock lock(&mutex_);
  idle_.push_back(context);
}

Result<SharedQuotas::Verdict> SharedQuotas::Admit(std::string_view key_id, std::string_view day,
                                                  std::string_view month, const UsagePlan& plan) {
  static const std::string script(kAdmitScript);
  static const std::string sha = Sha1Hex(kAdmitScript);
  std::string error;
  redisContext* context = Acquire(&error);
  if (context == nullptr) return Status::IoError(error);
  const double burst =
      plan.burst > 0 ? static_cast<double>(plan.burst) : std::max(1.0, plan.rate_per_second);
  std::vector<std::string> args = {"EVALSHA",
                                   sha,
                                   "3",
                                   QuotaKey(key_id, day),
                                   QuotaKey(key_id, month),
                                   "fraudops:bucket:" + std::string(key_id),
                                   std::to_string(plan.daily_quota),
                                   std::to_string(plan.monthly_quota),
                                   FormatDouble(plan.rate_per_second),
                                   FormatDouble(burst),
                                   std::to_string(kPeriodTtlSeconds)};
  redisReply* reply = Command(context, args, &error);
  if (reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
      StartsWith(std::string_view(reply->str, reply->len), "NOSCRIPT")) {
    freeReplyObject(reply);
    args[0] = "EVAL";
    args[1] = script;
    reply = Command(context, args, &error);
  }
  if (reply == nullptr) {
    Release(context, false);
    return Status::IoError("the quota store " + redacted_url_ + " did not answer: " + error);
  }
  Verdict verdict;
  bool understood = reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
                    reply->element[0]->type == REDIS_REPLY_INTEGER &&
                    reply->element[1]->type == REDIS_REPLY_INTEGER;
  if (understood) {
    const long long outcome = reply->element[0]->integer;
    understood = outcome >= 0 && outcome <= 3;
    verdict.outcome = static_cast<Outcome>(outcome);
    verdict.retry_after_seconds = static_cast<double>(reply->element[1]->integer) / 1000.0;
  }
  const std::string text =
      reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : "";
  freeReplyObject(reply);
  Release(context, true);
  if (!understood) {
    return Status::IoError("the quota store " + redacted_url_ + " gave an unexpected answer" +
                           (text.empty() ? "" : ": " + text));
  }
  return verdict;
}

Status SharedQuotas::Seed(const std::map<std::pair<std::string, std::string>, int64_t>& usage) {
  if (usage.empty()) return Status::Ok();
  std::string error;
  redisContext* context = Acquire(&error);
  if (context == nullptr) return Status::IoError(error);
  for (const auto& [key, count] : usage) {
    redisReply* reply = Command(context,
                                {"SET", QuotaKey(key.first, key.second), std::to_string(count),
                                 "NX", "EX", std::to_string(kPeriodTtlSeconds)},
                                &error);
    if (reply == nullptr) {
      Release(context, false);
      return Status::IoError("the quota store " + redacted_url_ + " did not answer: " + error);
    }
    freeReplyObject(reply);
  }
  Release(context, true);
  return Status::Ok();
}

}  // namespace fraudops
