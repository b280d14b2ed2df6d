#pragma once
/// A server-side TLS stream that drives OpenSSL on the socket itself: an SSL object reads and
/// writes the non-blocking descriptor through a small BIO (recv, and send without SIGPIPE), and
/// the stream waits in the reactor only when OpenSSL asks to read or to write. Asio's
/// ssl::stream instead passes every record through a memory BIO pair and its own buffers,
/// which cost more per request than the cryptography (BENCHMARKS.md, TLS). Satisfies Asio's
/// AsyncReadStream and AsyncWriteStream, so Beast's HTTP reads and asio::async_write use it
/// as they would a socket. One operation at a time in each direction, as HTTP/1.1 needs.

#include <openssl/ssl.h>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>
#include <cstddef>
#include <type_traits>
#include <utility>

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
    return boost::asio::async_initiate<Token, void(boost::beast::error_code)>(
        Initiate<Kind::kHandshake>{this}, token, boost::asio::mutable_buffer());
  }
  /// Decrypted bytes into the first non-empty buffer (at most one record's worth).
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::beast::error_code, size_t)>(
        Initiate<Kind::kRead>{this}, token, First<boost::asio::mutable_buffer>(buffers));
  }
  /// The first non-empty buffer, or part of it, as records.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::beast::error_code, size_t)>(
        Initiate<Kind::kWrite>{this}, token, First<boost::asio::const_buffer>(buffers));
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

  /// A handshake, read or write: OpenSSL is called until it finishes or fails, waiting on the
  /// socket between calls as it asks. The operation is its own handler for those waits (its
  /// executor and allocator are the caller's handler's), and it completes the caller's handler
  /// directly from a wait's completion; a result found in the initiating call is posted to
  /// the handler's executor, never delivered from inside it. (Asio's async_compose did the
  /// same with a work guard, a type-erased executor copy and a dispatcher per operation:
  /// about half a microsecond of each HTTPS request, by perf.)
  template <Kind kKind, class Handler, class Buffer>
  struct Operation {
    TlsSocket& stream;
    Handler handler;
    Buffer buffer;

    using executor_type = boost::asio::associated_executor_t<Handler, Socket::executor_type>;
    executor_type get_executor() const noexcept {
      return boost::asio::get_associated_executor(handler, stream.socket_.get_executor());
    }
    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    allocator_type get_allocator() const noexcept {
      return boost::asio::get_associated_allocator(handler);
    }

    /// From the initiating call.
    void Start() {
      boost::beast::error_code result;
      size_t transferred = 0;
      if (Continue(result, transferred)) return;
      executor_type executor = get_executor();  // before the handler moves
      boost::asio::post(Completion<Handler, executor_type>{std::move(handler), result, transferred,
                                                           std::move(executor)});
    }
    /// A wait finished.
    void operator()(boost::beast::error_code error) {
      size_t transferred = 0;
      if (!error && Continue(error, transferred)) return;
      Finish(handler, error, transferred);
    }

   private:
    /// Calls OpenSSL; true when it waits (this operation moved into the wait), false when
    /// done or failed (`result`, `transferred` set).
    bool Continue(boost::beast::error_code& result, size_t& transferred) {
      if (kKind != Kind::kHandshake && buffer.size() == 0) return false;
      void* data = const_cast<void*>(static_cast<const void*>(buffer.data()));
      switch (stream.Attempt(kKind, data, buffer.size(), transferred, result)) {
        case Step::kWaitRead:
          stream.socket_.async_wait(Socket::wait_read, std::move(*this));
          return true;
        case Step::kWaitWrite:
          stream.socket_.async_wait(Socket::wait_write, std::move(*this));
          return true;
        case Step::kDone:
        case Step::kFailed:
          break;
      }
      return false;
    }
  };

  /// Calls `handler` (as an rvalue, as Asio does) with what its signature takes.
  template <class Handler>
  static void Finish(Handler& handler, boost::beast::error_code error, size_t transferred) {
    if constexpr (std::is_invocable_v<Handler, boost::beast::error_code, size_t>) {
      std::move(handler)(error, transferred);
    } else {
      std::move(handler)(error);
    }
  }

  /// A result found in the initiating call, posted: the handler and what it is given.
  template <class Handler, class Executor>
  struct Completion {
    Handler handler;
    boost::beast::error_code error;
    size_t transferred;
    Executor executor;

    using executor_type = Executor;
    executor_type get_executor() const noexcept { return executor; }
    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    allocator_type get_allocator() const noexcept {
      return boost::asio::get_associated_allocator(handler);
    }
    void operator()() { Finish(handler, error, transferred); }
  };

  template <Kind kKind>
  struct Initiate {
    TlsSocket* stream;
    template <class Handler, class Buffer>
    void operator()(Handler&& handler, Buffer buffer) const {
      Operation<kKind, std::decay_t<Handler>, Buffer>{*stream, std::forward<Handler>(handler),
                                                      buffer}
          .Start();
    }
  };

  friend struct SocketBio;
  Socket socket_;
  SSL* ssl_ = nullptr;
  int last_errno_ = 0;        ///< of the BIO's failed recv or send
  bool peer_closed_ = false;  ///< the BIO read the end of the stream
};

}  // namespace fraudops
