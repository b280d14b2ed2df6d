#pragma once
/// The state of the services a server depends on (the metadata store, its change feed, the
/// quota store, the online feature store) as their users last saw them: up, or down with the
/// error and since when. A replica that loses one keeps serving what it can; /readyz's body
/// and /metrics (fraudops_dependency_up) report it degraded.

#include <atomic>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/mutex.h"
#include "core/status.h"

namespace fraudops {

class DependencyHealth {
 public:
  /// Reporting the state it already has is one atomic load.
  void Report(const Status& status) EXCLUDES(mutex_);
  bool up() const { return up_.load(std::memory_order_acquire); }
  /// {"up", "error", "since"} (error and since only when down).
  nlohmann::json ToJson() const EXCLUDES(mutex_);

 private:
  std::atomic<bool> up_{true};
  mutable Mutex mutex_;
  std::string error_ GUARDED_BY(mutex_);
  std::string since_ GUARDED_BY(mutex_);
};

/// The dependencies of one server, by name; entries live as long as the board.
class HealthBoard {
 public:
  /// The entry of `name`, created up on first use.
  DependencyHealth& Of(const std::string& name) EXCLUDES(mutex_);
  /// True when every dependency is up.
  bool AllUp() const EXCLUDES(mutex_);
  /// {name: {"up", …}}.
  nlohmann::json ToJson() const EXCLUDES(mutex_);
  /// fraudops_dependency_up{dependency="…"} 1|0, one line each (after a HELP/TYPE header).
  void WriteMetrics(std::string& out) const EXCLUDES(mutex_);

 private:
  mutable Mutex mutex_;
  std::map<std::string, std::unique_ptr<DependencyHealth>> entries_ GUARDED_BY(mutex_);
};

}  // namespace fraudops
