#pragma once
/// What every tabular reader (CSV, SQLite, later PostgreSQL/MySQL/S3) shares: the options
/// that turn a table into a Dataset, a category dictionary, and the final assembly that
/// encodes the label, drops columns and checks the schema — so every source yields the
/// same Dataset (and content hash) for the same rows.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"

namespace fraudops {

struct TableOptions {
  /// Empty: the table has no label (a feature group's rows); every row gets the label "0".
  std::string label_column = "Class";
  /// The label value meaning fraud. When the label's values are numbers, they compare as
  /// numbers ("1" matches "1.0").
  std::string positive_label = "1";
  /// The label is a number to predict (a regression target), not a class: every value must
  /// parse as a number and is kept as it is.
  bool numeric_label = false;
  std::vector<std::string> missing_values = {"", "NA", "N/A", "NaN", "null", "unknown"};
  std::vector<std::string> categorical_columns;
  /// What asked for categorical_columns, for the error when one is not in the data.
  std::string categorical_columns_origin = "preprocess.categorical_columns";
  std::vector<std::string> drop_columns;
};

/// Distinct strings in first-seen order, with codes 0..n-1.
class Dictionary {
 public:
  int32_t Code(std::string_view value);
  const std::vector<std::string>& values() const { return values_; }
  size_t size() const { return values_.size(); }

 private:
  std::unordered_map<std::string, int32_t> codes_;
  std::vector<std::string> values_;
};

/// One column as read, before assembly.
struct RawColumn {
  std::string name;
  bool categorical = false;
  std::vector<float> values;  ///< numbers, or category codes as floats; NaN when missing
  std::vector<std::string> categories;
};

/// The label column as read: a code per row into `dictionary`, and for each dictionary
/// entry where it first appeared (e.g. "file.csv:12"), for error messages.
struct RawLabel {
  std::vector<int32_t> codes;
  std::vector<std::string> dictionary;
  std::vector<std::string> first_seen;
};

/// The label's value for each code of a RawLabel's dictionary: 1/0 for the positive label and
/// the one other value, or the number for a regression target; `label_values` as
/// Dataset::label_values (classification). Errors as AssembleDataset's.
struct LabelEncoding {
  std::vector<float> value_of_code;
  std::vector<std::string> label_values = {"0", "1"};
};
Result<LabelEncoding> EncodeLabel(const RawLabel& label, const TableOptions& options,
                                  const std::string& source);

/// Builds the Dataset: encodes the label (exactly two values, one of them the positive
/// label; or only one value), drops `drop_columns`, rejects duplicate names.
/// `source` names the input in messages.
Result<Dataset> AssembleDataset(std::vector<RawColumn> columns, RawLabel label,
                                const TableOptions& options, const std::string& source);

/// Checks that `names` has the label column and every column the options name; the message
/// lists the columns and suggests the closest.
Status CheckColumns(const std::vector<std::string>& names, const TableOptions& options,
                    const std::string& source);

/// Whether a label value is the positive label: equal text, or equal numbers ("1" and "1.0").
bool LabelMatches(std::string_view value, std::string_view positive);

bool IsMissingMarker(std::string_view cell, const std::vector<std::string>& missing_values);

/// A numeric cell as the CSV reader reads it for training and the feature encoder reads it
/// for scoring: a missing marker (padded or not) sets NaN; otherwise a decimal number
/// (fast_float, correctly rounded; surrounding spaces and a leading '+' accepted). False when
/// the cell is neither. Callers round to float as the dataset stores values.
bool ParseNumericCell(std::string_view cell, const std::vector<std::string>& missing_values,
                      double* value);

}  // namespace fraudops
