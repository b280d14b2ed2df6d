#include "serve/http_server.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/logging.h"
#include "core/strings.h"
#include "serve/http_error.h"
#include "serve/tls_socket.h"

namespace fraudops {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

tcp::socket& Lowest(tcp::socket& socket) { return socket; }
tcp::socket& Lowest(TlsSocket& stream) { return stream.next_layer(); }

/// The oldest error OpenSSL queued, as text (and the queue cleared).
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> Make(const TlsFiles& files) {
    auto made = std::shared_ptr<TlsContext>(new TlsContext());
    SSL_CTX* ctx = made->context.native_handle();
    ERR_clear_error();
    // TLS 1.2 and 1.3 only; OpenSSL's default ciphers for them (forward secrecy, AEAD).
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
      return Status::InvalidArgument("api.tls_cert_file: " + files.cert_file +
                                     ": not a usable PEM certificate chain (" + OpenSslError() +
                                     ")");
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return Status::InvalidArgument("api.tls_key_file: " + files.key_file +
                                     ": not a usable PEM private key (" + OpenSslError() + ")");
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return Status::InvalidArgument("api.tls_key_file: " + files.key_file +
                                     " is not the key of the certificate in " + files.cert_file);
    }
    if (!files.client_ca_file.empty()) {
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca_file.c_str());
      if (names == nullptr ||
          SSL_CTX_load_verify_locations(ctx, files.client_ca_file.c_str(), nullptr) != 1) {
        if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
        return Status::InvalidArgument("api.tls_client_ca_file: " + files.client_ca_file +
                                       ": no usable PEM CA certificate (" + OpenSslError() + ")");
      }
      SSL_CTX_set_client_CA_list(ctx, names);
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      static const unsigned char kSessionContext[] = "fraudops";
      SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    }
    return made;
  }
  asio::ssl::context context{asio::ssl::context::tls_server};

 private:
  TlsContext() = default;
};

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

HttpRequest::HttpRequest(Message& message) : message_(message) {
  method_ = std::string_view(message.method_string().data(), message.method_string().size());
  std::string_view target(message.target().data(), message.target().size());
  size_t question = target.find('?');
  path_ = target.substr(0, question);
  query_ = question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
}

bool HttpRequest::HasQueryParam(std::string_view name) const {
  for (std::string_view part : Split(query_, '&')) {
    if (part.substr(0, part.find('=')) == name) return true;
  }
  return false;
}

std::string HttpRequest::QueryParam(std::string_view name) const {
  for (std::string_view part : Split(query_, '&')) {
    size_t equals = part.find('=');
    if (part.substr(0, equals) == name) {
      return equals == std::string_view::npos ? std::string()
                                              : PercentDecode(part.substr(equals + 1));
    }
  }
  return {};
}

std::string_view HttpRequest::Header(std::string_view name) const {
  auto it = message_.find(beast::string_view(name.data(), name.size()));
  if (it == message_.end()) return {};
  return std::string_view(it->value().data(), it->value().size());
}

// ---------------------------------------------------------------------------------------

struct HttpServer::Worker {
  asio::io_context io{1};
  std::optional<tcp::acceptor> acceptor;
  /// Wakes every kSweepInterval to close connections past their deadline.
  std::optional<asio::steady_timer> sweep;
  std::thread thread;
  /// Sessions of this worker, touched only on its thread.
  std::vector<std::weak_ptr<SessionBase>> sessions;
};

/// What the worker's sweep and the drain do to a connection, whatever its stream.
class HttpServer::SessionBase {
 public:
  virtual ~SessionBase() = default;
  /// On the worker's thread: closes the connection if it is between requests.
  virtual void CloseIfIdle() = 0;
  /// On the worker's thread (its sweep): closes the connection if the operation under way
  /// has run past its deadline; the pending operation then ends with operation_aborted.
  virtual void CloseIfLate(Clock::time_point now) = 0;
};

