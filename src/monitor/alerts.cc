#include "monitor/alerts.h"

#include <curl/curl.h>

#include <thread>

#include "core/http_client.h"
#include "core/strings.h"

namespace fraudops {

std::string Alert::Finding() const {
  return (feature.empty() ? "" : feature + " ") + metric + " " + FormatDouble(value, 4) + " " +
         comparison + " " + FormatDouble(threshold, 4);
}

std::string Alert::Summary() const {
  return kind + ": " + endpoint + " " + Finding() + " over " + window_from + "/" + window_to;
}

std::string Alert::Key() const { return endpoint + "\n" + kind + "\n" + metric + "\n" + feature; }

nlohmann::json Alert::ToJson() const {
  return {{"endpoint", endpoint},     {"kind", kind},
          {"metric", metric},         {"feature", feature},
          {"value", value},           {"threshold", threshold},
          {"comparison", comparison}, {"window", {{"from", window_from}, {"to", window_to}}},
          {"model", model},           {"time", time},
          {"summary", Summary()}};
}

Status LogAlertSink::Send(const std::vector<Alert>& alerts) {
  for (const Alert& alert : alerts) {
    logger_.Warn("alert", alert.Summary(),
                 {{"endpoint", alert.endpoint},
                  {"kind", alert.kind},
                  {"metric", alert.metric},
                  {"feature", alert.feature},
                  {"value", alert.value},
                  {"threshold", alert.threshold},
                  {"window_from", alert.window_from},
                  {"window_to", alert.window_to},
                  {"model", alert.model}});
  }
  return Status::Ok();
}

WebhookAlertSink::WebhookAlertSink(WebhookOptions options) : options_(std::move(options)) {
  if (!options_.sleep)
    options_.sleep = [](std::chrono::milliseconds wait) { std::this_thread::sleep_for(wait); };
}

namespace {

size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

/// One POST: the HTTP status, or an error when no answer came.
Result<long> Post(const WebhookOptions& options, const std::string& body) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status::Internal("cannot initialize libcurl");
  curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
  for (const auto& [name, value] : options.headers)
    list = curl_slist_append(list, (name + ": " + value).c_str());
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(list, curl_slist_free_all);
  CURL* c = curl.get();
  ApplyOutboundTls(c);
  curl_easy_setopt(c, CURLOPT_URL, options.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
  CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) return Status::IoError(curl_easy_strerror(code));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

}  // namespace

Status WebhookAlertSink::Send(const std::vector<Alert>& alerts) {
  nlohmann::json list = nlohmann::json::array();
  for (const Alert& alert : alerts) list.push_back(alert.ToJson());
  const std::string body = nlohmann::json{{"alerts", list}, {"count", alerts.size()}}.dump();
  std::chrono::milliseconds wait = options_.backoff;
  attempts_ = 0;
  std::string last;
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    if (attempt > 0) {
      options_.sleep(wait);
      wait *= 2;
    }
    ++attempts_;
    Result<long> status = Post(options_, body);
    if (status.ok() && *status >= 200 && *status < 300) return Status::Ok();
    last = status.ok() ? "HTTP " + std::to_string(*status) : status.status().message();
    // A 4xx other than 429 will not get better by trying again.
    if (status.ok() && *status >= 400 && *status < 500 && *status != 429) break;
  }
  return Status::IoError("webhook " + RedactUrl(options_.url) + ": " + last + " after " +
                         std::to_string(attempts_) + (attempts_ == 1 ? " try" : " tries"));
}

std::vector<Alert> AlertDispatcher::Dispatch(const std::vector<Alert>& alerts,
                                             std::chrono::system_clock::time_point now) {
  std::vector<Alert> fresh;
  for (const Alert& alert : alerts) {
    auto last = last_sent_.find(alert.Key());
    if (last != last_sent_.end() && now - last->second < repeat_after_) continue;
    last_sent_[alert.Key()] = now;
    fresh.push_back(alert);
  }
  if (fresh.empty()) return fresh;
  for (auto& sink : sinks_) {
    Status sent = sink->Send(fresh);
    if (!sent.ok())
      logger_.Error("alert",
                    "cannot send alerts to the " + sink->name() + " sink: " + sent.message());
  }
  return fresh;
}

}  // namespace fraudops
