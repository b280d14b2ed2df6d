#include "store/metadata_store.h"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <set>

#include "core/hash.h"
#include "core/ids.h"
#include "core/strings.h"
#include "store/identity.h"
#include "store/schema.h"
#include "store/sql_values.h"

namespace fraudops {

namespace {

const std::vector<std::string> kApprovals = {"pending", "approved", "rejected"};

using namespace store_internal;

/// INSERT of many rows as few statements (one round trip per 200 rows on PostgreSQL):
/// `head` is "INSERT INTO t VALUES", `tail` e.g. an ON CONFLICT clause; each row has
/// `width` values.
Status InsertRows(SqlConnection& db, const std::string& head, size_t width,
                  const std::vector<SqlValue>& values, const std::string& tail = "") {
  constexpr size_t kRowsPerStatement = 200;
  std::string tuple = "(";
  for (size_t i = 0; i < width; ++i) tuple += i ? ", ?" : "?";
  tuple += ")";
  const size_t rows = values.size() / width;
  for (size_t first = 0; first < rows; first += kRowsPerStatement) {
    size_t count = std::min(kRowsPerStatement, rows - first);
    std::string sql = head;
    for (size_t r = 0; r < count; ++r) sql += (r ? ", " : " ") + tuple;
    sql += tail;
    std::span<const SqlValue> params(values.data() + first * width, count * width);
    FOPS_RETURN_IF_ERROR(db.Exec(sql, params));
  }
  return Status::Ok();
}

Status CheckAliasName(const std::string& alias) {
  if (alias.empty() || alias.size() > 64 || ParseInt(alias) ||
      alias.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
          std::string::npos) {
    return Status::InvalidArgument("alias '" + alias +
                                   "' is not valid; accepted: 1-64 letters, digits, '_' "
                                   "or '-', not a number (numbers are versions)");
  }
  return Status::Ok();
}

constexpr std::pair<RunStatus, std::string_view> kRunStatusNames[] = {
    {RunStatus::kRunning, "running"},        {RunStatus::kSucceeded, "succeeded"},
    {RunStatus::kGateFailed, "gate_failed"}, {RunStatus::kFailed, "failed"},
    {RunStatus::kSkipped, "skipped"},        {RunStatus::kLocked, "locked"},
    {RunStatus::kPruned, "pruned"},
};

}  // namespace

std::string_view RunStatusName(RunStatus status) {
  for (const auto& [value, name] : kRunStatusNames) {
    if (value == status) return name;
  }
  return "failed";
}

Result<RunStatus> ParseRunStatus(std::string_view name) {
  std::vector<std::string> names;
  for (const auto& [value, text] : kRunStatusNames) {
    if (text == name) return value;
    names.emplace_back(text);
  }
  return Status::DataError("unknown run status '" + std::string(name) +
                           "'; known: " + Join(names, ", "));
}

std::string UtcNow() { return FormatUtc(std::chrono::system_clock::now()); }

std::string FormatUtc(std::chrono::system_clock::time_point now) {
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03dZ", text, static_cast<int>(millis % 1000));
  return out;
}

std::optional<std::chrono::system_clock::time_point> ParseUtcTime(const std::string& text) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6 ||
      consumed != 19 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t i = 19;
  double fraction = 0;
  if (i < text.size() && text[i] == '.') {
    size_t start = ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start) return std::nullopt;
    fraction = std::stod("0." + text.substr(start, i - start));
  }
  long offset_seconds = 0;
  if (i < text.size() && text[i] == 'Z') {
    ++i;
  } else if (i + 6 == text.size() && (text[i] == '+' || text[i] == '-') && text[i + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(text.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
      return std::nullopt;
    offset_seconds = (text[i] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t t = timegm(&tm) - offset_seconds;
  return std::chrono::system_clock::from_time_t(t) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             std::chrono::duration<double>(fraction));
}

std::string CurrentActor() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const char* user = std::getenv("USER");
  if (!user || !*user) {
    const passwd* entry = getpwuid(getuid());
    user = entry ? entry->pw_name : nullptr;
  }
  return std::string(user && *user ? user : std::to_string(getuid())) + "@" + host;
}

nlohmann::json ModelVersion::ToJson(bool with_policy) const {
  nlohmann::json out = {
      {"model", model},           {"version", version},     {"run_id", run_id},
      {"created_at", created_at}, {"algorithm", algorithm}, {"bundle_uri", bundle_uri},
      {"threshold", threshold},   {"metrics", metrics},     {"description", description},
      {"data_hash", data_hash},   {"approval", approval},   {"archived", archived},
      {"aliases", aliases}};
  if (!approval_by.empty()) {
    out["approval_by"] = approval_by;
    out["approval_at"] = approval_at;
    out["approval_reason"] = approval_reason;
  }
  if (!policy.empty()) {
    out["policy_sha256"] = Sha256Hex(policy);
    if (with_policy) out["policy"] = policy;
  }
  return out;
}

nlohmann::json AuditEntry::ToJson() const {
  return {{"id", id},       {"at", at},           {"actor", actor},    {"action", action},
          {"model", model}, {"version", version}, {"details", details}};
}

Result<std::unique_ptr<MetadataStore>> MetadataStore::Open(const std::string& url,
                                                           const std::string& default_sqlite_path) {
  std::unique_ptr<SqlConnection> db;
  if (StartsWith(url, "postgresql://") || StartsWith(url, "postgres://")) {
    FOPS_ASSIGN_OR_RETURN(db, OpenPostgres(url));
  } else if (url.empty() || StartsWith(url, "sqlite:") || url.find("://") == std::string::npos) {
    std::string path =
        url.empty() ? default_sqlite_path : (StartsWith(url, "sqlite:") ? url.substr(7) : url);
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ignored;
    if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
    FOPS_ASSIGN_OR_RETURN(db, OpenSqlite(path, /*read_only=*/false));
  } else {
    return Status::InvalidArgument(
        "global.metadata_url '" + RedactUrl(url) +
        "' is not supported; accepted: empty (the workspace's SQLite "
        "file), sqlite:PATH, or postgresql://USER:PASSWORD@HOST:PORT/DB");
  }
  auto store = std::make_unique<MetadataStore>(std::move(db));
  FOPS_RETURN_IF_ERROR(store->Migrate());
  return store;
}

Status MetadataStore::InTransaction(const std::function<Status()>& body) {
  FOPS_RETURN_IF_ERROR(db_->BeginWrite());
  Status status = body();
  if (!status.ok()) {
    (void)db_->Rollback();
    return status;
  }
  status = db_->Commit();
  if (!status.ok()) (void)db_->Rollback();
  return status;
}

Status MetadataStore::Migrate() {
  const auto& migrations = Migrations();
  const int64_t known = migrations.back().version;
  return InTransaction([&]() -> Status {
    // One migrator at a time: PostgreSQL by an advisory lock; SQLite holds its write lock.
    if (db_->Kind() == "postgresql")
      FOPS_RETURN_IF_ERROR(db_->Exec("SELECT pg_advisory_xact_lock(727364)"));
    FOPS_RETURN_IF_ERROR(
        db_->Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
                  "description TEXT NOT NULL, applied_at TEXT NOT NULL)"));
    FOPS_ASSIGN_OR_RETURN(SqlResult current,
                          db_->Query("SELECT MAX(version) FROM schema_migrations"));
    int64_t version =
        current.rows.empty() || IsNull(current.rows[0][0]) ? 0 : AsInt(current.rows[0][0]);
    if (version > known) {
      return Status::InvalidArgument(db_->Describe() + ": the metadata store has schema version " +
                                     std::to_string(version) + " but this fraudops knows up to " +
                                     std::to_string(known) + "; use a newer fraudops");
    }
    for (const Migration& migration : migrations) {
      if (migration.version <= version) continue;
      FOPS_RETURN_IF_ERROR(db_->Exec(migration.sql));
      SqlValue params[] = {Int(migration.version), Text(migration.description), Text(UtcNow())};
      FOPS_RETURN_IF_ERROR(db_->Exec("INSERT INTO schema_migrations VALUES (?, ?, ?)", params));
    }
    return Status::Ok();
  });
}

