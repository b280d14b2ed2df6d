#pragma once
/// API keys and usage plans as the server enforces them. A key ("fops_<id>_<secret>",
/// header x-api-key) is looked up by its id and its secret checked against the stored
/// salted SHA-256 in constant time; its scopes (KeyScopes(): invoke, feedback, features, admin) and
/// endpoints decide what it may call (401 without a valid key, 403 outside its scopes). Its plan's
/// token bucket (rate per second, burst) and daily and monthly quotas (UTC days and months)
/// are checked and counted under the key's own lock, so a quota of N admits exactly N
/// requests in this process; a refusal is 429 with Retry-After and is not counted. Counts
/// are flushed to the metadata store (TakeUsage) and loaded at start, so a restart keeps
/// them. With SetShared (api.quota_url) the checks and counts are Redis's, exact across
/// replicas; this process still counts what it admitted, for the store.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "serve/shared_quotas.h"
#include "store/serving_store.h"

namespace fraudops {

struct AuthDecision {
  int status = 200;  ///< 200, 401, 403, 429, or 503 when the shared quota store is unreachable
  std::string message;
  std::string key_id;       ///< the caller's key (for logs), "" when none
  int64_t retry_after = 0;  ///< seconds, for 429
  std::string limit;        ///< 429: rate, daily_quota or monthly_quota; 503: quota_store
  /// A personal access token's user ("" for a service key) and the user's roles.
  std::string owner;
  std::vector<std::string> roles;
  std::vector<std::string> scopes;  ///< a service key's scopes
};

class KeyRing {
 public:
  using Clock = std::chrono::system_clock;

  /// Replaces the keys, plans and users; a key's bucket and counters survive a reload.
  /// `usage` holds stored counts for the current periods (Usage()). A personal access token
  /// (a key with an owner) is loaded with its user's roles, and not at all when the user is
  /// disabled or unknown.
  void Load(const std::vector<ApiKeyRecord>& keys, const std::vector<UsagePlan>& plans,
            const std::map<std::pair<std::string, std::string>, int64_t>& usage,
            Clock::time_point now, const std::vector<UserRecord>& users = {});

  /// Checks the key for `scope` on `endpoint` ("" for routes not about one endpoint; such
  /// routes need a key for all endpoints, "*") and, when allowed, counts the request. An
  /// expired key is 401. A personal access token passes only the "admin" scope, whose routes
  /// then check its user's roles (the decision carries them); scoring and feedback take
  /// service keys.
  AuthDecision Authorize(std::string_view key, std::string_view scope, std::string_view endpoint,
                         Clock::time_point now);

  /// Counts admitted since the last call, by (key id, period), for the store.
  std::map<std::pair<std::string, std::string>, int64_t> TakeUsage();
  /// Gives counts back when storing them failed (they are retried at the next flush).
  void ReturnUsage(const std::map<std::pair<std::string, std::string>, int64_t>& usage);

  /// Counts quotas and rates in Redis (shared by replicas) instead of in this process; null
  /// goes back to in-process. Set before serving. An unreachable store is a 503 decision.
  void SetShared(SharedQuotas* shared) { shared_ = shared; }

  /// The day and month periods of `now`: "d2026-11-23", "m2026-11".
  static std::pair<std::string, std::string> Periods(Clock::time_point now);

 private:
  struct KeyState {
    Mutex mutex;
    double tokens GUARDED_BY(mutex) = 0;
    Clock::time_point refilled GUARDED_BY(mutex);
    std::string day GUARDED_BY(mutex), month GUARDED_BY(mutex);
    /// When `day` ends (00:00 UTC next): until then no date math.
    Clock::time_point period_end GUARDED_BY(mutex){};
    int64_t used_day GUARDED_BY(mutex) = 0, used_month GUARDED_BY(mutex) = 0;
    int64_t pending_day GUARDED_BY(mutex) = 0, pending_month
                                               GUARDED_BY(mutex) = 0;  ///< not yet flushed
    bool fresh GUARDED_BY(mutex) = true;
  };
  struct Key {
    ApiKeyRecord record;
    std::vector<std::string> owner_roles;
    std::optional<Clock::time_point> expires;
    UsagePlan plan;
    bool has_plan = false;
    std::shared_ptr<KeyState> state;
  };
  using KeyMap = std::map<std::string, std::shared_ptr<const Key>, std::less<>>;

  /// The current key map (the pointer; the map it points to never changes).
  std::shared_ptr<const KeyMap> Keys() const EXCLUDES(mutex_);

  mutable Mutex mutex_;
  std::shared_ptr<const KeyMap> keys_ GUARDED_BY(mutex_) = std::make_shared<KeyMap>();
  SharedQuotas* shared_ = nullptr;
  /// Taken inside a KeyState::mutex (day rollover), never the other way.
  Mutex returned_mutex_;
  std::map<std::pair<std::string, std::string>, int64_t> returned_ GUARDED_BY(returned_mutex_);
};

}  // namespace fraudops
