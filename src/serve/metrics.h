#pragma once
/// Prometheus metrics in the text exposition format (version 0.0.4): counter and histogram
/// families with labels, plus collectors that write gauges computed at scrape time.
/// Updating a metric is a relaxed atomic add; finding a labelled child takes a shared lock
/// and a map lookup, so hot paths look a child up once and keep the reference (children
/// live as long as the registry).

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics_text.h"
#include "core/mutex.h"

namespace fraudops {

class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void Observe(double value);
  /// Cumulative counts per bound, then +Inf; the sum and count.
  void Snapshot(std::vector<uint64_t>* cumulative, double* sum, uint64_t* count) const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

class MetricRegistry {
 public:
  using Labels = std::vector<std::string>;

  /// Declares a family once; `type` is "counter" or "histogram" (with `bounds`).
  void Declare(const std::string& name, const std::string& type, const std::string& help,
               std::vector<std::string> label_names, std::vector<double> bounds = {})
      EXCLUDES(mutex_);
  /// The counter child of a declared counter family with these label values.
  std::atomic<uint64_t>& Counter(const std::string& name, const Labels& values) EXCLUDES(mutex_);
  Histogram& HistogramOf(const std::string& name, const Labels& values) EXCLUDES(mutex_);
  /// Called at every scrape to append gauge lines (with their # HELP and # TYPE).
  void AddCollector(std::function<void(std::string& out)> collector) EXCLUDES(mutex_);

  /// The whole exposition.
  std::string Render() const EXCLUDES(mutex_);

 private:
  struct Family {
    std::string name, type, help;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::map<Labels, std::unique_ptr<std::atomic<uint64_t>>> counters;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  /// Throws std::logic_error for a family never declared (a programmer's error).
  Family& FamilyOf(const std::string& name) REQUIRES_SHARED(mutex_);

  /// Children are inserted under the exclusive lock and never removed, so a reference to one
  /// stays valid without the lock.
  mutable SharedMutex mutex_;
  std::map<std::string, Family> families_ GUARDED_BY(mutex_);
  std::vector<std::function<void(std::string&)>> collectors_ GUARDED_BY(mutex_);
};

}  // namespace fraudops
