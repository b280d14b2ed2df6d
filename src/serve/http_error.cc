#include "serve/http_error.h"

namespace fraudops {

using Json = nlohmann::json;

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kDataError:
      return 422;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

const char* ErrorCodeFor(int http_status) {
  switch (http_status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "too_large";
    case 422:
      return "invalid";
    case 429:
      return "rate_limited";
    case 431:
      return "headers_too_large";
    case 501:
      return "not_implemented";
    case 503:
      return "unavailable";
    default:
      return http_status >= 500 ? "internal" : "error";
  }
}

void WriteError(HttpResponse& response, ErrorStyle style, int status, std::string_view code,
                std::string_view message, const Json& details) {
  response.status = status;
  response.content_type = "application/json";
  if (style == ErrorStyle::kOpenInference) {
    response.body = Json({{"error", message}}).dump(-1, ' ', false, Json::error_handler_t::replace);
    return;
  }
  Json error = {{"status", status},
                {"code", code.empty() ? std::string_view(ErrorCodeFor(status)) : code},
                {"message", message}};
  if (!details.empty()) error["details"] = details;
  response.body = Json({{"error", error}}).dump(-1, ' ', false, Json::error_handler_t::replace);
}

void WriteStatus(HttpResponse& response, ErrorStyle style, const Status& status) {
  WriteError(response, style, HttpStatusFor(status), "", status.message());
}

void WriteJson(HttpResponse& response, const Json& body, int http_status) {
  response.status = http_status;
  response.content_type = "application/json";
  response.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace fraudops
