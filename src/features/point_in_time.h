#pragma once
/// Point-in-time feature values (docs/features.md): for each labelled row — an entity key
/// and a moment t — a group's features as they were known at t:
///   - a column's value is the one of the row with the latest event time among the rows with
///     event time <= t and available time (created, else ingested) <= t; missing when there
///     is none, or when its event time is older than t - TTL. Ties in event time go to the
///     later available, then later ingested, then later stored row.
///   - an aggregate covers the events with event time in [t - window, t) that were available
///     at t (aggregation.h), computed by the same EntityWindow the online state uses.
/// No value is ever taken from a row that was not yet true or not yet known at t.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"
#include "features/feature_group.h"
#include "features/feature_table.h"

namespace fraudops {

class ThreadPool;

/// One produced feature: its schema (named as asked) and a value per labelled row (NaN when
/// missing; a category's index into schema.categories).
struct JoinedColumn {
  ColumnSchema schema;
  std::vector<float> values;
};

/// `group`'s `features` (names of its columns or aggregates) for each labelled row i, whose
/// entity key is keys[i] and moment times[i], from the group's stored rows `table`. Output
/// columns are named FeatureColumnName(group, feature).
Result<std::vector<JoinedColumn>> PointInTimeJoin(
    const FeatureGroup& group, const FeatureTable& table, const std::vector<std::string>& features,
    std::span<const std::string_view> keys, std::span<const EventTime> times, ThreadPool* pool);

}  // namespace fraudops
