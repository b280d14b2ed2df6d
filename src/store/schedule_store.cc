#include "store/schedule_store.h"

#include "store/sql_values.h"

namespace fraudops {

using namespace store_internal;

nlohmann::json ScheduleRunRecord::ToJson() const {
  nlohmann::json out = {
      {"id", id},
      {"pipeline", pipeline},
      {"trigger", trigger},
      {"reason", reason},
      {"scheduled_for", scheduled_for},
      {"started_at", started_at},
      {"finished_at", finished_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(finished_at)},
      {"status", RunStatusName(status)},
      {"execution_id",
       execution_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(execution_id)},
      {"deployment", deployment.empty() ? nlohmann::json(nullptr) : nlohmann::json(deployment)},
      {"error", error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error)}};
  out["model"] = model.empty() ? nlohmann::json(nullptr)
                               : nlohmann::json(model + "@" + std::to_string(version));
  return out;
}

Result<std::optional<std::string>> ScheduleStore::GetState(const std::string& pipeline,
                                                           const std::string& name) {
  SqlValue p[] = {Text(pipeline), Text(name)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r,
      db_.Query("SELECT value FROM schedule_state WHERE pipeline = ? AND name = ?", p));
  if (r.rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(AsText(r.rows[0][0]));
}

Status ScheduleStore::SetState(const std::string& pipeline, const std::string& name,
                               const std::string& value) {
  SqlValue p[] = {Text(pipeline), Text(name), Text(value), Text(UtcNow())};
  return db_.Exec(
      "INSERT INTO schedule_state VALUES (?, ?, ?, ?) ON CONFLICT (pipeline, name) DO UPDATE SET "
      "value = excluded.value, updated_at = excluded.updated_at",
      p);
}

Result<bool> ScheduleStore::TryLock(const std::string& pipeline, const std::string& holder,
                                    const std::string& now, const std::string& expires_at,
                                    std::string* current_holder) {
  // One statement, so two schedulers racing on PostgreSQL or SQLite cannot both win: the
  // insert succeeds for nobody-holds-it, the update only over an expired lock.
  SqlValue p[] = {Text(pipeline), Text(holder), Text(now), Text(expires_at), Text(now)};
  FOPS_RETURN_IF_ERROR(db_.Exec(
      "INSERT INTO schedule_locks VALUES (?, ?, ?, ?) ON CONFLICT (pipeline) DO UPDATE SET "
      "holder = excluded.holder, acquired_at = excluded.acquired_at, "
      "expires_at = excluded.expires_at WHERE schedule_locks.expires_at < ?",
      p));
  SqlValue q[] = {Text(pipeline)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r,
      db_.Query("SELECT holder, acquired_at FROM schedule_locks WHERE pipeline = ?", q));
  if (r.rows.empty()) return false;
  const std::string owner = AsText(r.rows[0][0]);
  if (current_holder) *current_holder = owner + " since " + AsText(r.rows[0][1]);
  return owner == holder && AsText(r.rows[0][1]) == now;
}

Status ScheduleStore::Unlock(const std::string& pipeline, const std::string& holder) {
  SqlValue p[] = {Text(pipeline), Text(holder)};
  return db_.Exec("DELETE FROM schedule_locks WHERE pipeline = ? AND holder = ?", p);
}

Status ScheduleStore::InsertRun(const ScheduleRunRecord& run) {
  SqlValue p[] = {Text(run.id),
                  Text(run.pipeline),
                  Text(run.trigger),
                  Text(run.reason),
                  Text(run.scheduled_for),
                  Text(run.started_at),
                  OptionalText(run.finished_at),
                  Text(std::string(RunStatusName(run.status))),
                  OptionalText(run.execution_id),
                  OptionalText(run.model),
                  run.model.empty() ? SqlValue() : Int(run.version),
                  OptionalText(run.deployment),
                  OptionalText(run.error)};
  return db_.Exec("INSERT INTO schedule_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", p);
}

Status ScheduleStore::UpdateRun(const ScheduleRunRecord& run) {
  SqlValue p[] = {OptionalText(run.finished_at),
                  Text(std::string(RunStatusName(run.status))),
                  OptionalText(run.execution_id),
                  OptionalText(run.model),
                  run.model.empty() ? SqlValue() : Int(run.version),
                  OptionalText(run.deployment),
                  OptionalText(run.error),
                  Text(run.id)};
  return db_.Exec(
      "UPDATE schedule_runs SET finished_at = ?, status = ?, execution_id = ?, model = ?, version "
      "= ?, "
      "deployment = ?, error = ? WHERE id = ?",
      p);
}

Result<std::vector<ScheduleRunRecord>> ScheduleStore::History(const std::string& pipeline,
                                                              size_t limit) {
  std::vector<SqlValue> params;
  std::string sql =
      "SELECT id, pipeline, trigger_name, reason, scheduled_for, started_at, finished_at, status, "
      "execution_id, model, "
      "version, deployment, error FROM schedule_runs";
  if (!pipeline.empty()) {
    sql += " WHERE pipeline = ?";
    params.push_back(Text(pipeline));
  }
  sql += " ORDER BY id DESC LIMIT " + std::to_string(limit);
  FOPS_ASSIGN_OR_RETURN(SqlResult r, db_.Query(sql, params));
  std::vector<ScheduleRunRecord> out;
  for (const SqlRow& row : r.rows) {
    ScheduleRunRecord run;
    run.id = AsText(row[0]);
    run.pipeline = AsText(row[1]);
    run.trigger = AsText(row[2]);
    run.reason = AsText(row[3]);
    run.scheduled_for = AsText(row[4]);
    run.started_at = AsText(row[5]);
    run.finished_at = IsNull(row[6]) ? "" : AsText(row[6]);
    run.status = ParseRunStatus(AsText(row[7])).value_or(RunStatus::kFailed);
    run.execution_id = IsNull(row[8]) ? "" : AsText(row[8]);
    run.model = IsNull(row[9]) ? "" : AsText(row[9]);
    run.version = IsNull(row[10]) ? 0 : AsInt(row[10]);
    run.deployment = IsNull(row[11]) ? "" : AsText(row[11]);
    run.error = IsNull(row[12]) ? "" : AsText(row[12]);
    out.push_back(std::move(run));
  }
  return out;
}

}  // namespace fraudops
