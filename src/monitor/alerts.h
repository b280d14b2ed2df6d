#pragma once
/// Alerts (docs/monitoring.md): what a monitor found over a threshold, sent to sinks — the
/// log (always) and a webhook (monitor.webhook_url: one JSON POST per monitor run with all
/// its alerts, retried with exponential backoff on a network error or a 5xx/429 answer).
/// Every alert names the endpoint, the metric, the value, the threshold and the window.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/logging.h"
#include "core/status.h"

namespace fraudops {

struct Alert {
  std::string endpoint;
  std::string kind;     ///< "drift" or "quality"
  std::string metric;   ///< psi, ks, roc_auc, pr_auc, recall, precision, alert_rate
  std::string feature;  ///< drift: the feature, or "$score"; quality: ""
  double value = 0, threshold = 0;
  std::string comparison;  ///< ">" or "<": value <comparison> threshold is the trouble
  std::string window_from, window_to;
  std::string model;  ///< NAME@VERSION monitored
  std::string time;   ///< when it was raised

  /// "V14 psi 0.42 > 0.2" (no feature for quality alerts)
  std::string Finding() const;
  /// "drift: fraud-detector V14 psi 0.42 > 0.2 over 2026-…/2026-…"
  std::string Summary() const;
  /// Identity for deduplication: endpoint, kind, metric, feature.
  std::string Key() const;
  nlohmann::json ToJson() const;
};

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual std::string name() const = 0;
  virtual Status Send(const std::vector<Alert>& alerts) = 0;
};

/// One warning line per alert.
class LogAlertSink : public AlertSink {
 public:
  explicit LogAlertSink(Logger& logger) : logger_(logger) {}
  std::string name() const override { return "log"; }
  Status Send(const std::vector<Alert>& alerts) override;

 private:
  Logger& logger_;
};

struct WebhookOptions {
  std::string url;
  int retries = 3;                         ///< after the first try
  std::chrono::milliseconds backoff{500};  ///< doubled after each failure
  std::chrono::milliseconds timeout{5000};
  std::map<std::string, std::string> headers;  ///< e.g. Authorization
  /// How to wait between tries (tests pass one that records instead of sleeping).
  std::function<void(std::chrono::milliseconds)> sleep;
};

/// POST {"alerts": [...], "count": N} as application/json.
class WebhookAlertSink : public AlertSink {
 public:
  explicit WebhookAlertSink(WebhookOptions options);
  std::string name() const override { return "webhook"; }
  Status Send(const std::vector<Alert>& alerts) override;
  int attempts() const { return attempts_; }  ///< of the last Send

 private:
  WebhookOptions options_;
  int attempts_ = 0;
};

/// Sends to every sink; an alert already sent (same Key) is held back until `repeat_after`
/// has passed, so a persistent drift does not page every few minutes.
class AlertDispatcher {
 public:
  explicit AlertDispatcher(Logger& logger,
                           std::chrono::seconds repeat_after = std::chrono::seconds(0))
      : logger_(logger), repeat_after_(repeat_after) {}
  void AddSink(std::unique_ptr<AlertSink> sink) { sinks_.push_back(std::move(sink)); }
  /// The alerts actually sent (after deduplication). A sink's failure is logged.
  std::vector<Alert> Dispatch(const std::vector<Alert>& alerts,
                              std::chrono::system_clock::time_point now);

 private:
  Logger& logger_;
  std::chrono::seconds repeat_after_;
  std::vector<std::unique_ptr<AlertSink>> sinks_;
  std::map<std::string, std::chrono::system_clock::time_point> last_sent_;
};

}  // namespace fraudops
