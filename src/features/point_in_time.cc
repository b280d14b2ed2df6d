#include "features/point_in_time.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/numbers.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "features/aggregation.h"

namespace fraudops {

namespace {

/// The entity keys' indices: open addressing over 64-bit hashes, strings compared only when
/// the hashes are equal (faster than std::unordered_map for millions of lookups).
class KeyIndex {
 public:
  explicit KeyIndex(const std::vector<std::string>& keys) : keys_(keys) {
    size_t capacity = 16;
    while (capacity < keys.size() * 2) capacity *= 2;
    mask_ = capacity - 1;
    slots_.assign(capacity, {0, 0});
    for (size_t i = 0; i < keys.size(); ++i) {
      const uint64_t h = Hash(keys[i]);
      size_t s = h & mask_;
      while (slots_[s].second != 0) s = (s + 1) & mask_;
      slots_[s] = {h, static_cast<uint32_t>(i + 1)};
    }
  }
  uint32_t Find(std::string_view key, uint32_t absent) const {
    const uint64_t h = Hash(key);
    for (size_t s = h & mask_; slots_[s].second != 0; s = (s + 1) & mask_) {
      if (slots_[s].first == h && keys_[slots_[s].second - 1] == key) return slots_[s].second - 1;
    }
    return absent;
  }

