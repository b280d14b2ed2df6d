#include "serve/router.h"

#include <exception>
#include <nlohmann/json.hpp>

#include "core/strings.h"
#include "serve/predict_request.h"

namespace fraudops {

std::vector<std::string_view> PathSegments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    if (slash != 0) out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool ReadJsonObjectBody(const HttpRequest& request, HttpResponse& response, nlohmann::json* out) {
  const std::string& body = request.body();
  if (Trim(body).empty()) {
    *out = nlohmann::json::object();
    return true;
  }
  size_t offset = 0;
  std::string message;
  if (FindJsonSyntaxError(body, &offset, &message)) {
    WriteError(response, ErrorStyle::kV1, 400, "malformed_json",
               "malformed JSON at byte " + std::to_string(offset) + ": " + message,
               {{"offset", offset}});
    return false;
  }
  *out = nlohmann::json::parse(body, nullptr, false);
  if (!out->is_object()) {
    WriteError(response, ErrorStyle::kV1, 400, "invalid_body", "the body must be a JSON object");
    return false;
  }
  return true;
}

void Router::Add(std::string method, std::string pattern, RouteHandler handler, Options options) {
  Route route;
  route.method = std::move(method);
  for (std::string_view segment : PathSegments(pattern)) route.segments.emplace_back(segment);
  route.pattern = std::move(pattern);
  route.handler = std::move(handler);
  route.errors = options.errors;
  route.counts_itself = options.counts_itself;
  routes_.push_back(std::move(route));
}

const Route* Router::Dispatch(const HttpRequest& request, HttpResponse& response,
                              RouteMatch& match) const {
  const auto path = PathSegments(request.path());
  bool path_known = false;
  for (const Route& route : routes_) {
    if (route.segments.size() != path.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < path.size() && ok; ++i) {
      ok = route.segments[i].front() == '{' || route.segments[i] == path[i];
    }
    if (!ok) continue;
    path_known = true;
    if (route.method != request.method()) continue;
    match.route = &route;
    for (size_t i = 0; i < path.size(); ++i) {
      // Views into the request's path, which outlives the call.
      if (route.segments[i].front() == '{') match.params.push_back(path[i]);
    }
    break;
  }
  if (match.route == nullptr) {
    const ErrorStyle style =
        StartsWith(request.path(), "/v2") ? ErrorStyle::kOpenInference : ErrorStyle::kV1;
    if (path_known) {
      WriteError(
          response, style, 405, "method_not_allowed",
          std::string(request.method()) + " is not allowed on " + std::string(request.path()));
    } else {
      WriteError(response, style, 404, "not_found",
                 "no route " + std::string(request.path()) + " (GET /openapi.json lists them)");
    }
    return nullptr;
  }
  try {
    match.route->handler(request, response, match);
  } catch (const nlohmann::json::exception& e) {  // a member of the wrong type in a JSON body
    response = HttpResponse();
    WriteError(response, match.route->errors, 400, "invalid_body",
               std::string("the body has a value of the wrong type: ") + e.what());
  } catch (const std::exception& e) {  // never let one cross into the connection
    response = HttpResponse();
    WriteError(response, match.route->errors, 500, "internal", e.what());
  }
  return match.route;
}

}  // namespace fraudops
