#pragma once
/// Identities from the bank's identity provider: OIDC ID or access tokens, JWTs signed with
/// RS256 or ES256 (docs/governance.md#identity-provider-oidc). A token is verified against the
/// provider's key set (a JWKS file, or a URL fetched at start and again, at most once a minute,
/// when a token names a key id not yet known); its issuer, audience, expiry and not-before are
/// checked with 60 seconds of clock leeway; one claim (e.g. `groups`) is mapped to fraudops
/// roles. Tokens are never stored or logged.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"

namespace fraudops {

struct OidcSettings {
  std::string issuer;    ///< the `iss` a token must carry
  std::string audience;  ///< a value its `aud` must hold
  std::string jwks;      ///< a JWKS file, or an http(s):// URL
  std::string roles_claim = "groups";
  /// "CLAIM_VALUE=ROLE" entries; empty: claim values that are role names are used as they are.
  std::vector<std::string> role_map;
  std::string username_claim = "preferred_username";  ///< falls back to email, then sub
};

struct OidcIdentity {
  std::string name;                ///< from username_claim
  std::vector<std::string> roles;  ///< fraudops roles the mapped claim grants (may be empty)
};

class OidcVerifier {
 public:
  using Clock = std::chrono::system_clock;

  /// Checks the settings and reads the key set (the file, or the URL once).
  static Result<std::unique_ptr<OidcVerifier>> Create(const OidcSettings& settings);
  /// With a key set given as JSON text (tests, and Create).
  static Result<std::unique_ptr<OidcVerifier>> FromJwks(const OidcSettings& settings,
                                                        const std::string& jwks_json);
  ~OidcVerifier();

  /// The identity a valid token proves; Unauthenticated saying what was wrong otherwise.
  Result<OidcIdentity> Verify(std::string_view token, Clock::time_point now) EXCLUDES(mutex_);

  /// Whether `token` has the shape of a JWT (three base64url parts), as opposed to an API key.
  static bool LooksLikeJwt(std::string_view token);

 private:
  struct Key;
  explicit OidcVerifier(OidcSettings settings) : settings_(std::move(settings)) {}
  Status LoadKeys(const std::string& jwks_json) EXCLUDES(mutex_);
  /// Fetches a URL key set again when a token names an unknown key, at most once a minute.
  void MaybeRefresh(Clock::time_point now) EXCLUDES(mutex_);

  OidcSettings settings_;
  std::map<std::string, std::string> role_map_;  ///< claim value -> role
  Mutex mutex_;
  std::vector<std::shared_ptr<const Key>> keys_ GUARDED_BY(mutex_);
  Clock::time_point refreshed_ GUARDED_BY(mutex_){};
};

/// base64url (no padding) decoding; false on a character outside the alphabet.
bool Base64UrlDecode(std::string_view in, std::string* out);

}  // namespace fraudops
