#pragma once
/// Usage-plan counters and rate buckets shared by every replica through Redis
/// (api.quota_url = redis://[:PASSWORD@]HOST:PORT[/DB]). One Lua script, run atomically by
/// Redis, checks a key's daily and monthly counters and its token bucket and counts the
/// request only when all allow it, so a quota of N admits exactly N requests whichever
/// replicas they reach, and the rate is one bucket, not one per replica. The bucket runs on
/// Redis's clock (TIME), so replicas with skewed clocks agree; the day and month are the
/// replica's UTC date, as for the in-process counters.
///
/// Keys: fraudops:quota:<key id>:<period> (expire 35 days after their last use) and
/// fraudops:bucket:<key id> (1 hour). Redis commands time out after 500 ms; an unreachable
/// Redis refuses the request (the caller answers 503), it never admits unchecked.
///
/// Thread-safe: connections come from a small pool, one per concurrent caller.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/redis.h"
#include "core/status.h"
#include "serve/dependency_health.h"
#include "store/serving_store.h"

namespace fraudops {

class SharedQuotas {
 public:
  /// Connects once (and PINGs) so a wrong URL or password fails at start.
  static Result<std::unique_ptr<SharedQuotas>> Connect(const std::string& url);
  ~SharedQuotas() = default;
  SharedQuotas(const SharedQuotas&) = delete;
  SharedQuotas& operator=(const SharedQuotas&) = delete;

  enum class Outcome { kAdmitted = 0, kDailyQuota = 1, kMonthlyQuota = 2, kRate = 3 };
  struct Verdict {
    Outcome outcome = Outcome::kAdmitted;
    double retry_after_seconds = 0;  ///< kRate: until the bucket holds a token
  };
  /// Checks and, when admitted, counts one request of `key_id` under `plan`.
  Result<Verdict> Admit(std::string_view key_id, std::string_view day, std::string_view month,
                        const UsagePlan& plan);
  /// Sets counters Redis does not have from the metadata store's (key id, period) counts,
  /// e.g. after Redis lost its data; existing counters are left alone.
  Status Seed(const std::map<std::pair<std::string, std::string>, int64_t>& usage);
  /// True when Redis had lost its data (a restart without persistence: the marker key
  /// fraudops:quota:seeded was gone, and is set again), so the counters must be seeded.
  Result<bool> Forgot();
  /// Where Admit and Forgot report whether Redis answered (null: nowhere).
  void set_health(DependencyHealth* health) { health_ = health; }

 private:
  explicit SharedQuotas(std::unique_ptr<RedisClient> redis) : redis_(std::move(redis)) {}

  std::unique_ptr<RedisClient> redis_;
  DependencyHealth* health_ = nullptr;
};

}  // namespace fraudops
