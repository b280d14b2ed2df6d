#include "features/feature_group.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "core/strings.h"
#include "model/policy.h"

namespace fraudops {

namespace {

constexpr std::pair<AggregateFunction, std::string_view> kFunctions[] = {
    {AggregateFunction::kCount, "count"}, {AggregateFunction::kSum, "sum"},
    {AggregateFunction::kMean, "mean"},   {AggregateFunction::kMin, "min"},
    {AggregateFunction::kMax, "max"},     {AggregateFunction::kDistinctCount, "distinct_count"},
};

/// A name usable as a column, a feature and a policy field: letters, digits, _ (not first a
/// digit), at most 64 characters; "__" is kept for GROUP__FEATURE.
Status CheckName(const std::string& name, const std::string& where) {
  bool ok =
      !name.empty() && name.size() <= 64 && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ok) {
    return Status::InvalidArgument(where + ": '" + name +
                                   "' is not a valid name; accepted: letters, digits and _, not "
                                   "starting with a digit, at most 64 characters");
  }
  if (name.find("__") != std::string::npos) {
    return Status::InvalidArgument(where + ": '" + name +
                                   "' holds '__', which separates a group from its feature in "
                                   "column names (GROUP__FEATURE)");
  }
  return Status::Ok();
}

std::string Where(const std::string& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

/// YAML → JSON for one group (scalars as strings; the JSON reader checks the rest).
Result<nlohmann::json> ToJsonNode(const YAML::Node& node, const std::string& file) {
  if (node.IsScalar()) return nlohmann::json(node.Scalar());
  if (node.IsNull()) return nlohmann::json();
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const YAML::Node& item : node) {
      FOPS_ASSIGN_OR_RETURN(nlohmann::json value, ToJsonNode(item, file));
      out.push_back(std::move(value));
    }
    return out;
  }
  if (node.IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (out.contains(key))
        return Status::InvalidArgument(Where(file, entry.first) + ": '" + key + "' appears twice");
      FOPS_ASSIGN_OR_RETURN(out[key], ToJsonNode(entry.second, file));
    }
    return out;
  }
  return Status::InvalidArgument(Where(file, node) + ": unexpected YAML node");
}

Result<std::string> StringField(const nlohmann::json& json, const char* key, bool required,
                                const std::string& where) {
  if (!json.contains(key)) {
    if (required) return Status::InvalidArgument(where + ": '" + key + "' is required");
    return std::string();
  }
  const nlohmann::json& value = json[key];
  if (value.is_null()) return std::string();
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) return value.dump();
  return Status::InvalidArgument(where + "/" + key + ": expected text");
}

const std::set<std::string>& GroupKeys() {
  static const std::set<std::string> kKeys = {
      "name",        "entities", "event_time", "created_time", "ttl",    "owner",
      "description", "source",   "columns",    "aggregates",   "version"};
  return kKeys;
}

}  // namespace

std::string_view AggregateFunctionName(AggregateFunction function) {
  for (const auto& [value, name] : kFunctions)
    if (value == function) return name;
  return "?";
}

Result<AggregateFunction> ParseAggregateFunction(std::string_view name) {
  std::vector<std::string> names;
  for (const auto& [value, text] : kFunctions) {
    if (text == name) return value;
    names.emplace_back(text);
  }
  return Status::InvalidArgument("unknown aggregate function '" + std::string(name) + "'" +
                                 DidYouMean(name, names) + "; accepted: " + Join(names, ", "));
}

std::vector<std::string> FeatureGroup::FeatureNames() const {
  std::vector<std::string> names;
  for (const GroupColumn& column : columns) names.push_back(column.name);
  for (const AggregateSpec& aggregate : aggregates) names.push_back(aggregate.name);
  return names;
}

int FeatureGroup::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name) return static_cast<int>(i);
  return -1;
}

EventTime FeatureGroup::MaxWindow() const {
  EventTime longest = 0;
  for (const AggregateSpec& aggregate : aggregates) longest = std::max(longest, aggregate.window);
  return longest;
}

