#include "serve/shadow.h"

#include <chrono>
#include <cmath>

namespace fraudops {

namespace {

/// The shadow reads the rows as production encoded them only when both signatures agree.
bool SameSignature(const LoadedModel& a, const LoadedModel& b) {
  const auto& fa = a.bundle().input.features;
  const auto& fb = b.bundle().input.features;
  if (fa.size() != fb.size() || a.bundle().input.dtype != b.bundle().input.dtype) return false;
  for (size_t i = 0; i < fa.size(); ++i) {
    if (fa[i].name != fb[i].name || fa[i].categories != fb[i].categories) return false;
  }
  return true;
}

}  // namespace

BackgroundWorker::Options ShadowRunner::WorkerOptions(Logger* logger) {
  BackgroundWorker::Options options;
  options.name = "shadow";
  options.logger = logger;
  options.first_delay = BackgroundWorker::kIdle;  // woken by Submit
  return options;
}

ShadowRunner::ShadowRunner(size_t max_queued_jobs, Logger* logger)
    : max_queued_(max_queued_jobs), worker_(WorkerOptions(logger), [this] { return ScorePass(); }) {
  worker_.Start();
}

ShadowRunner::~ShadowRunner() {
  {
    MutexLock lock(&mutex_);
    stopped_ = true;  // no new jobs; the pass in progress stops after its job
    idle_.SignalAll();
  }
  worker_.Stop();
}

bool ShadowRunner::Submit(ShadowJob job) {
  {
    MutexLock lock(&mutex_);
    if (queue_.size() >= max_queued_ || stopped_) {
      ++dropped_;
      return false;
    }
    queue_.push_back(std::move(job));
  }
  worker_.Wake();
  return true;
}

void ShadowRunner::Flush() {
  MutexLock lock(&mutex_);
  while (!(queue_.empty() && !busy_) && !stopped_) idle_.Wait();
}

uint64_t ShadowRunner::dropped() const {
  MutexLock lock(&mutex_);
  return dropped_;
}

BackgroundWorker::Duration ShadowRunner::ScorePass() {
  while (true) {
    ShadowJob job;
    {
      MutexLock lock(&mutex_);
      busy_ = false;
      if (queue_.empty() || stopped_) {
        idle_.SignalAll();
        return BackgroundWorker::kIdle;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    try {
      Score(job);
    } catch (...) {  // the worker logs it; Flush must not wait for a job that will never end
      MutexLock lock(&mutex_);
      busy_ = false;
      idle_.SignalAll();
      throw;
    }
  }
}

void ShadowRunner::Score(const ShadowJob& job) {
  const LoadedModel& production = *job.snapshot->production;
  const size_t width = production.ensemble().num_features();
  std::vector<double> scores(job.count);
  for (const auto& shadow : job.snapshot->shadows) {
    const bool compatible = SameSignature(production, *shadow);
    double seconds = 0;
    if (compatible) {
      auto start = std::chrono::steady_clock::now();
      for (size_t r = 0; r < job.count; ++r)
        scores[r] = shadow->bundle().PredictProbability(job.rows.data() + r * width);
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    MutexLock lock(&mutex_);
    auto& slot = comparisons_[{job.snapshot->record.name, shadow->label()}];
    if (!slot) {
      slot = std::make_unique<Comparison>();
      slot->endpoint = job.snapshot->record.name;
      slot->shadow = shadow->label();
      slot->started_at = UtcNow();
    }
    Comparison& c = *slot;
    ++c.requests;
    if (!compatible) {
      ++c.incompatible;
      continue;
    }
    c.rows += job.count;
    for (size_t r = 0; r < job.count; ++r) {
      const bool p = job.production_scores[r] >= production.threshold();
      const bool s = scores[r] >= shadow->threshold();
      c.agreements += p == s;
      c.production_positive += p;
      c.shadow_positive += s;
      const double d = scores[r] - job.production_scores[r];
      c.sum_difference += d;
      c.sum_abs_difference += std::abs(d);
      c.max_abs_difference = std::max(c.max_abs_difference, std::abs(d));
    }
    c.production.Record(job.production_seconds, job.production_scores.data(), job.count, false);
    c.shadow_stats.Record(seconds, scores.data(), job.count, false);
  }
}

nlohmann::json ShadowRunner::Report(const std::string& endpoint) const {
  nlohmann::json out = nlohmann::json::array();
  MutexLock lock(&mutex_);
  for (const auto& [key, c] : comparisons_) {
    if (!endpoint.empty() && c->endpoint != endpoint) continue;
    const double rows = static_cast<double>(std::max<uint64_t>(c->rows, 1));
    out.push_back(
        {{"endpoint", c->endpoint},
         {"shadow", c->shadow},
         {"since", c->started_at},
         {"requests", c->requests},
         {"rows", c->rows},
         {"incompatible_requests", c->incompatible},
         {"decision_agreement", c->rows ? static_cast<double>(c->agreements) / rows : 0.0},
         {"production_positive_rate",
          c->rows ? static_cast<double>(c->production_positive) / rows : 0.0},
         {"shadow_positive_rate", c->rows ? static_cast<double>(c->shadow_positive) / rows : 0.0},
         {"mean_score_difference", c->rows ? c->sum_difference / rows : 0.0},
         {"mean_abs_score_difference", c->rows ? c->sum_abs_difference / rows : 0.0},
         {"max_abs_score_difference", c->max_abs_difference},
         {"score_psi",
          PopulationStabilityIndex(c->production.ScoreCounts(), c->shadow_stats.ScoreCounts())},
         {"production_latency_ms",
          {{"p50", 1e3 * c->production.LatencyQuantile(0.5)},
           {"p99", 1e3 * c->production.LatencyQuantile(0.99)}}},
         {"shadow_latency_ms",
          {{"p50", 1e3 * c->shadow_stats.LatencyQuantile(0.5)},
           {"p99", 1e3 * c->shadow_stats.LatencyQuantile(0.99)}}},
         {"dropped_jobs", dropped_}});
  }
  return out;
}

}  // namespace fraudops
