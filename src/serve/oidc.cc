#include "serve/oidc.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/http_client.h"
#include "store/identity.h"

namespace fraudops {

using Json = nlohmann::json;

namespace {

constexpr auto kLeeway = std::chrono::seconds(60);

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

Status Unauthenticated(const std::string& what) {
  return Status::Unauthenticated("the OIDC token is not accepted: " + what);
}

/// The base64url member `name` of a JWK, decoded.
Result<std::string> JwkBytes(const Json& jwk, const char* name) {
  std::string out;
  if (!jwk.contains(name) || !jwk[name].is_string() ||
      !Base64UrlDecode(jwk[name].get<std::string>(), &out) || out.empty()) {
    return Status::InvalidArgument(std::string("member '") + name +
                                   "' is missing or not base64url");
  }
  return out;
}

BnPtr Bignum(const std::string& bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
}

/// A public key from its OSSL_PARAMs (`type`: "RSA" or "EC").
Result<PkeyPtr> KeyFromParams(const char* type, OSSL_PARAM_BLD* builder) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(builder));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return Status::InvalidArgument(std::string("not a valid ") + type + " public key");
  }
  return PkeyPtr(key);
}

Result<PkeyPtr> RsaKey(const Json& jwk) {
  FOPS_ASSIGN_OR_RETURN(std::string n, JwkBytes(jwk, "n"));
  FOPS_ASSIGN_OR_RETURN(std::string e, JwkBytes(jwk, "e"));
  if (n.size() < 256) return Status::InvalidArgument("RSA keys under 2048 bits are refused");
  BnPtr bn_n = Bignum(n), bn_e = Bignum(e);
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !builder ||
      !OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return Status::Internal("cannot build an RSA key");
  }
  return KeyFromParams("RSA", builder.get());
}

Result<PkeyPtr> EcKey(const Json& jwk) {
  if (jwk.value("crv", "") != "P-256")
    return Status::InvalidArgument("only EC keys on curve P-256 (ES256) are accepted");
  FOPS_ASSIGN_OR_RETURN(std::string x, JwkBytes(jwk, "x"));
  FOPS_ASSIGN_OR_RETURN(std::string y, JwkBytes(jwk, "y"));
  if (x.size() != 32 || y.size() != 32)
    return Status::InvalidArgument("P-256 coordinates must be 32 bytes");
  std::string point = "\x04" + x + y;  // an uncompressed point
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      !OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
                                       0) ||
      !OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return Status::Internal("cannot build an EC key");
  }
  return KeyFromParams("EC", builder.get());
}

/// An ES256 signature (r || s, 32 bytes each) in the DER form OpenSSL verifies.
bool EcdsaToDer(const std::string& raw, std::string* der) {
  if (raw.size() != 64) return false;
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  if (!sig || !r || !s || !ECDSA_SIG_set0(sig.get(), r, s)) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return false;
  der->resize(static_cast<size_t>(length));
  auto* out = reinterpret_cast<unsigned char*>(der->data());
  return i2d_ECDSA_SIG(sig.get(), &out) == length;
}

bool VerifySha256(EVP_PKEY* key, std::string_view signed_part, const std::string& signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(
             ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
             reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
}

Result<std::string> ReadJwks(const std::string& where) {
  if (where.rfind("http://", 0) == 0 || where.rfind("https://", 0) == 0) {
    FOPS_ASSIGN_OR_RETURN(HttpReply reply, HttpCall("GET", where, {"Accept: application/json"}, "",
                                                    /*timeout_seconds=*/10));
    if (reply.status != 200) {
      return Status::IoError("api.oidc_jwks: GET " + where + " answered HTTP " +
                             std::to_string(reply.status));
    }
    return reply.body;
  }
  std::ifstream in(where, std::ios::binary);
  if (!in) return Status::NotFound("api.oidc_jwks: cannot read " + where);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Seconds since the epoch in a numeric claim, or nullopt when absent; an error when present
/// and not a number.
Result<std::optional<OidcVerifier::Clock::time_point>> TimeClaim(const Json& claims,
                                                                 const char* name) {
  if (!claims.contains(name)) return std::optional<OidcVerifier::Clock::time_point>();
  if (!claims[name].is_number())
    return Unauthenticated(std::string("'") + name + "' is not a number");
  const auto seconds = static_cast<int64_t>(claims[name].get<double>());
  return std::optional<OidcVerifier::Clock::time_point>(
      OidcVerifier::Clock::time_point(std::chrono::seconds(seconds)));
}

}  // namespace

struct OidcVerifier::Key {
  std::string kid;
  std::string alg;  ///< RS256 or ES256
  PkeyPtr key;
};

OidcVerifier::~OidcVerifier() = default;

bool Base64UrlDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    int value;
    if (c >= 'A' && c <= 'Z')
      value = c - 'A';
    else if (c >= 'a' && c <= 'z')
      value = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      value = c - '0' + 52;
    else if (c == '-')
      value = 62;
    else if (c == '_')
      value = 63;
    else if (c == '=')
      break;  // tolerated padding ends the data
    else
      return false;
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return true;
}

