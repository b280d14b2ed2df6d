// Fuzzes the small parsers of untrusted text around the stores: S3 URIs, S3 XML responses,
// database URLs (password redaction, MySQL URL parsing through OpenMysql's parser is not
// reachable without a server, so RedactUrl stands for it), Redis URLs (api.quota_url), http(s)
// URLs (tracing.otlp_url).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/http_client.h"
#include "core/s3.h"
#include "core/strings.h"
#include "serve/shared_quotas.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto location = fraudops::ParseS3Uri(text);
  if (location.ok() && location->bucket.empty()) __builtin_trap();
  std::string redacted = fraudops::RedactUrl(text);
  if (redacted.size() > text.size() + 3) __builtin_trap();
  size_t from = 0;
  for (int i = 0; i < 64; ++i) {
    size_t before = from;
    std::string key = fraudops::XmlText(text, "Key", &from);
    if (key.empty() && from == before) break;
    if (from <= before) __builtin_trap();  // must make progress
  }
  (void)fraudops::XmlText(text, "Code");
  auto redis = fraudops::ParseRedisUrl(text);
  if (redis.ok() && (redis->host.empty() || redis->port < 1 || redis->port > 65535))
    __builtin_trap();
  (void)fraudops::UriEncode(text, true);
  auto http = fraudops::ParseHttpUrl(text);
  if (http.ok() && (http->host.empty() || http->port == 0 || http->target.empty() ||
                    http->target[0] != '/' || http->authority.size() >= text.size()))
    __builtin_trap();
  return 0;
}
