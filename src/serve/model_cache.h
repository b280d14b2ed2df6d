#pragma once
/// The models of multi-model endpoints (docs/serving.md#multi-model-endpoints): loaded on
/// first use and kept, most recently used first, while their bytes (Ensemble::MemoryBytes)
/// fit api.model_cache_bytes; the least recently used unpinned model goes first when a new
/// one needs room. A load in progress is shared: however many requests ask for a model that
/// is loading, it is loaded once and they all wait for that load. A model a request still
/// holds stays alive after its eviction (its memory goes when the request ends). A model
/// that cannot fit in the budget on its own is refused.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/logging.h"
#include "core/mutex.h"
#include "serve/endpoints.h"
#include "serve/metrics.h"
#include "serve/store_access.h"

namespace fraudops {

class ModelCache {
 public:
  struct Options {
    size_t budget_bytes = size_t{1} << 30;
    Logger* logger = nullptr;
  };
  /// `stores` and `metrics` outlive the cache. Declares its metric families in `metrics`.
  ModelCache(Options options, StoreAccess& stores, MetricRegistry& metrics);
  ModelCache(const ModelCache&) = delete;
  ModelCache& operator=(const ModelCache&) = delete;

  /// The model, loaded if it is not cached. NotFound when no such version is registered;
  /// Unavailable-style errors (IoError, InvalidArgument for a model over the budget) when it
  /// cannot be loaded.
  Result<std::shared_ptr<const LoadedModel>> Get(const VariantRef& ref) EXCLUDES(mutex_);
  /// Makes `refs` the pinned models (loads them now; a failure is logged, not fatal).
  void Pin(const std::vector<VariantRef>& refs) EXCLUDES(mutex_);

  struct Stats {
    size_t models = 0, bytes = 0, pinned = 0;
    uint64_t hits = 0, misses = 0, loads = 0, load_failures = 0, evictions = 0;
  };
  Stats stats() const EXCLUDES(mutex_);
  size_t budget_bytes() const { return options_.budget_bytes; }
  /// Prometheus lines of the gauges and counters (the load-time histogram is a family of
  /// the registry).
  void WriteMetrics(std::string& out) const EXCLUDES(mutex_);

 private:
  using Key = std::pair<std::string, int64_t>;
  using Loaded = Result<std::shared_ptr<const LoadedModel>>;
  struct Entry {
    std::shared_ptr<const LoadedModel> model;
    size_t bytes = 0;
    std::list<Key>::iterator recent;
  };
  /// Evicts unpinned models, least recently used first, until `incoming` more bytes fit;
  /// false when pinned models leave no room.
  bool MakeRoom(size_t incoming) REQUIRES(mutex_);
  void Touch(Entry& entry, const Key& key) REQUIRES(mutex_);

  Options options_;
  StoreAccess& stores_;
  Histogram& load_seconds_;
  mutable Mutex mutex_;
  std::map<Key, Entry> entries_ GUARDED_BY(mutex_);
  std::list<Key> recent_ GUARDED_BY(mutex_);  ///< most recently used first
  std::map<Key, std::shared_future<Loaded>> loading_ GUARDED_BY(mutex_);
  std::set<Key> pinned_ GUARDED_BY(mutex_);
  size_t bytes_ GUARDED_BY(mutex_) = 0;
  std::atomic<uint64_t> hits_{0}, misses_{0}, loads_{0}, load_failures_{0}, evictions_{0};
};

}  // namespace fraudops
