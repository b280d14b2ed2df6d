#include "serve/request_guard.h"

#include <chrono>

#include "core/hash.h"
#include "core/strings.h"

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
  Refuse(decision, response, style, "ApiKey header=\"x-api-key\"");
  return false;
}

void RequestGuard::Refuse(const AuthDecision& decision, HttpResponse& response, ErrorStyle style,
                          const char* challenge) {
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
  if (decision.status == 401) response.headers.emplace_back("WWW-Authenticate", challenge);
  nlohmann::json details = nlohmann::json::object();
  if (decision.status == 429)
    details = {{"limit", decision.limit}, {"retry_after_seconds", decision.retry_after}};
  WriteError(response, style, decision.status, reason, decision.message, details);
}

bool Principal::Allows(Permission permission) const {
  if (anonymous) return true;
  return service ? ScopesAllow(scopes, permission) : RolesAllow(roles, permission);
}

nlohmann::json Principal::ToJson() const {
  nlohmann::json out = {{"actor", actor},
                        {"kind", anonymous ? "anonymous"
                                 : service ? "service_key"
                                           : "user"}};
  if (service) {
    out["scopes"] = scopes;
  } else if (!anonymous) {
    out["name"] = ActorIdentity(actor);
    out["roles"] = roles;
  }
  return out;
}

void RequestGuard::SetOidc(std::shared_ptr<OidcVerifier> verifier) {
  MutexLock lock(&oidc_mutex_);
  oidc_ = std::move(verifier);
}

std::string CsrfTokenFor(std::string_view session_token) {
  return Sha256Hex("fraudops-csrf\n" + std::string(session_token));
}

std::string CookieValue(const HttpRequest& request, std::string_view name) {
  for (std::string_view pair : Split(request.Header("cookie"), ';')) {
    pair = Trim(pair);
    const size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name)
      return std::string(pair.substr(equals + 1));
  }
  return "";
}

Access RequestGuard::AuthorizeAdmin(const HttpRequest& request, HttpResponse& response,
                                    Permission permission, std::string_view endpoint,
                                    Principal* principal) {
  *principal = Principal{};
  if (!required()) {
    principal->actor = "anonymous";
    principal->anonymous = true;
    return Access::kAllowed;
  }
  std::string_view credential = request.Header("x-api-key");
  if (credential.empty()) {
    std::string_view authorization = request.Header("authorization");
    if (authorization.size() > 7 &&
        (authorization.substr(0, 7) == "Bearer " || authorization.substr(0, 7) == "bearer "))
      credential = authorization.substr(7);
  }
  std::string session;
  if (credential.empty()) {  // the console: its session cookie, and for changes its CSRF token
    session = CookieValue(request, kSessionCookie);
    credential = session;
    const std::string_view method = request.method();
    if (!session.empty() && method != "GET" && method != "HEAD" &&
        request.Header("x-csrf-token") != CsrfTokenFor(session)) {
      metrics_.Counter("fraudops_rejected_requests_total", {"forbidden"})
          .fetch_add(1, std::memory_order_relaxed);
      WriteError(response, ErrorStyle::kV1, 403, "csrf_failed",
                 "a change made with the console's session needs its CSRF token in the "
                 "x-csrf-token header (GET /v1/sessions/current gives it)");
      return Access::kUnauthenticated;
    }
  }
  return AuthorizeCredential(credential, permission, endpoint, response, principal);
}

Access RequestGuard::AuthorizeCredential(std::string_view credential, Permission permission,
                                         std::string_view endpoint, HttpResponse& response,
                                         Principal* principal) {
  *principal = Principal{};
  if (OidcVerifier::LooksLikeJwt(credential)) {
    std::shared_ptr<OidcVerifier> oidc;
    {
      MutexLock lock(&oidc_mutex_);
      oidc = oidc_;
    }
    Result<OidcIdentity> identity =
        oidc ? oidc->Verify(credential, std::chrono::system_clock::now())
             : Result<OidcIdentity>(Status::Unauthenticated(
                   "an OIDC token was presented but this server has no identity provider "
                   "configured (api.oidc_issuer, api.oidc_audience, api.oidc_jwks)"));
    if (!identity.ok()) {
      metrics_.Counter("fraudops_rejected_requests_total", {"unauthorized"})
          .fetch_add(1, std::memory_order_relaxed);
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
      WriteError(response, ErrorStyle::kV1, 401, "unauthorized", identity.status().message());
      return Access::kUnauthenticated;
    }
    principal->actor = "oidc:" + identity->name;
    principal->roles = identity->roles;
  } else {
    AuthDecision decision =
        keys_.Authorize(credential, "admin", endpoint, std::chrono::system_clock::now());
    if (decision.status != 200) {
      Refuse(decision, response, ErrorStyle::kV1, "Bearer, ApiKey header=\"x-api-key\"");
      if (decision.status != 403 || decision.key_id.empty()) return Access::kUnauthenticated;
      principal->actor = "api-key:" + decision.key_id;
      principal->service = true;
      principal->scopes = decision.scopes;
      return Access::kForbidden;
    }
    if (decision.owner.empty()) {
      principal->actor = "api-key:" + decision.key_id;
      principal->service = true;
      principal->scopes = decision.scopes;
    } else {
      principal->actor = "user:" + decision.owner;
      principal->roles = decision.roles;
    }
  }
  if (principal->Allows(permission)) return Access::kAllowed;
  metrics_.Counter("fraudops_rejected_requests_total", {"forbidden"})
      .fetch_add(1, std::memory_order_relaxed);
  std::string held;
  for (const auto& r : principal->service ? principal->scopes : principal->roles)
    held += (held.empty() ? "" : ", ") + r;
  WriteError(response, ErrorStyle::kV1, 403, "forbidden",
             principal->actor + " may not " + std::string(PermissionName(permission)) +
                 " (it holds: " + (held.empty() ? "nothing" : held) + "; " +
                 (principal->service ? "a service key's admin scope reads, deploys and "
                                       "administers; approval takes a person with the approver "
                                       "role"
                                     : "docs/governance.md lists what each role may do") +
                 ")",
             {{"permission", std::string(PermissionName(permission))}});
  return Access::kForbidden;
}

}  // namespace fraudops
