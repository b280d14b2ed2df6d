// The SQLite driver, and what every driver shares.
#include "data/sql.h"

#include <sqlite3.h>

#include <cmath>

#include "core/files.h"
#include "core/strings.h"

namespace fraudops {

int64_t AsInt(const SqlValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  if (const auto* s = std::get_if<std::string>(&v)) return ParseInt(*s).value_or(0);
  return 0;
}

double AsDouble(const SqlValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* s = std::get_if<std::string>(&v)) return ParseDouble(*s).value_or(std::nan(""));
  return std::nan("");
}

std::string AsText(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return FormatDouble(*d);
  return "";
}

std::string QuoteDottedIdentifier(std::string_view name, char quote) {
  // A dotted name (schema.table) quotes each part; a quote inside a part is doubled.
  std::string out;
  for (const std::string& part : Split(name, '.')) {
    if (!out.empty()) out += '.';
    out += quote;
    for (char c : part) {
      out += c;
      if (c == quote) out += quote;
    }
    out += quote;
  }
  return out;
}

std::string SqlConnection::QuoteIdentifier(std::string_view name) const {
  return QuoteDottedIdentifier(name, '"');
}

namespace {

class SqliteConnection final : public SqlConnection {
 public:
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteConnection() override { sqlite3_close_v2(db_); }

  std::string_view Kind() const override { return "sqlite"; }
  std::string Describe() const override { return "sqlite:" + path_; }

  Result<SqlResult> Query(std::string_view sql, std::span<const SqlValue> params) override {
    SqlResult result;
    FOPS_RETURN_IF_ERROR(Run(
        sql, params, 0, [&](const std::vector<std::string>& columns, std::span<const SqlRow> rows) {
          if (result.columns.empty()) result.columns = columns;
          result.rows.insert(result.rows.end(), rows.begin(), rows.end());
          return Status::Ok();
        }));
    result.affected = sqlite3_changes64(db_);
    return result;
  }

  Status Stream(std::string_view sql, size_t chunk_rows, const ChunkHandler& handler) override {
    return Run(sql, {}, chunk_rows, handler);
  }

  Status BeginWrite() override { return Exec("BEGIN IMMEDIATE"); }

  bool IsUniqueViolation(const Status& error) const override {
    return error.message().find("UNIQUE constraint failed") != std::string::npos;
  }

 private:
  Status Error(const std::string& what) const {
    return Status::IoError(Describe() + ": " + what + ": " + sqlite3_errmsg(db_));
  }

  /// Prepares and steps each statement of `sql` (a script may hold several); rows go to
  /// `handler` in chunks (`chunk_rows` 0: one chunk at the end).
  Status Run(std::string_view sql, std::span<const SqlValue> params, size_t chunk_rows,
             const ChunkHandler& handler) {
    const char* tail = sql.data();
    const char* end = sql.data() + sql.size();
    while (tail < end) {
      sqlite3_stmt* statement = nullptr;
      if (sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &statement, &tail) !=
          SQLITE_OK) {
        return Error("cannot prepare '" + std::string(Trim(sql.substr(0, 200))) + "'");
      }
      if (!statement) continue;  // whitespace or a comment
      std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(statement, sqlite3_finalize);
      for (size_t i = 0;
           i < params.size() && static_cast<int>(i) < sqlite3_bind_parameter_count(statement);
           ++i) {
        int index = static_cast<int>(i) + 1;
        const SqlValue& v = params[i];
        if (const auto* n = std::get_if<int64_t>(&v))
          sqlite3_bind_int64(statement, index, *n);
        else if (const auto* d = std::get_if<double>(&v))
          sqlite3_bind_double(statement, index, *d);
        else if (const auto* s = std::get_if<std::string>(&v)) {
          sqlite3_bind_text64(statement, index, s->data(), s->size(), SQLITE_TRANSIENT,
                              SQLITE_UTF8);
        } else
          sqlite3_bind_null(statement, index);
      }
      const int count = sqlite3_column_count(statement);
      std::vector<std::string> columns;
      for (int c = 0; c < count; ++c) columns.emplace_back(sqlite3_column_name(statement, c));
      std::vector<SqlRow> rows;
      int rc;
      while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
        SqlRow row(static_cast<size_t>(count));
        for (int c = 0; c < count; ++c) {
          switch (sqlite3_column_type(statement, c)) {
            case SQLITE_INTEGER:
              row[static_cast<size_t>(c)] =
                  static_cast<int64_t>(sqlite3_column_int64(statement, c));
              break;
            case SQLITE_FLOAT:
              row[static_cast<size_t>(c)] = sqlite3_column_double(statement, c);
              break;
            case SQLITE_TEXT:
            case SQLITE_BLOB: {
              const auto* text = static_cast<const char*>(sqlite3_column_blob(statement, c));
              row[static_cast<size_t>(c)] = std::string(
                  text ? text : "", static_cast<size_t>(sqlite3_column_bytes(statement, c)));
              break;
            }
            default:
              break;
          }
        }
        rows.push_back(std::move(row));
        if (chunk_rows > 0 && rows.size() >= chunk_rows) {
          FOPS_RETURN_IF_ERROR(handler(columns, rows));
          rows.clear();
        }
      }
      if (rc != SQLITE_DONE)
        return Error("cannot run '" + std::string(Trim(sql.substr(0, 200))) + "'");
      if (!rows.empty() || count > 0) FOPS_RETURN_IF_ERROR(handler(columns, rows));
    }
    return Status::Ok();
  }

  sqlite3* db_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path, bool read_only) {
  if (read_only && !FileExists(path)) {
    return Status::DataError("sqlite:" + path + ": the database file does not exist");
  }
  sqlite3* raw = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close_v2(raw);
    return Status::IoError("sqlite:" + path + ": cannot open: " + message);
  }
  auto connection = std::make_unique<SqliteConnection>(raw, path);
  sqlite3_busy_timeout(raw, 30000);
  if (!read_only) {
    FOPS_RETURN_IF_ERROR(connection->Exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON"));
  }
  return std::unique_ptr<SqlConnection>(std::move(connection));
}

}  // namespace fraudops
