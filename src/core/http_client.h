#pragma once
/// One HTTP request through libcurl, for the few places that call a server of ours or a
/// well-known document: the command line's admin API calls in shared mode
/// (docs/governance.md) and an OIDC provider's JWKS. Not for S3 (s3.h signs its own), nor for
/// the trace exporter's posts (serve/http_connection.h keeps its connection). Also what every
/// outbound client shares: the CAs they trust, and the parts of an http(s) URL.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace fraudops {

struct HttpReply {
  long status = 0;
  std::string body;
};

/// The certificate authorities every outbound HTTPS connection of this process trusts
/// (global.ca_file): a PEM file, or empty for the system's store. Set once at start.
void SetOutboundCaFile(std::string path);
const std::string& OutboundCaFile();
/// Sets the TLS options of a libcurl easy handle (a CURL*): the peer's certificate and host
/// name verified against the CAs above, TLS 1.2 at least. Every libcurl call site uses it.
void ApplyOutboundTls(void* curl);

/// `method` `url` with `headers` ("Name: value") and `body`; the reply whatever its status.
/// IoError when nothing came back (refused, timed out, TLS failure), naming the URL.
Result<HttpReply> HttpCall(const std::string& method, const std::string& url,
                           const std::vector<std::string>& headers, const std::string& body,
                           double timeout_seconds = 30);

/// An http:// or https:// URL taken apart: `http[s]://host[:port][/path][?query]`, the host
/// a name, an IPv4 address or a bracketed IPv6 one.
struct HttpUrl {
  bool tls = false;       ///< https
  std::string host;       ///< without brackets
  uint16_t port = 0;      ///< 80 or 443 unless given
  std::string authority;  ///< host[:port] as written: the Host header
  std::string target;     ///< path and query ("/" at least), the fragment left out
};
/// InvalidArgument saying what is wrong: another scheme, credentials in the URL (not
/// accepted: they would travel in logs), no host, a bad port, spaces or control characters.
Result<HttpUrl> ParseHttpUrl(std::string_view url);

}  // namespace fraudops
