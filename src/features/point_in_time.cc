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

/// Indices 0..n-1 grouped by `bucket[i]` (counting sort): starts[b]..starts[b+1] in `order`.
void GroupBy(std::span<const uint32_t> bucket, size_t buckets, std::vector<uint32_t>* starts,
             std::vector<uint32_t>* order) {
  starts->assign(buckets + 1, 0);
  for (uint32_t b : bucket) ++(*starts)[b + 1];
  std::partial_sum(starts->begin(), starts->end(), starts->begin());
  order->resize(bucket.size());
  std::vector<uint32_t> next(starts->begin(), starts->end() - 1);
  for (size_t i = 0; i < bucket.size(); ++i) (*order)[next[bucket[i]]++] = static_cast<uint32_t>(i);
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
  std::vector<uint32_t> label_starts, label_order, row_starts, row_order;
  GroupBy(label_entity, table.keys.size() + 1, &label_starts, &label_order);
  GroupBy(table.key, table.keys.size(), &row_starts, &row_order);

  // The group's columns as the table holds them (aggregates read them).
  std::vector<int> table_column(group.columns.size());
  for (size_t c = 0; c < group.columns.size(); ++c)
    table_column[c] = table.ColumnIndex(group.columns[c].name);

  auto ready = [&](uint32_t row) { return std::max(table.event[row], table.available[row]); };
  // Later is better: event, then available, then ingested, then row.
  auto newer = [&](uint32_t a, uint32_t b) {
    if (table.event[a] != table.event[b]) return table.event[a] > table.event[b];
    if (table.available[a] != table.available[b]) return table.available[a] > table.available[b];
    if (table.ingested[a] != table.ingested[b]) return table.ingested[a] > table.ingested[b];
    return a > b;
  };

  auto join_entity = [&](size_t entity) {
    std::vector<uint32_t> labels_of(label_order.begin() + label_starts[entity],
                                    label_order.begin() + label_starts[entity + 1]);
    if (labels_of.empty()) return;
    std::stable_sort(labels_of.begin(), labels_of.end(),
                     [&](uint32_t a, uint32_t b) { return times[a] < times[b]; });
    std::vector<uint32_t> rows_of;
    if (entity < table.keys.size()) {
      rows_of.assign(row_order.begin() + row_starts[entity],
                     row_order.begin() + row_starts[entity + 1]);
      std::stable_sort(rows_of.begin(), rows_of.end(),
                       [&](uint32_t a, uint32_t b) { return ready(a) < ready(b); });
    }
    EntityWindow window;
    std::vector<double> slot_values(plan.slots());
    std::vector<PolicyValue> row_values(group.columns.size());
    std::vector<double> aggregates(plan.size());
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
      for (size_t e = task; e < entities; e += tasks) join_entity(e);
    });
  } else {
    for (size_t e = 0; e < entities; ++e) join_entity(e);
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
