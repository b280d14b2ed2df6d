#include "serve/http_connection.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fraudops {
namespace {

/// A one-thread HTTP/1.1 server on loopback that serves one connection at a time and keeps
/// each request's head and body. `answer(i)` says what the i-th request (from 0) gets: the
/// bytes to send back, or empty to close the connection without an answer. Through
/// OpenSSL when given a server context.
class Server {
 public:
  using Answer = std::function<std::string(size_t index)>;
  /// `close_after_answer`: each connection closed after its first answer, whatever it said.
  explicit Server(Answer answer, SSL_CTX* tls = nullptr, bool close_after_answer = false)
      : answer_(std::move(answer)), tls_(tls), close_after_answer_(close_after_answer) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    ::listen(listener_, 8);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Server() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }
  int port() const { return port_; }
  std::vector<std::string> heads() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return heads_;
  }
  std::vector<std::string> bodies() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bodies_;
  }

 private:
  void Serve() {
    while (true) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      SSL* ssl = nullptr;
      if (tls_ != nullptr) {
        ssl = SSL_new(tls_);
        SSL_set_fd(ssl, client);
        if (SSL_accept(ssl) != 1) {
          SSL_free(ssl);
          ::close(client);
          continue;
        }
      }
      auto receive = [&](char* into, size_t size) -> long {
        return ssl != nullptr ? SSL_read(ssl, into, static_cast<int>(size))
                              : ::recv(client, into, size, 0);
      };
      auto send = [&](const std::string& bytes) {
        if (ssl != nullptr) {
          SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size()));
        } else {
          ::send(client, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        }
      };
      std::string pending;
      bool open = true;
      while (open) {
        // One request: the head, then Content-Length bytes of body.
        size_t head_end;
        while ((head_end = pending.find("\r\n\r\n")) == std::string::npos) {
          char buffer[65536];
          const long got = receive(buffer, sizeof buffer);
          if (got <= 0) {
            open = false;
            break;
          }
          pending.append(buffer, static_cast<size_t>(got));
        }
        if (!open) break;
        std::string head = pending.substr(0, head_end);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const size_t field = head.find("content-length:");
        const size_t length = field == std::string::npos ? 0 : std::stoul(head.substr(field + 15));
        while (pending.size() < head_end + 4 + length) {
          char buffer[65536];
          const long got = receive(buffer, sizeof buffer);
          if (got <= 0) {
            open = false;
            break;
          }
          pending.append(buffer, static_cast<size_t>(got));
        }
        if (!open) break;
        size_t index;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          heads_.push_back(head);
          bodies_.push_back(pending.substr(head_end + 4, length));
          index = bodies_.size() - 1;
        }
        pending.erase(0, head_end + 4 + length);
        const std::string answer = answer_(index);
        if (answer.empty()) break;  // closed without an answer
        send(answer);
        if (close_after_answer_) break;
      }
      if (ssl != nullptr) SSL_free(ssl);
      ::close(client);
    }
  }

  Answer answer_;
  SSL_CTX* tls_;
  bool close_after_answer_;
  int listener_ = -1;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> heads_, bodies_;
  std::thread thread_;
};

std::string Ok(const std::string& extra_headers = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + extra_headers + "\r\n{}";
}

TEST(HttpConnectionTest, KeepsOneConnectionForManyPostsAndSendsTheBodiesWhole) {
  Server server([](size_t) { return Ok(); });
  auto connection = HttpConnection::Open(server.url());
  ASSERT_TRUE(connection.ok()) << connection.status().message();
  std::string large(1 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 7919 % 251);
  const std::vector<std::string> bodies = {"first", large, std::string("\0\x01\x02", 3)};
  for (const std::string& body : bodies) {
    auto reply = (*connection)->Post("application/x-protobuf", body, 10);
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body, "{}");
  }
  EXPECT_EQ(server.bodies(), bodies);
  EXPECT_EQ((*connection)->connects(), 1);
  const std::string head = server.heads()[0];
  EXPECT_EQ(head.substr(0, head.find("\r\n")), "post /v1/traces http/1.1");
  EXPECT_NE(head.find("content-type: application/x-protobuf"), std::string::npos) << head;
  EXPECT_NE(head.find("host: 127.0.0.1:" + std::to_string(server.port())), std::string::npos);
}