bool OidcVerifier::LooksLikeJwt(std::string_view token) {
  return std::count(token.begin(), token.end(), '.') == 2 && token.rfind("fops_", 0) != 0;
}

Result<std::unique_ptr<OidcVerifier>> OidcVerifier::Create(const OidcSettings& settings) {
  FOPS_ASSIGN_OR_RETURN(std::string jwks, ReadJwks(settings.jwks));
  return FromJwks(settings, jwks);
}

Result<std::unique_ptr<OidcVerifier>> OidcVerifier::FromJwks(const OidcSettings& settings,
                                                             const std::string& jwks_json) {
  if (settings.issuer.empty() || settings.audience.empty() || settings.jwks.empty()) {
    return Status::InvalidArgument(
        "api.oidc_issuer, api.oidc_audience and api.oidc_jwks are all needed for OIDC");
  }
  std::unique_ptr<OidcVerifier> verifier(new OidcVerifier(settings));
  for (const std::string& entry : settings.role_map) {
    const size_t eq = entry.rfind('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("api.oidc_role_map: '" + entry + "' is not CLAIM_VALUE=ROLE");
    }
    const std::string role = entry.substr(eq + 1);
    FOPS_RETURN_IF_ERROR(CheckRoles({role}));
    verifier->role_map_[entry.substr(0, eq)] = role;
  }
  FOPS_RETURN_IF_ERROR(verifier->LoadKeys(jwks_json));
  return verifier;
}

Status OidcVerifier::LoadKeys(const std::string& jwks_json) {
  const Json jwks = Json::parse(jwks_json, nullptr, false);
  if (jwks.is_discarded() || !jwks.is_object() || !jwks.contains("keys") ||
      !jwks["keys"].is_array()) {
    return Status::InvalidArgument("api.oidc_jwks (" + settings_.jwks +
                                   "): not a JSON Web Key Set ({\"keys\": [...]})");
  }
  std::vector<std::shared_ptr<const Key>> keys;
  for (size_t i = 0; i < jwks["keys"].size(); ++i) {
    const Json& jwk = jwks["keys"][i];
    if (!jwk.is_object()) continue;
    const std::string kty = jwk.value("kty", "");
    if (jwk.value("use", "sig") != "sig") continue;  // encryption keys verify nothing
    if (kty != "RSA" && kty != "EC") continue;  // other key types serve neither RS256 nor ES256
    auto key = std::make_shared<Key>();
    key->kid = jwk.value("kid", "");
    key->alg = kty == "RSA" ? "RS256" : "ES256";
    Result<PkeyPtr> pkey = kty == "RSA" ? RsaKey(jwk) : EcKey(jwk);
    if (!pkey.ok()) {
      return Status::InvalidArgument("api.oidc_jwks (" + settings_.jwks + "): /keys/" +
                                     std::to_string(i) + ": " + pkey.status().message());
    }
    if (jwk.contains("alg") && jwk["alg"] != key->alg) continue;
    key->key = std::move(*pkey);
    keys.push_back(std::move(key));
  }
  if (keys.empty()) {
    return Status::InvalidArgument("api.oidc_jwks (" + settings_.jwks +
                                   "): no RS256 or ES256 signing key");
  }
  MutexLock lock(&mutex_);
  keys_ = std::move(keys);
  return Status::Ok();
}

void OidcVerifier::MaybeRefresh(Clock::time_point now) {
  if (settings_.jwks.rfind("http", 0) != 0) return;
  {
    MutexLock lock(&mutex_);
    if (now - refreshed_ < std::chrono::minutes(1)) return;
    refreshed_ = now;
  }
  auto text = ReadJwks(settings_.jwks);
  if (text.ok()) (void)LoadKeys(*text);  // a failed refresh keeps the keys it had
}

