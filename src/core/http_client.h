#pragma once
/// One HTTP request through libcurl, for the few places that call a server of ours or a
/// well-known document: the command line's admin API calls in shared mode
/// (docs/governance.md) and an OIDC provider's JWKS. Not for S3 (s3.h signs its own).

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace fraudops {

struct HttpReply {
  long status = 0;
  std::string body;
};

/// `method` `url` with `headers` ("Name: value") and `body`; the reply whatever its status.
/// IoError when nothing came back (refused, timed out, TLS failure), naming the URL.
Result<HttpReply> HttpCall(const std::string& method, const std::string& url,
                           const std::vector<std::string>& headers, const std::string& body,
                           double timeout_seconds = 30);

}  // namespace fraudops
