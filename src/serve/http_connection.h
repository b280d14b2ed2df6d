#pragma once
/// One keep-alive HTTP/1.1 connection to one http:// or https:// URL, for a client that posts
/// to the same server again and again: the trace exporter (serve/tracing.h). A post is one
/// gathered write of the head and the body (no copy of the body) and one read of the answer,
/// where libcurl, which it replaces there, copied the body through a 64 KB buffer with two
/// polls a piece — about 2.5 times the CPU per post (BENCHMARKS.md, tracing). HTTPS verifies
/// the server's certificate and name against global.ca_file or the system's store, TLS 1.2
/// at least. One caller at a time; a post blocks the caller for at most its time limit.

#include <memory>
#include <string>
#include <string_view>

#include "core/http_client.h"
#include "core/status.h"

namespace fraudops {

class HttpConnection {
 public:
  /// InvalidArgument for a URL ParseHttpUrl refuses, or a CA file that cannot be read.
  /// Connects on the first post.
  static Result<std::unique_ptr<HttpConnection>> Open(std::string_view url);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  /// POSTs `body` to the URL with `content_type`; the answer whatever its status. Connects
  /// (again) when there is no open connection or the server closed the one kept; a kept
  /// connection that fails before any answer arrives is replaced and the post sent once more
  /// (the server may close an idle connection just as the post leaves). IoError naming the
  /// URL when nothing came back: refused, timed out after `timeout_seconds` (the whole post,
  /// connecting included), TLS refused, a malformed answer.
  Result<HttpReply> Post(std::string_view content_type, std::string_view body,
                         double timeout_seconds);

  /// Connections opened so far (the tests see keep-alive with it).
  int connects() const;

 private:
  struct Impl;
  explicit HttpConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fraudops
