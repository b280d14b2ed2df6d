#pragma once
/// Feature groups (docs/features.md): a named, versioned set of features about one kind of
/// entity (a card, a merchant, a customer), with the rows that give their values over time.
/// A group declares its entity key column(s), its event-time column (when a value became
/// true), optionally a created-time column (when it became known; otherwise the time it was
/// ingested), a TTL, its typed columns — each a feature holding its latest value — and
/// windowed aggregates over its rows as an event stream ("velocity" features: count, sum,
/// mean, min, max, distinct count over 10m, 1h, 24h, … with an optional filter).
///
/// Groups are declared in a YAML file (`fraudops features apply FILE`) or in config.yml
/// under `feature_groups:`; the same text in either:
///
///     feature_groups:
///       - name: card_activity
///         entities: [card_id]
///         event_time: Time
///         created_time: Time
///         ttl: 30d
///         owner: fraud-analytics
///         description: the card's recent transactions
///         source: csv:transactions.csv
///         columns: {Amount: numeric, merchant: categorical}
///         aggregates:
///           - {name: tx_count_10m, function: count, window: 10m}
///           - {name: amount_sum_1h, function: sum, column: Amount, window: 1h}
///           - {name: merchants_24h, function: distinct_count, column: merchant, window: 24h,
///              filter: "Amount > 0"}

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "features/event_time.h"

namespace fraudops {

enum class AggregateFunction : uint8_t { kCount, kSum, kMean, kMin, kMax, kDistinctCount };
std::string_view AggregateFunctionName(AggregateFunction function);
/// "count", "sum", "mean", "min", "max" or "distinct_count"; the error lists them.
Result<AggregateFunction> ParseAggregateFunction(std::string_view name);

struct GroupColumn {
  std::string name;
  bool categorical = false;
  bool operator==(const GroupColumn&) const = default;
};

/// One windowed aggregate: `function` of `column` (none for count) over the group's rows of
/// one entity with event time in [t - window, t) — before the moment t it is computed for,
/// not at it — and, when `filter` is given, for which that expression (the decision-policy
/// language over the group's columns) is true.
struct AggregateSpec {
  std::string name;
  AggregateFunction function = AggregateFunction::kCount;
  std::string column;
  EventTime window = 0;
  std::string filter;
  bool operator==(const AggregateSpec&) const = default;
};

struct FeatureGroup {
  std::string name;
  int64_t version = 0;  ///< 0 until applied to the store
  std::vector<std::string> entities;
  std::string event_time;
  std::string created_time;  ///< "" : a row is known from the time it was ingested
  EventTime ttl = 0;         ///< 0: values never expire
  std::string owner, description;
  std::string source;  ///< a data source URI (data/source.h) `features ingest` reads by default
  std::vector<GroupColumn> columns;
  std::vector<AggregateSpec> aggregates;

  /// The group's features: its columns, then its aggregates.
  std::vector<std::string> FeatureNames() const;
  /// The column's index, or -1.
  int ColumnIndex(std::string_view name) const;
  /// The longest aggregate window (0 when none).
  EventTime MaxWindow() const;
  /// The definition as stored (no version), canonical: equal definitions dump equal.
  nlohmann::json ToJson() const;
  static Result<FeatureGroup> FromJson(const nlohmann::json& json, const std::string& where);
  /// Checks names, types, windows, filters (an error names `where` and the field).
  Status Validate(const std::string& where) const;
};

/// Whether a new definition may replace `old` under the same name: entities, event and
/// created time unchanged, no column removed or retyped (the group's stored rows must keep
/// their meaning). The error says what changed and that a new name is needed.
Status CheckCompatible(const FeatureGroup& old, const FeatureGroup& next);

/// Reads the `feature_groups:` list of a YAML document (a definitions file, or config.yml;
/// a document without the key has none). Errors name file:line:column.
Result<std::vector<FeatureGroup>> ParseFeatureGroups(std::string_view yaml,
                                                     const std::string& file);

/// A training set's or a model's reference to features: "GROUP:FEATURE", or "GROUP" for
/// all of the group's features.
struct FeatureRef {
  std::string group, feature;
};
Result<FeatureRef> ParseFeatureRef(std::string_view text, const std::string& where);

/// The column name a group's feature has in training data and models: "GROUP__FEATURE".
std::string FeatureColumnName(std::string_view group, std::string_view feature);

/// Joins entity key parts into one key (parts separated by U+001F).
std::string JoinEntityKey(const std::vector<std::string_view>& parts);

}  // namespace fraudops