Result<int64_t> MetadataStore::SchemaVersion() {
  FOPS_ASSIGN_OR_RETURN(SqlResult result, db_->Query("SELECT MAX(version) FROM schema_migrations"));
  return AsInt(result.rows.at(0).at(0));
}

// ---- tracking ----

Status MetadataStore::CreateRun(const RunRecord& run) {
  return InTransaction([&]() -> Status {
    SqlValue experiment[] = {Text(run.experiment), Text(UtcNow())};
    FOPS_RETURN_IF_ERROR(db_->Exec(
        "INSERT INTO experiments (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        experiment));
    SqlValue row[] = {Text(run.run_id),
                      Text(run.experiment),
                      Text(std::string(RunStatusName(run.status))),
                      Text(run.start_time),
                      OptionalText(run.end_time),
                      Text(run.code_version),
                      Text(run.host),
                      Text(run.user),
                      Text(run.artifact_uri),
                      OptionalText(run.error)};
    FOPS_RETURN_IF_ERROR(
        db_->Exec("INSERT INTO runs (run_id, experiment, status, start_time, end_time, "
                  "code_version, host, user_name, artifact_uri, error) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  row));
    for (const auto* pairs : {&run.params, &run.tags}) {
      std::vector<SqlValue> values;
      for (const auto& [name, value] : *pairs)
        values.insert(values.end(), {Text(run.run_id), Text(name), Text(value)});
      FOPS_RETURN_IF_ERROR(InsertRows(
          *db_,
          pairs == &run.params ? "INSERT INTO run_params VALUES" : "INSERT INTO run_tags VALUES", 3,
          values));
    }
    return Status::Ok();
  });
}

Status MetadataStore::Upsert(const std::string& table, const std::string& key,
                             const std::vector<std::string>& updated, size_t width,
                             const std::vector<SqlValue>& values) {
  std::string tail = " ON CONFLICT (" + key + ") DO UPDATE SET ";
  for (size_t i = 0; i < updated.size(); ++i)
    tail += (i ? ", " : "") + updated[i] + " = excluded." + updated[i];
  return InTransaction(
      [&] { return InsertRows(*db_, "INSERT INTO " + table + " VALUES", width, values, tail); });
}

Status MetadataStore::LogMetrics(const std::string& run_id,
                                 const std::map<std::string, double>& metrics) {
  std::vector<SqlValue> values;
  for (const auto& [name, value] : metrics)
    values.insert(values.end(), {Text(run_id), Text(name), Real(value)});
  return Upsert("run_metrics", "run_id, name", {"value"}, 3, values);
}

Status MetadataStore::LogMetricHistory(const std::string& run_id, const std::string& name,
                                       const std::vector<std::pair<int64_t, double>>& points) {
  std::vector<SqlValue> values;
  for (const auto& [step, value] : points)
    values.insert(values.end(), {Text(run_id), Text(name), Int(step), Real(value)});
  return Upsert("metric_history", "run_id, name, step", {"value"}, 4, values);
}

Status MetadataStore::LogArtifacts(const std::string& run_id,
                                   const std::vector<ArtifactRecord>& artifacts) {
  std::vector<SqlValue> values;
  for (const ArtifactRecord& a : artifacts) {
    values.insert(values.end(),
                  {Text(run_id), Text(a.name), Text(a.uri), Int(a.size), Text(a.sha256)});
  }
  return Upsert("run_artifacts", "run_id, name", {"uri", "size", "sha256"}, 5, values);
}

Status MetadataStore::LogDatasets(const std::string& run_id,
                                  const std::vector<DatasetRecord>& datasets) {
  std::vector<SqlValue> values;
  for (const DatasetRecord& d : datasets) {
    values.insert(values.end(), {Text(run_id), Text(d.role), Text(d.source), Int(d.rows),
                                 Text(d.content_hash), Text(d.file_sha256)});
  }
  return Upsert("run_datasets", "run_id, role",
                {"source", "row_count", "content_hash", "file_sha256"}, 6, values);
}

Status MetadataStore::EndRun(const std::string& run_id, RunStatus status,
                             const std::string& error) {
  SqlValue p[] = {Text(std::string(RunStatusName(status))), Text(UtcNow()), OptionalText(error),
                  Text(run_id)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult result,
      db_->Query("UPDATE runs SET status = ?, end_time = ?, error = ? WHERE run_id = ?", p));
  if (result.affected == 0)
    return Status::NotFound("run " + run_id + " is not in " + db_->Describe());
  return Status::Ok();
}

namespace {

RunRecord RunFromRow(const SqlRow& r) {
  RunRecord run;
  run.run_id = AsText(r[0]);
  run.experiment = AsText(r[1]);
  // An unknown name (a newer fraudops wrote it) reads as failed.
  run.status = ParseRunStatus(AsText(r[2])).value_or(RunStatus::kFailed);
  run.start_time = AsText(r[3]);
  run.end_time = AsText(r[4]);
  run.code_version = AsText(r[5]);
  run.host = AsText(r[6]);
  run.user = AsText(r[7]);
  run.artifact_uri = AsText(r[8]);
  run.error = AsText(r[9]);
  return run;
}

constexpr const char* kRunColumns =
    "run_id, experiment, status, start_time, end_time, code_version, host, user_name, "
    "artifact_uri, error";

}  // namespace

Result<RunRecord> MetadataStore::GetRun(const std::string& id_or_prefix) {
  if (id_or_prefix.empty()) return Status::InvalidArgument("a run id is needed");
  SqlValue p[] = {Text(id_or_prefix + "%")};
  FOPS_ASSIGN_OR_RETURN(SqlResult found,
                        db_->Query(std::string("SELECT ") + kRunColumns +
                                       " FROM runs WHERE run_id LIKE ? ORDER BY run_id LIMIT 2",
                                   p));
  if (found.rows.empty()) return Status::NotFound("no run has the id '" + id_or_prefix + "'");
  if (found.rows.size() > 1) {
    return Status::InvalidArgument("the run id prefix '" + id_or_prefix +
                                   "' matches several runs (" + AsText(found.rows[0][0]) + ", " +
                                   AsText(found.rows[1][0]) + ", …); give more characters");
  }
  RunRecord run = RunFromRow(found.rows[0]);
  SqlValue id[] = {Text(run.run_id)};
  FOPS_ASSIGN_OR_RETURN(SqlResult params,
                        db_->Query("SELECT name, value FROM run_params WHERE run_id = ?", id));
  for (const SqlRow& r : params.rows) run.params[AsText(r[0])] = AsText(r[1]);
  FOPS_ASSIGN_OR_RETURN(SqlResult tags,
                        db_->Query("SELECT name, value FROM run_tags WHERE run_id = ?", id));
  for (const SqlRow& r : tags.rows) run.tags[AsText(r[0])] = AsText(r[1]);
  FOPS_ASSIGN_OR_RETURN(SqlResult metrics,
                        db_->Query("SELECT name, value FROM run_metrics WHERE run_id = ?", id));
  for (const SqlRow& r : metrics.rows) run.metrics[AsText(r[0])] = AsDouble(r[1]);
  FOPS_ASSIGN_OR_RETURN(
      SqlResult artifacts,
      db_->Query("SELECT name, uri, size, sha256 FROM run_artifacts WHERE run_id = ? ORDER BY name",
                 id));
  for (const SqlRow& r : artifacts.rows) {
    run.artifacts.push_back({AsText(r[0]), AsText(r[1]), AsInt(r[2]), AsText(r[3])});
  }
  FOPS_ASSIGN_OR_RETURN(SqlResult datasets,
                        db_->Query("SELECT role, source, row_count, content_hash, file_sha256 "
                                   "FROM run_datasets WHERE run_id = ? ORDER BY role",
                                   id));
  for (const SqlRow& r : datasets.rows) {
    run.datasets.push_back({AsText(r[0]), AsText(r[1]), AsInt(r[2]), AsText(r[3]), AsText(r[4])});
  }
  return run;
}

Result<std::vector<RunStatusSummary>> MetadataStore::RunSummary() {
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r,
      db_->Query("SELECT r.experiment, r.status, c.n, r.start_time, r.end_time FROM runs r JOIN "
                 "(SELECT experiment, status, COUNT(*) AS n, MAX(start_time) AS latest FROM runs "
                 "GROUP BY experiment, status) c ON r.experiment = c.experiment AND r.status = "
                 "c.status AND r.start_time = c.latest ORDER BY r.experiment, r.status"));
  std::vector<RunStatusSummary> out;
  for (const SqlRow& row : r.rows) {
    if (!out.empty() && out.back().experiment == AsText(row[0]) &&
        out.back().status == AsText(row[1])) {
      continue;  // two runs started in the same instant
    }
    out.push_back({AsText(row[0]), AsText(row[1]), AsInt(row[2]), AsText(row[3]),
                   IsNull(row[4]) ? "" : AsText(row[4])});
  }
  return out;
}

Result<std::map<std::string, int64_t>> MetadataStore::TrialsByExperiment() {
  SqlValue p[] = {Text(kRunKindTag), Text(kTrialRunKind)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r, db_->Query("SELECT r.experiment, COUNT(*) FROM run_tags kind JOIN runs r ON "
                              "r.run_id = kind.run_id WHERE kind.name = ? AND kind.value = ? "
                              "GROUP BY r.experiment",
                              p));
  std::map<std::string, int64_t> out;
  for (const SqlRow& row : r.rows) out[AsText(row[0])] = AsInt(row[1]);
  return out;
}

Result<std::vector<RunRecord>> MetadataStore::RunsWithArtifactsEndedBefore(const std::string& utc) {
  SqlValue p[] = {Text(utc)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r,
      db_->Query("SELECT a.run_id, r.experiment, r.end_time, a.name, a.uri, a.size, a.sha256 FROM "
                 "run_artifacts a JOIN runs r ON r.run_id = a.run_id WHERE r.end_time IS NOT NULL "
                 "AND r.end_time < ? ORDER BY r.end_time, a.run_id, a.name",
                 p));
  std::vector<RunRecord> out;
  for (const SqlRow& row : r.rows) {
    if (out.empty() || out.back().run_id != AsText(row[0])) {
      RunRecord run;
      run.run_id = AsText(row[0]);
      run.experiment = AsText(row[1]);
      run.end_time = AsText(row[2]);
      out.push_back(std::move(run));
    }
    out.back().artifacts.push_back({AsText(row[3]), AsText(row[4]), AsInt(row[5]), AsText(row[6])});
  }
  return out;
}

Status MetadataStore::DeleteArtifactRecords(const std::string& run_id, const std::string& actor,
                                            const nlohmann::json& details) {
  return InTransaction([&]() -> Status {
    SqlValue p[] = {Text(run_id)};
    FOPS_RETURN_IF_ERROR(db_->Exec("DELETE FROM run_artifacts WHERE run_id = ?", p));
    FOPS_RETURN_IF_ERROR(WriteTags(
        run_id, {{kArtifactsTag, "deleted by " + actor + " at " + UtcNow() + " (artifacts gc)"}}));
    return AppendAudit(actor, "artifacts_deleted", "", 0, details);
  });
}

Status MetadataStore::WriteTags(const std::string& run_id,
                                const std::map<std::string, std::string>& tags) {
  std::vector<SqlValue> values;
  for (const auto& [name, value] : tags)
    values.insert(values.end(), {Text(run_id), Text(name), Text(value)});
  if (values.empty()) return Status::Ok();
  return InsertRows(*db_, "INSERT INTO run_tags VALUES", 3, values,
                    " ON CONFLICT (run_id, name) DO UPDATE SET value = excluded.value");
}

Status MetadataStore::MoveArtifactRecords(const std::string& run_id,
                                          const std::map<std::string, std::string>& uris,
                                          const std::string& actor, const nlohmann::json& details) {
  return InTransaction([&]() -> Status {
    for (const auto& [name, uri] : uris) {
      SqlValue p[] = {Text(uri), Text(run_id), Text(name)};
      FOPS_RETURN_IF_ERROR(
          db_->Exec("UPDATE run_artifacts SET uri = ? WHERE run_id = ? AND name = ?", p));
    }
    const std::string where =
        details.contains("storage_class")
            ? "in storage class " + details["storage_class"].get<std::string>()
            : std::string("under the archive/ prefix");
    FOPS_RETURN_IF_ERROR(
        WriteTags(run_id, {{kArtifactsTag, "archived " + where + " by " + actor + " at " +
                                               UtcNow() + " (artifacts archive)"}}));
    return AppendAudit(actor, "artifacts_archived", "", 0, details);
  });
}

namespace {

bool IsRunColumn(const std::string& name) {
  return name == "start_time" || name == "end_time" || name == "status" || name == "experiment" ||
         name == "run_id";
}

}  // namespace

Result<std::vector<RunRecord>> MetadataStore::ListRuns(const RunFilter& filter, size_t* total) {
  // One query: the run columns, then one LEFT JOIN per metric shown (an index lookup each on
  // the (run_id, name) key), filtered and ordered in the database. Its count (for `total`)
  // has the filtering joins and conditions only.
  std::string columns = std::string("SELECT r.") + kRunColumns, column_joins;
  std::vector<SqlValue> column_params;
  for (size_t i = 0; i < filter.with_metrics.size(); ++i) {
    std::string alias = "m" + std::to_string(i);
    columns += ", " + alias + ".value";
    column_joins += " LEFT JOIN run_metrics " + alias + " ON " + alias + ".run_id = r.run_id AND " +
                    alias + ".name = ?";
    column_params.push_back(Text(filter.with_metrics[i]));
  }
  for (size_t i = 0; i < filter.with_tags.size(); ++i) {
    std::string alias = "t" + std::to_string(i);
    columns += ", " + alias + ".value";
    column_joins += " LEFT JOIN run_tags " + alias + " ON " + alias + ".run_id = r.run_id AND " +
                    alias + ".name = ?";
    column_params.push_back(Text(filter.with_tags[i]));
  }
  const bool by_column = IsRunColumn(filter.order_by);
  if (!filter.order_by.empty() && !by_column) {
    column_joins +=
        " LEFT JOIN run_metrics sort_metric ON sort_metric.run_id = r.run_id AND sort_metric.name "
        "= ?";
    column_params.push_back(Text(filter.order_by));
  }
  // Conditions on metrics with a number are joined in the database; the rest (parameters,
  // tags, text) are checked on the rows it returns.
  std::string filter_joins, where = " WHERE 1 = 1";
  std::vector<SqlValue> filter_params;
  std::vector<const RunCondition*> later;
  for (size_t i = 0; i < filter.conditions.size(); ++i) {
    const RunCondition& c = filter.conditions[i];
    const std::optional<double> number = ParseDouble(c.value);
    if (c.kind != RunCondition::Kind::kMetric || !number) {
      later.push_back(&c);
      continue;
    }
    static constexpr const char* kSql[] = {"<", "<=", "=", "<>", ">=", ">"};
    const std::string alias = "f" + std::to_string(i);
    filter_joins += " JOIN run_metrics " + alias + " ON " + alias + ".run_id = r.run_id AND " +
                    alias + ".name = ? AND " + alias + ".value " + kSql[static_cast<int>(c.op)] +
                    " ?";
    filter_params.push_back(Text(c.field));
    filter_params.push_back(Real(*number));
  }
  if (!filter.experiment.empty()) {
    where += " AND r.experiment = ?";
    filter_params.push_back(Text(filter.experiment));
  }
  if (!filter.status.empty()) {
    where += " AND r.status = ?";
    filter_params.push_back(Text(filter.status));
  }
  // Tuning trials: those with the trial kind tag, found through run_tags' (name, value) index.
  // The runs without it are a NOT EXISTS, looked up per run: cheap for a page, which stops at
  // its limit, but not for counting them all (~1 µs a run), so that count is every run's less
  // the trials'.
  const std::string trials_join =
      " JOIN run_tags kind ON kind.run_id = r.run_id AND kind.name = ? AND kind.value = ?";
  const SqlValue trials_params[] = {Text(kRunKindTag), Text(kTrialRunKind)};
  std::string selecting_joins = filter_joins, selecting_where = where;
  std::vector<SqlValue> selecting_params = filter_params;
  if (filter.trials == RunFilter::Trials::kOnly) {
    selecting_joins = trials_join + filter_joins;
    selecting_params.insert(selecting_params.begin(), std::begin(trials_params),
                            std::end(trials_params));
  } else if (filter.trials == RunFilter::Trials::kExclude) {
    selecting_where +=
        " AND NOT EXISTS (SELECT 1 FROM run_tags kind WHERE kind.run_id = r.run_id AND kind.name "
        "= ? AND kind.value = ?)";
    selecting_params.insert(selecting_params.end(), std::begin(trials_params),
                            std::end(trials_params));
  }
  std::string sql = columns + " FROM runs r" + column_joins + selecting_joins + selecting_where;
  std::vector<SqlValue> params = column_params;
  params.insert(params.end(), selecting_params.begin(), selecting_params.end());
  const std::string direction = filter.ascending ? " ASC" : " DESC";
  if (filter.order_by.empty()) {
    sql += " ORDER BY r.start_time" + direction + ", r.run_id" + direction;
  } else if (by_column) {
    sql += " ORDER BY r." + filter.order_by + direction + ", r.run_id" + direction;
  } else {  // runs without the metric last either way
    sql += " ORDER BY CASE WHEN sort_metric.value IS NULL THEN 1 ELSE 0 END, sort_metric.value" +
           direction + ", r.run_id" + direction;
  }
  if (later.empty()) {
    sql += " LIMIT " + std::to_string(filter.limit) + " OFFSET " + std::to_string(filter.offset);
    if (total) {
      auto count = [&](const std::string& query,
                       const std::vector<SqlValue>& values) -> Result<size_t> {
        FOPS_ASSIGN_OR_RETURN(SqlResult counted, db_->Query(query, values));
        return static_cast<size_t>(AsInt(counted.rows.at(0)[0]));
      };
      auto count_runs = [&] {
        return count("SELECT COUNT(*) FROM runs r" + filter_joins + where, filter_params);
      };
      auto count_trials = [&]() -> Result<size_t> {
        std::vector<SqlValue> values(std::begin(trials_params), std::end(trials_params));
        // Unfiltered, the tag's index alone has the count (no run looked up).
        if (filter_joins.empty() && filter_params.empty())
          return count("SELECT COUNT(*) FROM run_tags kind WHERE kind.name = ? AND kind.value = ?",
                       values);
        values.insert(values.end(), filter_params.begin(), filter_params.end());
        return count("SELECT COUNT(*) FROM runs r" + trials_join + filter_joins + where, values);
      };
      if (filter.trials == RunFilter::Trials::kInclude) {
        FOPS_ASSIGN_OR_RETURN(*total, count_runs());
      } else if (filter.trials == RunFilter::Trials::kOnly) {
        FOPS_ASSIGN_OR_RETURN(*total, count_trials());
      } else {
        FOPS_ASSIGN_OR_RETURN(size_t runs, count_runs());
        FOPS_ASSIGN_OR_RETURN(size_t trials, count_trials());
        *total = runs - std::min(runs, trials);
      }
    }
  }
  FOPS_ASSIGN_OR_RETURN(SqlResult found, db_->Query(sql, params));
  std::vector<RunRecord> runs;
  runs.reserve(found.rows.size());
  const size_t base = 10;  // the run columns
  for (const SqlRow& r : found.rows) {
    RunRecord run = RunFromRow(r);
    for (size_t i = 0; i < filter.with_metrics.size(); ++i) {
      if (!IsNull(r[base + i])) run.metrics[filter.with_metrics[i]] = AsDouble(r[base + i]);
    }
    const size_t tags_at = base + filter.with_metrics.size();
    for (size_t i = 0; i < filter.with_tags.size(); ++i) {
      if (!IsNull(r[tags_at + i])) run.tags[filter.with_tags[i]] = AsText(r[tags_at + i]);
    }
    runs.push_back(std::move(run));
  }
  if (later.empty()) return runs;
  // Each condition's field for every run that has it: one query per condition.
  std::vector<std::map<std::string, std::string>> field_values;
  for (const RunCondition* c : later) {
    static constexpr const char* kTables[] = {"run_metrics", "run_params", "run_tags"};
    SqlValue name[] = {Text(c->field)};
    FOPS_ASSIGN_OR_RETURN(SqlResult rows,
                          db_->Query(std::string("SELECT run_id, value FROM ") +
                                         kTables[static_cast<int>(c->kind)] + " WHERE name = ?",
                                     name));
    auto& values = field_values.emplace_back();
    for (const SqlRow& r : rows.rows) {
      values[AsText(r[0])] =
          c->kind == RunCondition::Kind::kMetric ? FormatDouble(AsDouble(r[1]), 17) : AsText(r[1]);
    }
  }
  std::vector<RunRecord> kept;
  size_t selected = 0;
  for (RunRecord& run : runs) {
    bool holds = true;
    for (size_t i = 0; i < later.size() && holds; ++i) {
      auto it = field_values[i].find(run.run_id);
      holds = later[i]->Holds(it == field_values[i].end() ? std::nullopt
                                                          : std::optional<std::string>(it->second));
    }
    if (!holds) continue;
    if (selected++ >= filter.offset && kept.size() < filter.limit) kept.push_back(std::move(run));
    if (!total && kept.size() == filter.limit) break;
  }
  if (total) *total = selected;
  return kept;
}

Result<size_t> MetadataStore::CountTrials(RunFilter filter) {
  filter.trials = RunFilter::Trials::kOnly;
  filter.with_metrics.clear();
  filter.with_tags.clear();
  filter.order_by.clear();
  filter.limit = filter.offset = 0;
  size_t trials = 0;
  FOPS_RETURN_IF_ERROR(ListRuns(filter, &trials).status());
  return trials;
}

Status MetadataStore::LogParams(const std::string& run_id,
                                const std::map<std::string, std::string>& params) {
  return InTransaction([&]() -> Status {
    SqlValue id[] = {Text(run_id)};
    FOPS_ASSIGN_OR_RETURN(SqlResult found, db_->Query("SELECT 1 FROM runs WHERE run_id = ?", id));
    if (found.rows.empty()) return Status::NotFound("no run " + run_id);
    FOPS_ASSIGN_OR_RETURN(SqlResult logged,
                          db_->Query("SELECT name, value FROM run_params WHERE run_id = ?", id));
    std::map<std::string, std::string> before;
    for (const SqlRow& r : logged.rows) before[AsText(r[0])] = AsText(r[1]);
    std::vector<SqlValue> values;
    for (const auto& [name, value] : params) {
      auto it = before.find(name);
      if (it == before.end()) {
        values.insert(values.end(), {Text(run_id), Text(name), Text(value)});
      } else if (it->second != value) {
        return Status::Conflict("parameter '" + name + "' of run " + run_id + " is " + it->second +
                                "; a parameter keeps its first value (not " + value +
                                "): log a metric or a tag for what changes");
      }
    }
    if (values.empty()) return Status::Ok();
    return InsertRows(*db_, "INSERT INTO run_params VALUES", 3, values);
  });
}

Status MetadataStore::SetTags(const std::string& run_id,
                              const std::map<std::string, std::string>& tags,
                              const std::vector<std::string>& removed) {
  return InTransaction([&]() -> Status {
    SqlValue id[] = {Text(run_id)};
    FOPS_ASSIGN_OR_RETURN(SqlResult found, db_->Query("SELECT 1 FROM runs WHERE run_id = ?", id));
    if (found.rows.empty()) return Status::NotFound("no run " + run_id);
    for (const std::string& name : removed) {
      SqlValue key[] = {Text(run_id), Text(name)};
      FOPS_RETURN_IF_ERROR(db_->Exec("DELETE FROM run_tags WHERE run_id = ? AND name = ?", key));
    }
    return WriteTags(run_id, tags);
  });
}

namespace {

/// A parameter's stored value (JSON text) as text to compare: a JSON string unquoted.
std::string Unquoted(const std::string& value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    auto parsed = nlohmann::json::parse(value, nullptr, false);
    if (parsed.is_string()) return parsed.get<std::string>();
  }
  return value;
}

}  // namespace

bool RunCondition::Holds(const std::optional<std::string>& actual) const {
  if (!actual) return false;
  const std::string text = kind == Kind::kParam ? Unquoted(*actual) : *actual;
  const std::optional<double> a = ParseDouble(text), b = ParseDouble(value);
  if (a && b) {
    switch (op) {
      case Op::kLess:
        return *a < *b;
      case Op::kLessEqual:
        return *a <= *b;
      case Op::kEqual:
        return *a == *b;
      case Op::kNotEqual:
        return *a != *b;
      case Op::kGreaterEqual:
        return *a >= *b;
      case Op::kGreater:
        return *a > *b;
    }
  }
  if (op == Op::kEqual) return text == value;
  if (op == Op::kNotEqual) return text != value;
  return false;  // ordering needs numbers
}

Result<std::map<std::string, std::string>> ParseRunTags(const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> tags;
  for (const std::string& pair : pairs) {
    const size_t equals = pair.find('=');
    const std::string key(Trim(pair.substr(0, equals)));
    const bool key_ok =
        equals != std::string::npos && !key.empty() && key.size() <= 64 &&
        std::all_of(key.begin(), key.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
        });
    if (!key_ok) {
      return Status::InvalidArgument("tag '" + pair +
                                     "' is not KEY=VALUE (a key of letters, digits, _ - .)");
    }
    if (key.rfind("fraudops.", 0) == 0)
      return Status::InvalidArgument("tag '" + key + "': keys beginning fraudops. are fraudops'");
    tags[key] = pair.substr(equals + 1);
  }
  return tags;
}

Result<std::vector<RunCondition>> ParseRunFilter(std::string_view text) {
  std::vector<RunCondition> out;
  std::string rest(Trim(text));
  if (rest.ends_with(" and") || rest.starts_with("and ")) {
    return Status::InvalidArgument("--filter: '" + rest +
                                   "' is not FIELD OP VALUE joined by 'and': a condition is "
                                   "missing beside an 'and'");
  }
  while (true) {
    const size_t split = rest.find(" and ");
    const std::string part(Trim(rest.substr(0, split)));
    static constexpr std::pair<std::string_view, RunCondition::Op> kOps[] = {
        {"<=", RunCondition::Op::kLessEqual}, {">=", RunCondition::Op::kGreaterEqual},
        {"!=", RunCondition::Op::kNotEqual},  {"==", RunCondition::Op::kEqual},
        {"<", RunCondition::Op::kLess},       {">", RunCondition::Op::kGreater},
        {"=", RunCondition::Op::kEqual}};
    RunCondition c;
    size_t op_at = std::string::npos, op_size = 0;
    for (const auto& [symbol, op] : kOps) {
      const size_t at = part.find(symbol);
      if (at != std::string::npos && (op_at == std::string::npos || at < op_at)) {
        op_at = at;
        op_size = symbol.size();
        c.op = op;
      }
    }
    if (op_at != std::string::npos) {
      c.field = std::string(Trim(part.substr(0, op_at)));
      c.value = std::string(Trim(part.substr(op_at + op_size)));
      if (c.value.size() >= 2 && (c.value.front() == '"' || c.value.front() == '\'') &&
          c.value.back() == c.value.front()) {
        c.value = c.value.substr(1, c.value.size() - 2);
      }
    }
    if (op_at == std::string::npos || c.field.empty() || c.value.empty()) {
      return Status::InvalidArgument(
          "--filter: '" + part +
          "' is not FIELD OP VALUE (OP one of < <= = != >= >; FIELD a metric such as "
          "test.roc_auc, params.NAME or tags.NAME; conditions joined by 'and')");
    }
    if (StartsWith(c.field, "params.")) {
      c.kind = RunCondition::Kind::kParam;
      c.field = c.field.substr(7);
    } else if (StartsWith(c.field, "tags.")) {
      c.kind = RunCondition::Kind::kTag;
      c.field = c.field.substr(5);
    }
    out.push_back(std::move(c));
    if (split == std::string::npos) break;
    rest = rest.substr(split + 5);
  }
  return out;
}

Result<std::vector<std::string>> MetadataStore::CurveNames(const std::string& run_id) {
  SqlValue id[] = {Text(run_id)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult found,
      db_->Query("SELECT DISTINCT name FROM metric_history WHERE run_id = ? ORDER BY name", id));
  std::vector<std::string> names;
  for (const SqlRow& r : found.rows) names.push_back(AsText(r[0]));
  return names;
}

Result<std::vector<std::pair<int64_t, double>>> MetadataStore::MetricHistory(
    const std::string& run_id, const std::string& name) {
  SqlValue p[] = {Text(run_id), Text(name)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult found,
      db_->Query(
          "SELECT step, value FROM metric_history WHERE run_id = ? AND name = ? ORDER BY step", p));
  std::vector<std::pair<int64_t, double>> points;
  for (const SqlRow& r : found.rows) points.emplace_back(AsInt(r[0]), AsDouble(r[1]));
  return points;
}

// ---- registry ----

Status MetadataStore::AppendAudit(const std::string& actor, const std::string& action,
                                  const std::string& model, int64_t version,
                                  const nlohmann::json& details) {
  SqlValue p[] = {Text(NewUuidV7()),
                  Text(UtcNow()),
                  Text(actor),
                  Text(action),
                  Text(model),
                  Int(version),
                  Text(details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))};
  return db_->Exec("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?)", p);
}

