#pragma once
/// A server-side TLS stream that drives OpenSSL on the socket itself: an SSL object reads and
/// writes the non-blocking descriptor through a small BIO (recv, and send without SIGPIPE), and
/// the stream waits in the reactor only when OpenSSL asks to read or to write. Asio's
/// ssl::stream instead passes every record through a memory BIO pair and its own buffers,
/// which cost more per request than the cryptography (BENCHMARKS.md, TLS). Satisfies Asio's
/// AsyncReadStream and AsyncWriteStream, so Beast's HTTP reads and asio::async_write use it
/// as they would a socket. One operation at a time in each direction, as HTTP/1.1 needs.

#include <openssl/ssl.h>

#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>
#include <cstddef>
#include <type_traits>

namespace fraudops {

class TlsSocket {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using executor_type = Socket::executor_type;

  /// Takes the accepted `socket` (made non-blocking) for a server session of `context`.
  TlsSocket(Socket socket, SSL_CTX* context);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  Socket& next_layer() { return socket_; }

  /// The server's side of the handshake: void(error_code).
  template <class Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::beast::error_code)>(
        Operation<Kind::kHandshake>{*this, {}}, token, socket_);
  }
  /// Decrypted bytes into the first non-empty buffer (at most one record's worth).
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::beast::error_code, size_t)>(
        Operation<Kind::kRead>{*this, First<boost::asio::mutable_buffer>(buffers)}, token, socket_);
  }
  /// The first non-empty buffer, or part of it, as records.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::beast::error_code, size_t)>(
        Operation<Kind::kWrite>{*this, First<boost::asio::const_buffer>(buffers)}, token, socket_);
  }

 private:
  enum class Kind { kHandshake, kRead, kWrite };
  enum class Step { kDone, kWaitRead, kWaitWrite, kFailed };

  template <class Buffer, class Buffers>
  static Buffer First(const Buffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      Buffer buffer(*it);
      if (buffer.size() > 0) return buffer;
    }
    return Buffer();
  }

  /// One call into OpenSSL for `kind`: done (`transferred` set), a wait, or failed (`error`).
  Step Attempt(Kind kind, void* data, size_t size, size_t& transferred,
               boost::beast::error_code& error);

  /// A handshake, read or write as an Asio composed operation: OpenSSL is called until it
  /// finishes or fails, waiting on the socket between calls as it asks; a result found in the
  /// initiating call is posted, never delivered from inside it.
  template <Kind kKind>
  struct Operation {
    using Buffer = std::conditional_t<kKind == Kind::kWrite, boost::asio::const_buffer,
                                      boost::asio::mutable_buffer>;
    Operation(TlsSocket& stream_in, Buffer buffer_in) : stream(stream_in), buffer(buffer_in) {}
    TlsSocket& stream;
    Buffer buffer;
    bool waited = false, delivering = false;
    boost::beast::error_code result;
    size_t transferred = 0;

    template <class Self>
    void operator()(Self& self, boost::beast::error_code error = {}) {
      if (!delivering) {
        if (error) {
          result = error;
        } else if (kKind == Kind::kHandshake || buffer.size() > 0) {
          void* data = const_cast<void*>(static_cast<const void*>(buffer.data()));
          switch (stream.Attempt(kKind, data, buffer.size(), transferred, result)) {
            case Step::kWaitRead:
              waited = true;
              return stream.socket_.async_wait(Socket::wait_read, std::move(self));
            case Step::kWaitWrite:
              waited = true;
              return stream.socket_.async_wait(Socket::wait_write, std::move(self));
            case Step::kDone:
            case Step::kFailed:
              break;
          }
        }
        if (!waited) {
          delivering = true;
          return boost::asio::post(stream.socket_.get_executor(), std::move(self));
        }
      }
      if constexpr (kKind == Kind::kHandshake) {
        self.complete(result);
      } else {
        self.complete(result, transferred);
      }
    }
  };

  friend struct SocketBio;
  Socket socket_;
  SSL* ssl_ = nullptr;
  int last_errno_ = 0;        ///< of the BIO's failed recv or send
  bool peer_closed_ = false;  ///< the BIO read the end of the stream
};

}  // namespace fraudops
