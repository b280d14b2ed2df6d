#include "data/sqlite_source.h"

#include <sqlite3.h>

#include <cmath>
#include <limits>
#include <memory>
#include <variant>

#include "core/files.h"
#include "core/strings.h"

namespace fraudops {

namespace {

struct DatabaseCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

std::string QuoteIdentifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

}  // namespace

Result<Dataset> ReadSqlite(const std::string& path, const SqliteOptions& options) {
  const std::string source = "sqlite:" + path;
  if (!FileExists(path)) return Status::DataError(source + ": the database file does not exist");
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, DatabaseCloser> db(raw);
  if (rc != SQLITE_OK) {
    return Status::DataError(source + ": cannot open: " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  std::string sql = options.query.empty()
                        ? "SELECT * FROM " + QuoteIdentifier(options.table_name)
                        : options.query;
  sqlite3_stmt* raw_statement = nullptr;
  rc = sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw_statement, nullptr);
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> statement(raw_statement);
  if (rc != SQLITE_OK) {
    std::string what = options.query.empty()
                           ? "cannot read table '" + options.table_name + "' (preprocess.sqlite_table)"
                           : "cannot run preprocess.sqlite_query";
    return Status::DataError(source + ": " + what + ": " + sqlite3_errmsg(db.get()));
  }
  const int count = sqlite3_column_count(statement.get());
  std::vector<std::string> names;
  for (int c = 0; c < count; ++c) names.emplace_back(sqlite3_column_name(statement.get(), c));
  FOPS_RETURN_IF_ERROR(CheckColumns(names, options.table, source));
  const size_t label_index = static_cast<size_t>(
      std::find(names.begin(), names.end(), options.table.label_column) - names.begin());

  // Cells as read: a number, a text, or missing; typed per column at the end.
  using Cell = std::variant<std::monostate, double, std::string>;
  std::vector<std::vector<Cell>> cells(static_cast<size_t>(count));
  RawLabel label;
  Dictionary label_dictionary;
  size_t row = 0;
  while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
    ++row;
    for (int c = 0; c < count; ++c) {
      int type = sqlite3_column_type(statement.get(), c);
      const auto index = static_cast<size_t>(c);
      if (index == label_index) {
        std::string text;
        if (type == SQLITE_INTEGER) {
          text = std::to_string(sqlite3_column_int64(statement.get(), c));
        } else if (type == SQLITE_FLOAT) {
          text = FormatDouble(sqlite3_column_double(statement.get(), c));
        } else if (type == SQLITE_TEXT) {
          text = std::string(Trim(reinterpret_cast<const char*>(sqlite3_column_text(statement.get(), c))));
        }
        if (!IsValidUtf8(text)) {
          return Status::DataError(source + ": row " + std::to_string(row) + ": column '" +
                                   names[index] + "': the label is not valid UTF-8 text");
        }
        if (type == SQLITE_NULL || IsMissingMarker(text, options.table.missing_values)) {
          return Status::DataError(source + ": row " + std::to_string(row) + ": column '" +
                                   names[index] + "': the label is missing; every row needs a label");
        }
        size_t before = label_dictionary.size();
        label.codes.push_back(label_dictionary.Code(text));
        if (label_dictionary.size() != before) {
          label.first_seen.push_back(source + ": row " + std::to_string(row) + ": column '" +
                                     names[index] + "'");
        }
        continue;
      }
      if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
        cells[index].emplace_back(sqlite3_column_double(statement.get(), c));
      } else if (type == SQLITE_TEXT) {
        std::string text(reinterpret_cast<const char*>(sqlite3_column_text(statement.get(), c)));
        if (!IsValidUtf8(text)) {
          return Status::DataError(source + ": row " + std::to_string(row) + ": column '" +
                                   names[index] + "': the text is not valid UTF-8");
        }
        if (IsMissingMarker(Trim(text), options.table.missing_values)) {
          cells[index].emplace_back(std::monostate{});
        } else {
          cells[index].emplace_back(std::move(text));
        }
      } else {
        cells[index].emplace_back(std::monostate{});
      }
    }
  }
  if (rc != SQLITE_DONE) {
    return Status::DataError(source + ": reading row " + std::to_string(row + 1) + ": " +
                             sqlite3_errmsg(db.get()));
  }
  if (row == 0) return Status::DataError(source + ": the table or query returned no rows");
  label.dictionary = label_dictionary.values();

  const auto& forced = options.table.categorical_columns;
  std::vector<RawColumn> columns;
  for (size_t c = 0; c < names.size(); ++c) {
    if (c == label_index) continue;
    RawColumn column;
    column.name = names[c];
    // Numeric unless forced categorical or a text cell is not a number.
    column.categorical = std::find(forced.begin(), forced.end(), names[c]) != forced.end();
    for (const Cell& cell : cells[c]) {
      if (const auto* text = std::get_if<std::string>(&cell); text && !ParseDouble(*text)) {
        column.categorical = true;
        break;
      }
    }
    Dictionary dictionary;
    column.values.reserve(cells[c].size());
    for (const Cell& cell : cells[c]) {
      float value = std::numeric_limits<float>::quiet_NaN();
      if (const auto* number = std::get_if<double>(&cell)) {
        value = column.categorical ? static_cast<float>(dictionary.Code(FormatDouble(*number)))
                                   : static_cast<float>(*number);
      } else if (const auto* text = std::get_if<std::string>(&cell)) {
        value = column.categorical ? static_cast<float>(dictionary.Code(Trim(*text)))
                                   : static_cast<float>(*ParseDouble(*text));
      }
      column.values.push_back(value);
    }
    column.categories = dictionary.values();
    columns.push_back(std::move(column));
  }
  return AssembleDataset(std::move(columns), std::move(label), options.table, source);
}

}  // namespace fraudops
