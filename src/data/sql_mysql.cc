// The MySQL/MariaDB driver (libmariadb). Used to read data sources; it takes no `?`
// parameters (the metadata store runs on SQLite or PostgreSQL).
#include "data/sql.h"

#include <mysql.h>

#include <mutex>

#include "core/strings.h"

namespace fraudops {

namespace {

struct MysqlUrl {
  std::string user, password, host = "127.0.0.1", database;
  unsigned port = 3306;
};

Result<MysqlUrl> ParseMysqlUrl(std::string_view url) {
  MysqlUrl out;
  size_t scheme = url.find("://");
  std::string_view rest = url.substr(scheme + 3);
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view credentials = rest.substr(0, at);
    size_t colon = credentials.find(':');
    out.user = std::string(credentials.substr(0, colon));
    if (colon != std::string_view::npos) out.password = std::string(credentials.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  size_t slash = rest.find('/');
  std::string_view host_port = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.database = std::string(rest.substr(slash + 1));
  if (size_t q = out.database.find('?'); q != std::string::npos) out.database.resize(q);
  size_t colon = host_port.rfind(':');
  if (colon != std::string_view::npos) {
    auto port = ParseInt(host_port.substr(colon + 1));
    if (!port || *port <= 0 || *port > 65535) {
      return Status::InvalidArgument(RedactUrl(url) + ": the port is not a number in 1..65535");
    }
    out.port = static_cast<unsigned>(*port);
    host_port = host_port.substr(0, colon);
  }
  if (!host_port.empty()) out.host = std::string(host_port);
  return out;
}

class MysqlConnection final : public SqlConnection {
 public:
  MysqlConnection(MYSQL* mysql, std::string description)
      : mysql_(mysql), description_(std::move(description)) {}
  ~MysqlConnection() override { mysql_close(mysql_); }

  std::string_view Kind() const override { return "mysql"; }
  std::string Describe() const override { return description_; }
  std::string QuoteIdentifier(std::string_view name) const override {
    return QuoteDottedIdentifier(name, '`');
  }

  Result<SqlResult> Query(std::string_view sql, std::span<const SqlValue> params) override {
    if (!params.empty()) return Status::Internal("the MySQL driver takes no query parameters");
    SqlResult out;
    FOPS_RETURN_IF_ERROR(
        Stream(sql, 0, [&](const std::vector<std::string>& columns, std::span<const SqlRow> rows) {
          if (out.columns.empty()) out.columns = columns;
          out.rows.insert(out.rows.end(), rows.begin(), rows.end());
          return Status::Ok();
        }));
    out.affected = static_cast<int64_t>(mysql_affected_rows(mysql_));
    return out;
  }

  Status Stream(std::string_view sql, size_t chunk_rows, const ChunkHandler& handler) override {
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return Error(sql);
    MYSQL_RES* raw = mysql_use_result(mysql_);
    if (!raw) {
      if (mysql_field_count(mysql_) == 0) return Status::Ok();  // not a SELECT
      return Error(sql);
    }
    std::unique_ptr<MYSQL_RES, void (*)(MYSQL_RES*)> result(raw, mysql_free_result);
    const unsigned fields = mysql_num_fields(raw);
    MYSQL_FIELD* field_info = mysql_fetch_fields(raw);
    std::vector<std::string> columns;
    for (unsigned c = 0; c < fields; ++c) columns.emplace_back(field_info[c].name);
    std::vector<SqlRow> rows;
    while (MYSQL_ROW row = mysql_fetch_row(raw)) {
      unsigned long* lengths = mysql_fetch_lengths(raw);
      SqlRow out(fields);
      for (unsigned c = 0; c < fields; ++c) {
        if (!row[c]) continue;
        std::string_view text(row[c], lengths[c]);
        switch (field_info[c].type) {
          case MYSQL_TYPE_TINY:
          case MYSQL_TYPE_SHORT:
          case MYSQL_TYPE_INT24:
          case MYSQL_TYPE_LONG:
          case MYSQL_TYPE_LONGLONG:
          case MYSQL_TYPE_YEAR:
            out[c] = static_cast<int64_t>(ParseInt(text).value_or(0));
            break;
          case MYSQL_TYPE_FLOAT:
          case MYSQL_TYPE_DOUBLE:
          case MYSQL_TYPE_DECIMAL:
          case MYSQL_TYPE_NEWDECIMAL: {
            auto number = ParseDouble(text);
            if (number)
              out[c] = *number;
            else
              out[c] = std::string(text);
            break;
          }
          default:
            out[c] = std::string(text);
        }
      }
      rows.push_back(std::move(out));
      if (chunk_rows > 0 && rows.size() >= chunk_rows) {
        FOPS_RETURN_IF_ERROR(handler(columns, rows));
        rows.clear();
      }
    }
    if (mysql_errno(mysql_) != 0) return Error(sql);
    return handler(columns, rows);
  }

  Status BeginWrite() override { return Exec("START TRANSACTION"); }
  bool IsUniqueViolation(const Status& error) const override {
    return error.message().find("[1062]") != std::string::npos;
  }

 private:
  Status Error(std::string_view sql) const {
    return Status::IoError(description_ + ": [" + std::to_string(mysql_errno(mysql_)) + "] " +
                           mysql_error(mysql_) + " (in: " + std::string(Trim(sql.substr(0, 200))) +
                           ")");
  }

  MYSQL* mysql_;
  std::string description_;
};

}  // namespace

Result<std::unique_ptr<SqlConnection>> OpenMysql(const std::string& url) {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
  std::string description = RedactUrl(url);
  FOPS_ASSIGN_OR_RETURN(MysqlUrl parts, ParseMysqlUrl(url));
  MYSQL* mysql = mysql_init(nullptr);
  if (!mysql) return Status::IoError(description + ": out of memory");
  unsigned connect_timeout = 5, io_timeout = 60;
  mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
  mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
  mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (!mysql_real_connect(mysql, parts.host.c_str(), parts.user.c_str(), parts.password.c_str(),
                          parts.database.empty() ? nullptr : parts.database.c_str(), parts.port,
                          nullptr, 0)) {
    std::string message = mysql_error(mysql);
    mysql_close(mysql);
    return Status::IoError(description + ": cannot connect: " + message);
  }
  return std::unique_ptr<SqlConnection>(std::make_unique<MysqlConnection>(mysql, description));
}

}  // namespace fraudops
