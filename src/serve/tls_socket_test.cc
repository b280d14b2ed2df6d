#include "serve/tls_socket.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "../../tests/test_certificate.h"

namespace fraudops {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::beast::error_code;

/// A TlsSocket served on `io` and a blocking OpenSSL client connected to it (not verifying
/// the certificate: the stream, not the trust, is under test). `buffer_bytes` > 0 shrinks the
/// server's send buffer and the client's receive buffer.
class Connection {
 public:
  explicit Connection(int buffer_bytes = 0) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (buffer_bytes > 0) {
      ::setsockopt(client_fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
    }
    tcp::socket client_side(io);
    client_side.assign(tcp::v4(), client_fd);
    client_side.connect(acceptor.local_endpoint());
    client_fd = client_side.release();
    tcp::socket accepted = acceptor.accept();
    if (buffer_bytes > 0) accepted.set_option(asio::socket_base::send_buffer_size(buffer_bytes));
    server_context = testing::SelfSignedServerContext();
    server.emplace(std::move(accepted), server_context);
    client_context = SSL_CTX_new(TLS_client_method());
    client = SSL_new(client_context);
    SSL_set_fd(client, client_fd);
  }
  ~Connection() {
    server.reset();
    SSL_free(client);
    SSL_CTX_free(client_context);
    SSL_CTX_free(server_context);
    if (client_fd >= 0) ::close(client_fd);
  }

  /// Both sides' handshakes; the server's result.
  error_code Handshake() {
    std::thread peer([this] { SSL_connect(client); });
    error_code result = asio::error::would_block;
    server->async_handshake([&](error_code ec) { result = ec; });
    io.run();
    io.restart();
    peer.join();
    return result;
  }

  /// The client reads exactly `size` bytes.
  std::string ClientRead(size_t size) {
    std::string data(size, '\0');
    size_t at = 0;
    while (at < size) {
      const int n = SSL_read(client, data.data() + at, static_cast<int>(size - at));
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    data.resize(at);
    return data;
  }

  asio::io_context io{1};
  SSL_CTX* server_context = nullptr;
  SSL_CTX* client_context = nullptr;
  std::optional<TlsSocket> server;
  SSL* client = nullptr;
  int client_fd = -1;
};

std::string Pattern(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return data;
}

TEST(TlsSocketTest, ReadsAndWritesMessagesOfManyRecordsBothWays) {
  Connection connection;
  ASSERT_FALSE(connection.Handshake());
  const std::string sent = Pattern(100000);  // seven records of at most 16 KB
  std::thread peer([&] {
    ASSERT_EQ(SSL_write(connection.client, sent.data(), static_cast<int>(sent.size())),
              static_cast<int>(sent.size()));
  });
  std::string received(sent.size(), '\0');
  error_code read_error = asio::error::would_block;
  asio::async_read(*connection.server, asio::buffer(received),
                   [&](error_code ec, size_t) { read_error = ec; });
  connection.io.run();
  connection.io.restart();
  peer.join();
  ASSERT_FALSE(read_error) << read_error.message();
  EXPECT_EQ(received, sent);

  const std::string answer = Pattern(70000);
  std::string echoed;
  std::thread reader([&] { echoed = connection.ClientRead(answer.size()); });
  error_code write_error = asio::error::would_block;
  size_t written = 0;
  asio::async_write(*connection.server, asio::buffer(answer), [&](error_code ec, size_t n) {
    write_error = ec;
    written = n;
  });
  connection.io.run();
  reader.join();
  ASSERT_FALSE(write_error) << write_error.message();
  EXPECT_EQ(written, answer.size());
  EXPECT_EQ(echoed, answer);
}

TEST(TlsSocketTest, AWriteBeyondTheSocketBuffersWaitsForThePeerToReadThenFinishes) {
  Connection connection(/*buffer_bytes=*/4096);
  ASSERT_FALSE(connection.Handshake());
  const std::string big = Pattern(4 << 20);
  bool done = false;
  error_code write_error;
  asio::async_write(*connection.server, asio::buffer(big), [&](error_code ec, size_t) {
    done = true;
    write_error = ec;
  });
  // Everything ready has run: with a peer that does not read, the write can only be waiting
  // for the socket to take more (OpenSSL wanted to write), not finished.
  while (connection.io.poll() > 0) connection.io.restart();
  connection.io.restart();
  EXPECT_FALSE(done);
  std::string received;
  std::thread reader([&] { received = connection.ClientRead(big.size()); });
  connection.io.run();
  reader.join();
  EXPECT_TRUE(done);
  EXPECT_FALSE(write_error) << write_error.message();
  EXPECT_EQ(received.size(), big.size());
  EXPECT_TRUE(received == big);
}

TEST(TlsSocketTest, AResultFoundAtOnceIsPostedNotDeliveredInsideTheCall) {
  Connection connection;
  ASSERT_FALSE(connection.Handshake());
  ASSERT_EQ(SSL_write(connection.client, "ping", 4), 4);
  // Until the record has arrived the read waits in the reactor; poll until it is in.
  std::array<char, 16> data{};
  size_t got = 0;
  bool delivered = false;
  while (got == 0) {
    delivered = false;
    connection.server->async_read_some(asio::buffer(data), [&](error_code ec, size_t n) {
      EXPECT_FALSE(ec);
      got = n;
      delivered = true;
    });
    EXPECT_FALSE(delivered) << "delivered inside async_read_some";
    connection.io.run();
    connection.io.restart();
  }
  EXPECT_EQ(std::string(data.data(), got), "ping");
  // A write the socket takes at once completes at once too, and is posted likewise.
  bool written = false;
  connection.server->async_write_some(asio::buffer("pong", 4), [&](error_code ec, size_t n) {
    EXPECT_FALSE(ec);
    EXPECT_EQ(n, 4u);
    written = true;
  });
  EXPECT_FALSE(written) << "delivered inside async_write_some";
  connection.io.run();
  EXPECT_TRUE(written);
  EXPECT_EQ(connection.ClientRead(4), "pong");
}

TEST(TlsSocketTest, ThePeerClosingEndsAReadWithEofWithOrWithoutCloseNotify) {
  for (const bool notify : {true, false}) {
    Connection connection;
    ASSERT_FALSE(connection.Handshake());
    // One byte the client reads first, so that it has read everything the server sent (its
    // session tickets too): a socket closed with unread bytes resets the connection instead.
    asio::async_write(*connection.server, asio::buffer("x", 1), [](error_code, size_t) {});
    connection.io.run();
    connection.io.restart();
    ASSERT_EQ(connection.ClientRead(1), "x");
    if (notify) SSL_shutdown(connection.client);
    ::close(connection.client_fd);
    connection.client_fd = -1;
    std::array<char, 16> data{};
    error_code read_error;
    connection.server->async_read_some(asio::buffer(data),
                                       [&](error_code ec, size_t) { read_error = ec; });
    connection.io.run();
    EXPECT_EQ(read_error, asio::error::eof)
        << (notify ? "close_notify: " : "no close_notify: ") << read_error.message();
  }
}

TEST(TlsSocketTest, APlaintextClientFailsTheHandshakeWithAnSslError) {
  Connection connection;
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(connection.client_fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  error_code result;
  connection.server->async_handshake([&](error_code ec) { result = ec; });
  connection.io.run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result.category(), asio::error::get_ssl_category()) << result.message();
}

}  // namespace
}  // namespace fraudops
