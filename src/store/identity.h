#pragma once
/// Who may do what (docs/governance.md): the roles people hold, the permissions each grants,
/// passwords hashed with Argon2id, and the identity an audit actor names (for segregation of
/// duties). Users themselves are kept by the ServingStore beside API keys; their personal
/// access tokens are API keys with an owner.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fraudops {

/// What a governed action needs.
enum class Permission : uint8_t {
  kRead,     ///< endpoints, deployments, the audit log, reports
  kRun,      ///< runs and registration (data_scientist)
  kApprove,  ///< approve or reject model versions
  kDeploy,   ///< deploy, roll back, A/B weights and conclusions, promotion
  kAdmin,    ///< users, API keys, usage plans
};
std::string_view PermissionName(Permission permission);

/// viewer, data_scientist, approver, deployer, admin.
const std::vector<std::string>& RoleNames();
/// OK when every role is known (and there is at least one); otherwise what is accepted.
Status CheckRoles(const std::vector<std::string>& roles);
/// Whether holding `roles` grants `permission`: viewer reads; data_scientist also runs and
/// registers; approver also approves; deployer also deploys; admin also manages users, keys and
/// plans. No role but approver approves, so an admin cannot approve by being admin.
bool RolesAllow(const std::vector<std::string>& roles, Permission permission);
/// What a service API key's scopes grant: "admin" reads, deploys and administers (it never
/// approves: approval is a person's act).
bool ScopesAllow(const std::vector<std::string>& scopes, Permission permission);

/// The person (or service) an audit actor names, for segregation of duties:
/// "user:alice" and "oidc:alice" -> "alice"; a local actor "alice@host" -> "alice"; an
/// "api-key:ID" stays itself.
std::string ActorIdentity(std::string_view actor);

struct UserRecord {
  std::string name;
  std::vector<std::string> roles;
  std::string password_hash;  ///< Argon2id, encoded ($argon2id$v=19$...); "" for none
  std::string created_at, created_by, disabled_at;
  bool disabled() const { return !disabled_at.empty(); }
  /// Without the password hash.
  nlohmann::json ToJson() const;
};

/// A user name: 1-64 of [A-Za-z0-9._@-], starting with a letter or digit.
Status CheckUserName(std::string_view name);
/// At least 12 characters (NIST SP 800-63B's guidance is length, not composition).
Status CheckPasswordStrength(std::string_view password);
/// The Argon2id hash of `password` with a fresh random salt, in the encoded form that
/// carries its parameters (t=2, m=19 MiB, p=1).
Result<std::string> HashPassword(std::string_view password);
/// Whether `password` matches an encoded Argon2id hash (constant time in the password).
bool VerifyPassword(const std::string& encoded, std::string_view password);

}  // namespace fraudops
