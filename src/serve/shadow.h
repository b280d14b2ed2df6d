#pragma once
/// Shadow variants: each predict request's rows, with production's scores, are handed to a
/// background thread that scores them on every shadow of the endpoint, off the request
/// path, and builds a comparison per shadow: decision agreement (each model at its own
/// threshold), score differences, latency of each, and the PSI of the shadow's scores
/// against production's on the same rows. The queue is bounded; when full, jobs are dropped
/// and counted, never waited for.

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "serve/endpoints.h"

namespace fraudops {

struct ShadowJob {
  std::shared_ptr<const EndpointSnapshot> snapshot;
  std::vector<double> rows;  ///< encoded, row-major, production's signature
  size_t count = 0;
  std::vector<double> production_scores;
  double production_seconds = 0;  ///< production's scoring time for these rows
};

class ShadowRunner {
 public:
  explicit ShadowRunner(size_t max_queued_jobs = 10000);
  ~ShadowRunner();
  ShadowRunner(const ShadowRunner&) = delete;
  ShadowRunner& operator=(const ShadowRunner&) = delete;

  /// False (and counted) when the queue is full.
  bool Submit(ShadowJob job);
  /// Waits until every job submitted so far is scored (tests).
  void Flush();
  /// The comparison reports of `endpoint`'s current and past shadows (empty: every endpoint).
  nlohmann::json Report(const std::string& endpoint) const;
  uint64_t dropped() const;

 private:
  struct Comparison {
    std::string endpoint, shadow;
    std::string started_at;
    uint64_t requests = 0, rows = 0, agreements = 0, shadow_positive = 0, production_positive = 0;
    uint64_t incompatible = 0;  ///< requests whose features the shadow's signature does not match
    double sum_difference = 0, sum_abs_difference = 0, max_abs_difference = 0;
    VariantStats production, shadow_stats;
  };
  void Run();
  void Score(const ShadowJob& job);

  size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<ShadowJob> queue_;  // guarded by mutex_
  bool busy_ = false, stop_ = false;  // guarded by mutex_
  uint64_t dropped_ = 0;  // guarded by mutex_
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Comparison>> comparisons_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace fraudops