nlohmann::json FeatureGroup::ToJson() const {
  nlohmann::json out = {{"name", name},
                        {"entities", entities},
                        {"event_time", event_time},
                        {"created_time", created_time},
                        {"ttl", ttl == 0 ? std::string() : FormatDuration(ttl / kMicrosPerSecond)},
                        {"owner", owner},
                        {"description", description},
                        {"source", source}};
  nlohmann::json cols = nlohmann::json::object();
  for (const GroupColumn& column : columns)
    cols[column.name] = column.categorical ? "categorical" : "numeric";
  out["columns"] = cols;
  nlohmann::json aggs = nlohmann::json::array();
  for (const AggregateSpec& a : aggregates) {
    nlohmann::json item = {{"name", a.name},
                           {"function", AggregateFunctionName(a.function)},
                           {"window", FormatDuration(a.window / kMicrosPerSecond)}};
    if (!a.column.empty()) item["column"] = a.column;
    if (!a.filter.empty()) item["filter"] = a.filter;
    aggs.push_back(std::move(item));
  }
  out["aggregates"] = aggs;
  return out;
}

Result<FeatureGroup> FeatureGroup::FromJson(const nlohmann::json& json, const std::string& where) {
  if (!json.is_object())
    return Status::InvalidArgument(where + ": a feature group is a mapping (name, entities, …)");
  std::vector<std::string> known(GroupKeys().begin(), GroupKeys().end());
  for (const auto& [key, value] : json.items()) {
    if (!GroupKeys().count(key)) {
      return Status::InvalidArgument(where + ": unknown field '" + key + "'" +
                                     DidYouMean(key, known) + "; accepted: " + Join(known, ", "));
    }
  }
  FeatureGroup group;
  FOPS_ASSIGN_OR_RETURN(group.name, StringField(json, "name", true, where));
  const std::string at = where + " (group '" + group.name + "')";
  if (!json.contains("entities"))
    return Status::InvalidArgument(at + ": 'entities' is required (the entity key column(s))");
  const nlohmann::json& entities = json["entities"];
  if (entities.is_string()) {
    group.entities.push_back(entities.get<std::string>());
  } else if (entities.is_array()) {
    for (const nlohmann::json& e : entities) {
      if (!e.is_string()) return Status::InvalidArgument(at + "/entities: expected column names");
      group.entities.push_back(e.get<std::string>());
    }
  } else {
    return Status::InvalidArgument(at + "/entities: expected a column name or a list of them");
  }
  FOPS_ASSIGN_OR_RETURN(group.event_time, StringField(json, "event_time", true, at));
  FOPS_ASSIGN_OR_RETURN(group.created_time, StringField(json, "created_time", false, at));
  FOPS_ASSIGN_OR_RETURN(std::string ttl, StringField(json, "ttl", false, at));
  if (!ttl.empty()) {
    std::optional<EventTime> parsed = ParseWindow(ttl);
    if (!parsed) {
      return Status::InvalidArgument(at + "/ttl: '" + ttl +
                                     "' is not a duration; accepted: 90s, 15m, 1h, 7d, 2w");
    }
    group.ttl = *parsed;
  }
  FOPS_ASSIGN_OR_RETURN(group.owner, StringField(json, "owner", false, at));
  FOPS_ASSIGN_OR_RETURN(group.description, StringField(json, "description", false, at));
  FOPS_ASSIGN_OR_RETURN(group.source, StringField(json, "source", false, at));
  if (json.contains("columns") && !json["columns"].is_null()) {
    const nlohmann::json& columns = json["columns"];
    if (!columns.is_object()) {
      return Status::InvalidArgument(at +
                                     "/columns: expected a mapping of column names to types "
                                     "(numeric or categorical)");
    }
    for (const auto& [name, type] : columns.items()) {
      const std::string text = type.is_string() ? type.get<std::string>() : type.dump();
      if (text != "numeric" && text != "categorical") {
        return Status::InvalidArgument(at + "/columns/" + name + ": type '" + text +
                                       "'; accepted: numeric, categorical");
      }
      group.columns.push_back({name, text == "categorical"});
    }
  }
  if (json.contains("aggregates") && !json["aggregates"].is_null()) {
    const nlohmann::json& aggregates = json["aggregates"];
    if (!aggregates.is_array())
      return Status::InvalidArgument(at + "/aggregates: expected a list of aggregates");
    for (size_t i = 0; i < aggregates.size(); ++i) {
      const std::string item_at = at + "/aggregates/" + std::to_string(i);
      const nlohmann::json& a = aggregates[i];
      if (!a.is_object()) return Status::InvalidArgument(item_at + ": expected a mapping");
      for (const auto& [key, value] : a.items()) {
        static const std::vector<std::string> kKeys = {"name", "function", "column", "window",
                                                       "filter"};
        if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
          return Status::InvalidArgument(item_at + ": unknown field '" + key + "'" +
                                         DidYouMean(key, kKeys) +
                                         "; accepted: " + Join(kKeys, ", "));
        }
      }
      AggregateSpec spec;
      FOPS_ASSIGN_OR_RETURN(spec.name, StringField(a, "name", true, item_at));
      FOPS_ASSIGN_OR_RETURN(std::string function, StringField(a, "function", true, item_at));
      Result<AggregateFunction> parsed = ParseAggregateFunction(function);
      if (!parsed.ok())
        return Status::InvalidArgument(item_at + "/function: " + parsed.status().message());
      spec.function = *parsed;
      FOPS_ASSIGN_OR_RETURN(spec.column, StringField(a, "column", false, item_at));
      FOPS_ASSIGN_OR_RETURN(std::string window, StringField(a, "window", true, item_at));
      std::optional<EventTime> w = ParseWindow(window);
      if (!w) {
        return Status::InvalidArgument(item_at + "/window: '" + window +
                                       "' is not a duration; accepted: 90s, 15m, 1h, 7d, 2w");
      }
      spec.window = *w;
      FOPS_ASSIGN_OR_RETURN(spec.filter, StringField(a, "filter", false, item_at));
      group.aggregates.push_back(std::move(spec));
    }
  }
  if (json.contains("version") && json["version"].is_number_integer())
    group.version = json["version"].get<int64_t>();
  FOPS_RETURN_IF_ERROR(group.Validate(at));
  return group;
}

