#include "monitor/alerts.h"

#include <gtest/gtest.h>

#include "../../tests/http_receiver.h"

namespace fraudops {
namespace {

using testing::HttpReceiver;

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
  HttpReceiver receiver({503, 500, 204});
  std::vector<long long> waits;
  WebhookOptions options;
  options.url = receiver.url("/hooks/fraud");
  options.retries = 3;
  options.backoff = std::chrono::milliseconds(100);
  options.sleep = [&](std::chrono::milliseconds wait) { waits.push_back(wait.count()); };
  WebhookAlertSink sink(options);
  ASSERT_TRUE(sink.Send({DriftAlert()}).ok());
  EXPECT_EQ(sink.attempts(), 3);
  EXPECT_EQ(waits, (std::vector<long long>{100, 200}));
  ASSERT_EQ(receiver.bodies().size(), 3u);
  auto body = nlohmann::json::parse(receiver.bodies().back());
  EXPECT_EQ(body["count"], 1);
  EXPECT_EQ(body["alerts"][0]["endpoint"], "fraud-detector");
  EXPECT_EQ(body["alerts"][0]["metric"], "psi");
  EXPECT_EQ(body["alerts"][0]["value"], 0.42);
  EXPECT_EQ(body["alerts"][0]["threshold"], 0.2);
  EXPECT_EQ(body["alerts"][0]["window"]["from"], "2026-11-23T09:00:00.000Z");
}

TEST(AlertsTest, WebhookGivesUpAfterItsRetriesAndOnAClientError) {
  {
    HttpReceiver receiver({503});
    WebhookOptions options;
    options.url = receiver.url("/hooks/fraud");
    options.retries = 2;
    options.sleep = [](std::chrono::milliseconds) {};
    WebhookAlertSink sink(options);
    Status sent = sink.Send({DriftAlert()});
    EXPECT_FALSE(sent.ok());
    EXPECT_EQ(sink.attempts(), 3);
    EXPECT_NE(sent.message().find("HTTP 503 after 3 tries"), std::string::npos) << sent.message();
  }
  {
    HttpReceiver receiver({404});
    WebhookOptions options;
    options.url = receiver.url("/hooks/fraud");
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
