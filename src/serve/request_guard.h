#pragma once
/// Who may call a route: the API key check of every route but health, metrics and the API
/// document (auth.h), turned into the response a refused request gets (401 with
/// WWW-Authenticate, 403, 429 and 503 with Retry-After), counted in the metrics. An outage
/// of the shared quota store is logged at most every 10 seconds.

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/logging.h"
#include "core/mutex.h"
#include "serve/auth.h"
#include "serve/http_error.h"
#include "serve/metrics.h"
#include "serve/oidc.h"
#include "store/identity.h"

namespace fraudops {

/// Who called an admin route, as proven by their credential.
struct Principal {
  /// The audit log's actor: "user:NAME" (a personal access token), "oidc:NAME" (an OIDC
  /// token), "api-key:ID" (a service key), "anonymous" (api.auth: disabled).
  std::string actor;
  std::vector<std::string> roles;   ///< a person's roles
  std::vector<std::string> scopes;  ///< a service key's scopes
  bool service = false;
  bool anonymous = false;  ///< api.auth: disabled: everything is allowed
  bool Allows(Permission permission) const;
  nlohmann::json ToJson() const;
};

enum class Access : uint8_t { kAllowed, kUnauthenticated, kForbidden };

/// The console's session cookie (an HttpOnly, SameSite=Strict cookie holding a personal access
/// token made by POST /v1/sessions) and the CSRF token a state-changing request made with it
/// must carry in the x-csrf-token header: derived from the session's token, so only a page
/// that was told it (GET /v1/sessions/current answers only the same origin) can send it.
inline constexpr const char* kSessionCookie = "fops_session";
std::string CsrfTokenFor(std::string_view session_token);
/// The value of cookie `name` in the request's Cookie header(s), or "".
std::string CookieValue(const HttpRequest& request, std::string_view name);

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

  /// Who calls an admin route and whether they hold `permission` (on `endpoint`, "" for
  /// none). Credentials: `x-api-key` or `Authorization: Bearer` with a service key, a personal
  /// access token, or an OIDC token (when SetOidc gave a verifier); without either, the
  /// console's session cookie, with which any method but GET and HEAD also needs the session's
  /// CSRF token (403 csrf_failed without it). On kUnauthenticated or
  /// kForbidden the refusal is written (401, 403); with kForbidden `principal` names who was
  /// refused, for the audit log.
  Access AuthorizeAdmin(const HttpRequest& request, HttpResponse& response, Permission permission,
                        std::string_view endpoint, Principal* principal) EXCLUDES(oidc_mutex_);
  /// AuthorizeAdmin for a credential already taken from its request (even with api.auth:
  /// disabled, it is checked).
  Access AuthorizeCredential(std::string_view credential, Permission permission,
                             std::string_view endpoint, HttpResponse& response,
                             Principal* principal) EXCLUDES(oidc_mutex_);

  /// Verifies OIDC tokens with `verifier` (null: OIDC tokens are refused).
  void SetOidc(std::shared_ptr<OidcVerifier> verifier) EXCLUDES(oidc_mutex_);

 private:
  /// Writes the refusal `decision` (401, 403, 429, 503) in `style`, counted in the metrics;
  /// `challenge` is a 401's WWW-Authenticate.
  void Refuse(const AuthDecision& decision, HttpResponse& response, ErrorStyle style,
              const char* challenge);

  KeyRing& keys_;
  MetricRegistry& metrics_;
  Logger& logger_;
  std::atomic<bool> required_{true};
  Mutex oidc_mutex_;
  std::shared_ptr<OidcVerifier> oidc_ GUARDED_BY(oidc_mutex_);
  std::atomic<int64_t> quota_store_warned_{-100};  ///< steady seconds of the last 503 warning
};

}  // namespace fraudops
