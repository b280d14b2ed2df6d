#pragma once
/// Shadow variants: each predict request's rows, with production's scores, are handed to a
/// background thread that scores them on every shadow of the endpoint, off the request
/// path, and builds a comparison per shadow: decision agreement (each model at its own
/// threshold), score differences, latency of each, and the PSI of the shadow's scores
/// against production's on the same rows. The queue is bounded; when full, jobs are dropped
/// and counted, never waited for. The scoring runs on a BackgroundWorker woken by Submit.

#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/background_worker.h"
#include "core/mutex.h"
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
  explicit ShadowRunner(size_t max_queued_jobs = 10000, Logger* logger = nullptr);
  ~ShadowRunner();
  ShadowRunner(const ShadowRunner&) = delete;
  ShadowRunner& operator=(const ShadowRunner&) = delete;

  /// False (and counted) when the queue is full.
  bool Submit(ShadowJob job) EXCLUDES(mutex_);
  /// Waits until every job submitted so far is scored (tests).
  void Flush() EXCLUDES(mutex_);
  /// The comparison reports of `endpoint`'s current and past shadows (empty: every endpoint).
  nlohmann::json Report(const std::string& endpoint) const EXCLUDES(mutex_);
  uint64_t dropped() const EXCLUDES(mutex_);

 private:
  struct Comparison {
    std::string endpoint, shadow;
    std::string started_at;
    uint64_t requests = 0, rows = 0, agreements = 0, shadow_positive = 0, production_positive = 0;
    uint64_t incompatible = 0;  ///< requests whose features the shadow's signature does not match
    double sum_difference = 0, sum_abs_difference = 0, max_abs_difference = 0;
    VariantStats production, shadow_stats;
  };
  static BackgroundWorker::Options WorkerOptions(Logger* logger);
  /// The worker's pass: scores jobs until the queue is empty.
  BackgroundWorker::Duration ScorePass() EXCLUDES(mutex_);
  void Score(const ShadowJob& job) EXCLUDES(mutex_);

  size_t max_queued_;
  mutable Mutex mutex_;
  CondVar idle_{&mutex_};
  std::deque<ShadowJob> queue_ GUARDED_BY(mutex_);
  bool busy_ GUARDED_BY(mutex_) = false;
  bool stopped_ GUARDED_BY(mutex_) = false;
  uint64_t dropped_ GUARDED_BY(mutex_) = 0;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Comparison>> comparisons_
      GUARDED_BY(mutex_);
  BackgroundWorker worker_;
};

}  // namespace fraudops
