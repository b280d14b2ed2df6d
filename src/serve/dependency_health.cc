#include "serve/dependency_health.h"

#include "store/metadata_store.h"

namespace fraudops {

void DependencyHealth::Report(const Status& status) {
  if (status.ok() && up_.load(std::memory_order_acquire)) return;
  MutexLock lock(&mutex_);
  if (status.ok()) {
    error_.clear();
    since_.clear();
  } else {
    if (up_.load(std::memory_order_relaxed)) since_ = UtcNow();
    error_ = status.message();
  }
  up_.store(status.ok(), std::memory_order_release);
}

nlohmann::json DependencyHealth::ToJson() const {
  MutexLock lock(&mutex_);
  nlohmann::json out = {{"up", up()}};
  if (!up()) {
    out["error"] = error_;
    out["since"] = since_;
  }
  return out;
}

DependencyHealth& HealthBoard::Of(const std::string& name) {
  MutexLock lock(&mutex_);
  auto& entry = entries_[name];
  if (!entry) entry = std::make_unique<DependencyHealth>();
  return *entry;
}

bool HealthBoard::AllUp() const {
  MutexLock lock(&mutex_);
  for (const auto& [name, entry] : entries_) {
    if (!entry->up()) return false;
  }
  return true;
}

nlohmann::json HealthBoard::ToJson() const {
  MutexLock lock(&mutex_);
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, entry] : entries_) out[name] = entry->ToJson();
  return out;
}

void HealthBoard::WriteMetrics(std::string& out) const {
  MutexLock lock(&mutex_);
  out +=
      "# HELP fraudops_dependency_up Whether the server last reached the dependency (1) or not "
      "(0).\n# TYPE fraudops_dependency_up gauge\n";
  for (const auto& [name, entry] : entries_) {
    out +=
        "fraudops_dependency_up{dependency=\"" + name + "\"} " + (entry->up() ? "1" : "0") + "\n";
  }
}

}  // namespace fraudops
