#pragma once
/// An identity provider for tests: RSA and P-256 signing keys made fresh with OpenSSL, their
/// JWKS, and JWTs signed with them (RS256, ES256), as a bank's provider would issue them.

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fraudops::testing {

inline std::string Base64Url(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 63]);
  return out;
}

class TestSigningKey {
 public:
  /// `alg`: RS256 or ES256.
  TestSigningKey(std::string alg, std::string kid) : alg_(std::move(alg)), kid_(std::move(kid)) {
    key_ = alg_ == "RS256" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                           : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  }
  ~TestSigningKey() { EVP_PKEY_free(key_); }
  TestSigningKey(const TestSigningKey&) = delete;
  TestSigningKey& operator=(const TestSigningKey&) = delete;

  /// The public key as a JWK.
  nlohmann::json Jwk() const {
    if (alg_ == "RS256") {
      return {{"kty", "RSA"},
              {"kid", kid_},
              {"use", "sig"},
              {"alg", "RS256"},
              {"n", Base64Url(Param(OSSL_PKEY_PARAM_RSA_N, 0))},
              {"e", Base64Url(Param(OSSL_PKEY_PARAM_RSA_E, 0))}};
    }
    return {{"kty", "EC"},
            {"kid", kid_},
            {"use", "sig"},
            {"crv", "P-256"},
            {"x", Base64Url(Param(OSSL_PKEY_PARAM_EC_PUB_X, 32))},
            {"y", Base64Url(Param(OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
  }

  /// A JWT of `claims` signed with this key (header alg and kid set).
  std::string Sign(const nlohmann::json& claims) const {
    const std::string signing_input =
        Base64Url(nlohmann::json({{"alg", alg_}, {"typ", "JWT"}, {"kid", kid_}}).dump()) + "." +
        Base64Url(claims.dump());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t length = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_);
    EVP_DigestSign(ctx, nullptr, &length,
                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                   signing_input.size());
    std::string signature(length, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                   signing_input.size());
    EVP_MD_CTX_free(ctx);
    signature.resize(length);
    if (alg_ == "ES256") {  // DER to the JOSE form: r || s, 32 bytes each
      const auto* p = reinterpret_cast<const unsigned char*>(signature.data());
      ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(signature.size()));
      std::string raw(64, '\0');
      BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
      ECDSA_SIG_free(sig);
      signature = raw;
    }
    return signing_input + "." + Base64Url(signature);
  }

 private:
  std::string Param(const char* name, int pad) const {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key_, name, &bn);
    const int size = pad > 0 ? pad : BN_num_bytes(bn);
    std::string out(static_cast<size_t>(size), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
    BN_free(bn);
    return out;
  }

  std::string alg_, kid_;
  EVP_PKEY* key_ = nullptr;
};

/// Claims of a token for `user` issued by `issuer` for `audience`, valid from a minute ago for
/// `lifetime` seconds (negative: already expired), granting `groups`.
inline nlohmann::json TestClaims(const std::string& issuer, const std::string& audience,
                                 const std::string& user, const std::vector<std::string>& groups,
                                 int64_t lifetime = 600) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t issued = lifetime < 0 ? now + lifetime - 600 : now - 60;
  return {{"iss", issuer},
          {"aud", audience},
          {"sub", "id-" + user},
          {"preferred_username", user},
          {"groups", groups},
          {"iat", issued},
          {"exp", lifetime < 0 ? now + lifetime - 120 : now + lifetime}};
}

}  // namespace fraudops::testing
