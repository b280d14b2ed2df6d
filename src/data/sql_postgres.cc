// The PostgreSQL driver (libpq).
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>

#include "core/strings.h"
#include "data/sql.h"

namespace fraudops {

namespace {

// Type OIDs from pg_type.h (stable across PostgreSQL versions).
constexpr Oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700, kFloat8 = 701,
              kNumeric = 1700;

/// `?` placeholders become $1, $2, … (outside quoted strings and identifiers).
std::string NumberPlaceholders(std::string_view sql) {
  std::string out;
  int n = 0;
  char quote = 0;
  for (char c : sql) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '?') {
      out += "$" + std::to_string(++n);
      continue;
    }
    out += c;
  }
  return out;
}

/// The URL with connect_timeout=5 unless it sets one.
std::string WithConnectTimeout(std::string conninfo) {
  if (conninfo.find("connect_timeout") != std::string::npos) return conninfo;
  if (StartsWith(conninfo, "postgres://") || StartsWith(conninfo, "postgresql://")) {
    return conninfo +
           (conninfo.find('?') == std::string::npos ? "?connect_timeout=5" : "&connect_timeout=5");
  }
  return conninfo + " connect_timeout=5";
}

Result<PGconn*> Connect(const std::string& url, const std::string& description) {
  PGconn* conn = PQconnectdb(WithConnectTimeout(url).c_str());
  if (!conn) return Status::IoError(description + ": out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message(Trim(PQerrorMessage(conn)));
    PQfinish(conn);
    return Status::IoError(description + ": cannot connect: " + message);
  }
  return conn;
}

/// True when `sql` is the statement `word` (e.g. ROLLBACK), whatever its case.
bool IsStatement(std::string_view sql, std::string_view word) {
  sql = Trim(sql);
  if (!sql.empty() && sql.back() == ';') sql.remove_suffix(1);
  return ToUpper(Trim(sql)) == word;
}

class PostgresConnection final : public SqlConnection {
 public:
  PostgresConnection(PGconn* conn, std::string description)
      : conn_(conn), description_(std::move(description)) {}
  ~PostgresConnection() override { PQfinish(conn_); }

  std::string_view Kind() const override { return "postgresql"; }
  std::string Describe() const override { return description_; }

  /// Bounded waits once connected too: no statement or lock wait runs forever.
  Status Configure() {
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(
        PQexec(conn_, "SET statement_timeout = '300s'; SET lock_timeout = '60s'"), PQclear);
    return Check(result.get(), "SET statement_timeout");
  }

  Result<SqlResult> Query(std::string_view sql, std::span<const SqlValue> params) override {
    if (PQstatus(conn_) != CONNECTION_OK) {
      if (in_transaction_) {  // the server rolled it back; the caller must end it first
        const bool rollback = IsStatement(sql, "ROLLBACK");
        if (rollback || IsStatement(sql, "COMMIT")) in_transaction_ = false;
        if (rollback) {
          (void)Reconnect();
          return SqlResult();
        }
        return Status::IoError(description_ +
                               ": the connection was lost inside a transaction, which the "
                               "server rolled back");
      }
      FOPS_RETURN_IF_ERROR(Reconnect());
    }
    Result<SqlResult> result = Run(sql, params);
    switch (PQtransactionStatus(conn_)) {  // unknown (the connection lost): as it was
      case PQTRANS_IDLE:
        in_transaction_ = false;
        break;
      case PQTRANS_INTRANS:
      case PQTRANS_INERROR:
        in_transaction_ = true;
        break;
      default:
        break;
    }
    return result;
  }

