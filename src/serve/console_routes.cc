#include "serve/console_routes.h"

#include <string>
#include <string_view>

#include "core/hash.h"

#if defined(FRAUDOPS_CONSOLE)
namespace fraudops::console {
std::string_view index_html();
std::string_view app_js();
std::string_view app_css();
std::string_view app_js_gz();
std::string_view app_css_gz();
}  // namespace fraudops::console
#endif

namespace fraudops {

namespace {

/// Headers every console response carries.
void Harden(HttpResponse& response) {
  response.headers.emplace_back("Content-Security-Policy", kConsolePolicy);
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("X-Frame-Options", "DENY");
}

#if defined(FRAUDOPS_CONSOLE)
struct ConsoleFile {
  std::string_view name, content_type, plain, gzipped;
  std::string etag;
};

void Serve(const ConsoleFile& file, const HttpRequest& request, HttpResponse& response) {
  Harden(response);
  response.content_type = std::string(file.content_type);
  response.headers.emplace_back("Cache-Control", "no-cache");  // revalidated by its ETag
  response.headers.emplace_back("ETag", file.etag);
  response.headers.emplace_back("Vary", "Accept-Encoding");
  if (request.Header("if-none-match") == file.etag) {
    response.status = 304;
    return;
  }
  if (!file.gzipped.empty() &&
      request.Header("accept-encoding").find("gzip") != std::string::npos) {
    response.headers.emplace_back("Content-Encoding", "gzip");
    response.body = std::string(file.gzipped);
  } else {
    response.body = std::string(file.plain);
  }
}

#endif

}  // namespace

void RegisterConsoleRoutes(Router& router) {
#if defined(FRAUDOPS_CONSOLE)
  auto etag = [](std::string_view bytes) { return "\"" + Sha256Hex(bytes).substr(0, 32) + "\""; };
  static const ConsoleFile kIndex{"index.html", "text/html; charset=utf-8", console::index_html(),
                                  "", etag(console::index_html())};
  static const ConsoleFile kFiles[] = {
      {"app.js", "text/javascript; charset=utf-8", console::app_js(), console::app_js_gz(),
       etag(console::app_js())},
      {"app.css", "text/css; charset=utf-8", console::app_css(), console::app_css_gz(),
       etag(console::app_css())}};
  router.Add("GET", "/ui",
             [](const HttpRequest& request, HttpResponse& response, const RouteMatch&) {
               Serve(kIndex, request, response);
             });
  router.Add("GET", "/ui/{file}",
             [](const HttpRequest& request, HttpResponse& response, const RouteMatch& match) {
               for (const ConsoleFile& file : kFiles) {
                 if (match.params[0] == file.name) return Serve(file, request, response);
               }
               Harden(response);
               WriteError(response, ErrorStyle::kV1, 404, "not_found",
                          "no console file " + std::string(match.params[0]));
             });
#else
  router.Add("GET", "/ui", [](const HttpRequest&, HttpResponse& response, const RouteMatch&) {
    Harden(response);
    response.status = 404;
    response.content_type = "text/html; charset=utf-8";
    response.body =
        "<!doctype html><title>fraudops</title><p>This fraudops binary was built without its "
        "web console: build it with Node.js and npm installed (scripts/install-deps.sh), or "
        "with -DFRAUDOPS_CONSOLE=ON (docs/console.md).</p>";
  });
#endif
}

}  // namespace fraudops
