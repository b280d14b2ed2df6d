// The server's side of a keep-alive request and response (1 KB in, 400 bytes out, the size of
// a scoring call) over loopback: plain TCP, TLS 1.3 through fraudops' TlsSocket (OpenSSL on
// the socket itself), and TLS 1.3 through Asio's ssl::stream (OpenSSL behind a memory BIO
// pair, what the server used before). A client thread on the other core keeps one request in
// flight; the CPU time reported is the server thread's alone, which is what a saturated server
// spends per request. Run interleaved: fraudops_bench --benchmark_filter=RoundTrip
// --benchmark_repetitions=10 --benchmark_enable_random_interleaving=true
// --benchmark_report_aggregates_only=true

#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>

#include "serve/tls_socket.h"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using AsioTls = asio::ssl::stream<tcp::socket>;

/// A P-256 certificate and key, made once with the openssl command in a temporary folder
/// (removed once read), loaded into `context`.
void LoadCertificate(SSL_CTX* context) {
  static const std::pair<X509*, EVP_PKEY*> loaded = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "fraudops-tls-bench-XXXXXX");
    const std::filesystem::path folder = ::mkdtemp(pattern.data());
    const std::string command =
        "cd " + folder.string() +
        " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -x509 -days 1"
        " -subj /CN=bench -keyout key.pem -out cert.pem 2>/dev/null";
    if (std::system(command.c_str()) != 0) std::abort();
    FILE* cert_file = std::fopen((folder / "cert.pem").c_str(), "r");
    FILE* key_file = std::fopen((folder / "key.pem").c_str(), "r");
    if (cert_file == nullptr || key_file == nullptr) std::abort();
    X509* cert = PEM_read_X509(cert_file, nullptr, nullptr, nullptr);
    EVP_PKEY* key = PEM_read_PrivateKey(key_file, nullptr, nullptr, nullptr);
    std::fclose(cert_file);
    std::fclose(key_file);
    std::filesystem::remove_all(folder);
    if (cert == nullptr || key == nullptr) std::abort();
    return std::make_pair(cert, key);
  }();
  if (SSL_CTX_use_certificate(context, loaded.first) != 1 ||
      SSL_CTX_use_PrivateKey(context, loaded.second) != 1) {
    std::abort();
  }
}

/// The client: one request at a time until the server closes.
void Client(uint16_t port, bool tls) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) std::abort();
  SSL_CTX* context = tls ? SSL_CTX_new(TLS_client_method()) : nullptr;
  SSL* ssl = nullptr;
  if (tls) {
    ssl = SSL_new(context);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) std::abort();
  }
  const std::string request(1024, 'q');
  char response[400];
  for (;;) {
    const bool sent = tls ? SSL_write(ssl, request.data(), static_cast<int>(request.size())) > 0
                          : ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) > 0;
    if (!sent) break;
    size_t got = 0;
    while (got < sizeof response) {
      const long n = tls ? SSL_read(ssl, response + got, static_cast<int>(sizeof response - got))
                         : ::recv(fd, response + got, sizeof response - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got < sizeof response) break;
  }
  SSL_free(ssl);
  SSL_CTX_free(context);
  ::close(fd);
}

template <class Stream>
void BM_RoundTrip(benchmark::State& state) {
  constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;
  // The client's last request meets a closed connection; OpenSSL writes with write().
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io{1};
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::thread client(Client, acceptor.local_endpoint().port(), kTls);
  tcp::socket accepted = acceptor.accept();
  accepted.set_option(tcp::no_delay(true));
  // Each kind of stream made and its handshake run.
  SSL_CTX* context = nullptr;
  std::optional<asio::ssl::context> asio_context;
  std::unique_ptr<Stream> stream;
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    stream = std::make_unique<Stream>(std::move(accepted));
  } else if constexpr (std::is_same_v<Stream, fraudops::TlsSocket>) {
    context = SSL_CTX_new(TLS_server_method());
    LoadCertificate(context);
    stream = std::make_unique<Stream>(std::move(accepted), context);
    stream->async_handshake([](boost::system::error_code ec) {
      if (ec) std::abort();
    });
  } else {
    asio_context.emplace(asio::ssl::context::tls_server);
    LoadCertificate(asio_context->native_handle());
    stream = std::make_unique<Stream>(std::move(accepted), *asio_context);
    stream->async_handshake(asio::ssl::stream_base::server, [](boost::system::error_code ec) {
      if (ec) std::abort();
    });
  }
  io.run();
  io.restart();
  std::string in(1024, '\0');
  const std::string out(400, 'r');
  for (auto _ : state) {
    asio::async_read(*stream, asio::buffer(in), [&](boost::system::error_code ec, size_t) {
      if (ec) std::abort();
      asio::async_write(*stream, asio::buffer(out), [](boost::system::error_code ec2, size_t) {
        if (ec2) std::abort();
      });
    });
    io.run();
    io.restart();
  }
  boost::system::error_code ignored;
  if constexpr (kTls) {
    stream->next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream->next_layer().close(ignored);
  } else {
    stream->shutdown(tcp::socket::shutdown_both, ignored);
    stream->close(ignored);
  }
  client.join();
  stream.reset();
  SSL_CTX_free(context);
}

BENCHMARK(BM_RoundTrip<tcp::socket>)->Name("RoundTrip/plain");
BENCHMARK(BM_RoundTrip<fraudops::TlsSocket>)->Name("RoundTrip/tls_socket");
BENCHMARK(BM_RoundTrip<AsioTls>)->Name("RoundTrip/asio_ssl_stream");

}  // namespace
