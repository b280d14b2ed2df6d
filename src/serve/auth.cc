#include "serve/auth.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cmath>
#include <ctime>

namespace fraudops {

namespace {

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

/// Seconds from `now` to the start of the next UTC day or month.
int64_t SecondsToNext(KeyRing::Clock::time_point now, bool month) {
  std::time_t t = KeyRing::Clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  utc.tm_hour = utc.tm_min = utc.tm_sec = 0;
  if (month) {
    utc.tm_mday = 1;
    utc.tm_mon += 1;
  } else {
    utc.tm_mday += 1;
  }
  std::time_t next = timegm(&utc);
  return std::max<int64_t>(1, static_cast<int64_t>(next - t));
}

/// `decision` (the caller's, with its key id) refused for a used-up quota or an empty bucket.
AuthDecision QuotaRefusal(AuthDecision decision, const UsagePlan& plan, bool monthly,
                          KeyRing::Clock::time_point now) {
  decision.status = 429;
  decision.limit = monthly ? "monthly_quota" : "daily_quota";
  decision.retry_after = SecondsToNext(now, monthly);
  decision.message = std::string(monthly ? "monthly" : "daily") + " quota of " +
                     std::to_string(monthly ? plan.monthly_quota : plan.daily_quota) +
                     " requests (plan " + plan.name + ") is used up; it resets " +
                     (monthly ? "on the 1st at 00:00 UTC" : "at 00:00 UTC");
  return decision;
}

AuthDecision RateRefusal(AuthDecision decision, const UsagePlan& plan, double burst,
                         double seconds_to_token) {
  decision.status = 429;
  decision.limit = "rate";
  decision.retry_after = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(seconds_to_token)));
  decision.message = "rate limit of " + std::to_string(plan.rate_per_second) +
                     " requests per second (burst " + std::to_string(static_cast<int64_t>(burst)) +
                     ", plan " + plan.name + ") exceeded";
  return decision;
}

}  // namespace

std::pair<std::string, std::string> KeyRing::Periods(Clock::time_point now) {
  std::time_t t = Clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char day[16], month[16];
  std::strftime(day, sizeof day, "d%Y-%m-%d", &utc);
  std::strftime(month, sizeof month, "m%Y-%m", &utc);
  return {day, month};
}

void KeyRing::Load(const std::vector<ApiKeyRecord>& keys, const std::vector<UsagePlan>& plans,
                   const std::map<std::pair<std::string, std::string>, int64_t>& usage,
                   Clock::time_point now, const std::vector<UserRecord>& users) {
  std::shared_ptr<const KeyMap> old = Keys();
  auto [day, month] = Periods(now);
  auto next = std::make_shared<KeyMap>();
  for (const ApiKeyRecord& record : keys) {
    if (!record.revoked_at.empty()) continue;
    auto key = std::make_shared<Key>();
    key->record = record;
    if (!record.owner.empty()) {
      auto user = std::find_if(users.begin(), users.end(),
                               [&](const UserRecord& u) { return u.name == record.owner; });
      if (user == users.end() || user->disabled()) continue;  // a disabled user's tokens fail
      key->owner_roles = user->roles;
    }
    if (!record.expires_at.empty()) {
      // Unparseable expiries (never written by the store) count as expired.
      key->expires = ParseUtcTime(record.expires_at).value_or(Clock::time_point{});
    }
    for (const UsagePlan& plan : plans) {
      if (plan.name == record.plan) {
        key->plan = plan;
        key->has_plan = true;
      }
    }
    auto previous = old->find(record.id);
    if (previous != old->end()) {
      key->state = previous->second->state;  // the bucket and counters carry over
    } else {
      key->state = std::make_shared<KeyState>();
      auto d = usage.find({record.id, day});
      auto m = usage.find({record.id, month});
      MutexLock lock(&key->state->mutex);  // not shared yet; the analysis asks for it all the same
      key->state->day = day;
      key->state->month = month;
      key->state->used_day = d == usage.end() ? 0 : d->second;
      key->state->used_month = m == usage.end() ? 0 : m->second;
    }
    next->emplace(record.id, std::move(key));
  }
  MutexLock lock(&mutex_);
  keys_ = std::move(next);
}

std::shared_ptr<const KeyRing::KeyMap> KeyRing::Keys() const {
  MutexLock lock(&mutex_);
  return keys_;
}

