#include "cli/remote.h"

#include <cctype>
#include <cstdlib>

#include "core/files.h"
#include "core/http_client.h"

namespace fraudops {

using Json = nlohmann::json;

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

Status FromHttp(long status, const std::string& message) {
  switch (status) {
    case 400:
    case 413:
      return Status::InvalidArgument(message);
    case 401:
      return Status::Unauthenticated(message + " (fraudops login, or FRAUDOPS_TOKEN)");
    case 403:
      return Status::PermissionDenied(message);
    case 404:
      return Status::NotFound(message);
    case 409:
      return Status::Conflict(message);
    case 422:
      return Status::DataError(message);
    default:
      return Status::IoError(message);
  }
}

}  // namespace

Result<Json> RemoteAdmin::Call(const std::string& method, const std::string& path,
                               const Json& body) const {
  std::vector<std::string> headers = {"Accept: application/json", "Authorization: Bearer " + token};
  std::string text;
  if (!body.is_null()) {
    headers.push_back("Content-Type: application/json");
    text = body.dump();
  }
  FOPS_ASSIGN_OR_RETURN(HttpReply reply, HttpCall(method, url + path, headers, text));
  const Json answer = Json::parse(reply.body, nullptr, false);
  if (reply.status >= 200 && reply.status < 300) {
    if (answer.is_discarded())
      return Status::IoError(method + " " + url + path + ": the answer is not JSON");
    return answer;
  }
  std::string message = "HTTP " + std::to_string(reply.status) + " from " + url;
  if (!answer.is_discarded() && answer.contains("error") && answer["error"].is_object())
    message = answer["error"].value("message", message);
  return FromHttp(reply.status, message);
}

std::string CredentialsPath() {
  std::string path = Env("FRAUDOPS_CREDENTIALS");
  if (!path.empty()) return path;
  std::string base = Env("XDG_CONFIG_HOME");
  if (base.empty()) base = Env("HOME") + "/.config";
  return base + "/fraudops/credentials.json";
}

bool SharedMode(const Config& config) {
  const std::string& url = config.global.metadata_url;
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

Result<std::optional<RemoteAdmin>> GovernedRemote(const Config& config) {
  if (!SharedMode(config)) return std::optional<RemoteAdmin>();
  RemoteAdmin remote{Env("FRAUDOPS_URL"), Env("FRAUDOPS_TOKEN")};
  if (remote.url.empty() || remote.token.empty()) {
    const std::string path = CredentialsPath();
    if (FileExists(path)) {
      FOPS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
      const Json saved = Json::parse(text, nullptr, false);
      if (!saved.is_object())
        return Status::InvalidArgument(path + ": not JSON; run fraudops login again");
      if (remote.url.empty()) remote.url = saved.value("url", "");
      if (remote.token.empty()) remote.token = saved.value("token", "");
    }
  }
  if (remote.url.empty() || remote.token.empty()) {
    return Status::Unauthenticated(
        "this workspace shares its registry (global.metadata_url is PostgreSQL), so approval, "
        "deployment, keys and users go through the server with your identity: run `fraudops "
        "login --url https://SERVER`, or set FRAUDOPS_URL and FRAUDOPS_TOKEN");
  }
  while (!remote.url.empty() && remote.url.back() == '/') remote.url.pop_back();
  return std::optional<RemoteAdmin>(remote);
}

std::string PathSegment(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace fraudops
