#include "serve/tls_socket.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cerrno>

namespace fraudops {

namespace asio = boost::asio;

/// The BIO between OpenSSL and the session's descriptor: recv, and send with MSG_NOSIGNAL (a
/// peer gone away is an error to report, not a SIGPIPE). Its data is the TlsSocket, which
/// learns why a call failed: the end of the stream, or the errno.
struct SocketBio {
  static const BIO_METHOD* Method() {
    static BIO_METHOD* const method = [] {
      BIO_METHOD* made =
          BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fraudops socket");
      BIO_meth_set_write_ex(made, Write);
      BIO_meth_set_read_ex(made, Read);
      BIO_meth_set_ctrl(made, Control);
      BIO_meth_set_create(made, [](BIO* bio) {
        BIO_set_init(bio, 1);
        return 1;
      });
      return made;
    }();
    return method;
  }

  static TlsSocket& Of(BIO* bio) { return *static_cast<TlsSocket*>(BIO_get_data(bio)); }

  static int Write(BIO* bio, const char* data, size_t size, size_t* written) {
    TlsSocket& socket = Of(bio);
    BIO_clear_retry_flags(bio);
    const ssize_t sent = ::send(socket.socket_.native_handle(), data, size, MSG_NOSIGNAL);
    if (sent >= 0) {
      *written = static_cast<size_t>(sent);
      return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      BIO_set_retry_write(bio);
    } else {
      socket.last_errno_ = errno;
    }
    return 0;
  }

  static int Read(BIO* bio, char* data, size_t size, size_t* read) {
    TlsSocket& socket = Of(bio);
    BIO_clear_retry_flags(bio);
    const ssize_t got = ::recv(socket.socket_.native_handle(), data, size, 0);
    if (got > 0) {
      *read = static_cast<size_t>(got);
      return 1;
    }
    if (got == 0) {
      socket.peer_closed_ = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      BIO_set_retry_read(bio);
    } else {
      socket.last_errno_ = errno;
    }
    return 0;
  }

  static long Control(BIO*, int command, long, void*) {  // NOLINT(runtime/int): OpenSSL's type
    return command == BIO_CTRL_FLUSH ? 1 : 0;            // nothing is buffered here
  }
};

TlsSocket::TlsSocket(Socket socket, SSL_CTX* context) : socket_(std::move(socket)) {
  boost::beast::error_code ignored;
  socket_.non_blocking(true, ignored);
  ssl_ = SSL_new(context);
  if (ssl_ == nullptr) return;  // the handshake reports it
  BIO* bio = BIO_new(SocketBio::Method());
  if (bio == nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // the SSL owns it
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Whatever has arrived is read at once (one recv for a request's records rather than one for
  // each record's header and another for its body), and a socket closed after a failed
  // handshake holds no unread bytes, so the peer sees an orderly end rather than a reset.
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_accept_state(ssl_);
}

TlsSocket::~TlsSocket() { SSL_free(ssl_); }

TlsSocket::Step TlsSocket::Attempt(Kind kind, void* data, size_t size, size_t& transferred,
                                   boost::beast::error_code& error) {
  if (ssl_ == nullptr) {
    error = asio::error::no_memory;
    return Step::kFailed;
  }
  // SSL_get_error needs the thread's error queue empty before the call; it nearly always is
  // (failures below clear it), and looking costs less than clearing its sixteen slots.
  if (ERR_peek_error() != 0) ERR_clear_error();
  last_errno_ = 0;
  int ok = 0;
  switch (kind) {
    case Kind::kHandshake:
      ok = SSL_do_handshake(ssl_);
      break;
    case Kind::kRead:
      ok = SSL_read_ex(ssl_, data, size, &transferred);
      break;
    case Kind::kWrite:
      ok = SSL_write_ex(ssl_, data, size, &transferred);
      break;
  }
  if (ok == 1) return Step::kDone;
  switch (SSL_get_error(ssl_, ok)) {
    case SSL_ERROR_WANT_READ:
      return Step::kWaitRead;
    case SSL_ERROR_WANT_WRITE:
      return Step::kWaitWrite;
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      error = asio::error::eof;
      return Step::kFailed;
    default:
      break;
  }
  const unsigned long code = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type
  ERR_clear_error();
  if (last_errno_ != 0) {
    error = boost::beast::error_code(last_errno_, boost::system::system_category());
  } else if (peer_closed_) {
    error = asio::error::eof;  // closed without a close_notify
  } else if (code != 0) {
    error = boost::beast::error_code(static_cast<int>(code), asio::error::get_ssl_category());
  } else {
    error = asio::ssl::error::unspecified_system_error;
  }
  return Step::kFailed;
}

}  // namespace fraudops
