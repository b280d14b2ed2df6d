#pragma once
/// The HTTP/1.1 server under `fraudops serve`, on Boost.Beast and Asio: one worker thread per
/// core, each with its own event loop and its own listening socket (SO_REUSEPORT, so the
/// kernel spreads connections), keep-alive, TCP_NODELAY, and limits that keep one client
/// from holding a worker: a body limit (413), a header limit (431), an idle timeout between
/// requests, and separate deadlines for a request's headers and its body, so a client that
/// sends slowly is cut off (its connection closed; deadlines are checked every 100 ms). `Expect:
/// 100-continue` is answered. Drain() stops accepting, closes idle connections, lets requests in
/// flight finish (their responses say `Connection: close`) and returns when all are done or the
/// drain timeout passes. With TLS (SetTls) every connection starts with a handshake (TLS 1.2
/// or 1.3 only, under the header deadline), optionally requiring a client certificate; SetTls
/// again swaps the certificate for new connections while the open ones go on with theirs.
///
/// Handlers run on the worker thread that read the request and must not block for long:
/// scoring takes microseconds; anything slow belongs on another thread.

#include <atomic>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"

namespace fraudops {

/// %XX escapes decoded (and '+' as a space in a query string).
std::string PercentDecode(std::string_view text, bool plus_is_space = true);

struct HttpLimits {
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  size_t max_connections = 10000;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_timeout{30000};
};

/// A request as handlers see it (a view over Beast's message; valid during the call).
class HttpRequest {
 public:
  using Message = boost::beast::http::request<boost::beast::http::string_body>;
  explicit HttpRequest(Message& message);

  std::string_view method() const { return method_; }
  /// The path without the query, e.g. /v1/endpoints/fraud/predict.
  std::string_view path() const { return path_; }
  std::string_view query() const { return query_; }
  /// The value of query parameter `name` (percent-decoded), or "" when absent.
  std::string QueryParam(std::string_view name) const;
  bool HasQueryParam(std::string_view name) const;
  /// The header's value, or "" when absent.
  std::string_view Header(std::string_view name) const;
  /// The body; handlers may parse it in place.
  std::string& body() const { return message_.body(); }

 private:
  Message& message_;
  std::string_view method_, path_, query_;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// Close the connection after this response.
  bool close = false;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

/// The server's TLS files (PEM): its certificate chain and key, and the CA whose
/// certificates clients must present (empty: no client certificate asked for).
struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
};

/// An OpenSSL server context (asio::ssl::context, opaque here).
class TlsContext;

/// What the server saw besides requests (for metrics).
struct HttpServerStats {
  std::atomic<int64_t> open_connections{0};
  std::atomic<uint64_t> tls_handshake_failures{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused_connections{0};  ///< beyond max_connections
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> bad_requests{0};  ///< unparseable HTTP, header or body over the limit
};

class HttpServer {
 public:
  HttpServer(HttpLimits limits, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds HOST:PORT (port 0 picks a free one) and starts `workers` threads.
  Status Start(const std::string& host, uint16_t port, size_t workers);
  /// Serves HTTPS with `files` from the next connection on (before Start, or again to
  /// reload them: a file that cannot be used keeps the previous context, and says why).
  Status SetTls(const TlsFiles& files) EXCLUDES(tls_mutex_);
  bool tls() const EXCLUDES(tls_mutex_);
  uint16_t port() const { return port_; }
  /// Graceful: see the file comment. Safe to call from any thread, once.
  void Drain(std::chrono::milliseconds timeout);
  const HttpServerStats& stats() const { return stats_; }

  struct Worker;
  class SessionBase;
  template <class Stream>
  class Session;
  using Clock = std::chrono::steady_clock;

 private:
  static constexpr std::chrono::milliseconds kSweepInterval{100};
  void Accept(Worker& worker);
  void Sweep(Worker& worker);

  HttpLimits limits_;
  HttpHandler handler_;
  HttpServerStats stats_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> draining_{false};
  uint16_t port_ = 0;
  mutable Mutex tls_mutex_;
  std::shared_ptr<TlsContext> tls_ GUARDED_BY(tls_mutex_);
};

/// Splits "HOST:PORT" ("[::1]:8080" for IPv6).
Result<std::pair<std::string, uint16_t>> ParseListenAddress(const std::string& text);

}  // namespace fraudops
