#include "serve/request_guard.h"

#include <chrono>

namespace fraudops {

bool RequestGuard::Authorize(const HttpRequest& request, HttpResponse& response, ErrorStyle style,
                             std::string_view scope, std::string_view endpoint,
                             std::string* key_id) {
  if (!required()) {
    if (key_id) *key_id = "";
    return true;
  }
  AuthDecision decision = keys_.Authorize(request.Header("x-api-key"), scope, endpoint,
                                          std::chrono::system_clock::now());
  if (key_id) *key_id = decision.key_id;
  if (decision.status == 200) return true;
  const char* reason = decision.status == 401   ? "unauthorized"
                       : decision.status == 403 ? "forbidden"
                       : decision.status == 503 ? "quota_store_unavailable"
                                                : "rate_limited";
  metrics_.Counter("fraudops_rejected_requests_total", {reason})
      .fetch_add(1, std::memory_order_relaxed);
  if (decision.status == 429) {
    metrics_.Counter("fraudops_rate_limited_total", {decision.key_id, decision.limit})
        .fetch_add(1, std::memory_order_relaxed);
  }
  if (decision.status == 503) {  // logged at most every 10 s: an outage would flood the log
    const int64_t second = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
    int64_t last = quota_store_warned_.load(std::memory_order_relaxed);
    if (second - last >= 10 && quota_store_warned_.compare_exchange_strong(last, second)) {
      logger_.Warn("serve", decision.message +
                                "; requests of keys with a usage plan get 503 until it answers");
    }
  }
  if (decision.status == 429 || decision.status == 503) {
    response.headers.emplace_back("Retry-After", std::to_string(decision.retry_after));
  }
  if (decision.status == 401)
    response.headers.emplace_back("WWW-Authenticate", "ApiKey header=\"x-api-key\"");
  nlohmann::json details = nlohmann::json::object();
  if (decision.status == 429)
    details = {{"limit", decision.limit}, {"retry_after_seconds", decision.retry_after}};
  WriteError(response, style, decision.status, reason, decision.message, details);
  return false;
}

}  // namespace fraudops
