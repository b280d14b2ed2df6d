#pragma once
/// What the JSON routes of `fraudops serve` share: admitting a caller with a permission
/// (refusals of a known caller audited), and the 400s for a body member of the wrong kind,
/// each naming the member as a JSON pointer.

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "serve/request_guard.h"
#include "serve/router.h"
#include "serve/store_access.h"

namespace fraudops {

/// Whether the caller holds `permission` (on `endpoint`, "" for none); a refusal is written
/// (401, 403) and a known caller's refusal audited as access_refused. `actor` and `who`
/// (optional) receive the caller.
bool AdmitCaller(RequestGuard& guard, StoreAccess& stores, const HttpRequest& request,
                 HttpResponse& response, Permission permission, std::string_view endpoint,
                 std::string* actor = nullptr, Principal* who = nullptr);

/// Retires `version` (ServingStore::Retire: reject or archive, refused while it serves unless
/// `roll_back`) and returns its record as changed.
Result<nlohmann::json> RetireVersion(ServingStore& store, const ModelVersion& version,
                                     RetireAction action, const std::string& reason,
                                     const std::string& actor, bool roll_back);
/// Writes `status` unless it is OK; true when it was written.
bool Failed(HttpResponse& response, const Status& status);
/// 400 invalid_body for the member at `pointer`: "<pointer>: <what>".
void RefuseMember(HttpResponse& response, const std::string& pointer, const std::string& what);
/// 400 unless `body[key]` is a string; `what` says what it must be.
bool StringOrRefuse(const nlohmann::json& body, HttpResponse& response, const std::string& key,
                    const std::string& what);
/// 400 for a member that must be a number and is not.
bool NumbersOrRefuse(const nlohmann::json& body, HttpResponse& response,
                     std::initializer_list<const char*> keys);
/// `body[key]` as a list of strings into `out` (absent: left as it is); false after a 400.
bool StringsOrRefuse(const nlohmann::json& body, HttpResponse& response, const char* key,
                     std::vector<std::string>* out);

}  // namespace fraudops
