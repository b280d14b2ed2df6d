#pragma once
/// The route table of `fraudops serve`: METHOD + path pattern (`/v1/endpoints/{endpoint}/
/// predict`) -> handler. Matching compares segments; a `{placeholder}` matches any one
/// segment and is handed to the handler as a view into the request's path. A path that
/// matches no pattern answers 404, one that matches with another method 405; a handler that
/// throws answers 400 (a JSON value of the wrong type in a body) or 500, in the route's
/// error style (http_error.h), so no exception reaches the connection.

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "serve/http_error.h"
#include "serve/http_server.h"

namespace fraudops {

struct Route;

struct RouteMatch {
  const Route* route = nullptr;
  std::vector<std::string_view> params;  ///< the {placeholders}, in order
};

using RouteHandler = std::function<void(const HttpRequest&, HttpResponse&, const RouteMatch&)>;

struct Route {
  std::string method;
  std::string pattern;  ///< e.g. /v1/endpoints/{endpoint}/predict (also the metrics label)
  std::vector<std::string> segments;
  RouteHandler handler;
  ErrorStyle errors = ErrorStyle::kV1;
  /// The handler counts its own requests in the metrics (with endpoint and variant labels).
  bool counts_itself = false;
};

class Router {
 public:
  struct Options {
    ErrorStyle errors = ErrorStyle::kV1;
    bool counts_itself = false;
  };
  /// Adds a route (before the server starts; the table is read-only afterwards).
  void Add(std::string method, std::string pattern, RouteHandler handler, Options options);
  void Add(std::string method, std::string pattern, RouteHandler handler) {
    Add(std::move(method), std::move(pattern), std::move(handler), Options());
  }

  /// Runs the route `request` matches and returns it, or writes 404/405 and returns null.
  const Route* Dispatch(const HttpRequest& request, HttpResponse& response,
                        RouteMatch& match) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

/// Reads a JSON object body for the routes that are not hot (admin, feedback) with
/// nlohmann: an empty body is {}; malformed JSON is 400 naming the byte offset, anything but
/// an object 400. False with the response written.
bool ReadJsonObjectBody(const HttpRequest& request, HttpResponse& response, nlohmann::json* out);

/// The non-empty segments of `path`, as views into it.
std::vector<std::string_view> PathSegments(std::string_view path);

}  // namespace fraudops
