#include "serve/route_helpers.h"

namespace fraudops {

using Json = nlohmann::json;

bool AdmitCaller(RequestGuard& guard, StoreAccess& stores, const HttpRequest& request,
                 HttpResponse& response, Permission permission, std::string_view endpoint,
                 std::string* actor, Principal* who) {
  Principal principal;
  const Access access = guard.AuthorizeAdmin(request, response, permission, endpoint, &principal);
  if (access == Access::kForbidden) {  // a known principal refused: on the record
    (void)stores.With([&](ServingStore& store) {
      return store.metadata().InTransaction([&] {
        return store.metadata().AppendAudit(
            principal.actor, "access_refused", "", 0,
            {{"route", std::string(request.method()) + " " + std::string(request.path())},
             {"permission", std::string(PermissionName(permission))}});
      });
    });
  }
  if (access != Access::kAllowed) return false;
  if (actor) *actor = principal.actor;
  if (who) *who = std::move(principal);
  return true;
}

Result<Json> RetireVersion(ServingStore& store, const ModelVersion& version, RetireAction action,
                           const std::string& reason, const std::string& actor, bool roll_back) {
  FOPS_RETURN_IF_ERROR(
      store.Retire({version.model, version.version}, action, reason, actor, roll_back));
  FOPS_ASSIGN_OR_RETURN(ModelVersion changed, store.metadata().GetVersion(
                                                  version.model, std::to_string(version.version)));
  return changed.ToJson();
}

bool Failed(HttpResponse& response, const Status& status) {
  if (status.ok()) return false;
  WriteStatus(response, ErrorStyle::kV1, status);
  return true;
}

void RefuseMember(HttpResponse& response, const std::string& pointer, const std::string& what) {
  WriteError(response, ErrorStyle::kV1, 400, "invalid_body", pointer + ": " + what,
             {{"pointer", pointer}});
}

bool StringOrRefuse(const Json& body, HttpResponse& response, const std::string& key,
                    const std::string& what) {
  if (body.contains(key) && body[key].is_string()) return true;
  RefuseMember(response, "/" + key, what);
  return false;
}

bool NumbersOrRefuse(const Json& body, HttpResponse& response,
                     std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (body.contains(key) && !body[key].is_number()) {
      RefuseMember(response, std::string("/") + key, "a number is required");
      return false;
    }
  }
  return true;
}

bool StringsOrRefuse(const Json& body, HttpResponse& response, const char* key,
                     std::vector<std::string>* out) {
  if (!body.contains(key)) return true;
  bool ok = body[key].is_array();
  if (ok) {
    out->clear();
    for (const auto& v : body[key]) {
      ok = ok && v.is_string();
      if (ok) out->push_back(v.get<std::string>());
    }
  }
  if (!ok) RefuseMember(response, std::string("/") + key, "an array of strings is required");
  return ok;
}

}  // namespace fraudops
