#include "store/study_store.h"

#include "core/strings.h"
#include "store/sql_values.h"

namespace fraudops {

using namespace store_internal;

namespace {

constexpr std::pair<TrialState, std::string_view> kTrialStateNames[] = {
    {TrialState::kRunning, "running"},
    {TrialState::kComplete, "complete"},
    {TrialState::kPruned, "pruned"},
    {TrialState::kFailed, "failed"},
};

constexpr const char* kTrialColumns =
    "study, number, run_id, state, params, value, detail, owner, started_at, heartbeat_at, "
    "finished_at";

Result<nlohmann::json> ParseStored(const std::string& text, const std::string& what) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded())
    return Status::Internal("the metadata store's " + what + " is not JSON");
  return parsed;
}

Result<TrialRecord> TrialFromRow(const SqlRow& row) {
  TrialRecord trial;
  trial.study = AsText(row[0]);
  trial.number = AsInt(row[1]);
  trial.run_id = AsText(row[2]);
  FOPS_ASSIGN_OR_RETURN(trial.state, ParseTrialState(AsText(row[3])));
  const std::string where = "trial " + std::to_string(trial.number) + " of " + trial.study;
  FOPS_ASSIGN_OR_RETURN(trial.params, ParseStored(AsText(row[4]), where + "'s params"));
  if (!IsNull(row[5])) trial.value = AsDouble(row[5]);
  FOPS_ASSIGN_OR_RETURN(trial.detail, ParseStored(AsText(row[6]), where + "'s detail"));
  trial.owner = AsText(row[7]);
  trial.started_at = AsText(row[8]);
  trial.heartbeat_at = AsText(row[9]);
  if (!IsNull(row[10])) trial.finished_at = AsText(row[10]);
  return trial;
}

Result<StudyRecord> StudyFromRow(const SqlRow& row) {
  StudyRecord study;
  study.name = AsText(row[0]);
  study.run_id = AsText(row[1]);
  study.algorithm = AsText(row[2]);
  FOPS_ASSIGN_OR_RETURN(study.definition,
                        ParseStored(AsText(row[3]), "definition of study " + study.name));
  study.created_at = AsText(row[4]);
  study.created_by = AsText(row[5]);
  return study;
}

}  // namespace

std::string_view TrialStateName(TrialState state) {
  for (const auto& [value, name] : kTrialStateNames) {
    if (value == state) return name;
  }
  return "failed";
}

Result<TrialState> ParseTrialState(std::string_view name) {
  for (const auto& [value, known] : kTrialStateNames) {
    if (known == name) return value;
  }
  return Status::InvalidArgument("trial state '" + std::string(name) +
                                 "' is not valid; accepted: running, complete, pruned, failed");
}

nlohmann::json TrialRecord::ToJson() const {
  return {
      {"number", number},
      {"run_id", run_id},
      {"state", TrialStateName(state)},
      {"params", params},
      {"value", value ? nlohmann::json(*value) : nlohmann::json(nullptr)},
      {"detail", detail},
      {"owner", owner},
      {"started_at", started_at},
      {"finished_at", finished_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(finished_at)}};
}

Result<std::optional<StudyRecord>> StudyStore::GetStudy(const std::string& name) {
  SqlValue p[] = {Text(name)};
  FOPS_ASSIGN_OR_RETURN(SqlResult r,
                        db_.Query("SELECT name, run_id, algorithm, definition, created_at, "
                                  "created_by FROM studies WHERE name = ?",
                                  p));
  if (r.rows.empty()) return std::optional<StudyRecord>();
  FOPS_ASSIGN_OR_RETURN(StudyRecord study, StudyFromRow(r.rows[0]));
  return std::optional<StudyRecord>(std::move(study));
}

Status StudyStore::CreateStudy(const StudyRecord& study) {
  SqlValue p[] = {Text(study.name),       Text(study.run_id),
                  Text(study.algorithm),  Text(study.definition.dump()),
                  Text(study.created_at), Text(study.created_by)};
  Status inserted = db_.Exec("INSERT INTO studies VALUES (?, ?, ?, ?, ?, ?)", p);
  if (!inserted.ok() && db_.IsUniqueViolation(inserted))
    return Status::Conflict("study '" + study.name + "' exists already");
  return inserted;
}

