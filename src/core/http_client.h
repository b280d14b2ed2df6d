#pragma once
/// One HTTP request through libcurl, for the few places that call a server of ours or a
/// well-known document: the command line's admin API calls in shared mode
/// (docs/governance.md) and an OIDC provider's JWKS. Not for S3 (s3.h signs its own).

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
/// Sets the TLS options of a libcurl easy handle (a CURL*): the peer's certificate and host
/// name verified against the CAs above, TLS 1.2 at least. Every libcurl call site uses it.
void ApplyOutboundTls(void* curl);

/// `method` `url` with `headers` ("Name: value") and `body`; the reply whatever its status.
/// IoError when nothing came back (refused, timed out, TLS failure), naming the URL.
Result<HttpReply> HttpCall(const std::string& method, const std::string& url,
                           const std::vector<std::string>& headers, const std::string& body,
                           double timeout_seconds = 30);

/// HttpCall on one libcurl handle kept between calls, so the connection to the server stays
/// open (HTTP keep-alive) for the next. One caller at a time.
class HttpSession {
 public:
  HttpSession();
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;
  Result<HttpReply> Call(const std::string& method, const std::string& url,
                         const std::vector<std::string>& headers, std::string_view body,
                         double timeout_seconds = 30);

 private:
  void* curl_ = nullptr;  ///< CURL*
};

}  // namespace fraudops
