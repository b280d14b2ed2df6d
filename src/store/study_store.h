#pragma once
/// What tuning keeps in the metadata store (schema migration 9; docs/tuning.md): each study's
/// definition (algorithm, strategy, objective, search space, seed) and its trials. A trial is
/// claimed by inserting its number: the primary key (study, number) lets one process, and one
/// only, have each number, so processes sharing a study on PostgreSQL never run the same trial.
/// A trial whose process died (its heartbeat stopped) is taken over by one process, again by
/// one conditional statement.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/metadata_store.h"

namespace fraudops {

struct StudyRecord {
  std::string name;
  std::string run_id;  ///< the study's own run; every trial is a child run of it
  std::string algorithm;
  /// strategy, pruner, objective, direction, space, seed, … (tune/study.h writes it).
  nlohmann::json definition = nlohmann::json::object();
  std::string created_at, created_by;
};

enum class TrialState { kRunning, kComplete, kPruned, kFailed };
std::string_view TrialStateName(TrialState state);
Result<TrialState> ParseTrialState(std::string_view name);

struct TrialRecord {
  std::string study;
  int64_t number = 0;
  std::string run_id;
  TrialState state = TrialState::kRunning;
  nlohmann::json params = nlohmann::json::object();  ///< the sampled values, by name
  std::optional<double> value;  ///< the objective (mean over folds) once complete
  /// fold_values, curve ([round, value] of the per-round metric), rounds, reason, …
  nlohmann::json detail = nlohmann::json::object();
  std::string owner;  ///< host:pid of the process running it
  std::string started_at, heartbeat_at, finished_at;

  bool Finished() const { return state != TrialState::kRunning; }
  nlohmann::json ToJson() const;
};

class StudyStore {
 public:
  explicit StudyStore(MetadataStore& store) : db_(store.connection()) {}

  Result<std::optional<StudyRecord>> GetStudy(const std::string& name);
  /// Conflict when a study of that name exists (another process created it first).
  Status CreateStudy(const StudyRecord& study);
  Result<std::vector<StudyRecord>> ListStudies();
  /// The study's trials by number.
  Result<std::vector<TrialRecord>> Trials(const std::string& study);
  /// Inserts the trial under its number; false when another process has that number.
  Result<bool> InsertTrial(const TrialRecord& trial);
  /// Gives a running trial of `previous_owner` to `owner` (its process died), to run again
  /// as the child run `run_id`; false when another process took it over first or it finished.
  Result<bool> TakeOver(const std::string& study, int64_t number, const std::string& previous_owner,
                        const std::string& owner, const std::string& run_id,
                        const std::string& now);
  /// Marks `owner`'s running trials of the study as alive at `now`.
  Status Heartbeat(const std::string& study, const std::string& owner, const std::string& now);
  /// Records the trial's end (state, value, detail, finished_at), if `trial.owner` still runs it.
  Status FinishTrial(const TrialRecord& trial);

 private:
  SqlConnection& db_;
};

}  // namespace fraudops