Result<std::vector<StudyRecord>> StudyStore::ListStudies() {
  FOPS_ASSIGN_OR_RETURN(SqlResult r, db_.Query("SELECT name, run_id, algorithm, definition, "
                                               "created_at, created_by FROM studies ORDER BY "
                                               "created_at, name"));
  std::vector<StudyRecord> studies;
  for (const SqlRow& row : r.rows) {
    FOPS_ASSIGN_OR_RETURN(StudyRecord study, StudyFromRow(row));
    studies.push_back(std::move(study));
  }
  return studies;
}

Result<std::vector<TrialRecord>> StudyStore::Trials(const std::string& study) {
  SqlValue p[] = {Text(study)};
  FOPS_ASSIGN_OR_RETURN(SqlResult r, db_.Query(std::string("SELECT ") + kTrialColumns +
                                                   " FROM trials WHERE study = ? ORDER BY number",
                                               p));
  std::vector<TrialRecord> trials;
  for (const SqlRow& row : r.rows) {
    FOPS_ASSIGN_OR_RETURN(TrialRecord trial, TrialFromRow(row));
    trials.push_back(std::move(trial));
  }
  return trials;
}

Result<bool> StudyStore::InsertTrial(const TrialRecord& trial) {
  SqlValue p[] = {Text(trial.study),
                  Int(trial.number),
                  Text(trial.run_id),
                  Text(std::string(TrialStateName(trial.state))),
                  Text(trial.params.dump()),
                  trial.value ? Real(*trial.value) : SqlValue(),
                  Text(trial.detail.dump()),
                  Text(trial.owner),
                  Text(trial.started_at),
                  Text(trial.heartbeat_at),
                  OptionalText(trial.finished_at)};
  Status inserted = db_.Exec(std::string("INSERT INTO trials (") + kTrialColumns +
                                 ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             p);
  if (!inserted.ok() && db_.IsUniqueViolation(inserted)) return false;
  FOPS_RETURN_IF_ERROR(inserted);
  return true;
}

Result<bool> StudyStore::TakeOver(const std::string& study, int64_t number,
                                  const std::string& previous_owner, const std::string& owner,
                                  const std::string& run_id, const std::string& now) {
  SqlValue p[] = {Text(owner), Text(run_id), Text(now),           Text(now),
                  Text(study), Int(number),  Text(previous_owner)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r,
      db_.Query("UPDATE trials SET owner = ?, run_id = ?, started_at = ?, heartbeat_at = ? "
                "WHERE study = ? AND number = ? "
                "AND owner = ? AND state = 'running'",
                p));
  return r.affected == 1;
}

Status StudyStore::Heartbeat(const std::string& study, const std::string& owner,
                             const std::string& now) {
  SqlValue p[] = {Text(now), Text(study), Text(owner)};
  return db_.Exec(
      "UPDATE trials SET heartbeat_at = ? WHERE study = ? AND owner = ? AND state = 'running'", p);
}

Status StudyStore::FinishTrial(const TrialRecord& trial) {
  SqlValue p[] = {Text(std::string(TrialStateName(trial.state))),
                  trial.value ? Real(*trial.value) : SqlValue(),
                  Text(trial.detail.dump()),
                  Text(trial.finished_at),
                  Text(trial.study),
                  Int(trial.number),
                  Text(trial.owner)};
  FOPS_ASSIGN_OR_RETURN(SqlResult r,
                        db_.Query("UPDATE trials SET state = ?, value = ?, detail = ?, "
                                  "finished_at = ? WHERE study = ? AND number = ? AND owner = ? "
                                  "AND state = 'running'",
                                  p));
  if (r.affected != 1) {
    return Status::Conflict("trial " + std::to_string(trial.number) + " of study " + trial.study +
                            " is no longer run by " + trial.owner +
                            " (another process took it over)");
  }
  return Status::Ok();
}

}  // namespace fraudops
