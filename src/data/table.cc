#include "data/table.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/strings.h"

namespace fraudops {

int32_t Dictionary::Code(std::string_view value) {
  auto [it, inserted] =
      codes_.try_emplace(std::string(value), static_cast<int32_t>(values_.size()));
  if (inserted) values_.emplace_back(value);
  return it->second;
}

bool ParseNumericCell(std::string_view cell, const std::vector<std::string>& missing_values,
                      double* value) {
  if (IsMissingMarker(cell, missing_values) || IsMissingMarker(Trim(cell), missing_values)) {
    *value = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  auto parsed = ParseDouble(cell);
  if (!parsed) return false;
  *value = *parsed;
  return true;
}

bool IsMissingMarker(std::string_view cell, const std::vector<std::string>& missing_values) {
  for (const std::string& marker : missing_values) {
    if (cell == marker) return true;
  }
  return false;
}

bool LabelMatches(std::string_view value, std::string_view positive) {
  if (value == positive) return true;
  auto a = ParseDouble(value), b = ParseDouble(positive);
  return a && b && *a == *b;
}

Status CheckColumns(const std::vector<std::string>& names, const TableOptions& options,
                    const std::string& source) {
  auto has = [&](const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  std::string listing = "; its columns are: " + Join(names, ", ");
  if (listing.size() > 400) listing = listing.substr(0, 400) + "…";
  if (!options.label_column.empty() && !has(options.label_column)) {
    return Status::DataError(source + ": missing label column '" + options.label_column + "'" +
                             DidYouMean(options.label_column, names) + listing +
                             " (set preprocess.label_column)");
  }
  for (const auto* list : {&options.categorical_columns, &options.drop_columns}) {
    for (const std::string& name : *list) {
      if (!has(name)) {
        const std::string key = list == &options.drop_columns
                                    ? std::string("preprocess.drop_columns")
                                    : options.categorical_columns_origin;
        return Status::DataError(source + ": " + key + " names column '" + name +
                                 "', which the data does not have" + DidYouMean(name, names) +
                                 listing);
      }
    }
  }
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (!seen.insert(name).second) {
      return Status::DataError(source + ": column name '" + name +
                               "' appears twice in the header; names must be unique");
    }
  }
  return Status::Ok();
}

Result<LabelEncoding> EncodeLabel(const RawLabel& label, const TableOptions& options,
                                  const std::string& source) {
  LabelEncoding encoding;
  const auto& values = label.dictionary;
  if (options.numeric_label) {
    for (size_t i = 0; i < values.size(); ++i) {
      auto number = ParseDouble(values[i]);
      if (!number || !std::isfinite(*number)) {
        return Status::DataError(label.first_seen[i] + ": label column '" + options.label_column +
                                 "' has the value '" + values[i] +
                                 "'; a regression target must be a finite number");
      }
      encoding.value_of_code.push_back(static_cast<float>(*number));
    }
    return encoding;
  }
  // Label: the positive value (several spellings of it, "1" and "1.0", are all positive) and at
  // most one other.
  int positive_code = -1;  // the first spelling seen
  std::vector<size_t> negatives;
  std::vector<bool> positive(values.size(), false);
  for (size_t i = 0; i < values.size(); ++i) {
    positive[i] = LabelMatches(values[i], options.positive_label);
    if (!positive[i])
      negatives.push_back(i);
    else if (positive_code < 0)
      positive_code = static_cast<int>(i);
  }
  auto quoted_list = [&](size_t limit) {
    std::string out;
    for (size_t i = 0; i < std::min(values.size(), limit); ++i) {
      out += (i ? ", '" : "'") + values[i] + "'";
    }
    if (values.size() > limit) out += ", …";
    return out;
  };
  if (positive_code < 0 && negatives.size() == 2) {
    return Status::DataError(source + ": label column '" + options.label_column +
                             "' has the values " + quoted_list(2) +
                             ", neither of which is the positive label '" + options.positive_label +
                             "'; set preprocess.positive_label to the value meaning fraud");
  }
  if (negatives.size() > (positive_code >= 0 ? 1u : 2u)) {
    // Name the first value that makes it more than two (and the positive one).
    const size_t offending = negatives[positive_code >= 0 ? 1 : 2];
    return Status::DataError(label.first_seen[offending] + ": label column '" +
                             options.label_column + "' has the value '" + values[offending] +
                             "'; a label holds exactly two values, the positive one ('" +
                             options.positive_label +
                             "', preprocess.positive_label) and one "
                             "other; found " +
                             std::to_string(values.size()) + ": " + quoted_list(6));
  }
  encoding.label_values = {
      negatives.empty() ? std::string("0") : values[negatives[0]],
      positive_code >= 0 ? values[static_cast<size_t>(positive_code)] : options.positive_label};
  for (size_t i = 0; i < values.size(); ++i)
    encoding.value_of_code.push_back(positive[i] ? 1.0f : 0.0f);
  return encoding;
}

Result<Dataset> AssembleDataset(std::vector<RawColumn> columns, RawLabel label,
                                const TableOptions& options, const std::string& source) {
  Dataset dataset;
  dataset.label_name = options.label_column;
  FOPS_ASSIGN_OR_RETURN(LabelEncoding encoding, EncodeLabel(label, options, source));
  if (!options.numeric_label) dataset.label_values = encoding.label_values;
  dataset.label.resize(label.codes.size());
  for (size_t r = 0; r < label.codes.size(); ++r)
    dataset.label[r] = encoding.value_of_code[static_cast<size_t>(label.codes[r])];

  for (RawColumn& column : columns) {
    if (std::find(options.drop_columns.begin(), options.drop_columns.end(), column.name) !=
        options.drop_columns.end()) {
      continue;
    }
    if (column.values.size() != dataset.label.size()) {
      return Status::Internal(source + ": column '" + column.name + "' has " +
                              std::to_string(column.values.size()) + " values for " +
                              std::to_string(dataset.label.size()) + " labels");
    }
    ColumnSchema schema;
    schema.name = column.name;
    schema.type = column.categorical ? ColumnType::kCategorical : ColumnType::kNumeric;
    schema.categories = std::move(column.categories);
    dataset.features.push_back(std::move(schema));
    dataset.columns.push_back(std::move(column.values));
  }
  if (dataset.features.empty()) {
    return Status::DataError(source + ": no feature columns left besides the label '" +
                             options.label_column + "'");
  }
  return dataset;
}

}  // namespace fraudops