Status FeatureGroup::Validate(const std::string& where) const {
  FOPS_RETURN_IF_ERROR(CheckName(name, where + "/name"));
  if (entities.empty())
    return Status::InvalidArgument(where + "/entities: at least one entity key column");
  if (event_time.empty()) return Status::InvalidArgument(where + "/event_time: required");
  std::set<std::string> raw(entities.begin(), entities.end());
  if (raw.size() != entities.size())
    return Status::InvalidArgument(where + "/entities: a column is named twice");
  raw.insert(event_time);
  if (!created_time.empty()) raw.insert(created_time);
  std::set<std::string> features;
  for (const GroupColumn& column : columns) {
    FOPS_RETURN_IF_ERROR(CheckName(column.name, where + "/columns/" + column.name));
    if (std::find(entities.begin(), entities.end(), column.name) != entities.end() ||
        column.name == event_time || column.name == created_time) {
      return Status::InvalidArgument(where + "/columns/" + column.name +
                                     ": an entity key or time column is not a feature");
    }
    features.insert(column.name);
  }
  if (columns.empty() && aggregates.empty()) {
    return Status::InvalidArgument(where +
                                   ": the group has no features; declare 'columns' (their latest "
                                   "values) or 'aggregates'");
  }
  if (aggregates.size() > 64)
    return Status::InvalidArgument(where + "/aggregates: at most 64 per group");
  for (size_t i = 0; i < aggregates.size(); ++i) {
    const AggregateSpec& a = aggregates[i];
    const std::string at = where + "/aggregates/" + std::to_string(i);
    FOPS_RETURN_IF_ERROR(CheckName(a.name, at + "/name"));
    if (!features.insert(a.name).second) {
      return Status::InvalidArgument(at + "/name: '" + a.name +
                                     "' is already a feature of the group");
    }
    if (a.window <= 0) return Status::InvalidArgument(at + "/window: must be positive");
    if (a.function == AggregateFunction::kCount) {
      if (!a.column.empty() && ColumnIndex(a.column) < 0) {
        return Status::InvalidArgument(at + "/column: '" + a.column +
                                       "' is not one of the group's columns");
      }
    } else {
      if (a.column.empty()) {
        return Status::InvalidArgument(at + ": " + std::string(AggregateFunctionName(a.function)) +
                                       " needs a 'column'");
      }
      const int c = ColumnIndex(a.column);
      if (c < 0) {
        return Status::InvalidArgument(at + "/column: '" + a.column +
                                       "' is not one of the group's columns" +
                                       DidYouMean(a.column, FeatureNames()));
      }
      if (columns[static_cast<size_t>(c)].categorical &&
          a.function != AggregateFunction::kDistinctCount) {
        return Status::InvalidArgument(at + ": " + std::string(AggregateFunctionName(a.function)) +
                                       " needs a numeric column; '" + a.column +
                                       "' is categorical (distinct_count and count accept it)");
      }
    }
    if (!a.filter.empty()) {
      FOPS_ASSIGN_OR_RETURN(PolicyExpression filter,
                            PolicyExpression::Parse(a.filter, at + "/filter"));
      for (const std::string& field : filter.fields()) {
        if (ColumnIndex(field) < 0) {
          return Status::InvalidArgument(at + "/filter: reads '" + field +
                                         "', which is not one of the group's columns");
        }
      }
    }
  }
  return Status::Ok();
}

