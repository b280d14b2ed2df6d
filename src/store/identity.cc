#include "store/identity.h"

#include <argon2.h>

#include <algorithm>
#include <cctype>

#include "core/ids.h"
#include "core/strings.h"

namespace fraudops {

namespace {

constexpr uint32_t kArgonTime = 2;
constexpr uint32_t kArgonMemoryKib = 19 * 1024;
constexpr uint32_t kArgonLanes = 1;
constexpr size_t kArgonHashBytes = 32;

bool Has(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

std::string_view PermissionName(Permission permission) {
  switch (permission) {
    case Permission::kRead:
      return "read";
    case Permission::kRun:
      return "run";
    case Permission::kApprove:
      return "approve";
    case Permission::kDeploy:
      return "deploy";
    case Permission::kAdmin:
      return "admin";
  }
  return "?";
}

const std::vector<std::string>& RoleNames() {
  static const std::vector<std::string> kRoles = {"viewer", "data_scientist", "approver",
                                                  "deployer", "admin"};
  return kRoles;
}

Status CheckRoles(const std::vector<std::string>& roles) {
  const std::string accepted = Join(RoleNames(), ", ");
  if (roles.empty()) return Status::InvalidArgument("a user needs a role; accepted: " + accepted);
  for (const std::string& role : roles) {
    if (!Has(RoleNames(), role)) {
      return Status::InvalidArgument("unknown role '" + role + "'; accepted: " + accepted +
                                     DidYouMean(role, RoleNames()));
    }
  }
  return Status::Ok();
}

bool RolesAllow(const std::vector<std::string>& roles, Permission permission) {
  switch (permission) {
    case Permission::kRead:
      return !roles.empty();
    case Permission::kRun:
      return Has(roles, "data_scientist");
    case Permission::kApprove:
      return Has(roles, "approver");
    case Permission::kDeploy:
      return Has(roles, "deployer");
    case Permission::kAdmin:
      return Has(roles, "admin");
  }
  return false;
}

bool ScopesAllow(const std::vector<std::string>& scopes, Permission permission) {
  if (!Has(scopes, "admin")) return false;
  return permission == Permission::kRead || permission == Permission::kDeploy ||
         permission == Permission::kAdmin;
}

std::string ActorIdentity(std::string_view actor) {
  for (std::string_view prefix : {"user:", "oidc:"}) {
    if (actor.substr(0, prefix.size()) == prefix) return std::string(actor.substr(prefix.size()));
  }
  if (actor.substr(0, 8) == "api-key:") return std::string(actor);
  const size_t at = actor.rfind('@');
  return std::string(at == std::string_view::npos ? actor : actor.substr(0, at));
}

nlohmann::json UserRecord::ToJson() const {
  nlohmann::json out = {{"name", name},
                        {"roles", roles},
                        {"has_password", !password_hash.empty()},
                        {"created_at", created_at},
                        {"created_by", created_by}};
  if (disabled()) out["disabled_at"] = disabled_at;
  return out;
}

Status CheckUserName(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= 64 &&
                  std::isalnum(static_cast<unsigned char>(name[0])) &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                           c == '@' || c == '-';
                  });
  if (ok) return Status::Ok();
  return Status::InvalidArgument("user name '" + std::string(name) +
                                 "' is not valid; accepted: 1-64 letters, digits and . _ @ -, "
                                 "starting with a letter or digit");
}

Status CheckPasswordStrength(std::string_view password) {
  if (password.size() >= 12) return Status::Ok();
  return Status::InvalidArgument("the password is too short (" + std::to_string(password.size()) +
                                 " characters); at least 12 are needed");
}

Result<std::string> HashPassword(std::string_view password) {
  const std::string salt = SecureRandomToken(22);
  const size_t length =
      argon2_encodedlen(kArgonTime, kArgonMemoryKib, kArgonLanes,
                        static_cast<uint32_t>(salt.size()), kArgonHashBytes, Argon2_id);
  std::string encoded(length, '\0');
  const int rc = argon2id_hash_encoded(kArgonTime, kArgonMemoryKib, kArgonLanes, password.data(),
                                       password.size(), salt.data(), salt.size(), kArgonHashBytes,
                                       encoded.data(), encoded.size());
  if (rc != ARGON2_OK)
    return Status::Internal(std::string("argon2id failed: ") + argon2_error_message(rc));
  encoded.resize(std::min(encoded.size(), encoded.find('\0')));
  return encoded;
}

bool VerifyPassword(const std::string& encoded, std::string_view password) {
  if (encoded.rfind("$argon2id$", 0) != 0) return false;
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace fraudops
