#include "data/sql_source.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

}  // namespace

Result<Dataset> ReadSqlTable(SqlConnection& connection, const SqlOptions& options) {
  const std::string source = connection.Describe();
  std::string sql = options.query.empty()
                        ? "SELECT * FROM " + connection.QuoteIdentifier(options.table_name)
                        : options.query;
  std::vector<std::string> names;
  size_t label_index = 0;
  std::vector<ColumnCells> cells;
  RawLabel label;
  Dictionary label_dictionary;
  size_t row = 0;
  const std::vector<std::string>& missing = options.table.missing_values;
  Status streamed = connection.Stream(sql, options.chunk_rows, [&](const std::vector<std::string>& columns,
                                                                   std::span<const SqlRow> rows) -> Status {
    if (names.empty()) {
      names = columns;
      FOPS_RETURN_IF_ERROR(CheckColumns(names, options.table, source));
      label_index = static_cast<size_t>(std::find(names.begin(), names.end(), options.table.label_column) - names.begin());
      cells.resize(names.size());
    }
    for (const SqlRow& values : rows) {
      ++row;
      auto where = [&](size_t c) { return source + ": row " + std::to_string(row) + ": column '" + names[c] + "'"; };
      for (size_t c = 0; c < values.size(); ++c) {
        const SqlValue& value = values[c];
        if (c == label_index) {
          std::string text = std::holds_alternative<std::string>(value) ? std::string(Trim(AsText(value))) : AsText(value);
          if (!IsValidUtf8(text)) return Status::DataError(where(c) + ": the label is not valid UTF-8 text");
          if (IsNull(value) || IsMissingMarker(text, missing)) {
            return Status::DataError(where(c) + ": the label is missing; every row needs a label");
          }
          size_t before = label_dictionary.size();
          label.codes.push_back(label_dictionary.Code(text));
          if (label_dictionary.size() != before) label.first_seen.push_back(where(c));
          continue;
        }
        ColumnCells& column = cells[c];
        double number = std::numeric_limits<double>::quiet_NaN();
        if (const auto* text = std::get_if<std::string>(&value)) {
          if (!IsValidUtf8(*text)) return Status::DataError(where(c) + ": the text is not valid UTF-8");
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
  if (!streamed.ok()) {
    std::string what = options.query.empty()
                           ? "cannot read table '" + options.table_name + "' (preprocess.sql_table)"
                           : "cannot run preprocess.sql_query";
    if (streamed.code() == StatusCode::kDataError) return streamed;
    return Status::DataError(what + ": " + streamed.message());
  }
  if (row == 0) return Status::DataError(source + ": the table or query returned no rows");
  label.dictionary = label_dictionary.values();

  const auto& forced = options.table.categorical_columns;
  std::vector<RawColumn> columns;
  for (size_t c = 0; c < names.size(); ++c) {
    if (c == label_index) continue;
    ColumnCells& in = cells[c];
    RawColumn column;
    column.name = names[c];
    column.categorical = !in.texts.empty() || std::find(forced.begin(), forced.end(), names[c]) != forced.end();
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

Result<Dataset> ReadSqlite(const std::string& path, const SqlOptions& options) {
  FOPS_ASSIGN_OR_RETURN(auto connection, OpenSqlite(path, /*read_only=*/true));
  return ReadSqlTable(*connection, options);
}

}  // namespace fraudops
