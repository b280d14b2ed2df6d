#include "data/sql_source.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "core/files.h"
#include "core/strings.h"

namespace fraudops {

namespace {

/// One column as read: numbers as doubles (NaN when missing), and the text of cells that
/// held text, kept only until the column's type is known.
struct ColumnCells {
  std::vector<double> numbers;
  std::vector<std::pair<size_t, std::string>> texts;  ///< (row, text) of non-numeric text cells
  std::vector<size_t> missing_rows;
};

/// The statement that reads the configured table or query.
std::string SelectSql(const SqlConnection& connection, const SqlOptions& options) {
  std::string select = options.query.empty()
                           ? "SELECT * FROM " + connection.QuoteIdentifier(options.table_name)
                           : options.query;
  if (options.parts <= 1) return select;
  while (!select.empty() &&
         (select.back() == ';' || std::isspace(static_cast<unsigned char>(select.back()))))
    select.pop_back();
  // Part r of N: the key modulo N (kept non-negative) equal to r, in key order.
  const std::string key = connection.QuoteIdentifier(options.shard_key);
  const std::string n = std::to_string(options.parts);
  return "SELECT * FROM (" + select + ") AS fraudops_part WHERE ((" + key + " % " + n + ") + " + n +
         ") % " + n + " = " + std::to_string(options.part) + " ORDER BY " + key;
}

/// A failed read as a data error naming the setting (a data error from the rows stays as is).
Status ReadError(const Status& streamed, const SqlOptions& options) {
  if (streamed.code() == StatusCode::kDataError) return streamed;
  std::string what = options.query.empty()
                         ? "cannot read table '" + options.table_name + "' (preprocess.sql_table)"
                         : "cannot run preprocess.sql_query";
  return Status::DataError(what + ": " + streamed.message());
}

/// The label cell as text (text trimmed); `where` names the cell in errors.
Result<std::string> LabelText(const SqlValue& value, const std::vector<std::string>& missing,
                              const std::string& where) {
  std::string text =
      std::holds_alternative<std::string>(value) ? std::string(Trim(AsText(value))) : AsText(value);
  if (!IsValidUtf8(text)) return Status::DataError(where + ": the label is not valid UTF-8 text");
  if (IsNull(value) || IsMissingMarker(text, missing)) {
    return Status::DataError(where + ": the label is missing; every row needs a label");
  }
  return text;
}

}  // namespace

Result<Dataset> ReadSqlTable(SqlConnection& connection, const SqlOptions& options) {
  const std::string source = connection.Describe();
  const std::string sql = SelectSql(connection, options);
  std::vector<std::string> names;
  size_t label_index = 0;
  std::vector<ColumnCells> cells;
  RawLabel label;
  Dictionary label_dictionary;
  size_t row = 0;
  const std::vector<std::string>& missing = options.table.missing_values;
  Status streamed = connection.Stream(
      sql, options.chunk_rows,
      [&](const std::vector<std::string>& columns, std::span<const SqlRow> rows) -> Status {
        if (names.empty()) {
          names = columns;
          FOPS_RETURN_IF_ERROR(CheckColumns(names, options.table, source));
          label_index = options.table.label_column.empty()
                            ? names.size()  // no label: every row gets the label "0"
                            : static_cast<size_t>(std::find(names.begin(), names.end(),
                                                            options.table.label_column) -
                                                  names.begin());
          cells.resize(names.size());
        }
        for (const SqlRow& values : rows) {
          ++row;
          if (label_index == names.size()) {
            if (label_dictionary.size() == 0) label.first_seen.push_back(source);
            label.codes.push_back(label_dictionary.Code("0"));
          }
          auto where = [&](size_t c) {
            return source + ": row " + std::to_string(row) + ": column '" + names[c] + "'";
          };
          for (size_t c = 0; c < values.size(); ++c) {
            const SqlValue& value = values[c];
            if (c == label_index) {
              FOPS_ASSIGN_OR_RETURN(std::string text, LabelText(value, missing, where(c)));
              size_t before = label_dictionary.size();
              label.codes.push_back(label_dictionary.Code(text));
              if (label_dictionary.size() != before) label.first_seen.push_back(where(c));
              continue;
            }
            ColumnCells& column = cells[c];
            double number = std::numeric_limits<double>::quiet_NaN();
            if (const auto* text = std::get_if<std::string>(&value)) {
              if (!IsValidUtf8(*text))
                return Status::DataError(where(c) + ": the text is not valid UTF-8");
              std::string_view trimmed = Trim(*text);
              if (IsMissingMarker(trimmed, missing)) {
                column.missing_rows.push_back(column.numbers.size());
              } else if (auto parsed = ParseDouble(trimmed)) {
                number = *parsed;
              } else {
                column.texts.emplace_back(column.numbers.size(), std::string(trimmed));
              }
            } else if (!IsNull(value)) {
              number = AsDouble(value);
            }
            column.numbers.push_back(number);
          }
        }
        return Status::Ok();
      });
  if (!streamed.ok()) return ReadError(streamed, options);
  if (row == 0) {
    return Status::DataError(source + ": the table or query returned no rows" +
                             (options.parts > 1
                                  ? " for part " + std::to_string(options.part) + " of " +
                                        std::to_string(options.parts) + " (" + options.shard_key +
                                        " modulo " + std::to_string(options.parts) + " = " +
                                        std::to_string(options.part) + ")"
                                  : std::string()));
  }
  label.dictionary = label_dictionary.values();

  const auto& forced = options.table.categorical_columns;
  std::vector<RawColumn> columns;
  for (size_t c = 0; c < names.size(); ++c) {
    if (c == label_index) continue;
    ColumnCells& in = cells[c];
    RawColumn column;
    column.name = names[c];
    column.categorical =
        !in.texts.empty() || std::find(forced.begin(), forced.end(), names[c]) != forced.end();
    if (!column.categorical) {
      column.values.assign(in.numbers.begin(), in.numbers.end());
    } else {
      // Categories in first-seen order; numbers in a categorical column are their text.
      Dictionary dictionary;
      column.values.assign(in.numbers.size(), std::numeric_limits<float>::quiet_NaN());
      auto text = in.texts.begin();
      auto gap = in.missing_rows.begin();
      for (size_t r = 0; r < in.numbers.size(); ++r) {
        if (text != in.texts.end() && text->first == r) {
          column.values[r] = static_cast<float>(dictionary.Code(text->second));
          ++text;
        } else if (gap != in.missing_rows.end() && *gap == r) {
          ++gap;
        } else if (!std::isnan(in.numbers[r])) {
          column.values[r] = static_cast<float>(dictionary.Code(FormatDouble(in.numbers[r])));
        }
      }
      column.categories = dictionary.values();
    }
    in = ColumnCells();
    columns.push_back(std::move(column));
  }
  return AssembleDataset(std::move(columns), std::move(label), options.table, source);
}

namespace {

/// A column being streamed to its scratch file (block `block` of the spill).
struct SpillColumn {
  std::string name;
  bool categorical = false;
  bool dropped = false;
  Dictionary dictionary;
  size_t block = 0;
};

}  // namespace

Result<DatasetFileInfo> ImportSqlTable(SqlConnection& connection, const SqlOptions& options,
                                       const std::string& path) {
  const std::string source = connection.Describe();
  const TableOptions& table = options.table;
  if (table.label_column.empty())
    return Status::InvalidArgument(source + ": a dataset file import needs a label column");
  const std::string sql = SelectSql(connection, options);
  std::unique_ptr<ColumnSpill> spill;  // created with the first chunk, which names the columns
  std::vector<SpillColumn> columns;    // every column but the label, in source order
  SpillColumn label;
  size_t label_index = 0;
  std::string positive_seen, negative_seen;
  size_t row = 0;
  std::vector<float> buffer;
  auto append = [&](const SpillColumn& column) { return spill->Append(column.block, buffer); };
  Status streamed = connection.Stream(
      sql, options.chunk_rows,
      [&](const std::vector<std::string>& names, std::span<const SqlRow> rows) -> Status {
        if (spill == nullptr) {
          FOPS_RETURN_IF_ERROR(CheckColumns(names, table, source));
          label_index = static_cast<size_t>(
              std::find(names.begin(), names.end(), table.label_column) - names.begin());
          FOPS_ASSIGN_OR_RETURN(spill, ColumnSpill::Create(path + ".import", names.size() + 1));
          for (size_t c = 0; c < names.size(); ++c) {
            if (c == label_index) continue;
            SpillColumn column;
            column.name = names[c];
            column.dropped = std::find(table.drop_columns.begin(), table.drop_columns.end(),
                                       names[c]) != table.drop_columns.end();
            column.categorical =
                std::find(table.categorical_columns.begin(), table.categorical_columns.end(),
                          names[c]) != table.categorical_columns.end();
            // The first chunk decides: a text value that is not a number makes the column
            // categorical.
            for (const SqlRow& r : rows) {
              const auto* text = std::get_if<std::string>(&r[c]);
              if (text && !IsMissingMarker(Trim(*text), table.missing_values) &&
                  !ParseDouble(Trim(*text))) {
                column.categorical = true;
                break;
              }
            }
            column.block = c + 1;
            columns.push_back(std::move(column));
          }
        }
        auto where = [&](size_t r, size_t c) {
          return source + ": row " + std::to_string(row + r + 1) + ": column '" + names[c] + "'";
        };
        // The label: 1 for the positive value, 0 for the one other value.
        buffer.clear();
        for (size_t r = 0; r < rows.size(); ++r) {
          FOPS_ASSIGN_OR_RETURN(
              std::string text,
              LabelText(rows[r][label_index], table.missing_values, where(r, label_index)));
          bool positive = LabelMatches(text, table.positive_label);
          std::string& seen = positive ? positive_seen : negative_seen;
          if (seen.empty())
            seen = text;
          else if (seen != text && !positive) {
            return Status::DataError(
                where(r, label_index) + ": label column '" + table.label_column +
                "' has the value '" + text +
                "'; a label holds exactly two values, the positive one ('" + table.positive_label +
                "', preprocess.positive_label) and one other; found '" + seen + "' before");
          }
          buffer.push_back(positive ? 1.0f : 0.0f);
        }
        FOPS_RETURN_IF_ERROR(append(label));
        for (size_t i = 0, c = 0; c < names.size(); ++c) {
          if (c == label_index) continue;
          SpillColumn& column = columns[i++];
          if (column.dropped) continue;
          buffer.clear();
          for (size_t r = 0; r < rows.size(); ++r) {
            const SqlValue& value = rows[r][c];
            float out = std::numeric_limits<float>::quiet_NaN();
            if (const auto* text = std::get_if<std::string>(&value)) {
              if (!IsValidUtf8(*text))
                return Status::DataError(where(r, c) + ": the text is not valid UTF-8");
              std::string_view trimmed = Trim(*text);
              if (!IsMissingMarker(trimmed, table.missing_values)) {
                if (column.categorical) {
                  auto number = ParseDouble(trimmed);
                  out = static_cast<float>(column.dictionary.Code(number ? FormatDouble(*number)
                                                                         : std::string(trimmed)));
                } else if (auto number = ParseDouble(trimmed)) {
                  out = static_cast<float>(*number);
                } else {
                  return Status::DataError(
                      where(r, c) + ": '" + std::string(trimmed.substr(0, 40)) +
                      "' is not a number, but the first " + std::to_string(options.chunk_rows) +
                      " rows made this column numeric; list it in "
                      "preprocess.categorical_columns to read it as categories");
                }
              }
            } else if (!IsNull(value)) {
              out = column.categorical
                        ? static_cast<float>(column.dictionary.Code(FormatDouble(AsDouble(value))))
                        : static_cast<float>(AsDouble(value));
            }
            buffer.push_back(out);
          }
          FOPS_RETURN_IF_ERROR(append(column));
        }
        row += rows.size();
        return Status::Ok();
      });
  if (!streamed.ok()) return ReadError(streamed, options);
  if (row == 0) return Status::DataError(source + ": the table or query returned no rows");

  // The schema as Dataset::SchemaJson() writes it.
  Dataset shape;
  shape.label_name = table.label_column;
  shape.label_values = {negative_seen.empty() ? "0" : negative_seen,
                        positive_seen.empty() ? table.positive_label : positive_seen};
  std::vector<size_t> kept = {label.block};
  for (SpillColumn& column : columns) {
    if (column.dropped) continue;
    shape.features.push_back({column.name,
                              column.categorical ? ColumnType::kCategorical : ColumnType::kNumeric,
                              column.dictionary.values(),
                              {}});
    kept.push_back(column.block);
  }
  if (shape.features.empty()) {
    return Status::DataError(source + ": no feature columns left besides the label '" +
                             table.label_column + "'");
  }
  nlohmann::json schema = shape.SchemaJson();
  schema["rows"] = row;
  return spill->Write(schema, kept, path);
}

Result<Dataset> ReadSqlite(const std::string& path, const SqlOptions& options) {
  FOPS_ASSIGN_OR_RETURN(auto connection, OpenSqlite(path, /*read_only=*/true));
  return ReadSqlTable(*connection, options);
}

}  // namespace fraudops
