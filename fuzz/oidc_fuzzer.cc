// OIDC tokens and key sets (src/serve/oidc.h), which come from requests and from the identity
// provider: any bytes as a bearer token verify or are refused as Unauthenticated, and as a
// JWKS document load or are refused as InvalidArgument; nothing crashes. A token signed by the
// provider's key, with the input as its claims, verifies only when the claims say so.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "../tests/jwt_util.h"
#include "serve/oidc.h"

namespace {

using fraudops::OidcSettings;
using fraudops::OidcVerifier;
using fraudops::StatusCode;

struct Provider {
  fraudops::testing::TestSigningKey key{"ES256", "k1"};
  OidcSettings settings;
  std::unique_ptr<OidcVerifier> verifier;
  Provider() {
    settings.issuer = "https://idp.test";
    settings.audience = "fraudops";
    settings.jwks = "fuzz";
    settings.role_map = {"g=approver"};
    auto made = OidcVerifier::FromJwks(settings, nlohmann::json({{"keys", {key.Jwk()}}}).dump());
    if (!made.ok()) std::abort();
    verifier = std::move(*made);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Provider provider;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto now = std::chrono::system_clock::now();
  auto verified = provider.verifier->Verify(input, now);
  if (!verified.ok() && verified.status().code() != StatusCode::kUnauthenticated) std::abort();
  auto loaded = OidcVerifier::FromJwks(provider.settings, input);
  if (!loaded.ok() && loaded.status().code() != StatusCode::kInvalidArgument) std::abort();
  // The input as the claims of a properly signed token.
  const nlohmann::json claims = nlohmann::json::parse(input, nullptr, false);
  if (claims.is_object()) {
    auto signed_token = provider.verifier->Verify(provider.key.Sign(claims), now);
    if (!signed_token.ok() && signed_token.status().code() != StatusCode::kUnauthenticated)
      std::abort();
    if (signed_token.ok() && claims.value("iss", "") != "https://idp.test") std::abort();
  }
  std::string decoded;
  (void)fraudops::Base64UrlDecode(input, &decoded);
  return 0;
}
