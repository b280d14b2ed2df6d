#include "store/identity.h"

#include <gtest/gtest.h>

namespace fraudops {
namespace {

TEST(IdentityTest, EachRoleGrantsItsPermissionsAndNoRoleButApproverApproves) {
  using P = Permission;
  struct Row {
    const char* role;
    std::vector<P> allowed;
  };
  const std::vector<Row> table = {
      {"viewer", {P::kRead}},
      {"data_scientist", {P::kRead, P::kRun}},
      {"approver", {P::kRead, P::kApprove}},
      {"deployer", {P::kRead, P::kDeploy}},
      {"admin", {P::kRead, P::kAdmin}},
  };
  for (const Row& row : table) {
    for (P p : {P::kRead, P::kRun, P::kApprove, P::kDeploy, P::kAdmin}) {
      const bool expected =
          std::find(row.allowed.begin(), row.allowed.end(), p) != row.allowed.end();
      EXPECT_EQ(RolesAllow({row.role}, p), expected) << row.role << " " << PermissionName(p);
    }
  }
  EXPECT_FALSE(RolesAllow({}, P::kRead));
  // A service key's admin scope reads, deploys and administers, and never approves.
  EXPECT_TRUE(ScopesAllow({"admin"}, P::kDeploy));
  EXPECT_FALSE(ScopesAllow({"admin"}, P::kApprove));
  EXPECT_FALSE(ScopesAllow({"invoke"}, P::kRead));
  EXPECT_FALSE(CheckRoles({}).ok());
  EXPECT_NE(
      CheckRoles({"approver", "root"}).message().find("unknown role 'root'; accepted: viewer"),
      std::string::npos);
  EXPECT_NE(CheckRoles({"aprover"}).message().find("(did you mean 'approver'?)"), std::string::npos)
      << CheckRoles({"aprover"}).message();
}

TEST(IdentityTest, ActorsNameThePersonBehindThem) {
  EXPECT_EQ(ActorIdentity("user:alice"), "alice");
  EXPECT_EQ(ActorIdentity("oidc:alice@bank.example"), "alice@bank.example");
  EXPECT_EQ(ActorIdentity("alice@laptop"), "alice");
  EXPECT_EQ(ActorIdentity("api-key:abc"), "api-key:abc");
  EXPECT_TRUE(CheckUserName("alice.smith@bank.example").ok());
  EXPECT_FALSE(CheckUserName("-alice").ok());
  EXPECT_FALSE(CheckUserName("alice smith").ok());
}

TEST(IdentityTest, PasswordsAreHashedWithArgon2idAndSaltedAndNeverKeptInClear) {
  const std::string password = "correct horse battery staple";
  auto first = HashPassword(password);
  auto second = HashPassword(password);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *first;
  EXPECT_NE(*first, *second);  // a fresh salt each time
  EXPECT_EQ(first->find(password), std::string::npos);
  EXPECT_TRUE(VerifyPassword(*first, password));
  EXPECT_FALSE(VerifyPassword(*first, "correct horse battery stapler"));
  EXPECT_FALSE(VerifyPassword("", password));
  EXPECT_FALSE(VerifyPassword("plain-text", "plain-text"));
  EXPECT_FALSE(CheckPasswordStrength("short").ok());
  EXPECT_TRUE(CheckPasswordStrength("twelve chars").ok());
}

}  // namespace
}  // namespace fraudops