/// One connection: a TCP socket, or a TLS stream over one (which holds on to the context
/// it was made with, so a reload does not pull it away).
template <class Stream>
class HttpServer::Session : public SessionBase,
                            public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(tcp::socket socket, HttpServer& server) requires std::same_as<Stream, tcp::socket>
      : socket_(std::move(socket)), server_(server) {
    ++server_.stats_.open_connections;
  }
  Session(tcp::socket socket, HttpServer& server,
          std::shared_ptr<TlsContext> tls) requires std::same_as<Stream, TlsSocket>
      : socket_(std::move(socket), tls->context.native_handle()),
        server_(server),
        tls_(std::move(tls)) {
    ++server_.stats_.open_connections;
  }
  ~Session() override { --server_.stats_.open_connections; }

  void Start() {
    if constexpr (std::is_same_v<Stream, TlsSocket>) {
      Arm(limits().header_timeout);  // a client that never finishes its handshake is cut off
      idle_ = false;
      socket_.async_handshake([self = this->shared_from_this()](beast::error_code ec) {
        if (ec) {
          ++self->server_.stats_.tls_handshake_failures;
          return self->Close();
        }
        self->WaitForRequest();
      });
    } else {
      WaitForRequest();
    }
  }

  void CloseIfIdle() override {
    if (idle_) {
      beast::error_code ignored;
      Lowest(socket_).shutdown(tcp::socket::shutdown_both, ignored);
      Lowest(socket_).close(ignored);
    }
  }

  void CloseIfLate(Clock::time_point now) override {
    if (now < deadline_ || !Lowest(socket_).is_open()) return;
    if (!idle_) ++server_.stats_.timeouts;  // an idle connection closing is routine
    beast::error_code ignored;
    Lowest(socket_).close(ignored);
  }

 private:
  const HttpLimits& limits() const { return server_.limits_; }

  void WaitForRequest() {
    if (server_.draining_.load(std::memory_order_relaxed)) return Close();
    idle_ = true;
    parser_.emplace();
    parser_->eager(true);
    parser_->body_limit(limits().max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(limits().max_header_bytes));
    if (buffer_.size() > 0) return ParseBuffered();  // a pipelined request is already here
    // Between requests: the idle timeout; the header deadline starts with the first byte.
    Arm(limits().idle_timeout);
    socket_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->buffer_.commit(n);
                              self->ParseBuffered();
                            });
  }

  /// Parses what has arrived without another trip through the event loop (a small request
  /// comes in one read); an incomplete header or body is read on under its own deadline.
  void ParseBuffered() {
    idle_ = false;
    beast::error_code ec;
    while (!parser_->is_done() && buffer_.size() > 0) {
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) return OnReadError(ec);
      if (used == 0) break;
    }
    if (parser_->is_done()) return Handle();
    if (parser_->is_header_done()) return OnHeader({});
    ReadHeader();
  }

  void ReadHeader() {
    Arm(limits().header_timeout);
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    if (parser_->is_done()) return Handle();
    const auto& message = parser_->get();
    auto expect = message[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      Arm(limits().write_timeout);
      asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](beast::error_code ec2, size_t) {
                          if (ec2) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Arm(limits().body_timeout);
    http::async_read(socket_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Handle();
                     });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::error::operation_aborted) {
      return Close();
    }
    ++server_.stats_.bad_requests;
    if (ec == http::error::body_limit) {
      return SendError(413, "the request body is larger than api.max_body_bytes = " +
                                std::to_string(limits().max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return SendError(431, "the request headers are larger than " +
                                std::to_string(limits().max_header_bytes) + " bytes");
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return SendError(400, "malformed HTTP request: " + ec.message());
    }
    Close();
  }

  /// Answers an unreadable request and closes the connection.
  void SendError(int status, const std::string& message) {
    HttpResponse out;
    WriteError(out, ErrorStyle::kV1, status, "", message);
    Send(11, out, false);
  }

  void Handle() {
    auto& message = parser_->get();
    HttpRequest request(message);
    HttpResponse out;
    server_.handler_(request, out);
    const bool keep_alive =
        message.keep_alive() && !out.close && !server_.draining_.load(std::memory_order_relaxed);
    Send(message.version(), out, keep_alive);
  }

  /// Writes the status line and headers into head_ and sends them with the body in one write.
  void Send(unsigned version, HttpResponse& out, bool keep_alive) {
    head_.clear();
    head_ += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    head_ += std::to_string(out.status);
    head_ += ' ';
    const auto reason = http::obsolete_reason(static_cast<http::status>(out.status));
    head_.append(reason.data(), reason.size());
    head_ += "\r\nContent-Type: ";
    head_ += out.content_type;
    head_ += "\r\nContent-Length: ";
    head_ += std::to_string(out.body.size());
    head_ += "\r\n";
    for (const auto& [name, value] : out.headers) {
      head_ += name;
      head_ += ": ";
      head_ += value;
      head_ += "\r\n";
    }
    if (keep_alive && version == 10) head_ += "Connection: keep-alive\r\n";
    if (!keep_alive && version != 10) head_ += "Connection: close\r\n";
    head_ += "\r\n";
    if constexpr (std::is_same_v<Stream, TlsSocket>) {
      // One buffer, so one TLS record: TlsSocket writes a buffer sequence one buffer (one
      // record) at a time.
      head_ += out.body;
      body_.clear();
    } else {
      body_ = std::move(out.body);
    }
    Arm(limits().write_timeout);
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(body_)};
    asio::async_write(socket_, buffers,
                      [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) return self->Close();
                        self->WaitForRequest();
                      });
  }

  /// Closes the TCP connection (over TLS without a close_notify: every response is
  /// delimited by its Content-Length, so a client loses nothing).
  void Close() {
    idle_ = false;
    beast::error_code ignored;
    Lowest(socket_).shutdown(tcp::socket::shutdown_send, ignored);
    Lowest(socket_).close(ignored);
  }

  /// The deadline of the operation about to start. Checked by the worker's sweep rather
  /// than a timer per operation: rearming a timer for every read and write cost more than
  /// parsing the request. A timed-out connection is closed (no 408 can be sent mid-read).
  void Arm(Clock::duration timeout) { deadline_ = Clock::now() + timeout; }

  Stream socket_;
  Clock::time_point deadline_ = Clock::time_point::max();
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string head_, body_;  // the response being written
  HttpServer& server_;
  std::shared_ptr<TlsContext> tls_;
  bool idle_ = true;
};

