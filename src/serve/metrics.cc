#include "serve/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace fraudops {

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                  bounds_.begin();  // le: value <= bound
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void Histogram::Snapshot(std::vector<uint64_t>* cumulative, double* sum, uint64_t* count) const {
  cumulative->assign(bounds_.size() + 1, 0);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    (*cumulative)[i] = running;
  }
  *count = running;
  *sum = sum_.load(std::memory_order_relaxed);
}

void MetricRegistry::Declare(const std::string& name, const std::string& type,
                             const std::string& help, std::vector<std::string> label_names,
                             std::vector<double> bounds) {
  WriterLock lock(&mutex_);
  Family& f = families_[name];
  f.name = name;
  f.type = type;
  f.help = help;
  f.label_names = std::move(label_names);
  f.bounds = std::move(bounds);
}

MetricRegistry::Family& MetricRegistry::FamilyOf(const std::string& name) {
  auto it = families_.find(name);
  if (it == families_.end()) throw std::logic_error("metric family " + name + " was not declared");
  return it->second;
}

std::atomic<uint64_t>& MetricRegistry::Counter(const std::string& name, const Labels& values) {
  {
    ReaderLock lock(&mutex_);
    Family& f = FamilyOf(name);
    auto it = f.counters.find(values);
    if (it != f.counters.end()) return *it->second;
  }
  WriterLock lock(&mutex_);
  auto& slot = FamilyOf(name).counters[values];
  if (!slot) slot = std::make_unique<std::atomic<uint64_t>>(0);
  return *slot;
}

Histogram& MetricRegistry::HistogramOf(const std::string& name, const Labels& values) {
  {
    ReaderLock lock(&mutex_);
    Family& f = FamilyOf(name);
    auto it = f.histograms.find(values);
    if (it != f.histograms.end()) return *it->second;
  }
  WriterLock lock(&mutex_);
  Family& f = FamilyOf(name);
  auto& slot = f.histograms[values];
  if (!slot) slot = std::make_unique<Histogram>(f.bounds);
  return *slot;
}

void MetricRegistry::AddCollector(std::function<void(std::string& out)> collector) {
  WriterLock lock(&mutex_);
  collectors_.push_back(std::move(collector));
}

std::string MetricRegistry::Render() const {
  std::string out;
  std::vector<std::function<void(std::string&)>> collectors;
  {
    ReaderLock lock(&mutex_);
    for (const auto& [name, f] : families_) {
      out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
      for (const auto& [values, counter] : f.counters) {
        out += MetricLine(name, f.label_names, values) + " " +
               std::to_string(counter->load(std::memory_order_relaxed)) + "\n";
      }
      for (const auto& [values, histogram] : f.histograms) {
        std::vector<uint64_t> cumulative;
        double sum = 0;
        uint64_t count = 0;
        histogram->Snapshot(&cumulative, &sum, &count);
        std::vector<std::string> names = f.label_names;
        names.push_back("le");
        std::vector<std::string> with_le = values;
        with_le.push_back("");
        for (size_t i = 0; i < cumulative.size(); ++i) {
          with_le.back() = i < f.bounds.size() ? MetricValue(f.bounds[i]) : "+Inf";
          out += MetricLine(name + "_bucket", names, with_le) + " " +
                 std::to_string(cumulative[i]) + "\n";
        }
        out += MetricLine(name + "_sum", f.label_names, values) + " " + MetricValue(sum) + "\n";
        out +=
            MetricLine(name + "_count", f.label_names, values) + " " + std::to_string(count) + "\n";
      }
    }
    collectors = collectors_;
  }
  for (const auto& collect : collectors) collect(out);
  return out;
}

}  // namespace fraudops