TEST(HttpConnectionTest, AServerThatClosesConnectionsCostsNoPost) {
  // Closing after each answer, saying so or not (as a server closing idle connections).
  for (const std::string extra : {"Connection: close\r\n", ""}) {
    Server server([&](size_t) { return Ok(extra); }, nullptr, true);
    auto connection = HttpConnection::Open(server.url());
    ASSERT_TRUE(connection.ok());
    for (int i = 0; i < 3; ++i) {
      auto reply = (*connection)->Post("application/json", "{\"n\":" + std::to_string(i) + "}", 10);
      ASSERT_TRUE(reply.ok()) << extra << reply.status().message();
    }
    EXPECT_EQ(server.bodies().size(), 3u) << extra;  // each exactly once
    EXPECT_EQ((*connection)->connects(), 3) << extra;
  }
}

TEST(HttpConnectionTest, AKeptConnectionLostAsThePostLeavesIsReplacedOnce) {
  // The second request is read and its connection closed without an answer: the post goes
  // again on a new connection (so the server has it twice: at least once, never lost).
  Server server([](size_t index) { return index == 1 ? std::string() : Ok(); });
  auto connection = HttpConnection::Open(server.url());
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE((*connection)->Post("text/plain", "one", 10).ok());
  auto reply = (*connection)->Post("text/plain", "two", 10);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(server.bodies(), (std::vector<std::string>{"one", "two", "two"}));
  EXPECT_EQ((*connection)->connects(), 2);
  // A new connection that fails the same way is not tried again.
  Server closing([](size_t) { return std::string(); });
  auto fresh = HttpConnection::Open(closing.url());
  ASSERT_TRUE(fresh.ok());
  auto failed = (*fresh)->Post("text/plain", "three", 10);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(closing.bodies().size(), 1u);
}

TEST(HttpConnectionTest, StatusesComeBackAndSilenceTimesOut) {
  Server unavailable([](size_t) {
    return std::string("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
  });
  auto connection = HttpConnection::Open(unavailable.url());
  ASSERT_TRUE(connection.ok());
  auto reply = (*connection)->Post("text/plain", "x", 10);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 503);
  EXPECT_EQ(reply->body, "busy");

  // Accepted, read, never answered: the post gives up at its time limit.
  std::atomic<bool> release{false};
  Server silent([&](size_t) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return std::string();
  });
  auto waiting = HttpConnection::Open(silent.url());
  ASSERT_TRUE(waiting.ok());
  const auto start = std::chrono::steady_clock::now();
  auto timed_out = (*waiting)->Post("text/plain", "x", 0.2);
  const auto waited = std::chrono::steady_clock::now() - start;
  release = true;
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.status().message(), "POST " + silent.url() + ": no answer within 200 ms");
  EXPECT_LT(waited, std::chrono::seconds(5));

  // Nothing listening: refused, naming the URL.
  int port;
  {
    Server brief([](size_t) { return Ok(); });
    port = brief.port();
  }
  auto refused = HttpConnection::Open("http://127.0.0.1:" + std::to_string(port) + "/v1/traces");
  ASSERT_TRUE(refused.ok());
  auto failed = (*refused)->Post("text/plain", "x", 5);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("POST http://127.0.0.1:" + std::to_string(port) +
                                           "/v1/traces: Connection refused"),
            std::string::npos)
      << failed.status().message();
}

