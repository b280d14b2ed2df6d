#include "serve/model_cache.h"

#include <exception>

namespace fraudops {

namespace {

const std::vector<double> kLoadBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,   0.25,   0.5,   1,    2.5,   5};

}  // namespace

ModelCache::ModelCache(Options options, StoreAccess& stores, MetricRegistry& metrics)
    : options_(options), stores_(stores), load_seconds_([&]() -> Histogram& {
        metrics.Declare("fraudops_model_load_seconds", "histogram",
                        "Time to load a model of a multi-model endpoint (registry, bundle, parse).",
                        {}, kLoadBuckets);
        return metrics.HistogramOf("fraudops_model_load_seconds", {});
      }()) {}

void ModelCache::Touch(Entry& entry, const Key& key) {
  recent_.erase(entry.recent);
  recent_.push_front(key);
  entry.recent = recent_.begin();
}

bool ModelCache::MakeRoom(size_t incoming) {
  auto victim = recent_.end();
  while (bytes_ + incoming > options_.budget_bytes) {
    // The least recently used model that is not pinned.
    victim = recent_.end();
    for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) {
      if (!pinned_.count(*it)) {
        victim = std::prev(it.base());
        break;
      }
    }
    if (victim == recent_.end()) return false;
    auto entry = entries_.find(*victim);
    bytes_ -= entry->second.bytes;
    if (options_.logger) {
      options_.logger->Debug(
          "serve", "model evicted from the cache",
          {{"model", entry->first.first + "@" + std::to_string(entry->first.second)}});
    }
    entries_.erase(entry);
    recent_.erase(victim);
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

Result<std::shared_ptr<const LoadedModel>> ModelCache::Get(const VariantRef& ref) {
  const Key key{ref.model, ref.version};
  std::promise<Loaded> promise;
  std::shared_future<Loaded> waiting;
  bool loads = false;
  {
    MutexLock lock(&mutex_);
    auto found = entries_.find(key);
    if (found != entries_.end()) {
      Touch(found->second, key);
      hits_.fetch_add(1, std::memory_order_relaxed);
      return found->second.model;
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
    auto pending = loading_.find(key);
    if (pending != loading_.end()) {
      waiting = pending->second;
    } else {
      waiting = promise.get_future().share();
      loading_.emplace(key, waiting);
      loads = true;
    }
  }
  if (!loads) return waiting.get();  // another request is loading it: one load for all

  const auto start = std::chrono::steady_clock::now();
  Loaded loaded = Status::Internal("the model was not loaded");
  try {
    Status status = stores_.WithLoader([&](ServingStore&, ModelLoader& loader) -> Status {
      loaded = loader.Load(ref, /*approved_only=*/true);
      return Status::Ok();
    });
    if (!status.ok()) loaded = status;
  } catch (const std::exception& e) {  // the waiters must hear of it
    loaded = Status::Internal(std::string("loading ") + ref.ToString() + " threw: " + e.what());
  }
  load_seconds_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  loads_.fetch_add(1, std::memory_order_relaxed);
  {
    MutexLock lock(&mutex_);
    loading_.erase(key);
    if (loaded.ok()) {
      const size_t bytes = (*loaded)->bundle().MemoryBytes();
      if (bytes > options_.budget_bytes) {
        loaded = Status::InvalidArgument(ref.ToString() + " needs " + std::to_string(bytes) +
                                         " bytes; api.model_cache_bytes is " +
                                         std::to_string(options_.budget_bytes));
      } else if (!MakeRoom(bytes)) {
        loaded = Status::InvalidArgument("the pinned models fill api.model_cache_bytes (" +
                                         std::to_string(options_.budget_bytes) +
                                         " bytes); no room for " + ref.ToString());
      } else {
        recent_.push_front(key);
        entries_[key] = Entry{*loaded, bytes, recent_.begin()};
        bytes_ += bytes;
      }
    }
    if (!loaded.ok()) load_failures_.fetch_add(1, std::memory_order_relaxed);
  }
  promise.set_value(loaded);
  return loaded;
}

void ModelCache::Pin(const std::vector<VariantRef>& refs) {
  {
    MutexLock lock(&mutex_);
    pinned_.clear();
    for (const VariantRef& ref : refs) pinned_.insert({ref.model, ref.version});
  }
  for (const VariantRef& ref : refs) {
    auto loaded = Get(ref);
    if (!loaded.ok() && options_.logger) {
      options_.logger->Error("serve", "cannot load a pinned model",
                             {{"model", ref.ToString()}, {"error", loaded.status().message()}});
    }
  }
}

ModelCache::Stats ModelCache::stats() const {
  Stats out;
  {
    MutexLock lock(&mutex_);
    out.models = entries_.size();
    out.bytes = bytes_;
    for (const Key& key : pinned_) out.pinned += entries_.count(key);
  }
  out.hits = hits_.load(std::memory_order_relaxed);
  out.misses = misses_.load(std::memory_order_relaxed);
  out.loads = loads_.load(std::memory_order_relaxed);
  out.load_failures = load_failures_.load(std::memory_order_relaxed);
  out.evictions = evictions_.load(std::memory_order_relaxed);
  return out;
}

void ModelCache::WriteMetrics(std::string& out) const {
  const Stats s = stats();
  auto line = [&](const char* name, const char* type, const char* help, uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  line("fraudops_model_cache_models", "gauge", "Models of multi-model endpoints held in the cache.",
       s.models);
  line("fraudops_model_cache_bytes", "gauge",
       "Bytes of the models in the cache (Ensemble::MemoryBytes).", s.bytes);
  line("fraudops_model_cache_budget_bytes", "gauge", "api.model_cache_bytes.",
       options_.budget_bytes);
  line("fraudops_model_cache_pinned_models", "gauge", "Pinned models held in the cache.", s.pinned);
  line("fraudops_model_cache_hits_total", "counter", "Requests whose model was in the cache.",
       s.hits);
  line("fraudops_model_cache_misses_total", "counter",
       "Requests whose model was not (loaded, or waited for).", s.misses);
  line("fraudops_model_cache_loads_total", "counter",
       "Model loads (one per model however many wait for it).", s.loads);
  line("fraudops_model_cache_load_failures_total", "counter",
       "Model loads that failed or did not fit.", s.load_failures);
  line("fraudops_model_cache_evictions_total", "counter", "Models evicted to make room.",
       s.evictions);
}

}  // namespace fraudops