Result<OidcIdentity> OidcVerifier::Verify(std::string_view token, Clock::time_point now) {
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos)
    return Unauthenticated("not a JWT (header.payload.signature)");
  std::string header_text, claims_text, signature;
  if (!Base64UrlDecode(token.substr(0, first), &header_text) ||
      !Base64UrlDecode(token.substr(first + 1, second - first - 1), &claims_text) ||
      !Base64UrlDecode(token.substr(second + 1), &signature)) {
    return Unauthenticated("a part is not base64url");
  }
  const Json header = Json::parse(header_text, nullptr, false);
  const Json claims = Json::parse(claims_text, nullptr, false);
  if (!header.is_object() || !claims.is_object())
    return Unauthenticated("the header or the claims are not a JSON object");
  const std::string alg = header.value("alg", "");
  if (alg != "RS256" && alg != "ES256")
    return Unauthenticated("algorithm '" + alg + "' is not accepted; accepted: RS256, ES256");
  const std::string kid =
      header.contains("kid") && header["kid"].is_string() ? header["kid"].get<std::string>() : "";
  auto candidates = [&] {
    std::vector<std::shared_ptr<const Key>> out;
    MutexLock lock(&mutex_);
    for (const auto& key : keys_) {
      if (key->alg == alg && (kid.empty() || key->kid == kid)) out.push_back(key);
    }
    return out;
  };
  std::vector<std::shared_ptr<const Key>> keys = candidates();
  if (keys.empty()) {
    MaybeRefresh(now);  // the provider may have rotated its keys
    keys = candidates();
  }
  if (keys.empty())
    return Unauthenticated("no " + alg + " key" + (kid.empty() ? "" : " with id '" + kid + "'") +
                           " in the key set");
  std::string der;
  if (alg == "ES256" && !EcdsaToDer(signature, &der))
    return Unauthenticated("an ES256 signature must be 64 bytes");
  const std::string_view signed_part = token.substr(0, second);
  const bool valid = std::any_of(keys.begin(), keys.end(), [&](const auto& key) {
    return VerifySha256(key->key.get(), signed_part, alg == "ES256" ? der : signature);
  });
  if (!valid) return Unauthenticated("the signature does not verify");

  if (claims.value("iss", "") != settings_.issuer)
    return Unauthenticated("issuer '" + claims.value("iss", "") + "' is not " + settings_.issuer);
  bool audience = false;
  if (claims.contains("aud") && claims["aud"].is_string())
    audience = claims["aud"] == settings_.audience;
  if (claims.contains("aud") && claims["aud"].is_array()) {
    for (const Json& a : claims["aud"]) audience = audience || a == settings_.audience;
  }
  if (!audience) return Unauthenticated("audience is not " + settings_.audience);
  FOPS_ASSIGN_OR_RETURN(auto expires, TimeClaim(claims, "exp"));
  if (!expires) return Unauthenticated("it has no expiry ('exp')");
  if (now > *expires + kLeeway) return Unauthenticated("it expired");
  FOPS_ASSIGN_OR_RETURN(auto not_before, TimeClaim(claims, "nbf"));
  if (not_before && now + kLeeway < *not_before) return Unauthenticated("it is not valid yet");

  OidcIdentity identity;
  for (const std::string& claim :
       {settings_.username_claim, std::string("email"), std::string("sub")}) {
    if (claims.contains(claim) && claims[claim].is_string() &&
        !claims[claim].get<std::string>().empty()) {
      identity.name = claims[claim].get<std::string>();
      break;
    }
  }
  if (identity.name.empty()) return Unauthenticated("it names no user (no sub)");
  std::vector<std::string> values;
  if (claims.contains(settings_.roles_claim)) {
    const Json& granted = claims[settings_.roles_claim];
    if (granted.is_string()) values.push_back(granted.get<std::string>());
    if (granted.is_array()) {
      for (const Json& v : granted) {
        if (v.is_string()) values.push_back(v.get<std::string>());
      }
    }
  }
  for (const std::string& value : values) {
    std::string role;
    if (role_map_.empty()) {
      if (CheckRoles({value}).ok()) role = value;
    } else if (auto it = role_map_.find(value); it != role_map_.end()) {
      role = it->second;
    }
    if (!role.empty() &&
        std::find(identity.roles.begin(), identity.roles.end(), role) == identity.roles.end())
      identity.roles.push_back(role);
  }
  return identity;
}

}  // namespace fraudops