/// A self-signed P-256 certificate for `san` (e.g. "IP:127.0.0.1"), its key, and a server
/// context holding them; the certificate is also written to `pem_path`.
SSL_CTX* TlsServerContext(const std::string& san, const std::string& pem_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("collector"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_set_pubkey(cert, key);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension =
      X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, san.c_str());
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  X509_sign(cert, key, EVP_sha256());
  FILE* file = std::fopen(pem_path.c_str(), "w");
  PEM_write_X509(file, cert);
  std::fclose(file);
  SSL_CTX* server = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(server, cert);
  SSL_CTX_use_PrivateKey(server, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return server;
}

TEST(HttpConnectionTest, HttpsVerifiesTheCollectorsCertificateAndName) {
  std::signal(SIGPIPE, SIG_IGN);  // the test server's writes to a client that gave up
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("fops-http-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  SSL_CTX* right = TlsServerContext("IP:127.0.0.1", (dir / "right.pem").string());
  SSL_CTX* other = TlsServerContext("DNS:collector.example", (dir / "other.pem").string());
  Server server([](size_t) { return Ok(); }, right);
  Server misnamed([](size_t) { return Ok(); }, other);
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/v1/traces";

  // Trusted through global.ca_file: the post goes over TLS, and the connection is kept.
  SetOutboundCaFile((dir / "right.pem").string());
  auto trusted = HttpConnection::Open(url);
  ASSERT_TRUE(trusted.ok()) << trusted.status().message();
  for (int i = 0; i < 2; ++i) {
    auto reply = (*trusted)->Post("application/x-protobuf", "spans", 10);
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    EXPECT_EQ(reply->status, 200);
  }
  EXPECT_EQ((*trusted)->connects(), 1);
  EXPECT_EQ(server.bodies(), (std::vector<std::string>{"spans", "spans"}));
  trusted->reset();  // the test server serves one connection at a time

  // A CA that did not sign it: refused before anything is sent.
  SetOutboundCaFile((dir / "other.pem").string());
  auto untrusted = HttpConnection::Open(url);
  ASSERT_TRUE(untrusted.ok());
  auto refused = (*untrusted)->Post("application/x-protobuf", "secret", 10);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("certificate verify failed"), std::string::npos)
      << refused.status().message();
  // Trusted, but for another name than the URL's host.
  auto wrong_name =
      HttpConnection::Open("https://127.0.0.1:" + std::to_string(misnamed.port()) + "/v1/traces");
  ASSERT_TRUE(wrong_name.ok());
  auto mismatch = (*wrong_name)->Post("application/x-protobuf", "secret", 10);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("certificate verify failed"), std::string::npos)
      << mismatch.status().message();
  EXPECT_EQ(server.bodies().size(), 2u);
  EXPECT_TRUE(misnamed.bodies().empty());

  // A CA file that cannot be read is said at once.
  SetOutboundCaFile((dir / "missing.pem").string());
  auto unreadable = HttpConnection::Open(url);
  ASSERT_FALSE(unreadable.ok());
  EXPECT_NE(unreadable.status().message().find("global.ca_file " + (dir / "missing.pem").string()),
            std::string::npos)
      << unreadable.status().message();
  SetOutboundCaFile("");
  SSL_CTX_free(right);
  SSL_CTX_free(other);
  std::filesystem::remove_all(dir);
}

TEST(HttpUrlTest, TakesHttpUrlsApartAndSaysWhatIsWrongWithOthers) {
  auto plain = ParseHttpUrl("http://otel-collector:4318/v1/traces");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->host, "otel-collector");
  EXPECT_EQ(plain->port, 4318);
  EXPECT_EQ(plain->authority, "otel-collector:4318");
  EXPECT_EQ(plain->target, "/v1/traces");
  auto secure = ParseHttpUrl("https://[::1]/v1/traces?tenant=eu#top");
  ASSERT_TRUE(secure.ok());
  EXPECT_TRUE(secure->tls);
  EXPECT_EQ(secure->host, "::1");
  EXPECT_EQ(secure->port, 443);
  EXPECT_EQ(secure->authority, "[::1]");
  EXPECT_EQ(secure->target, "/v1/traces?tenant=eu");
  EXPECT_EQ(ParseHttpUrl("http://collector")->target, "/");
  EXPECT_EQ(ParseHttpUrl("http://collector?x=1")->target, "/?x=1");
  EXPECT_EQ(ParseHttpUrl("http://[::1]:8080/")->port, 8080);
  const std::pair<const char*, const char*> refused[] = {
      {"grpc://collector:4317", "not an http:// or https:// URL"},
      {"http://user:secret@collector/v1/traces", "credentials in the URL are not accepted"},
      {"http:///v1/traces", "no host"},
      {"http://collector:0/", "the port must be a number from 1 to 65535"},
      {"http://collector:70000/", "the port must be a number from 1 to 65535"},
      {"http://collector:/", "the port must be a number from 1 to 65535"},
      {"http://collector:43x/", "the port must be a number from 1 to 65535"},
      {"http://::1/", "an IPv6 address goes in brackets"},
      {"http://[::1/", "'[' without ']'"},
      {"http://[::1]x/", "']' must end the host"},
      {"http://collector/v1 traces", "spaces and control characters are not accepted"},
  };
  for (const auto& [url, why] : refused) {
    auto parsed = ParseHttpUrl(url);
    ASSERT_FALSE(parsed.ok()) << url;
    EXPECT_NE(parsed.status().message().find(why), std::string::npos)
        << url << ": " << parsed.status().message();
    EXPECT_NE(parsed.status().message().find(std::string("'") + url + "'"), std::string::npos);
  }
}

}  // namespace
}  // namespace fraudops
