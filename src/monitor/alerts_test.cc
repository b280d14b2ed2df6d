#include "monitor/alerts.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace fraudops {
namespace {

/// A one-thread HTTP server on loopback answering the i-th request with statuses[i]
/// (the last one repeated), keeping the bodies it received.
class WebhookReceiver {
 public:
  explicit WebhookReceiver(std::vector<int> statuses) : statuses_(std::move(statuses)) {
    socket_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(socket_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    ::listen(socket_, 8);
    thread_ = std::thread([this] { Serve(); });
  }
  ~WebhookReceiver() {
    stop_ = true;
    ::shutdown(socket_, SHUT_RDWR);
    ::close(socket_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hooks/fraud"; }
  std::vector<std::string> bodies;

 private:
  void Serve() {
    while (!stop_) {
      int client = ::accept(socket_, nullptr, nullptr);
      if (client < 0) return;
      std::string request;
      char buffer[4096];
      size_t body_at = std::string::npos, length = 0;
      while (true) {
        ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
        if (got <= 0) break;
        request.append(buffer, static_cast<size_t>(got));
        if (body_at == std::string::npos &&
            (body_at = request.find("\r\n\r\n")) != std::string::npos) {
          body_at += 4;
          size_t header = request.find("Content-Length: ");
          if (header != std::string::npos) length = std::stoul(request.substr(header + 16));
        }
        if (body_at != std::string::npos && request.size() >= body_at + length) break;
      }
      if (body_at != std::string::npos) bodies.push_back(request.substr(body_at));
      const int status = statuses_[std::min(bodies.size() - 1, statuses_.size() - 1)];
      std::string answer = "HTTP/1.1 " + std::to_string(status) +
                           " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      ::send(client, answer.data(), answer.size(), 0);
      ::close(client);
    }
  }
  std::vector<int> statuses_;
  int socket_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Alert DriftAlert() {
  Alert alert;
  alert.endpoint = "fraud-detector";
  alert.kind = "drift";
  alert.metric = "psi";
  alert.feature = "V14";
  alert.value = 0.42;
  alert.threshold = 0.2;
  alert.comparison = ">";
  alert.window_from = "2026-11-23T09:00:00.000Z";
  alert.window_to = "2026-11-23T10:00:00.000Z";
  alert.model = "fraud-detector@3";
  return alert;
}

TEST(AlertsTest, SummaryNamesEndpointMetricValueThresholdAndWindow) {
  EXPECT_EQ(DriftAlert().Summary(),
            "drift: fraud-detector V14 psi 0.42 > 0.2 over "
            "2026-11-23T09:00:00.000Z/2026-11-23T10:00:00.000Z");
}

TEST(AlertsTest, WebhookRetriesWithDoublingBackoffUntilAccepted) {
  WebhookReceiver receiver({503, 500, 204});
  std::vector<long long> waits;
  WebhookOptions options;
  options.url = receiver.url();
  options.retries = 3;
  options.backoff = std::chrono::milliseconds(100);
  options.sleep = [&](std::chrono::milliseconds wait) { waits.push_back(wait.count()); };
  WebhookAlertSink sink(options);
  ASSERT_TRUE(sink.Send({DriftAlert()}).ok());
  EXPECT_EQ(sink.attempts(), 3);
  EXPECT_EQ(waits, (std::vector<long long>{100, 200}));
  ASSERT_EQ(receiver.bodies.size(), 3u);
  auto body = nlohmann::json::parse(receiver.bodies.back());
  EXPECT_EQ(body["count"], 1);
  EXPECT_EQ(body["alerts"][0]["endpoint"], "fraud-detector");
  EXPECT_EQ(body["alerts"][0]["metric"], "psi");
  EXPECT_EQ(body["alerts"][0]["value"], 0.42);
  EXPECT_EQ(body["alerts"][0]["threshold"], 0.2);
  EXPECT_EQ(body["alerts"][0]["window"]["from"], "2026-11-23T09:00:00.000Z");
}

TEST(AlertsTest, WebhookGivesUpAfterItsRetriesAndOnAClientError) {
  {
    WebhookReceiver receiver({503});
    WebhookOptions options;
    options.url = receiver.url();
    options.retries = 2;
    options.sleep = [](std::chrono::milliseconds) {};
    WebhookAlertSink sink(options);
    Status sent = sink.Send({DriftAlert()});
    EXPECT_FALSE(sent.ok());
    EXPECT_EQ(sink.attempts(), 3);
    EXPECT_NE(sent.message().find("HTTP 503 after 3 tries"), std::string::npos) << sent.message();
  }
  {
    WebhookReceiver receiver({404});
    WebhookOptions options;
    options.url = receiver.url();
    options.sleep = [](std::chrono::milliseconds) {};
    WebhookAlertSink sink(options);
    EXPECT_FALSE(sink.Send({DriftAlert()}).ok());
    EXPECT_EQ(sink.attempts(), 1);  // a 404 will not get better
  }
  WebhookOptions nowhere;
  nowhere.url = "http://127.0.0.1:1/none";
  nowhere.retries = 1;
  nowhere.sleep = [](std::chrono::milliseconds) {};
  WebhookAlertSink sink(nowhere);
  EXPECT_FALSE(sink.Send({DriftAlert()}).ok());
  EXPECT_EQ(sink.attempts(), 2);
}

TEST(AlertsTest, DispatcherHoldsBackRepeatsUntilTheirTime) {
  Logger logger;
  AlertDispatcher dispatcher(logger, std::chrono::seconds(3600));
  const auto t0 = std::chrono::system_clock::now();
  EXPECT_EQ(dispatcher.Dispatch({DriftAlert()}, t0).size(), 1u);
  EXPECT_EQ(dispatcher.Dispatch({DriftAlert()}, t0 + std::chrono::minutes(5)).size(), 0u);
  Alert other = DriftAlert();
  other.feature = "V4";
  EXPECT_EQ(dispatcher.Dispatch({DriftAlert(), other}, t0 + std::chrono::minutes(10)).size(), 1u);
  EXPECT_EQ(dispatcher.Dispatch({DriftAlert()}, t0 + std::chrono::minutes(61)).size(), 1u);
}

}  // namespace
}  // namespace fraudops
