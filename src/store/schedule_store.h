#pragma once
/// What the scheduler keeps in the metadata store (schema migration 3): each pipeline's
/// trigger state (the last cron time considered, data fingerprints, the last run), the run
/// lock that lets at most one scheduled run per pipeline go at a time across processes and
/// machines, and the history of what the scheduler started or skipped and why.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/metadata_store.h"

namespace fraudops {

struct ScheduleRunRecord {
  std::string id;  ///< UUIDv7
  std::string pipeline;
  std::string trigger;  ///< cron, data, drift, quality, manual
  std::string reason;
  std::string scheduled_for;  ///< the cron time, or when the trigger fired
  std::string started_at, finished_at;
  RunStatus status = RunStatus::kRunning;
  std::string execution_id;
  std::string model;
  int64_t version = 0;
  std::string deployment;  ///< "<strategy> <status>" of the deployment the run started
  std::string error;
  nlohmann::json ToJson() const;
};

class ScheduleStore {
 public:
  explicit ScheduleStore(MetadataStore& store) : db_(store.connection()) {}

  Result<std::optional<std::string>> GetState(const std::string& pipeline, const std::string& name);
  Status SetState(const std::string& pipeline, const std::string& name, const std::string& value);

  /// Takes the pipeline's run lock for `holder` until `expires_at`, when nobody holds it or
  /// the holder's lock expired (before `now`). False, with the holder, when someone else has it.
  Result<bool> TryLock(const std::string& pipeline, const std::string& holder,
                       const std::string& now, const std::string& expires_at,
                       std::string* current_holder);
  /// Releases the lock if `holder` has it.
  Status Unlock(const std::string& pipeline, const std::string& holder);

  Status InsertRun(const ScheduleRunRecord& run);
  Status UpdateRun(const ScheduleRunRecord& run);
  /// Newest first (all pipelines when `pipeline` is empty).
  Result<std::vector<ScheduleRunRecord>> History(const std::string& pipeline, size_t limit);

 private:
  SqlConnection& db_;
};

}  // namespace fraudops
