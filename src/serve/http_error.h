#pragma once
/// The one mapping from a problem to an HTTP response. /v1 and admin routes, and the HTTP
/// server's own refusals (413, 431, malformed requests), answer
///   {"error": {"status": 404, "code": "not_found", "message": "…", "details": {…}}}
/// (docs/api.md); the Open Inference Protocol's routes answer {"error": "message"}, as its
/// specification asks. A `Status` becomes an HTTP status here and nowhere else.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"
#include "serve/http_server.h"

namespace fraudops {

/// Which error body a route answers with.
enum class ErrorStyle { kV1, kOpenInference };

/// 400 for invalid arguments, 422 for data errors, 404, 409, 501, 500 for I/O and internal.
int HttpStatusFor(const Status& status);
/// The machine-readable code for an HTTP status when the caller has no finer one
/// (bad_request, unauthorized, not_found, rate_limited, …).
const char* ErrorCodeFor(int http_status);

/// Writes the error body; an empty `code` takes ErrorCodeFor(status).
void WriteError(HttpResponse& response, ErrorStyle style, int status, std::string_view code,
                std::string_view message, const nlohmann::json& details = nlohmann::json::object());
/// Writes `status` (not OK) as its HTTP status and error body.
void WriteStatus(HttpResponse& response, ErrorStyle style, const Status& status);
/// A JSON body (invalid UTF-8 replaced, never thrown on).
void WriteJson(HttpResponse& response, const nlohmann::json& body, int http_status = 200);

}  // namespace fraudops
