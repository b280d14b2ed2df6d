#include "serve/oidc.h"

#include <gtest/gtest.h>

#include "../../tests/jwt_util.h"

namespace fraudops {
namespace {

using testing::TestClaims;
using testing::TestSigningKey;

const char* kIssuer = "https://idp.bank.test/realms/fraud";
const char* kAudience = "fraudops";

class OidcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    settings_.issuer = kIssuer;
    settings_.audience = kAudience;
    settings_.jwks = "jwks.json";
    settings_.role_map = {"fraud-model-risk=approver", "fraud-release=deployer"};
    nlohmann::json jwks = {{"keys", {rsa_.Jwk(), ec_.Jwk()}}};
    auto verifier = OidcVerifier::FromJwks(settings_, jwks.dump());
    ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
    verifier_ = std::move(*verifier);
  }
  Result<OidcIdentity> Verify(const std::string& token) {
    return verifier_->Verify(token, std::chrono::system_clock::now());
  }
  TestSigningKey rsa_{"RS256", "rsa-1"};
  TestSigningKey ec_{"ES256", "ec-1"};
  OidcSettings settings_;
  std::unique_ptr<OidcVerifier> verifier_;
};

TEST_F(OidcTest, Rs256AndEs256TokensProveTheUserAndTheMappedRoles) {
  for (TestSigningKey* key : {&rsa_, &ec_}) {
    auto identity =
        Verify(key->Sign(TestClaims(kIssuer, kAudience, "alice", {"fraud-model-risk", "staff"})));
    ASSERT_TRUE(identity.ok()) << identity.status().ToString();
    EXPECT_EQ(identity->name, "alice");
    EXPECT_EQ(identity->roles, std::vector<std::string>{"approver"});  // "staff" maps to nothing
  }
  // An audience list holding ours is accepted.
  auto claims = TestClaims(kIssuer, kAudience, "bob", {"fraud-release"});
  claims["aud"] = {"other", kAudience};
  auto identity = Verify(rsa_.Sign(claims));
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ(identity->roles, std::vector<std::string>{"deployer"});
}

TEST_F(OidcTest, ExpiredForgedOrMisaddressedTokensAreRefusedSayingWhy) {
  auto refused = [&](const std::string& token, const std::string& why) {
    auto identity = Verify(token);
    ASSERT_FALSE(identity.ok()) << why;
    EXPECT_EQ(identity.status().code(), StatusCode::kUnauthenticated);
    EXPECT_NE(identity.status().message().find(why), std::string::npos)
        << identity.status().message();
  };
  refused(rsa_.Sign(TestClaims(kIssuer, kAudience, "alice", {}, -600)), "expired");
  refused(rsa_.Sign(TestClaims("https://evil.test", kAudience, "alice", {})), "issuer");
  refused(rsa_.Sign(TestClaims(kIssuer, "another-app", "alice", {})), "audience");
  // Signed by a key the provider never published, under a published key's id.
  TestSigningKey forger("RS256", "rsa-1");
  refused(forger.Sign(TestClaims(kIssuer, kAudience, "alice", {"fraud-model-risk"})),
          "signature does not verify");
  TestSigningKey ec_forger("ES256", "ec-1");
  refused(ec_forger.Sign(TestClaims(kIssuer, kAudience, "alice", {})), "signature");
  // A valid token with one claim changed after signing.
  std::string token = rsa_.Sign(TestClaims(kIssuer, kAudience, "alice", {}));
  const size_t dot = token.find('.');
  const std::string claims =
      testing::Base64Url(TestClaims(kIssuer, kAudience, "alice", {"fraud-model-risk"}).dump());
  const std::string tampered =
      token.substr(0, dot + 1) + claims + token.substr(token.find('.', dot + 1));
  refused(tampered, "signature");
  // "alg": "none" and HMAC algorithms are never accepted.
  const std::string none = testing::Base64Url(R"({"alg":"none"})") + "." + claims + ".";
  refused(none, "algorithm 'none'");
  refused(testing::Base64Url(R"({"alg":"HS256"})") + "." + claims + ".c2ln", "algorithm 'HS256'");
  refused("not-a-token", "not a JWT");
  auto no_expiry = TestClaims(kIssuer, kAudience, "alice", {});
  no_expiry.erase("exp");
  refused(rsa_.Sign(no_expiry), "no expiry");
}

TEST_F(OidcTest, BadSettingsAndKeySetsAreRefusedNamingTheSetting) {
  OidcSettings bad = settings_;
  bad.role_map = {"fraud-model-risk=superuser"};
  auto refused = OidcVerifier::FromJwks(bad, nlohmann::json({{"keys", {rsa_.Jwk()}}}).dump());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("unknown role 'superuser'"), std::string::npos);
  refused = OidcVerifier::FromJwks(settings_, "{\"keys\": []}");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("no RS256 or ES256 signing key"), std::string::npos);
  refused = OidcVerifier::FromJwks(settings_, "not json");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("not a JSON Web Key Set"), std::string::npos);
  OidcSettings missing = settings_;
  missing.audience.clear();
  EXPECT_FALSE(OidcVerifier::FromJwks(missing, "{}").ok());
  // Without a role map, claim values that are role names grant those roles.
  OidcSettings plain = settings_;
  plain.role_map.clear();
  auto verifier = OidcVerifier::FromJwks(plain, nlohmann::json({{"keys", {rsa_.Jwk()}}}).dump());
  ASSERT_TRUE(verifier.ok());
  auto identity = (*verifier)->Verify(
      rsa_.Sign(TestClaims(kIssuer, kAudience, "carol", {"viewer", "admin", "root"})),
      std::chrono::system_clock::now());
  ASSERT_TRUE(identity.ok());
  EXPECT_EQ(identity->roles, (std::vector<std::string>{"viewer", "admin"}));
}

}  // namespace
}  // namespace fraudops
