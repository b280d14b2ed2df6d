#pragma once
/// The command line as a client of the server's admin API (docs/governance.md#shared-mode).
/// In shared mode — global.metadata_url is PostgreSQL, so many people share one registry —
/// the governed commands (models approve and reject, deploy, deploy rollback, keys, users) do
/// not write the store themselves: they call the server with the user's token, so the
/// server proves who asks and checks their roles. The token comes from FRAUDOPS_URL and
/// FRAUDOPS_TOKEN, or from what `fraudops login` saved. A local workspace (SQLite) keeps
/// writing its store directly, as the one person who owns it.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/config.h"
#include "core/status.h"

namespace fraudops {

struct RemoteAdmin {
  std::string url;    ///< the server's base URL, without a trailing slash
  std::string token;  ///< a personal access token, service key or OIDC token
  /// The answer of `method` `path` (e.g. /v1/admin/users) with `body` (null: none). A
  /// refusal becomes the Status of its HTTP status (401 Unauthenticated, 403
  /// PermissionDenied, 404 NotFound, 409 Conflict, …) with the server's message.
  Result<nlohmann::json> Call(const std::string& method, const std::string& path,
                              const nlohmann::json& body = nullptr) const;
};

/// Where `fraudops login` keeps the URL and token: $FRAUDOPS_CREDENTIALS, or
/// $XDG_CONFIG_HOME/fraudops/credentials.json (~/.config/…).
std::string CredentialsPath();

/// Whether `config` shares its registry (global.metadata_url is PostgreSQL).
bool SharedMode(const Config& config);

/// nullopt in a local workspace; in shared mode the admin API client, or an
/// Unauthenticated error saying how to sign in.
Result<std::optional<RemoteAdmin>> GovernedRemote(const Config& config);

/// Percent-encodes a path segment (a model or user name).
std::string PathSegment(const std::string& text);

}  // namespace fraudops
