#pragma once
/// This process's membership in a distributed training run (docs/distributed-training.md):
/// libxgboost's collective (Rabit, XGCommunicatorInit), joined through a tracker
/// (train/tracker.h). While a Collective exists, XGBoost's `hist` training in this process is
/// distributed (its quantile sketch and histograms are reduced across workers), and the
/// `lgbm` trainer reduces its histograms through Allreduce. One per process: libxgboost's
/// communicator is process-wide, and its calls are not thread-safe (one thread calls them).

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace fraudops {

class Collective {
 public:
  /// Joins the run that `config` (Tracker::WorkerConfig's JSON) names; errors say why (the
  /// tracker unreachable, a timeout).
  static Result<std::unique_ptr<Collective>> Join(const std::string& config);
  /// Tells the tracker this worker is done (XGCommunicatorFinalize).
  ~Collective();
  Collective(const Collective&) = delete;
  Collective& operator=(const Collective&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }

  /// In place, the element-wise sum (or maximum, minimum) over all workers.
  Status Sum(std::span<double> values);
  Status Sum(std::span<int64_t> values);
  Status Max(std::span<double> values);
  Status Min(std::span<double> values);
  /// `bytes` of rank `root`, on every worker (its size too).
  Status Broadcast(std::string& bytes, int root);
  /// Every worker's `mine`, concatenated in rank order, on every worker.
  Result<std::string> AllGather(std::string mine);
  /// The same for a vector of numbers.
  template <typename T>
  Result<std::vector<T>> AllGather(std::span<const T> mine) {
    FOPS_ASSIGN_OR_RETURN(
        std::string all,
        AllGather(std::string(reinterpret_cast<const char*>(mine.data()), mine.size_bytes())));
    std::vector<T> out(all.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), all.data(), out.size() * sizeof(T));
    return out;
  }

 private:
  Collective(int rank, int world_size) : rank_(rank), world_size_(world_size) {}
  const int rank_, world_size_;
};

}  // namespace fraudops