Status CheckCompatible(const FeatureGroup& old, const FeatureGroup& next) {
  const std::string prefix = "feature group '" + next.name + "': ";
  const std::string remedy =
      "; the stored rows would change meaning — declare a group with a new name instead";
  if (old.entities != next.entities)
    return Status::Conflict(prefix + "its entity key columns changed" + remedy);
  if (old.event_time != next.event_time || old.created_time != next.created_time)
    return Status::Conflict(prefix + "its event or created time column changed" + remedy);
  for (const GroupColumn& column : old.columns) {
    const int now = next.ColumnIndex(column.name);
    if (now < 0)
      return Status::Conflict(prefix + "column '" + column.name + "' was removed" + remedy);
    if (next.columns[static_cast<size_t>(now)].categorical != column.categorical)
      return Status::Conflict(prefix + "column '" + column.name + "' changed type" + remedy);
  }
  return Status::Ok();
}

Result<std::vector<FeatureGroup>> ParseFeatureGroups(std::string_view yaml,
                                                     const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& error) {
    return Status::InvalidArgument(file + ":" + std::to_string(error.mark.line + 1) + ":" +
                                   std::to_string(error.mark.column + 1) +
                                   ": malformed YAML: " + error.msg);
  }
  std::vector<FeatureGroup> groups;
  if (root.IsNull()) return groups;
  if (!root.IsMap())
    return Status::InvalidArgument(Where(file, root) + ": expected a mapping with feature_groups");
  const YAML::Node list = root["feature_groups"];
  if (!list || list.IsNull()) return groups;
  if (!list.IsSequence()) {
    return Status::InvalidArgument(Where(file, list) + ": feature_groups must be a list of groups");
  }
  std::set<std::string> names;
  for (const YAML::Node& item : list) {
    const std::string where = Where(file, item);
    FOPS_ASSIGN_OR_RETURN(nlohmann::json json, ToJsonNode(item, file));
    FOPS_ASSIGN_OR_RETURN(FeatureGroup group, FeatureGroup::FromJson(json, where));
    if (!names.insert(group.name).second)
      return Status::InvalidArgument(where + ": feature group '" + group.name + "' declared twice");
    groups.push_back(std::move(group));
  }
  return groups;
}

Result<FeatureRef> ParseFeatureRef(std::string_view text, const std::string& where) {
  FeatureRef ref;
  text = Trim(text);
  const size_t colon = text.find(':');
  ref.group = std::string(text.substr(0, colon));
  if (colon != std::string_view::npos) ref.feature = std::string(text.substr(colon + 1));
  if (ref.group.empty() || (colon != std::string_view::npos && ref.feature.empty())) {
    return Status::InvalidArgument(where + ": '" + std::string(text) +
                                   "' is not a feature reference; accepted: GROUP:FEATURE or "
                                   "GROUP (all of its features)");
  }
  return ref;
}

std::string FeatureColumnName(std::string_view group, std::string_view feature) {
  return std::string(group) + "__" + std::string(feature);
}

std::string JoinEntityKey(const std::vector<std::string_view>& parts) {
  std::string key;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) key += '\x1f';
    key += parts[i];
  }
  return key;
}

}  // namespace fraudops
