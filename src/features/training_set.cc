#include "features/training_set.h"

#include <algorithm>
#include <cmath>

#include "core/strings.h"
#include "features/point_in_time.h"

namespace fraudops {

std::vector<std::string> FeaturePlan::KeyColumns() const {
  std::vector<std::string> columns;
  for (const FeatureGroup& group : groups)
    for (const std::string& entity : group.entities)
      if (std::find(columns.begin(), columns.end(), entity) == columns.end())
        columns.push_back(entity);
  return columns;
}

Result<FeaturePlan> PlanFeatures(FeatureRegistry& registry, const std::vector<std::string>& refs,
                                 const std::string& where) {
  FeaturePlan plan;
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    FOPS_ASSIGN_OR_RETURN(FeatureRef ref, ParseFeatureRef(refs[i], at));
    size_t g = 0;
    while (g < plan.groups.size() && plan.groups[g].name != ref.group) ++g;
    if (g == plan.groups.size()) {
      Result<FeatureGroup> group = registry.Get(ref.group);
      if (!group.ok()) return Status(group.status().code(), at + ": " + group.status().message());
      plan.groups.push_back(std::move(*group));
      plan.features.emplace_back();
    }
    const FeatureGroup& group = plan.groups[g];
    std::vector<std::string>& chosen = plan.features[g];
    const std::vector<std::string> all = group.FeatureNames();
    const std::vector<std::string> wanted =
        ref.feature.empty() ? all : std::vector<std::string>{ref.feature};
    for (const std::string& feature : wanted) {
      if (std::find(all.begin(), all.end(), feature) == all.end()) {
        return Status::InvalidArgument(
            at + ": feature group '" + group.name + "' has no feature '" + feature + "'" +
            DidYouMean(feature, all) + "; its features: " + Join(all, ", "));
      }
      if (std::find(chosen.begin(), chosen.end(), feature) == chosen.end())
        chosen.push_back(feature);
    }
  }
  return plan;
}

namespace {

Result<int> TextColumn(const Dataset& data, const std::string& name, const std::string& role) {
  const int index = data.FeatureIndex(name);
  if (index < 0) {
    return Status::DataError("the labelled data has no column '" + name + "' (" + role + ")" +
                             DidYouMean(name, data.FeatureNames()) +
                             "; its columns: " + Join(data.FeatureNames(), ", "));
  }
  return index;
}

}  // namespace

Result<JoinedFeatures> JoinTrainingFeatures(FeatureRegistry& registry, const FeaturePlan& plan,
                                            Dataset& data, const std::string& time_column,
                                            bool keep_time_text, ThreadPool* pool) {
  JoinedFeatures joined;
  const size_t rows = data.rows();
  // The moment of each row.
  FOPS_ASSIGN_OR_RETURN(int time_index, TextColumn(data, time_column,
                                                   "preprocess.time_column: the moment of each "
                                                   "row, as of which features are read"));
  FOPS_ASSIGN_OR_RETURN(
      std::vector<EventTime> times,
      ColumnTimes(data, static_cast<size_t>(time_index), "time column '" + time_column + "'"));
  std::vector<JoinedColumn> added;
  for (size_t g = 0; g < plan.groups.size(); ++g) {
    const FeatureGroup& group = plan.groups[g];
    std::vector<size_t> key_columns;
    for (const std::string& entity : group.entities) {
      FOPS_ASSIGN_OR_RETURN(
          int index, TextColumn(data, entity, "entity key of feature group '" + group.name + "'"));
      key_columns.push_back(static_cast<size_t>(index));
    }
    std::vector<std::string> keys(rows);
    std::vector<std::string_view> parts(key_columns.size());
    std::vector<std::string> scratch(key_columns.size());
    for (size_t r = 0; r < rows; ++r) {
      bool missing = false;
      for (size_t k = 0; k < key_columns.size(); ++k) {
        parts[k] = KeyCellText(data, key_columns[k], r, scratch[k]);
        missing |= parts[k].empty();
      }
      // A row without its key has no entity: its features are missing.
      keys[r] = missing ? std::string("\x1e") : JoinEntityKey(parts);
    }
    GroupSnapshot snapshot;
    FOPS_ASSIGN_OR_RETURN(FeatureTable table, registry.Load(group, &snapshot));
    std::vector<std::string_view> views(keys.begin(), keys.end());
    FOPS_ASSIGN_OR_RETURN(std::vector<JoinedColumn> columns,
                          PointInTimeJoin(group, table, plan.features[g], views, times, pool));
    for (size_t f = 0; f < columns.size(); ++f) {
      columns[f].schema.feature = group.name + ":" + plan.features[g][f];
      joined.columns.push_back(columns[f].schema.name);
      added.push_back(std::move(columns[f]));
    }
    nlohmann::json definition = group.ToJson();
    definition["version"] = group.version;
    joined.groups.push_back(std::move(definition));
    joined.snapshots.push_back(std::move(snapshot));
  }
  for (JoinedColumn& column : added) {
    if (data.FeatureIndex(column.schema.name) >= 0) {
      return Status::DataError("the labelled data already has a column '" + column.schema.name +
                               "', the name of a feature store feature");
    }
    data.features.push_back(std::move(column.schema));
    data.columns.push_back(std::move(column.values));
  }
  // The time column as a reader would have typed it; the keys leave.
  if (!keep_time_text &&
      data.features[static_cast<size_t>(time_index)].type == ColumnType::kCategorical) {
    ColumnSchema& column = data.features[static_cast<size_t>(time_index)];
    std::vector<float> numbers(column.categories.size());
    bool numeric = true;
    for (size_t i = 0; i < numbers.size() && numeric; ++i) {
      std::optional<double> v = ParseDouble(column.categories[i]);
      numeric = v.has_value();
      if (numeric) numbers[i] = static_cast<float>(*v);
    }
    if (numeric) {
      for (float& v : data.columns[static_cast<size_t>(time_index)])
        if (!std::isnan(v)) v = numbers[static_cast<size_t>(v)];
      column.type = ColumnType::kNumeric;
      column.categories.clear();
    }
  }
  for (const std::string& key : plan.KeyColumns()) {
    const int index = data.FeatureIndex(key);
    if (index < 0 || key == time_column) continue;
    data.features.erase(data.features.begin() + index);
    data.columns.erase(data.columns.begin() + index);
  }
  return joined;
}

}  // namespace fraudops
