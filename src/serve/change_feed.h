#pragma once
/// Changes made by any process reach a server in milliseconds: with a PostgreSQL metadata
/// store, a connection of its own LISTENs on the channel every change to deployments, keys
/// and plans is NOTIFYed on (ServingStore::kChangeChannel) and wakes the rollout controller,
/// which reads the change counters and reloads what moved. It wakes it once more after every
/// (re)connection, for what changed while it was away. A lost connection is opened again
/// with a doubling pause (100 ms to 5 s); meanwhile polling (api.poll_interval_ms) carries on,
/// as it does for SQLite.

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "core/logging.h"
#include "serve/dependency_health.h"

namespace fraudops {

class ChangeFeed {
 public:
  /// `url`: the PostgreSQL metadata store; `on_change` runs on the feed's thread.
  ChangeFeed(std::string url, std::function<void()> on_change, DependencyHealth& health,
             Logger& logger);
  ~ChangeFeed();
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  void Start();
  /// Ends the wait at once and joins the thread; idempotent.
  void Stop();
  /// Notifications received (for tests and metrics).
  uint64_t received() const { return received_.load(std::memory_order_relaxed); }

 private:
  void Loop();
  /// Waits up to `milliseconds` or until Stop(); false when stopping.
  bool Pause(int milliseconds) const;

  std::string url_;
  std::function<void()> on_change_;
  DependencyHealth& health_;
  Logger& logger_;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> received_{0};
  std::thread thread_;
};

}  // namespace fraudops