HttpServer::HttpServer(HttpLimits limits, HttpHandler handler)
    : limits_(limits), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { Drain(std::chrono::milliseconds(0)); }

Status HttpServer::Start(const std::string& host, uint16_t port, size_t workers) {
  beast::error_code ec;
  auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec)
    return Status::InvalidArgument("listen address '" + host +
                                   "' is not an IP address: " + ec.message());
  workers = std::max<size_t>(1, workers);
  auto cannot_listen = [&host](uint16_t on, const beast::error_code& error) {
    return Status::IoError("cannot listen on " + host + ":" + std::to_string(on) + ": " +
                           error.message() + " (set api.listen or --listen to a free HOST:PORT)");
  };
  // The workers' sockets share the port (SO_REUSEPORT, one accept queue each), which would
  // let a second server on a port already served bind it too and silently take part of its
  // traffic. A socket without SO_REUSEPORT cannot bind a port anyone listens on: bound here
  // first, it makes that a clear error (then closed, and the workers bind).
  if (port != 0) {
    asio::io_context probe_io;
    tcp::acceptor probe(probe_io);
    probe.open(address.is_v6() ? tcp::v6() : tcp::v4(), ec);
    if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(tcp::endpoint(address, port), ec);
    if (ec) return cannot_listen(port, ec);
  }
  uint16_t bound = port;
  for (size_t i = 0; i < workers; ++i) {
    auto worker = std::make_unique<Worker>();
    tcp::endpoint endpoint(address, bound);
    worker->acceptor.emplace(worker->io);
    auto& acceptor = *worker->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.set_option(ReusePort(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      workers_.clear();
      return cannot_listen(bound, ec);
    }
    bound = acceptor.local_endpoint().port();
    workers_.push_back(std::move(worker));
  }
  port_ = bound;
  for (auto& worker : workers_) {
    Accept(*worker);
    worker->sweep.emplace(worker->io);
    Sweep(*worker);
    worker->thread = std::thread([w = worker.get()] { w->io.run(); });
  }
  return Status::Ok();
}

Status HttpServer::SetTls(const TlsFiles& files) {
  FOPS_ASSIGN_OR_RETURN(std::shared_ptr<TlsContext> made, TlsContext::Make(files));
  MutexLock lock(&tls_mutex_);
  tls_ = std::move(made);
  return Status::Ok();
}

bool HttpServer::tls() const {
  MutexLock lock(&tls_mutex_);
  return tls_ != nullptr;
}

void HttpServer::Accept(Worker& worker) {
  worker.acceptor->async_accept([this, &worker](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || draining_) return;
      return Accept(worker);  // e.g. too many open files: try the next one
    }
    ++stats_.accepted;
    if (static_cast<size_t>(stats_.open_connections.load()) >= limits_.max_connections) {
      ++stats_.refused_connections;
      beast::error_code ignored;
      socket.close(ignored);
      return Accept(worker);
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::shared_ptr<TlsContext> tls;
    {
      MutexLock lock(&tls_mutex_);
      tls = tls_;
    }
    if (tls) {
      auto session = std::make_shared<Session<TlsSocket>>(std::move(socket), *this, std::move(tls));
      worker.sessions.push_back(session);
      session->Start();
    } else {
      auto session = std::make_shared<Session<tcp::socket>>(std::move(socket), *this);
      worker.sessions.push_back(session);
      session->Start();
    }
    Accept(worker);
  });
}

void HttpServer::Sweep(Worker& worker) {
  worker.sweep->expires_after(kSweepInterval);
  worker.sweep->async_wait([this, &worker](beast::error_code ec) {
    if (ec) return;
    const auto now = Clock::now();
    std::erase_if(worker.sessions, [now](const std::weak_ptr<SessionBase>& weak) {
      auto session = weak.lock();
      if (session) session->CloseIfLate(now);
      return session == nullptr;
    });
    Sweep(worker);
  });
}

void HttpServer::Drain(std::chrono::milliseconds timeout) {
  if (draining_.exchange(true)) return;
  for (auto& worker : workers_) {
    asio::post(worker->io, [w = worker.get()] {
      beast::error_code ignored;
      if (w->acceptor) w->acceptor->close(ignored);
      for (auto& weak : w->sessions) {
        if (auto session = weak.lock()) session->CloseIfIdle();
      }
    });
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (stats_.open_connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& worker : workers_) worker->io.stop();
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
  workers_.clear();
}

Result<std::pair<std::string, uint16_t>> ParseListenAddress(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return Status::InvalidArgument("listen address '" + text +
                                   "' is not HOST:PORT (e.g. 127.0.0.1:8080, 0.0.0.0:8080)");
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto port = ParseInt(text.substr(colon + 1));
  if (!port || *port < 0 || *port > 65535) {
    return Status::InvalidArgument("listen address '" + text +
                                   "': the port must be a number from 0 to 65535");
  }
  if (host.empty()) host = "0.0.0.0";
  return std::make_pair(host, static_cast<uint16_t>(*port));
}

}  // namespace fraudops