Status MetadataStore::MoveAlias(const std::string& model, const std::string& alias, int64_t version,
                                const std::string& actor) {
  FOPS_RETURN_IF_ERROR(CheckAliasName(alias));
  SqlValue find[] = {Text(model), Text(alias)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult previous,
      db_->Query("SELECT version FROM model_aliases WHERE model = ? AND alias = ?", find));
  SqlValue p[] = {Text(model), Text(alias), Int(version), Text(UtcNow())};
  FOPS_RETURN_IF_ERROR(
      db_->Exec("INSERT INTO model_aliases VALUES (?, ?, ?, ?) ON CONFLICT (model, alias) DO "
                "UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
                p));
  nlohmann::json details = {{"alias", alias}};
  if (!previous.rows.empty()) details["from_version"] = AsInt(previous.rows[0][0]);
  return AppendAudit(actor, "alias_set", model, version, details);
}

Result<ModelVersion> MetadataStore::CreateVersion(const NewVersion& v, const std::string& actor) {
  if (v.model.empty())
    return Status::InvalidArgument("register.model_name is empty; a model needs a name");
  for (const std::string& alias : v.aliases) FOPS_RETURN_IF_ERROR(CheckAliasName(alias));
  int64_t number = 0;
  std::string now = UtcNow();
  FOPS_RETURN_IF_ERROR(InTransaction([&]() -> Status {
    SqlValue model[] = {Text(v.model), Text(now)};
    FOPS_RETURN_IF_ERROR(
        db_->Exec("INSERT INTO registered_models (name, created_at, last_version) VALUES "
                  "(?, ?, 0) ON CONFLICT (name) DO NOTHING",
                  model));
    // The row lock this UPDATE takes serializes concurrent registrations of one model.
    SqlValue name[] = {Text(v.model)};
    FOPS_ASSIGN_OR_RETURN(SqlResult next,
                          db_->Query("UPDATE registered_models SET last_version = last_version + 1 "
                                     "WHERE name = ? RETURNING last_version",
                                     name));
    number = AsInt(next.rows.at(0).at(0));
    std::string approval = v.approve ? "approved" : "pending";
    SqlValue row[] = {Text(v.model),
                      Int(number),
                      Text(v.run_id),
                      Text(now),
                      Text(v.algorithm),
                      Text(v.bundle_uri),
                      Real(v.threshold),
                      Text(v.metrics.dump()),
                      Text(v.description),
                      Text(v.data_hash),
                      Text(approval),
                      v.approve ? Text(actor) : SqlValue(),
                      v.approve ? Text(now) : SqlValue(),
                      v.approve ? Text("register.approval: auto (passed the gate)") : SqlValue(),
                      Int(0),
                      Text(v.policy)};
    FOPS_RETURN_IF_ERROR(
        db_->Exec("INSERT INTO model_versions (model, version, run_id, created_at, algorithm, "
                  "bundle_uri, threshold, metrics, description, data_hash, approval, approval_by, "
                  "approval_at, approval_reason, archived, policy) VALUES (?, ?, ?, ?, ?, ?, ?, "
                  "?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  row));
    nlohmann::json details = {
        {"run_id", v.run_id}, {"bundle_uri", v.bundle_uri}, {"approval", approval}};
    if (!v.policy.empty()) details["policy_sha256"] = Sha256Hex(v.policy);
    details.update(v.audit_details);
    FOPS_RETURN_IF_ERROR(AppendAudit(actor, "version_created", v.model, number, details));
    if (v.approve) {
      FOPS_RETURN_IF_ERROR(
          AppendAudit(actor, "approved", v.model, number, {{"reason", "register.approval: auto"}}));
      for (const std::string& alias : v.aliases)
        FOPS_RETURN_IF_ERROR(MoveAlias(v.model, alias, number, actor));
    }
    if (v.before_commit) v.before_commit();
    return Status::Ok();
  }));
  return GetVersion(v.model, std::to_string(number));
}

Result<std::vector<ModelVersion>> MetadataStore::QueryVersions(const std::string& where,
                                                               std::vector<SqlValue> params) {
  FOPS_ASSIGN_OR_RETURN(SqlResult found,
                        db_->Query("SELECT model, version, run_id, created_at, algorithm, "
                                   "bundle_uri, threshold, metrics, description, "
                                   "data_hash, approval, approval_by, approval_at, "
                                   "approval_reason, archived, policy FROM model_versions " +
                                       where,
                                   params));
  std::vector<ModelVersion> versions;
  for (const SqlRow& r : found.rows) {
    ModelVersion v;
    v.model = AsText(r[0]);
    v.version = AsInt(r[1]);
    v.run_id = AsText(r[2]);
    v.created_at = AsText(r[3]);
    v.algorithm = AsText(r[4]);
    v.bundle_uri = AsText(r[5]);
    v.threshold = AsDouble(r[6]);
    v.metrics = nlohmann::json::parse(AsText(r[7]), nullptr, /*allow_exceptions=*/false);
    v.description = AsText(r[8]);
    v.data_hash = AsText(r[9]);
    v.approval = AsText(r[10]);
    v.approval_by = AsText(r[11]);
    v.approval_at = AsText(r[12]);
    v.approval_reason = AsText(r[13]);
    v.archived = AsInt(r[14]) != 0;
    v.policy = AsText(r[15]);
    versions.push_back(std::move(v));
  }
  if (versions.empty()) return versions;
  // The aliases of the models listed, by (model, version).
  std::map<std::pair<std::string, int64_t>, ModelVersion*> by_key;
  std::set<std::string> models;
  for (ModelVersion& v : versions) {
    by_key[{v.model, v.version}] = &v;
    models.insert(v.model);
  }
  std::string placeholders;
  std::vector<SqlValue> names;
  for (const std::string& model : models) {
    placeholders += placeholders.empty() ? "?" : ", ?";
    names.push_back(Text(model));
  }
  FOPS_ASSIGN_OR_RETURN(
      SqlResult aliases,
      db_->Query("SELECT model, version, alias FROM model_aliases WHERE model IN (" + placeholders +
                     ") ORDER BY alias",
                 names));
  for (const SqlRow& r : aliases.rows) {
    auto it = by_key.find({AsText(r[0]), AsInt(r[1])});
    if (it != by_key.end()) it->second->aliases.push_back(AsText(r[2]));
  }
  return versions;
}

Result<ModelVersion> MetadataStore::GetVersion(const std::string& model, const std::string& ref) {
  std::string target = model + "@" + ref;
  int64_t number = 0;
  if (StartsWith(ref, "@")) {
    SqlValue p[] = {Text(model), Text(ref.substr(1))};
    FOPS_ASSIGN_OR_RETURN(
        SqlResult found,
        db_->Query("SELECT version FROM model_aliases WHERE model = ? AND alias = ?", p));
    if (found.rows.empty())
      return Status::NotFound("model '" + model + "' has no alias '" + ref.substr(1) + "'");
    number = AsInt(found.rows[0][0]);
    target = model + ref;
  } else if (ref == "latest" || ref.empty()) {
    SqlValue p[] = {Text(model)};
    FOPS_ASSIGN_OR_RETURN(SqlResult found,
                          db_->Query("SELECT MAX(version) FROM model_versions WHERE model = ?", p));
    if (found.rows.empty() || IsNull(found.rows[0][0])) {
      FOPS_ASSIGN_OR_RETURN(auto models, ListModels());
      return Status::NotFound("no registered model '" + model + "'" + DidYouMean(model, models));
    }
    number = AsInt(found.rows[0][0]);
  } else {
    auto parsed = ParseInt(ref);
    if (!parsed || *parsed <= 0) {
      return Status::InvalidArgument(
          "'" + ref + "' is not a version; accepted: a version number, latest, or @ALIAS");
    }
    number = *parsed;
  }
  FOPS_ASSIGN_OR_RETURN(
      auto versions, QueryVersions("WHERE model = ? AND version = ?", {Text(model), Int(number)}));
  if (versions.empty()) {
    FOPS_ASSIGN_OR_RETURN(auto models, ListModels());
    if (std::find(models.begin(), models.end(), model) == models.end()) {
      return Status::NotFound("no registered model '" + model + "'" + DidYouMean(model, models));
    }
    return Status::NotFound("model '" + model + "' has no version " + std::to_string(number));
  }
  return versions[0];
}

Result<std::vector<ModelVersion>> MetadataStore::ListVersions(const std::string& model) {
  if (model.empty()) return QueryVersions("ORDER BY model, version DESC", {});
  return QueryVersions("WHERE model = ? ORDER BY version DESC", {Text(model)});
}

Result<std::vector<std::string>> MetadataStore::ListModels() {
  FOPS_ASSIGN_OR_RETURN(SqlResult found,
                        db_->Query("SELECT name FROM registered_models ORDER BY name"));
  std::vector<std::string> names;
  for (const SqlRow& r : found.rows) names.push_back(AsText(r[0]));
  return names;
}

bool ModelVersion::ApprovedByRule() const {
  return approval == "approved" && approval_reason.rfind("register.approval: auto", 0) == 0;
}

Status MetadataStore::SetApproval(const std::string& model, int64_t version,
                                  const std::string& approval, const std::string& actor,
                                  const std::string& reason,
                                  const std::vector<std::string>& aliases, bool distinct_approver) {
  if (approval != "approved" && approval != "rejected") {
    return Status::InvalidArgument("approval '" + approval +
                                   "' is not valid; accepted: approved, rejected");
  }
  for (const std::string& alias : aliases) FOPS_RETURN_IF_ERROR(CheckAliasName(alias));
  FOPS_ASSIGN_OR_RETURN(ModelVersion current, GetVersion(model, std::to_string(version)));
  if (current.archived)
    return Status::InvalidArgument(model + "@" + std::to_string(version) + " is archived");
  if (distinct_approver && approval == "approved") {
    FOPS_ASSIGN_OR_RETURN(RunRecord run, GetRun(current.run_id));
    if (!run.user.empty() && ActorIdentity(actor) == run.user) {
      Status refused = Status::PermissionDenied(
          "segregation of duties: " + run.user + " authored run " + run.run_id + " of " + model +
          "@" + std::to_string(version) +
          " and may not approve it; another approver must (register.distinct_approver)");
      (void)InTransaction([&] {
        return AppendAudit(actor, "approve_refused", model, version,
                           {{"reason", refused.message()}, {"author", run.user}});
      });
      return refused;
    }
  }
  return InTransaction([&]() -> Status {
    std::string now = UtcNow();
    SqlValue p[] = {Text(approval), Text(actor), Text(now),
                    Text(reason),   Text(model), Int(version)};
    FOPS_RETURN_IF_ERROR(
        db_->Exec("UPDATE model_versions SET approval = ?, approval_by = ?, approval_at = ?, "
                  "approval_reason = ? WHERE model = ? AND version = ?",
                  p));
    nlohmann::json details = {{"reason", reason}, {"previous", current.approval}};
    if (approval == "rejected") details["aliases_removed"] = current.aliases;
    FOPS_RETURN_IF_ERROR(AppendAudit(actor, approval, model, version, details));
    if (approval == "rejected") {
      // A rejected version keeps no alias: nothing may serve it by name.
      SqlValue key[] = {Text(model), Int(version)};
      FOPS_RETURN_IF_ERROR(
          db_->Exec("DELETE FROM model_aliases WHERE model = ? AND version = ?", key));
    } else {
      for (const std::string& alias : aliases)
        FOPS_RETURN_IF_ERROR(MoveAlias(model, alias, version, actor));
    }
    return Status::Ok();
  });
}

Status MetadataStore::SetAlias(const std::string& model, const std::string& alias, int64_t version,
                               const std::string& actor) {
  FOPS_ASSIGN_OR_RETURN(ModelVersion target, GetVersion(model, std::to_string(version)));
  if (target.archived) {
    return Status::InvalidArgument(model + "@" + std::to_string(version) +
                                   " is archived; an alias needs a live version");
  }
  if (target.approval == "rejected") {
    return Status::InvalidArgument(model + "@" + std::to_string(version) +
                                   " was rejected; an alias needs a version "
                                   "that is not rejected");
  }
  return InTransaction([&]() { return MoveAlias(model, alias, version, actor); });
}

Status MetadataStore::DeleteAlias(const std::string& model, const std::string& alias,
                                  const std::string& actor) {
  FOPS_ASSIGN_OR_RETURN(ModelVersion target, GetVersion(model, "@" + alias));
  return InTransaction([&]() -> Status {
    SqlValue p[] = {Text(model), Text(alias)};
    FOPS_RETURN_IF_ERROR(db_->Exec("DELETE FROM model_aliases WHERE model = ? AND alias = ?", p));
    return AppendAudit(actor, "alias_deleted", model, target.version, {{"alias", alias}});
  });
}

Status MetadataStore::Archive(const std::string& model, int64_t version, const std::string& actor,
                              const std::string& reason) {
  FOPS_ASSIGN_OR_RETURN(ModelVersion target, GetVersion(model, std::to_string(version)));
  if (target.archived) return Status::Ok();
  return InTransaction([&]() -> Status {
    SqlValue p[] = {Text(model), Int(version)};
    FOPS_RETURN_IF_ERROR(
        db_->Exec("UPDATE model_versions SET archived = 1 WHERE model = ? AND version = ?", p));
    FOPS_RETURN_IF_ERROR(db_->Exec("DELETE FROM model_aliases WHERE model = ? AND version = ?", p));
    return AppendAudit(actor, "archived", model, version,
                       {{"reason", reason}, {"aliases_removed", target.aliases}});
  });
}

Result<std::vector<AuditEntry>> MetadataStore::Audit(const std::string& model) {
  std::vector<SqlValue> params;
  std::string sql = "SELECT id, at, actor, action, model, version, details FROM audit_log";
  if (!model.empty()) {
    sql += " WHERE model = ?";
    params.push_back(Text(model));
  }
  FOPS_ASSIGN_OR_RETURN(SqlResult found, db_->Query(sql + " ORDER BY id", params));
  std::vector<AuditEntry> entries;
  for (const SqlRow& r : found.rows) {
    entries.push_back({AsText(r[0]), AsText(r[1]), AsText(r[2]), AsText(r[3]), AsText(r[4]),
                       AsInt(r[5]), nlohmann::json::parse(AsText(r[6]), nullptr, false)});
  }
  return entries;
}

Result<std::vector<ModelVersion>> MetadataStore::VersionsFromData(const std::string& hash,
                                                                  std::string* matched) {
  std::string wanted = ToLower(std::string(Trim(hash)));
  if (wanted.size() < 6 || wanted.size() > 64 ||
      !std::all_of(wanted.begin(), wanted.end(), [](char c) { return std::isxdigit(c); })) {
    return Status::InvalidArgument("'" + hash +
                                   "' is not a data hash: give the content hash (fraudops "
                                   "lineage NAME@VERSION shows it) or the raw file's sha256, or "
                                   "a prefix of at least 6 hex digits");
  }
  // A prefix names one hash, content or file, among every dataset recorded.
  SqlValue like[] = {Text(wanted + "%"), Text(wanted + "%")};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult found,
      db_->Query("SELECT DISTINCT content_hash, file_sha256 FROM run_datasets WHERE "
                 "content_hash LIKE ? OR file_sha256 LIKE ?",
                 like));
  std::set<std::string> hashes;
  for (const SqlRow& r : found.rows) {
    for (int c = 0; c < 2; ++c) {
      const std::string value = AsText(r[c]);
      if (!value.empty() && value.compare(0, wanted.size(), wanted) == 0) hashes.insert(value);
    }
  }
  if (hashes.size() > 1) {
    std::string list;
    for (const std::string& h : hashes) list += (list.empty() ? "" : ", ") + h.substr(0, 16) + "…";
    return Status::InvalidArgument("'" + hash + "' is ambiguous: it begins " +
                                   std::to_string(hashes.size()) + " data hashes (" + list +
                                   "); give more digits");
  }
  if (hashes.empty()) return std::vector<ModelVersion>();
  const std::string full = *hashes.begin();
  if (matched) *matched = full;
  return QueryVersions(
      "WHERE run_id IN (SELECT run_id FROM run_datasets WHERE content_hash = ? OR "
      "file_sha256 = ?) ORDER BY model, version",
      {Text(full), Text(full)});
}

}  // namespace fraudops
