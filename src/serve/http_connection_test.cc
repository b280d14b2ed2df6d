#include "serve/http_connection.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../../tests/http_receiver.h"
#include "../../tests/test_certificate.h"

namespace fraudops {
namespace {

using testing::HttpReceiver;
using testing::SelfSignedServerContext;

std::string TracesUrl(const HttpReceiver& receiver) { return receiver.url("/v1/traces"); }

std::string Ok(const std::string& extra_headers = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + extra_headers + "\r\n{}";
}

TEST(HttpConnectionTest, KeepsOneConnectionForManyPostsAndSendsTheBodiesWhole) {
  HttpReceiver server([](size_t) { return Ok(); }, nullptr, false);
  auto connection = HttpConnection::Open(TracesUrl(server));
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

  // Bytes after an answer, which no request asked for: that connection is not used again.
  HttpReceiver chatty([](size_t) { return Ok() + "HTTP/1.1 200 OK\r\n"; }, nullptr, false);
  auto fresh = HttpConnection::Open(TracesUrl(chatty));
  ASSERT_TRUE(fresh.ok());
  for (int i = 0; i < 2; ++i) {
    auto reply = (*fresh)->Post("text/plain", "x", 10);
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    EXPECT_EQ(reply->status, 200);
  }
  EXPECT_EQ((*fresh)->connects(), 2);
}

TEST(HttpConnectionTest, AServerThatClosesConnectionsCostsNoPost) {
  // Closing after each answer, saying so or not (as a server closing idle connections).
  for (const std::string extra : {"Connection: close\r\n", ""}) {
    HttpReceiver server([&](size_t) { return Ok(extra); }, nullptr, true);
    auto connection = HttpConnection::Open(TracesUrl(server));
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
  HttpReceiver server([](size_t index) { return index == 1 ? std::string() : Ok(); }, nullptr,
                      false);
  auto connection = HttpConnection::Open(TracesUrl(server));
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE((*connection)->Post("text/plain", "one", 10).ok());
  auto reply = (*connection)->Post("text/plain", "two", 10);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(server.bodies(), (std::vector<std::string>{"one", "two", "two"}));
  EXPECT_EQ((*connection)->connects(), 2);
  // A new connection that fails the same way is not tried again.
  HttpReceiver closing([](size_t) { return std::string(); }, nullptr, false);
  auto fresh = HttpConnection::Open(TracesUrl(closing));
  ASSERT_TRUE(fresh.ok());
  auto failed = (*fresh)->Post("text/plain", "three", 10);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(closing.bodies().size(), 1u);
}

TEST(HttpConnectionTest, StatusesComeBackAndSilenceTimesOut) {
  HttpReceiver unavailable(
      [](size_t) {
        return std::string("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
      },
      nullptr, false);
  auto connection = HttpConnection::Open(TracesUrl(unavailable));
  ASSERT_TRUE(connection.ok());
  auto reply = (*connection)->Post("text/plain", "x", 10);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 503);
  EXPECT_EQ(reply->body, "busy");

  // Accepted, read, never answered: the post gives up at its time limit.
  std::atomic<bool> release{false};
  HttpReceiver silent(
      [&](size_t) {
        while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return std::string();
      },
      nullptr, false);
  auto waiting = HttpConnection::Open(TracesUrl(silent));
  ASSERT_TRUE(waiting.ok());
  const auto start = std::chrono::steady_clock::now();
  auto timed_out = (*waiting)->Post("text/plain", "x", 0.2);
  const auto waited = std::chrono::steady_clock::now() - start;
  release = true;
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.status().message(),
            "POST " + TracesUrl(silent) + ": no answer within 200 ms");
  EXPECT_LT(waited, std::chrono::seconds(5));

  // Nothing listening: refused, naming the URL.
  int port;
  {
    HttpReceiver brief;
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

TEST(HttpConnectionTest, HttpsVerifiesTheCollectorsCertificateAndName) {
  std::signal(SIGPIPE, SIG_IGN);  // the test server's writes to a client that gave up
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("fops-http-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  SSL_CTX* right = SelfSignedServerContext("IP:127.0.0.1", (dir / "right.pem").string());
  SSL_CTX* other = SelfSignedServerContext("DNS:collector.example", (dir / "other.pem").string());
  HttpReceiver server([](size_t) { return Ok(); }, right, false);
  HttpReceiver misnamed([](size_t) { return Ok(); }, other, false);
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
  auto expect = [](std::string_view url, bool tls, const char* host, uint16_t port,
                   const char* authority, const char* target) {
    auto parsed = ParseHttpUrl(url);
    ASSERT_TRUE(parsed.ok()) << url;
    EXPECT_EQ(parsed->tls, tls) << url;
    EXPECT_EQ(parsed->host, host) << url;
    EXPECT_EQ(parsed->port, port) << url;
    EXPECT_EQ(parsed->authority, authority) << url;
    EXPECT_EQ(parsed->target, target) << url;
  };
  expect("http://otel-collector:4318/v1/traces", false, "otel-collector", 4318,
         "otel-collector:4318", "/v1/traces");
  expect("https://[::1]/v1/traces?tenant=eu#top", true, "::1", 443, "[::1]",
         "/v1/traces?tenant=eu");
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