 private:
  static uint64_t Hash(std::string_view text) {  // FNV-1a, then a final mix
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
  }
  const std::vector<std::string>& keys_;
  std::vector<std::pair<uint64_t, uint32_t>> slots_;
  size_t mask_ = 0;
};

/// Indices 0..n-1 grouped by `bucket[i]` (a counting sort, stable by index):
/// starts[b]..starts[b+1] of `order` are bucket b's.
void GroupBy(std::span<const uint32_t> bucket, size_t buckets, std::vector<uint32_t>* starts,
             std::vector<uint32_t>* order) {
  starts->assign(buckets + 1, 0);
  for (uint32_t b : bucket) ++(*starts)[b + 1];
  std::partial_sum(starts->begin(), starts->end(), starts->begin());
  order->resize(bucket.size());
  std::vector<uint32_t> next(starts->begin(), starts->end() - 1);
  for (size_t i = 0; i < bucket.size(); ++i) (*order)[next[bucket[i]]++] = static_cast<uint32_t>(i);
}

/// Sorts one bucket's indices in place by (time, index), through `scratch`.
template <typename TimeOf>
void SortByTime(std::span<uint32_t> indices, TimeOf time,
                std::vector<std::pair<EventTime, uint32_t>>& scratch) {
  if (indices.size() < 2) return;
  scratch.resize(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) scratch[k] = {time(indices[k]), indices[k]};
  std::sort(scratch.begin(), scratch.end());
  for (size_t k = 0; k < indices.size(); ++k) indices[k] = scratch[k].second;
}

}  // namespace

Result<std::vector<JoinedColumn>> PointInTimeJoin(
    const FeatureGroup& group, const FeatureTable& table, const std::vector<std::string>& features,
    std::span<const std::string_view> keys, std::span<const EventTime> times, ThreadPool* pool) {
  const size_t labels = keys.size();
  // What to produce: plain columns (table column index, or -1 when never ingested) and
  // aggregates (index into the plan).
  struct Output {
    bool aggregate = false;
    int index = -1;
  };
  FOPS_ASSIGN_OR_RETURN(AggregatePlan plan, AggregatePlan::Create(group));
  std::vector<Output> outputs;
  std::vector<JoinedColumn> columns;
  for (const std::string& feature : features) {
    JoinedColumn column;
    column.schema.name = FeatureColumnName(group.name, feature);
    Output output;
    if (const int c = group.ColumnIndex(feature); c >= 0) {
      output.index = table.ColumnIndex(feature);
      if (group.columns[static_cast<size_t>(c)].categorical)
        column.schema.type = ColumnType::kCategorical;
    } else {
      auto it = std::find_if(group.aggregates.begin(), group.aggregates.end(),
                             [&](const AggregateSpec& a) { return a.name == feature; });
      if (it == group.aggregates.end()) {
        return Status::InvalidArgument("feature group '" + group.name + "' has no feature '" +
                                       feature + "'" + DidYouMean(feature, group.FeatureNames()) +
                                       "; its features: " + Join(group.FeatureNames(), ", "));
      }
      output.aggregate = true;
      output.index = static_cast<int>(it - group.aggregates.begin());
    }
    column.values.assign(labels, kMissing);
    outputs.push_back(output);
    columns.push_back(std::move(column));
  }

  // Label rows by entity (rows whose entity the table never saw get the empty entity).
  const uint32_t unknown = static_cast<uint32_t>(table.keys.size());
  const KeyIndex index(table.keys);
  std::vector<uint32_t> label_entity(labels);
  auto find_keys = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) label_entity[i] = index.Find(keys[i], unknown);
  };
  if (pool != nullptr && labels > 50000) {
    const size_t tasks = 16;
    pool->ParallelFor(tasks,
                      [&](size_t t) { find_keys(t * labels / tasks, (t + 1) * labels / tasks); });
  } else {
    find_keys(0, labels);
  }
  auto ready = [&](uint32_t row) { return std::max(table.event[row], table.available[row]); };
  // Each entity's labels and rows (put in time order, entity by entity, by the tasks below).
  std::vector<uint32_t> label_starts, label_order, row_starts, row_order;
  GroupBy(label_entity, table.keys.size() + 1, &label_starts, &label_order);
  GroupBy(table.key, table.keys.size(), &row_starts, &row_order);

  const GroupRowReader row_reader(group, table);  // the rows' values aggregates read

  // Later is better: event, then available, then ingested, then row.
  auto newer = [&](uint32_t a, uint32_t b) {
    if (table.event[a] != table.event[b]) return table.event[a] > table.event[b];
    if (table.available[a] != table.available[b]) return table.available[a] > table.available[b];
    if (table.ingested[a] != table.ingested[b]) return table.ingested[a] > table.ingested[b];
    return a > b;
  };

  // One task's working memory, reused across its entities.
  struct Scratch {
    EntityWindow window;
    std::vector<double> slot_values;
    std::vector<PolicyValue> row_values;
    std::vector<double> aggregates;
    std::vector<std::pair<EventTime, uint32_t>> sort;
  };
  auto join_entity = [&](size_t entity, Scratch& scratch) {
    // The entity's labels in time order, and its rows in the order they became known.
    const std::span<uint32_t> labels_of(label_order.data() + label_starts[entity],
                                        label_starts[entity + 1] - label_starts[entity]);
    if (labels_of.empty()) return;
    SortByTime(
        labels_of, [&](uint32_t i) { return times[i]; }, scratch.sort);
    std::span<uint32_t> rows_of;
    if (entity < table.keys.size()) {
      rows_of = std::span<uint32_t>(row_order.data() + row_starts[entity],
                                    row_starts[entity + 1] - row_starts[entity]);
      SortByTime(rows_of, ready, scratch.sort);
    }
    EntityWindow& window = scratch.window;
    window.Clear();
    std::vector<double>& slot_values = scratch.slot_values;
    std::vector<PolicyValue>& row_values = scratch.row_values;
    std::vector<double>& aggregates = scratch.aggregates;
    slot_values.resize(plan.slots());
    row_values.resize(group.columns.size());
    aggregates.resize(plan.size());
    const EventTime max_window = plan.max_window();
    size_t next = 0;
    int64_t best = -1;
    for (uint32_t label : labels_of) {
      const EventTime t = times[label];
      for (; next < rows_of.size() && ready(rows_of[next]) <= t; ++next) {
        const uint32_t row = rows_of[next];
        if (best < 0 || newer(row, static_cast<uint32_t>(best))) best = row;
        if (plan.empty()) continue;
        row_reader.Read(row, row_values);
        uint64_t mask = 0;
        plan.Prepare(row_values, slot_values.data(), &mask);
        window.Add(table.event[row], mask, slot_values.data(), plan.slots());
      }
      if (!plan.empty()) {
        window.Expire(t - max_window);
        window.Compute(plan, t, aggregates.data());
      }
      const bool fresh = best >= 0 && (group.ttl == 0 || table.event[best] >= t - group.ttl);
      for (size_t o = 0; o < outputs.size(); ++o) {
        const Output& output = outputs[o];
        if (output.aggregate) {
          columns[o].values[label] =
              static_cast<float>(aggregates[static_cast<size_t>(output.index)]);
        } else if (fresh && output.index >= 0) {
          columns[o].values[label] = table.values[static_cast<size_t>(output.index)][best];
        }
      }
    }
  };
  const size_t entities = table.keys.size() + 1;
  if (pool != nullptr && labels > 50000) {
    const size_t tasks = std::min<size_t>(entities, 64);
    pool->ParallelFor(tasks, [&](size_t task) {
      Scratch scratch;
      for (size_t e = task * entities / tasks; e < (task + 1) * entities / tasks; ++e)
        join_entity(e, scratch);
    });
  } else {
    Scratch scratch;
    for (size_t e = 0; e < entities; ++e) join_entity(e, scratch);
  }

  // Categorical outputs: the categories the rows used, in first-used order.
  for (size_t o = 0; o < outputs.size(); ++o) {
    if (outputs[o].aggregate || columns[o].schema.type != ColumnType::kCategorical ||
        outputs[o].index < 0)
      continue;
    const std::vector<std::string>& all =
        table.columns[static_cast<size_t>(outputs[o].index)].categories;
    std::vector<int> remap(all.size(), -1);
    for (float& v : columns[o].values) {
      if (std::isnan(v)) continue;
      int& code = remap[static_cast<size_t>(v)];
      if (code < 0) {
        code = static_cast<int>(columns[o].schema.categories.size());
        columns[o].schema.categories.push_back(all[static_cast<size_t>(v)]);
      }
      v = static_cast<float>(code);
    }
  }
  return columns;
}

}  // namespace fraudops
