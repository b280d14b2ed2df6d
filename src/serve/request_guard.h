#pragma once
/// Who may call a route: the API key check of every route but health, metrics and the API
/// document (auth.h), turned into the response a refused request gets (401 with
/// WWW-Authenticate, 403, 429 and 503 with Retry-After), counted in the metrics. An outage
/// of the shared quota store is logged at most every 10 seconds.

#include <atomic>
#include <string>
#include <string_view>

#include "core/logging.h"
#include "serve/auth.h"
#include "serve/http_error.h"
#include "serve/metrics.h"

namespace fraudops {

class RequestGuard {
 public:
  RequestGuard(KeyRing& keys, MetricRegistry& metrics, Logger& logger)
      : keys_(keys), metrics_(metrics), logger_(logger) {}

  /// api.auth: required (true) or disabled.
  void set_required(bool required) { required_.store(required, std::memory_order_relaxed); }
  bool required() const { return required_.load(std::memory_order_relaxed); }

  /// True when the caller may use `scope` on `endpoint` ("" for routes about no one
  /// endpoint); otherwise false with the refusal written in `style`. `key_id` (optional)
  /// receives the caller's key id ("" when auth is disabled).
  bool Authorize(const HttpRequest& request, HttpResponse& response, ErrorStyle style,
                 std::string_view scope, std::string_view endpoint, std::string* key_id = nullptr);

 private:
  KeyRing& keys_;
  MetricRegistry& metrics_;
  Logger& logger_;
  std::atomic<bool> required_{true};
  std::atomic<int64_t> quota_store_warned_{-100};  ///< steady seconds of the last 503 warning
};

}  // namespace fraudops
