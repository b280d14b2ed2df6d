#include "features/point_in_time.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "core/strings.h"
#include "core/thread_pool.h"
#include "features/aggregation.h"

namespace fraudops {

namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

/// Indices 0..n-1 in the order of `time` (ties by index), then grouped by `bucket[i]` with
/// a stable counting sort: starts[b]..starts[b+1] of `order` are bucket b's, in time order.
template <typename TimeOf>
void GroupByInTimeOrder(std::span<const uint32_t> bucket, size_t buckets, TimeOf time,
                        std::vector<uint32_t>* starts, std::vector<uint32_t>* order) {
  std::vector<std::pair<EventTime, uint32_t>> by_time(bucket.size());
  for (size_t i = 0; i < bucket.size(); ++i) by_time[i] = {time(i), static_cast<uint32_t>(i)};
  std::sort(by_time.begin(), by_time.end());
  starts->assign(buckets + 1, 0);
  for (uint32_t b : bucket) ++(*starts)[b + 1];
  std::partial_sum(starts->begin(), starts->end(), starts->begin());
  order->resize(bucket.size());
  std::vector<uint32_t> next(starts->begin(), starts->end() - 1);
  for (const auto& [t, i] : by_time) (*order)[next[bucket[i]]++] = i;
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
  std::unordered_map<std::string_view, uint32_t> codes;
  codes.reserve(table.keys.size());
  for (size_t i = 0; i < table.keys.size(); ++i)
    codes.emplace(table.keys[i], static_cast<uint32_t>(i));
  std::vector<uint32_t> label_entity(labels);
  for (size_t i = 0; i < labels; ++i) {
    auto it = codes.find(keys[i]);
    label_entity[i] = it == codes.end() ? unknown : it->second;
  }
  auto ready = [&](uint32_t row) { return std::max(table.event[row], table.available[row]); };
  // Each entity's labels in time order, and its rows in the order they became known.
  std::vector<uint32_t> label_starts, label_order, row_starts, row_order;
  GroupByInTimeOrder(
      label_entity, table.keys.size() + 1, [&](size_t i) { return times[i]; }, &label_starts,
      &label_order);
  GroupByInTimeOrder(
      table.key, table.keys.size(), [&](size_t i) { return ready(static_cast<uint32_t>(i)); },
      &row_starts, &row_order);

  // The group's columns as the table holds them (aggregates read them).
  std::vector<int> table_column(group.columns.size());
  for (size_t c = 0; c < group.columns.size(); ++c)
    table_column[c] = table.ColumnIndex(group.columns[c].name);

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
  };
  auto join_entity = [&](size_t entity, Scratch& scratch) {
    const std::span<const uint32_t> labels_of(label_order.data() + label_starts[entity],
                                              label_starts[entity + 1] - label_starts[entity]);
    if (labels_of.empty()) return;
    std::span<const uint32_t> rows_of;
    if (entity < table.keys.size()) {
      rows_of = std::span<const uint32_t>(row_order.data() + row_starts[entity],
                                          row_starts[entity + 1] - row_starts[entity]);
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
        for (size_t c = 0; c < group.columns.size(); ++c) {
          const int tc = table_column[c];
          const float v = tc < 0 ? kMissing : table.values[static_cast<size_t>(tc)][row];
          if (std::isnan(v)) {
            row_values[c] = PolicyValue();
          } else if (group.columns[c].categorical) {
            row_values[c] = PolicyValue::String(
                table.columns[static_cast<size_t>(tc)].categories[static_cast<size_t>(v)]);
          } else {
            row_values[c] = PolicyValue::Number(v);
          }
        }
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