  Result<SqlResult> Run(std::string_view sql, std::span<const SqlValue> params) {
    std::string text = params.empty() ? std::string(sql) : NumberPlaceholders(sql);
    std::vector<std::string> storage(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      if (IsNull(params[i])) continue;
      if (const auto* d = std::get_if<double>(&params[i]))
        storage[i] = FormatDouble(*d);
      else
        storage[i] = AsText(params[i]);
      values[i] = storage[i].c_str();
    }
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(
        params.empty() ? PQexec(conn_, text.c_str())  // may hold several statements
                       : PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                                      values.data(), nullptr, nullptr, 0),
        PQclear);
    FOPS_RETURN_IF_ERROR(Check(result.get(), sql));
    SqlResult out;
    Convert(result.get(), out.columns, out.rows);
    const char* affected = PQcmdTuples(result.get());
    out.affected = affected && *affected ? ParseInt(affected).value_or(0) : 0;
    return out;
  }

  Status Stream(std::string_view sql, size_t chunk_rows, const ChunkHandler& handler) override {
    // A server-side cursor inside a read transaction: FETCH n at a time.
    FOPS_RETURN_IF_ERROR(Exec("BEGIN READ ONLY"));
    auto fail = [&](Status error) {
      (void)Exec("ROLLBACK");
      return error;
    };
    if (Status declared = Exec("DECLARE fraudops_stream NO SCROLL CURSOR FOR " + std::string(sql));
        !declared.ok()) {
      return fail(declared);
    }
    std::string fetch =
        "FETCH " + std::to_string(chunk_rows == 0 ? 10000 : chunk_rows) + " FROM fraudops_stream";
    std::vector<std::string> columns;
    bool first = true;
    while (true) {
      std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn_, fetch.c_str()), PQclear);
      if (Status checked = Check(result.get(), sql); !checked.ok()) return fail(checked);
      std::vector<SqlRow> rows;
      Convert(result.get(), columns, rows);
      if (rows.empty() && !first) break;
      first = false;
      if (Status handled = handler(columns, rows); !handled.ok()) return fail(handled);
      if (rows.empty()) break;
    }
    return Exec("COMMIT");
  }

  Status BeginWrite() override { return Exec("BEGIN"); }

  bool IsUniqueViolation(const Status& error) const override {
    return error.message().find("[23505]") != std::string::npos;
  }

 private:
  /// Opens the connection again, unless the last attempt failed less than the current pause
  /// ago (doubling from 100 ms to 5 s while attempts fail).
  Status Reconnect() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_attempt_) {
      return Status::IoError(description_ + ": the connection was lost; reconnecting (" +
                             last_error_ + ")");
    }
    PQreset(conn_);
    if (PQstatus(conn_) == CONNECTION_OK) {
      pause_ = std::chrono::milliseconds(0);
      next_attempt_ = {};
      return Configure();
    }
    last_error_ = std::string(Trim(PQerrorMessage(conn_)));
    pause_ =
        std::clamp(pause_ * 2, std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
    next_attempt_ = now + pause_;
    return Status::IoError(description_ +
                           ": the connection was lost; cannot reconnect: " + last_error_);
  }

  Status Check(PGresult* result, std::string_view sql) const {
    ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      return Status::IoError(description_ +
                             ": the connection was lost: " + std::string(Trim(message)));
    }
    return Status::IoError(description_ + ": [" + (state ? state : "") + "] " +
                           std::string(Trim(message)) +
                           " (in: " + std::string(Trim(sql.substr(0, 200))) + ")");
  }

  static void Convert(PGresult* result, std::vector<std::string>& columns,
                      std::vector<SqlRow>& rows) {
    const int fields = PQnfields(result);
    if (columns.empty()) {
      for (int c = 0; c < fields; ++c) columns.emplace_back(PQfname(result, c));
    }
    const int count = PQntuples(result);
    rows.reserve(rows.size() + static_cast<size_t>(count));
    for (int r = 0; r < count; ++r) {
      SqlRow row(static_cast<size_t>(fields));
      for (int c = 0; c < fields; ++c) {
        if (PQgetisnull(result, r, c)) continue;
        std::string_view text(PQgetvalue(result, r, c),
                              static_cast<size_t>(PQgetlength(result, r, c)));
        SqlValue& cell = row[static_cast<size_t>(c)];
        switch (PQftype(result, c)) {
          case kInt2:
          case kInt4:
          case kInt8:
            cell = static_cast<int64_t>(ParseInt(text).value_or(0));
            break;
          case kBool:
            cell = static_cast<int64_t>(text == "t" ? 1 : 0);
            break;
          case kFloat4:
          case kFloat8:
          case kNumeric: {
            auto number = ParseDouble(text);
            if (number)
              cell = *number;
            else
              cell = std::string(text);  // NaN/Infinity spellings stay text
            break;
          }
          default:
            cell = std::string(text);
        }
      }
      rows.push_back(std::move(row));
    }
  }

  PGconn* conn_;
  std::string description_;
  bool in_transaction_ = false;
  std::chrono::milliseconds pause_{0};
  std::chrono::steady_clock::time_point next_attempt_{};
  std::string last_error_;
};

class PostgresListener final : public SqlNotificationListener {
 public:
  PostgresListener(PGconn* conn, std::string description)
      : conn_(conn), description_(std::move(description)) {}
  ~PostgresListener() override { PQfinish(conn_); }

  Result<std::vector<std::string>> Wait(std::chrono::milliseconds timeout, int wake_fd) override {
    std::vector<std::string> payloads;
    Collect(payloads);
    if (!payloads.empty()) return payloads;
    if (PQstatus(conn_) != CONNECTION_OK) return Lost();
    pollfd fds[2] = {{PQsocket(conn_), POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const int ready = ::poll(fds, wake_fd >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
    if (ready > 0 && fds[0].revents != 0) {
      if (PQconsumeInput(conn_) == 0) return Lost();
      Collect(payloads);
    }
    return payloads;
  }

 private:
  void Collect(std::vector<std::string>& payloads) {
    while (PGnotify* notify = PQnotifies(conn_)) {
      payloads.emplace_back(notify->extra ? notify->extra : "");
      PQfreemem(notify);
    }
  }
  Status Lost() const {
    return Status::IoError(description_ + ": the listening connection was lost: " +
                           std::string(Trim(PQerrorMessage(conn_))));
  }

  PGconn* conn_;
  std::string description_;
};

}  // namespace

Result<std::unique_ptr<SqlConnection>> OpenPostgres(const std::string& url) {
  std::string description = RedactUrl(url);
  FOPS_ASSIGN_OR_RETURN(PGconn * conn, Connect(url, description));
  auto connection = std::make_unique<PostgresConnection>(conn, description);
  FOPS_RETURN_IF_ERROR(connection->Configure());
  return std::unique_ptr<SqlConnection>(std::move(connection));
}

Result<std::unique_ptr<SqlNotificationListener>> ListenPostgres(const std::string& url,
                                                                const std::string& channel) {
  std::string description = RedactUrl(url);
  FOPS_ASSIGN_OR_RETURN(PGconn * conn, Connect(url, description));
  auto listener = std::make_unique<PostgresListener>(conn, description);
  char* quoted = PQescapeIdentifier(conn, channel.data(), channel.size());
  const std::string sql = "LISTEN " + std::string(quoted ? quoted : channel);
  PQfreemem(quoted);
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn, sql.c_str()), PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return Status::IoError(description + ": " + sql + ": " +
                           std::string(Trim(PQresultErrorMessage(result.get()))));
  }
  return std::unique_ptr<SqlNotificationListener>(std::move(listener));
}

}  // namespace fraudops
