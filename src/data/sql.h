#pragma once
/// One small interface over the three SQL databases fraudops talks to: SQLite (embedded),
/// PostgreSQL (libpq) and MySQL/MariaDB (libmariadb). The data sources read tables through it
/// and the metadata store keeps its records through it (SQLite and PostgreSQL), so each
/// database has exactly one driver.
///
/// SQL uses `?` placeholders; the PostgreSQL driver numbers them ($1, $2, …). Values are
/// NULL, 64-bit integers, doubles or text. Every network driver has bounded timeouts: a
/// server that does not answer is an error, never a hang.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"
#include "core/strings.h"

namespace fraudops {

using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;
using SqlRow = std::vector<SqlValue>;

struct SqlResult {
  std::vector<std::string> columns;
  std::vector<SqlRow> rows;
  int64_t affected = 0;  ///< rows changed by INSERT/UPDATE/DELETE
};

/// Helpers for reading result cells.
inline bool IsNull(const SqlValue& v) { return std::holds_alternative<std::monostate>(v); }
int64_t AsInt(const SqlValue& v);
double AsDouble(const SqlValue& v);
std::string AsText(const SqlValue& v);

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  /// "sqlite", "postgresql" or "mysql".
  virtual std::string_view Kind() const = 0;
  /// Where it points, with any password removed (safe for logs and lineage).
  virtual std::string Describe() const = 0;
  virtual Result<SqlResult> Query(std::string_view sql, std::span<const SqlValue> params = {}) = 0;
  Status Exec(std::string_view sql, std::span<const SqlValue> params = {}) {
    return Query(sql, params).status();
  }
  /// Runs a SELECT and hands its rows over in chunks of at most `chunk_rows`, without
  /// holding the whole result in memory (SQLite steps, PostgreSQL uses a cursor, MySQL
  /// streams with mysql_use_result).
  using ChunkHandler =
      std::function<Status(const std::vector<std::string>& columns, std::span<const SqlRow> rows)>;
  virtual Status Stream(std::string_view sql, size_t chunk_rows, const ChunkHandler& handler) = 0;
  /// Starts a transaction that will write (SQLite takes the write lock now: BEGIN IMMEDIATE).
  virtual Status BeginWrite() = 0;
  Status Commit() { return Exec("COMMIT"); }
  Status Rollback() { return Exec("ROLLBACK"); }
  /// True when `error` from this driver means a unique constraint was violated.
  virtual bool IsUniqueViolation(const Status& error) const = 0;
  virtual std::string QuoteIdentifier(std::string_view name) const;
};

/// `schema.table` with each part in `quote` characters (doubled inside).
std::string QuoteDottedIdentifier(std::string_view name, char quote);

/// SQLite database file; created unless read_only. WAL and a 30 s busy timeout when writable.
Result<std::unique_ptr<SqlConnection>> OpenSqlite(const std::string& path, bool read_only);
/// `postgresql://user:password@host:port/database?options` or a libpq key=value string;
/// connect_timeout defaults to 5 s. A connection the server dropped (a restart, a failover)
/// is opened again by the next statement, with a doubling pause between failed attempts (to
/// 5 s); never inside a transaction: a transaction whose connection was lost fails until the
/// caller ends it (ROLLBACK), so no statement of it runs outside it.
Result<std::unique_ptr<SqlConnection>> OpenPostgres(const std::string& url);
/// A connection that LISTENs on a PostgreSQL channel: what other connections NOTIFY there
/// (delivered when their transaction commits).
class SqlNotificationListener {
 public:
  virtual ~SqlNotificationListener() = default;
  /// Waits up to `timeout` for notifications, or until `wake_fd` (an eventfd or pipe, -1:
  /// none) becomes readable; returns the payloads received (empty: none). An error means
  /// the connection is lost: open a new listener.
  virtual Result<std::vector<std::string>> Wait(std::chrono::milliseconds timeout, int wake_fd) = 0;
};
/// Connects to `url` and LISTENs on `channel` (an identifier).
Result<std::unique_ptr<SqlNotificationListener>> ListenPostgres(const std::string& url,
                                                                const std::string& channel);

/// `mysql://user:password@host:port/database` (also `mariadb://`); 5 s connect and 60 s
/// read/write timeouts.
Result<std::unique_ptr<SqlConnection>> OpenMysql(const std::string& url);

}  // namespace fraudops
