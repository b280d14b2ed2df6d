#include "pipeline/data_validation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <unordered_set>

#include "core/hash.h"
#include "core/strings.h"
#include "model/policy.h"

namespace fraudops {

namespace {

bool Contains(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

std::string Percent(double share) { return FormatDouble(100.0 * share, 3) + " %"; }

/// Whether every present value is a whole number and they are all distinct.
bool UniqueWholeNumbers(const std::vector<float>& values) {
  std::vector<float> present;
  present.reserve(values.size());
  for (float v : values) {
    if (std::isnan(v)) return false;
    if (v != std::floor(v)) return false;
    present.push_back(v);
  }
  std::sort(present.begin(), present.end());
  return std::adjacent_find(present.begin(), present.end()) == present.end();
}

/// Whether the values never go down (or never go up) in row order, with at least
/// `min_distinct` distinct values: a counter, a timestamp, a row number.
bool MonotonicWithRows(const std::vector<float>& values, size_t min_distinct) {
  bool up = true, down = true;
  size_t distinct = values.empty() ? 0 : 1;
  for (size_t i = 1; i < values.size(); ++i) {
    if (std::isnan(values[i]) || std::isnan(values[i - 1])) return false;
    if (values[i] < values[i - 1]) up = false;
    if (values[i] > values[i - 1]) down = false;
    if (values[i] != values[i - 1]) ++distinct;
    if (!up && !down) return false;
  }
  return distinct >= min_distinct;
}

/// The columns derived features read.
std::set<std::string> DerivedInputs(const Dataset& data) {
  std::set<std::string> inputs;
  for (const ColumnSchema& column : data.features) {
    if (column.derived.empty()) continue;
    auto expression = PolicyExpression::Parse(column.derived, column.name);
    if (!expression.ok()) continue;  // checked when the feature was computed
    for (const std::string& field : expression->fields()) inputs.insert(field);
  }
  return inputs;
}

}  // namespace

double SingleFeatureAuc(const std::vector<float>& values, const std::vector<float>& label) {
  const size_t n = std::min(values.size(), label.size());
  std::vector<std::pair<float, float>> pairs(n);
  for (size_t i = 0; i < n; ++i) {
    const float v = std::isnan(values[i]) ? -std::numeric_limits<float>::infinity() : values[i];
    pairs[i] = {v, label[i]};
  }
  std::sort(pairs.begin(), pairs.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  // Mann-Whitney U with tied values sharing their average rank.
  double positives = 0, rank_sum = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && pairs[j].first == pairs[i].first) ++j;
    const double average_rank = (static_cast<double>(i) + static_cast<double>(j - 1)) / 2.0 + 1;
    for (size_t k = i; k < j; ++k) {
      if (pairs[k].second > 0.5) {
        positives += 1;
        rank_sum += average_rank;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

DataValidation ValidateData(const Dataset& data, const DataValidationOptions& options) {
  DataValidation out;
  const size_t rows = data.rows();
  const std::set<std::string> derived_inputs = DerivedInputs(data);
  const size_t positives = data.CountPositives();
  const bool both_classes = positives > 0 && positives < rows;
  for (const std::string& name : options.feature_columns) {
    if (data.FeatureIndex(name) < 0)
      out.errors.push_back("preprocess.feature_columns names '" + name +
                           "', which the data does not have");
  }
  for (size_t c = 0; c < data.num_features(); ++c) {
    const ColumnSchema& schema = data.features[c];
    const std::vector<float>& values = data.columns[c];
    const std::string& name = schema.name;
    nlohmann::json column = {{"name", name}, {"type", ColumnTypeName(schema.type)}};
    size_t missing = 0;
    float low = std::numeric_limits<float>::infinity(), high = -low;
    for (float v : values) {
      if (std::isnan(v)) {
        ++missing;
      } else {
        low = std::min(low, v);
        high = std::max(high, v);
      }
    }
    column["missing"] = missing;
    if (schema.type == ColumnType::kCategorical) column["categories"] = schema.categories;
    if (missing < rows) {
      column["min"] = low;
      column["max"] = high;
    }
    // Excluded: listed, not among the chosen ones, the time column, identifiers.
    std::string reason;
    bool inferred = false;  // a guess from the values, not the configuration: warned about
    // Derived and feature store features are declared features: always used.
    const bool chosen = Contains(options.feature_columns, name) || !schema.derived.empty() ||
                        !schema.feature.empty();
    if (!options.feature_columns.empty() && !chosen) {
      reason = "not in preprocess.feature_columns";
    } else if (!chosen) {
      const bool enough = rows >= options.min_rows_for_identifiers;
      if (!options.time_column.empty() && name == options.time_column) {
        reason =
            "the time column (preprocess.time_column): it orders the rows, it does not "
            "describe a transaction";
      } else if (enough && schema.type == ColumnType::kCategorical &&
                 schema.categories.size() >= rows && missing == 0) {
        reason = "unique per row: it identifies rows";
        inferred = true;
      } else if (enough && schema.type == ColumnType::kNumeric && UniqueWholeNumbers(values)) {
        reason = "unique whole numbers per row: it identifies rows";
        inferred = true;
      } else if (enough && schema.type == ColumnType::kNumeric &&
                 MonotonicWithRows(values, std::max<size_t>(2, rows / 10))) {
        reason = "monotonic with the row number (a counter or a timestamp)";
        inferred = true;
      }
      if (!reason.empty() && derived_inputs.count(name)) {
        out.warnings.push_back("column '" + name + "' looks like an identifier (" + reason +
                               ") but a derived feature reads it, so it stays a feature");
        reason.clear();
      }
    }
    if (!reason.empty()) {
      out.excluded.push_back({name, reason, inferred});
      if (inferred) {
        out.warnings.push_back("column '" + name + "' is not used as a feature: " + reason +
                               " (preprocess.feature_columns keeps it)");
      }
      column["excluded"] = reason;
      out.columns.push_back(column);
      continue;
    }
    if (missing == rows) {
      out.warnings.push_back("column '" + name + "' is entirely missing");
    } else if (low == high && missing == 0) {
      out.warnings.push_back("column '" + name + "' is constant");
    } else if (rows > 0 && static_cast<double>(missing) / static_cast<double>(rows) >
                               options.max_missing_share) {
      out.warnings.push_back("column '" + name + "' is mostly missing (" +
                             Percent(static_cast<double>(missing) / static_cast<double>(rows)) +
                             " > validate.max_missing_share " + Percent(options.max_missing_share) +
                             ")");
    }
    if (schema.type == ColumnType::kCategorical && schema.categories.size() >= 10) {
      // A number column with a few text tokens became categorical: name the tokens.
      std::vector<std::string> text;
      for (const std::string& category : schema.categories) {
        if (!ParseDouble(category)) text.push_back(category);
      }
      if (!text.empty() && text.size() <= 3 &&
          static_cast<double>(schema.categories.size() - text.size()) >=
              0.9 * static_cast<double>(schema.categories.size())) {
        std::string tokens;
        for (const std::string& t : text) tokens += (tokens.empty() ? "'" : ", '") + t + "'";
        out.warnings.push_back("column '" + name + "' holds numbers but for " + tokens +
                               ", so it became a " + std::to_string(schema.categories.size()) +
                               "-level category; if those mark missing values, declare them: "
                               "preprocess.missing_values: [" +
                               tokens + "] (with the defaults you keep)");
        column["missing_marker_candidates"] = text;
      }
    }
    if (missing < rows && both_classes) {
      const double auc = SingleFeatureAuc(values, data.label);
      const double separation = std::max(auc, 1.0 - auc);
      column["roc_auc"] = auc;
      const bool judged = positives >= options.min_class_rows_for_leakage &&
                          rows - positives >= options.min_class_rows_for_leakage;
      if (judged && separation > options.max_single_feature_auc) {
        out.errors.push_back("column '" + name + "' alone separates the label (ROC AUC " +
                             FormatDouble(separation, 4) + " > validate.max_single_feature_auc " +
                             FormatDouble(options.max_single_feature_auc, 4) +
                             "): a copy or a consequence of the label leaks it; exclude it "
                             "(preprocess.drop_columns) or, if it is truly known at "
                             "authorization time, raise the limit");
      }
    }
    out.columns.push_back(column);
  }
  // Duplicate rows: the same features and label twice.
  std::unordered_set<std::string> seen;
  seen.reserve(rows);
  for (size_t r = 0; r < rows; ++r) {
    std::string key;
    key.reserve((data.num_features() + 1) * sizeof(float));
    for (size_t c = 0; c < data.num_features(); ++c)
      key.append(reinterpret_cast<const char*>(&data.columns[c][r]), sizeof(float));
    key.append(reinterpret_cast<const char*>(&data.label[r]), sizeof(float));
    if (!seen.insert(std::move(key)).second) ++out.duplicate_rows;
  }
  if (out.duplicate_rows > 0) {
    out.warnings.push_back(
        std::to_string(out.duplicate_rows) + " rows (" +
        Percent(static_cast<double>(out.duplicate_rows) / static_cast<double>(rows)) +
        ") repeat an earlier row exactly; a split may put copies on both sides and flatter the "
        "test metrics");
  }
  return out;
}

namespace {

std::string Listed(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 5; ++i) out += (i ? ", '" : "'") + names[i] + "'";
  if (names.size() > 5) out += " and " + std::to_string(names.size() - 5) + " more";
  return out;
}

}  // namespace

std::vector<std::string> CompareWithPreviousRun(const nlohmann::json& current,
                                                const nlohmann::json& previous,
                                                double max_label_rate_ratio,
                                                const std::string& previous_run) {
  std::vector<std::string> out;
  const std::string since = " since the previous run (" + previous_run + ")";
  auto by_name = [](const nlohmann::json& report) {
    std::map<std::string, nlohmann::json> columns;
    if (report.contains("columns") && report["columns"].is_array()) {
      for (const auto& c : report["columns"]) {
        if (c.is_object() && c.contains("name")) columns[c.value("name", "")] = c;
      }
    }
    return columns;
  };
  const auto now = by_name(current), before = by_name(previous);
  std::vector<std::string> added, removed;
  for (const auto& [name, c] : now) {
    auto it = before.find(name);
    if (it == before.end()) {
      added.push_back(name);
      continue;
    }
    if (c.value("type", "") != it->second.value("type", "")) {
      out.push_back("column '" + name + "' is " + c.value("type", "") + " now, " +
                    it->second.value("type", "") + since);
      continue;
    }
    if (c.contains("categories") && it->second.contains("categories")) {
      std::set<std::string> old_set, new_set;
      for (const auto& v : it->second["categories"]) old_set.insert(v.get<std::string>());
      for (const auto& v : c["categories"]) new_set.insert(v.get<std::string>());
      std::vector<std::string> appeared, vanished;
      for (const auto& v : new_set)
        if (!old_set.count(v)) appeared.push_back(v);
      for (const auto& v : old_set)
        if (!new_set.count(v)) vanished.push_back(v);
      if (!appeared.empty())
        out.push_back("column '" + name + "' has categories new" + since + ": " + Listed(appeared));
      if (!vanished.empty())
        out.push_back("column '" + name + "' lost categories" + since + ": " + Listed(vanished));
    }
  }
  for (const auto& [name, c] : before) {
    if (!now.count(name)) removed.push_back(name);
  }
  if (!added.empty()) out.push_back("columns new" + since + ": " + Listed(added));
  if (!removed.empty()) out.push_back("columns gone" + since + ": " + Listed(removed));
  const double rows = current.value("rows", 0.0), old_rows = previous.value("rows", 0.0);
  if (rows > 0 && old_rows > 0) {
    const double rate = current.value("positives", 0.0) / rows;
    const double old_rate = previous.value("positives", 0.0) / old_rows;
    if (rate > 0 && old_rate > 0 &&
        (rate > old_rate * max_label_rate_ratio || rate * max_label_rate_ratio < old_rate)) {
      out.push_back("the label rate is " + Percent(rate) + ", " + Percent(old_rate) + since +
                    " (more than " + FormatDouble(max_label_rate_ratio, 3) +
                    "x apart: validate.max_label_rate_change); is the label defined the same "
                    "way?");
    }
  }
  return out;
}

std::vector<std::vector<int64_t>> CategoryCounts(const Dataset& data,
                                                 std::initializer_list<const Dataset*> more) {
  std::vector<std::vector<int64_t>> counts(data.num_features());
  for (size_t c = 0; c < data.num_features(); ++c) {
    if (data.features[c].type != ColumnType::kCategorical) continue;
    counts[c].assign(data.features[c].categories.size(), 0);
    auto count = [&](const std::vector<float>& column) {
      for (float v : column) {
        // Codes of the column's categories (NaN, and any other value, not counted).
        if (!(v >= 0 && v < static_cast<float>(counts[c].size()))) continue;
        ++counts[c][static_cast<size_t>(v)];
      }
    };
    count(data.columns[c]);
    for (const Dataset* other : more) {
      if (c < other->num_features()) count(other->columns[c]);
    }
  }
  return counts;
}

std::vector<std::string> CategoriesUnseenInTraining(
    const Dataset& schema, const std::vector<std::vector<int64_t>>& train_counts,
    const std::vector<std::vector<int64_t>>& held_out_counts) {
  std::vector<std::string> out;
  for (size_t c = 0;
       c < schema.num_features() && c < train_counts.size() && c < held_out_counts.size(); ++c) {
    if (schema.features[c].type != ColumnType::kCategorical) continue;
    std::vector<std::string> names;
    int64_t unseen_rows = 0;
    for (size_t code = 0; code < held_out_counts[c].size(); ++code) {
      if (held_out_counts[c][code] == 0) continue;
      if (code < train_counts[c].size() && train_counts[c][code] > 0) continue;
      unseen_rows += held_out_counts[c][code];
      names.push_back(code < schema.features[c].categories.size()
                          ? schema.features[c].categories[code]
                          : std::to_string(code));
    }
    if (names.empty()) continue;
    out.push_back("column '" + schema.features[c].name + "': " + std::to_string(unseen_rows) +
                  " validation and test rows hold categories no training row has (" +
                  Listed(names) + "); the model learned nothing about them");
  }
  return out;
}

std::vector<std::string> CategoriesUnseenInTraining(const Dataset& train, const Dataset& validation,
                                                    const Dataset& test) {
  return CategoriesUnseenInTraining(train, CategoryCounts(train, {}),
                                    CategoryCounts(validation, {&test}));
}

std::vector<int64_t> InfiniteCounts(const Dataset& data) {
  std::vector<int64_t> out;
  for (const std::vector<float>& column : data.columns) {
    out.push_back(
        std::count_if(column.begin(), column.end(), [](float v) { return std::isinf(v); }));
  }
  return out;
}

std::string CheckRowCounts(const Dataset& schema, int64_t rows, int64_t positives,
                           const std::vector<int64_t>& infinite) {
  if (rows == 0) return "the data has no rows";
  for (size_t c = 0; c < schema.num_features() && c < infinite.size(); ++c) {
    if (infinite[c] > 0) {
      return "column '" + schema.features[c].name + "' has " + std::to_string(infinite[c]) +
             " infinite values; accepted: finite numbers or missing values";
    }
  }
  if (positives == 0) {
    return "the label column '" + schema.label_name + "' has no positive ('" +
           schema.label_values[1] +
           "') rows; a fraud model needs fraud examples (check preprocess.positive_label)";
  }
  if (positives == rows) {
    return "every row of the label column '" + schema.label_name +
           "' is positive; a fraud model needs legitimate examples too";
  }
  return "";
}

nlohmann::json DataValidation::ToJson() const {
  nlohmann::json excluded_json = nlohmann::json::array();
  for (const ExcludedColumn& e : excluded)
    excluded_json.push_back({{"name", e.name}, {"reason", e.reason}, {"inferred", e.inferred}});
  return {{"excluded", excluded_json},
          {"warnings", warnings},
          {"errors", errors},
          {"duplicate_rows", duplicate_rows},
          {"columns", columns}};
}

}  // namespace fraudops
