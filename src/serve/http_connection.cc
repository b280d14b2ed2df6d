#include "serve/http_connection.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <optional>
#include <utility>

namespace fraudops {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;
using Request = http::request<http::span_body<const char>>;
using AnswerParser = http::response_parser<http::string_body>;

constexpr uint64_t kMaxAnswerBytes = 1 << 20;  // a collector answers with a few bytes

}  // namespace

struct HttpConnection::Impl {
  HttpUrl url;
  std::string post_url;  ///< "POST <url>", to begin messages
  asio::io_context io{1};
  std::optional<asio::ssl::context> tls;  // https
  // One of the two while connected. After io: destroyed before it.
  std::optional<tcp::socket> plain;
  std::optional<asio::ssl::stream<tcp::socket>> secure;
  boost::beast::flat_buffer buffer;
  SteadyClock::time_point deadline;
  int connects = 0;

  tcp::socket* Socket() {
    if (secure) return &secure->next_layer();
    return plain ? &*plain : nullptr;
  }

  /// Ends the connection's socket; what uses it stays until Close(), for pending handlers.
  void CloseSocket() {
    if (tcp::socket* socket = Socket()) {
      error_code ignored;
      socket->close(ignored);
    }
  }

  void Close() {
    CloseSocket();
    secure.reset();
    plain.reset();
    buffer.clear();
  }

  /// A kept connection can carry the next post while nothing waits to be read on it: the
  /// server's close (end of stream, a TLS close_notify) or bytes no request asked for make it
  /// unusable.
  bool KeptConnectionUsable() {
    tcp::socket* socket = Socket();
    if (socket == nullptr || !socket->is_open()) return false;
    pollfd readable{socket->native_handle(), POLLIN, 0};
    return ::poll(&readable, 1, 0) == 0;
  }

  /// Runs the one asynchronous operation `initiate(handler)` starts until it completes or the
  /// deadline passes; then the socket is closed (the operation ends, aborted) and the result
  /// is timed_out. The streams outlive their operations: they are reset only by Close().
  template <class Initiate>
  error_code Await(Initiate&& initiate) {
    std::optional<error_code> result;
    io.restart();
    std::forward<Initiate>(initiate)([&result](error_code ec, auto&&...) { result = ec; });
    io.run_until(deadline);
    if (result) return *result;
    CloseSocket();
    io.restart();
    io.run();  // the aborted operation's handler
    return asio::error::timed_out;
  }

  error_code Connect() {
    Close();
    error_code ec;
    tcp::resolver resolver(io);
    // Blocking (getaddrinfo): a collector's name resolves once per connection, not per post.
    const auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
    if (ec) return ec;
    if (tls) {
      secure.emplace(io, *tls);
    } else {
      plain.emplace(io);
    }
    tcp::socket& socket = *Socket();
    ec = Await([&](auto handler) { asio::async_connect(socket, endpoints, std::move(handler)); });
    if (ec) return ec;
    ++connects;
    socket.set_option(tcp::no_delay(true), ec);
    if (!tls) return {};
    // The name (SNI) and the certificate's name or address checked against the URL's host.
    SSL* ssl = secure->native_handle();
    error_code not_an_address;
    asio::ip::make_address(url.host, not_an_address);
    if (not_an_address) {
      SSL_set_tlsext_host_name(ssl, url.host.c_str());
      SSL_set1_host(ssl, url.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str());
    }
    return Await([&](auto handler) {
      secure->async_handshake(asio::ssl::stream_base::client, std::move(handler));
    });
  }

  template <class Stream>
  error_code Exchange(Stream& stream, const Request& request, AnswerParser& answer) {
    error_code ec =
        Await([&](auto handler) { http::async_write(stream, request, std::move(handler)); });
    if (ec) return ec;
    return Await(
        [&](auto handler) { http::async_read(stream, buffer, answer, std::move(handler)); });
  }
};

HttpConnection::HttpConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpConnection::~HttpConnection() = default;

Result<std::unique_ptr<HttpConnection>> HttpConnection::Open(std::string_view url) {
  FOPS_ASSIGN_OR_RETURN(HttpUrl parsed, ParseHttpUrl(url));
  auto impl = std::make_unique<Impl>();
  impl->url = std::move(parsed);
  impl->post_url = "POST " + std::string(url);
  if (impl->url.tls) {
    impl->tls.emplace(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(impl->tls->native_handle(), TLS1_2_VERSION);
    impl->tls->set_verify_mode(asio::ssl::verify_peer);
    error_code ec;
    const std::string& ca_file = OutboundCaFile();
    if (ca_file.empty()) {
      impl->tls->set_default_verify_paths(ec);
    } else {
      impl->tls->load_verify_file(ca_file, ec);
    }
    if (ec) {
      return Status::InvalidArgument(
          (ca_file.empty() ? "the system's certificate store" : "global.ca_file " + ca_file) +
          ": " + ec.message());
    }
  }
  return std::unique_ptr<HttpConnection>(new HttpConnection(std::move(impl)));
}

Result<HttpReply> HttpConnection::Post(std::string_view content_type, std::string_view body,
                                       double timeout_seconds) {
  Impl& c = *impl_;
  c.deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                        std::chrono::duration<double>(timeout_seconds));
  Request request{http::verb::post, c.url.target, 11};
  request.set(http::field::host, c.url.authority);
  request.set(http::field::content_type,
              boost::beast::string_view(content_type.data(), content_type.size()));
  request.body() = {body.data(), body.size()};
  request.prepare_payload();
  for (int attempt = 0;; ++attempt) {
    const bool kept = c.KeptConnectionUsable();
    AnswerParser answer;
    answer.body_limit(kMaxAnswerBytes);
    error_code ec = kept ? error_code() : c.Connect();
    if (!ec)
      ec =
          c.secure ? c.Exchange(*c.secure, request, answer) : c.Exchange(*c.plain, request, answer);
    if (!ec) {
      HttpReply reply;
      reply.status = answer.get().result_int();
      reply.body = std::move(answer.get().body());
      // Bytes after the answer were asked for by no request: the connection is not reused.
      if (!answer.get().keep_alive() || c.buffer.size() > 0) c.Close();
      return reply;
    }
    c.Close();
    // A kept connection the server closed as the post left: once more, on a new one.
    if (kept && attempt == 0 && !answer.got_some() && ec != asio::error::timed_out) continue;
    if (ec == asio::error::timed_out) {
      return Status::IoError(c.post_url + ": no answer within " +
                             std::to_string(static_cast<long long>(timeout_seconds * 1000)) +
                             " ms");
    }
    return Status::IoError(c.post_url + ": " + ec.message());
  }
}

int HttpConnection::connects() const { return impl_->connects; }

}  // namespace fraudops
