#pragma once
/// The web console's files at /ui (docs/console.md): index.html, app.js and app.css, embedded
/// in the binary when it was built with the console (web/, bundled at build time), gzipped
/// for clients that accept it, with a content security policy that allows only the console's
/// own script and style and connections to this server. The console reads and changes the
/// workspace through the REST API with its session cookie (admin_routes.h).

#include "serve/router.h"

namespace fraudops {

/// Adds GET /ui and GET /ui/{file} to `router`.
void RegisterConsoleRoutes(Router& router);

/// The policy every console page is served with (no inline script, no framing, no other
/// origin).
inline constexpr const char* kConsolePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

}  // namespace fraudops