AuthDecision KeyRing::Authorize(std::string_view presented, std::string_view scope,
                                std::string_view endpoint, Clock::time_point now) {
  AuthDecision decision;
  if (presented.empty()) {
    decision.status = 401;
    decision.message = "this route needs an API key in the x-api-key header (fraudops keys create)";
    return decision;
  }
  std::string_view id, secret;
  std::shared_ptr<const KeyMap> keys = Keys();
  auto found = SplitApiKey(presented, &id, &secret) ? keys->find(id) : keys->end();
  bool valid = false;
  if (found != keys->end()) {
    const std::string hash = HashKeySecret(found->second->record.salt, secret);
    const std::string& stored = found->second->record.hash;
    valid =
        hash.size() == stored.size() && CRYPTO_memcmp(hash.data(), stored.data(), hash.size()) == 0;
  }
  if (!valid) {
    decision.status = 401;
    decision.message = "the API key is not valid (unknown, revoked or mistyped)";
    return decision;
  }
  const Key& key = *found->second;
  decision.key_id = key.record.id;
  if (key.expires && now >= *key.expires) {
    decision.status = 401;
    decision.message = "key " + key.record.id + " expired at " + key.record.expires_at +
                       " (fraudops login, or fraudops users token)";
    return decision;
  }
  decision.owner = key.record.owner;
  decision.roles = key.owner_roles;
  decision.scopes = key.record.scopes;
  if (!key.record.owner.empty()) {
    if (scope == "admin") return decision;  // the admin route checks the user's roles
    decision.status = 403;
    decision.message = "key " + key.record.id + " is a personal access token of " +
                       key.record.owner +
                       " for the admin API; scoring and feedback take a service key (fraudops "
                       "keys create)";
    return decision;
  }
  if (!Contains(key.record.scopes, scope)) {
    decision.status = 403;
    decision.message = "key " + key.record.id + " lacks the '" + std::string(scope) +
                       "' scope (it has: " +
                       [&] {
                         std::string s;
                         for (const auto& x : key.record.scopes) s += (s.empty() ? "" : ", ") + x;
                         return s;
                       }() +
                       ")";
    return decision;
  }
  const bool all = Contains(key.record.endpoints, "*");
  if (!all && (endpoint.empty() || !Contains(key.record.endpoints, endpoint))) {
    decision.status = 403;
    decision.message = endpoint.empty() ? "key " + key.record.id +
                                              " is limited to some endpoints; this route needs a "
                                              "key for all endpoints ('*')"
                                        : "key " + key.record.id + " may not call endpoint '" +
                                              std::string(endpoint) + "'";
    return decision;
  }
  KeyState& state = *key.state;
  RelockableMutexLock lock(&state.mutex);
  if (now >= state.period_end) {  // a new UTC day (or the first request): which day and month
    auto [day, month] = Periods(now);
    // Counts of the period that ended and not yet taken for the store go with the counts
    // given back, so TakeUsage still reports them under their own period.
    if (state.day != day) {
      if (state.pending_day > 0) ReturnUsage({{{key.record.id, state.day}, state.pending_day}});
      state.day = day;
      state.used_day = 0;
      state.pending_day = 0;
    }
    if (state.month != month) {
      if (state.pending_month > 0)
        ReturnUsage({{{key.record.id, state.month}, state.pending_month}});
      state.month = month;
      state.used_month = 0;
      state.pending_month = 0;
    }
    const std::time_t t = Clock::to_time_t(now);
    state.period_end = Clock::from_time_t(t + SecondsToNext(now, false));
  }
  if (key.has_plan) {
    const UsagePlan& plan = key.plan;
    const double burst = plan.BucketSize();
    if (shared_ != nullptr) {
      // Counted by Redis for every replica; this key's lock is not held over the round trip.
      const std::string day = state.day, month = state.month;
      lock.Unlock();
      auto verdict = shared_->Admit(key.record.id, day, month, plan);
      if (!verdict.ok()) {
        decision.status = 503;
        decision.limit = "quota_store";
        decision.retry_after = 1;
        decision.message = verdict.status().message();
        return decision;
      }
      switch (verdict->outcome) {
        case SharedQuotas::Outcome::kAdmitted:
          break;
        case SharedQuotas::Outcome::kDailyQuota:
          return QuotaRefusal(std::move(decision), plan, false, now);
        case SharedQuotas::Outcome::kMonthlyQuota:
          return QuotaRefusal(std::move(decision), plan, true, now);
        case SharedQuotas::Outcome::kRate:
          return RateRefusal(std::move(decision), plan, burst, verdict->retry_after_seconds);
      }
      lock.Lock();
    } else {
      if (plan.daily_quota > 0 && state.used_day >= plan.daily_quota)
        return QuotaRefusal(std::move(decision), plan, false, now);
      if (plan.monthly_quota > 0 && state.used_month >= plan.monthly_quota)
        return QuotaRefusal(std::move(decision), plan, true, now);
      if (plan.rate_per_second > 0) {
        if (state.fresh) {
          state.tokens = burst;
          state.refilled = now;
          state.fresh = false;
        }
        const double elapsed = std::chrono::duration<double>(now - state.refilled).count();
        if (elapsed > 0) {
          state.tokens = std::min(burst, state.tokens + elapsed * plan.rate_per_second);
          state.refilled = now;
        }
        if (state.tokens < 1.0)
          return RateRefusal(std::move(decision), plan, burst,
                             (1.0 - state.tokens) / plan.rate_per_second);
        state.tokens -= 1.0;
      }
    }
  }
  ++state.used_day;
  ++state.used_month;
  ++state.pending_day;
  ++state.pending_month;
  return decision;
}

std::map<std::pair<std::string, std::string>, int64_t> KeyRing::TakeUsage() {
  std::map<std::pair<std::string, std::string>, int64_t> out;
  {
    MutexLock lock(&returned_mutex_);
    out.swap(returned_);
  }
  std::shared_ptr<const KeyMap> keys = Keys();
  for (const auto& [id, key] : *keys) {
    KeyState& state = *key->state;
    MutexLock lock(&state.mutex);
    if (state.pending_day > 0) out[{id, state.day}] += state.pending_day;
    if (state.pending_month > 0) out[{id, state.month}] += state.pending_month;
    state.pending_day = state.pending_month = 0;
  }
  return out;
}

void KeyRing::ReturnUsage(const std::map<std::pair<std::string, std::string>, int64_t>& usage) {
  MutexLock lock(&returned_mutex_);
  for (const auto& [k, v] : usage) returned_[k] += v;
}

}  // namespace fraudops
