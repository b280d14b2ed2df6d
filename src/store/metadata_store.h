#pragma once
/// The metadata store: tracking (experiments, runs with parameters, tags, metrics and their
/// per-iteration curves, artifacts, dataset fingerprints), the model registry (models,
/// versions, approval, aliases, archive), lineage queries and the append-only audit log.
///
/// One implementation over the SQL drivers of data/sql.h: SQLite (default, WAL, in the
/// workspace) or PostgreSQL (`postgresql://…`). The schema is versioned; forward-only
/// migrations (schema.cc) are applied on open under a lock, so concurrent processes agree.
/// Every registry change and its audit entry commit in one transaction.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/sql.h"

namespace fraudops {

struct ArtifactRecord {
  std::string name;  ///< path relative to the run's artifact root, e.g. model/model.json
  std::string uri;   ///< file path or s3://…
  int64_t size = 0;
  std::string sha256;
};

struct DatasetRecord {
  std::string role;    ///< raw, train, validation, test
  std::string source;  ///< data source (password removed)
  int64_t rows = 0;
  std::string content_hash;
  std::string file_sha256;  ///< raw: the source file's own SHA-256 (sha256sum), when a file
};

/// Where a pipeline run is: a tracked run (running, then succeeded, gate_failed or failed)
/// or a scheduled one, which may also be skipped (a missed cron time) or locked (another
/// run held the lock); a tuning trial stopped early by its pruner is pruned. An enum inside the
/// process; the name at the edges.
enum class RunStatus { kRunning, kSucceeded, kGateFailed, kFailed, kSkipped, kLocked, kPruned };
std::string_view RunStatusName(RunStatus status);
/// The status a stored name stands for; an error naming the known ones otherwise.
Result<RunStatus> ParseRunStatus(std::string_view name);

struct RunRecord {
  std::string run_id;  ///< the pipeline's execution id
  std::string experiment;
  RunStatus status = RunStatus::kRunning;
  std::string start_time, end_time;
  std::string code_version, host, user;
  std::string artifact_uri;
  std::string error;
  std::map<std::string, std::string> params;  ///< values as JSON text
  std::map<std::string, std::string> tags;
  std::map<std::string, double> metrics;
  std::vector<ArtifactRecord> artifacts;
  std::vector<DatasetRecord> datasets;
};

/// Tags fraudops gives a run's name and note (a person's tags may not begin "fraudops.").
inline constexpr const char* kRunNameTag = "fraudops.name";
inline constexpr const char* kRunNoteTag = "fraudops.note";
/// Set when `artifacts gc` deleted a run's files or `artifacts archive` moved them: what, by
/// whom, when (the run's records stay; `runs show` says where its files went).
inline constexpr const char* kArtifactsTag = "fraudops.artifacts";
/// What a run is when fraudops made it for something other than a pipeline run: "study" (a
/// tuning study's own run) or "trial" (one trial of a study, a child of the study's run).
inline constexpr const char* kRunKindTag = "fraudops.kind";
inline constexpr const char* kStudyRunKind = "study";
inline constexpr const char* kTrialRunKind = "trial";

/// One condition of a run filter: `field OP value`, the field a metric ("test.roc_auc"), a
/// parameter ("params.train.xgboost.eta") or a tag ("tags.team"), OP one of < <= = != >= >.
/// Numbers compare as numbers, anything else as text (= and != only).
struct RunCondition {
  enum class Op : uint8_t { kLess, kLessEqual, kEqual, kNotEqual, kGreaterEqual, kGreater };
  enum class Kind : uint8_t { kMetric, kParam, kTag };
  Kind kind = Kind::kMetric;
  std::string field;  ///< without the params./tags. prefix
  Op op = Op::kGreaterEqual;
  std::string value;
  /// Whether `actual` (a metric's number or a param's/tag's text; nullopt when the run has
  /// none) meets it. A run without the field never does.
  bool Holds(const std::optional<std::string>& actual) const;
};
/// "test.roc_auc >= 0.95 and params.train.xgboost.eta = 0.2 and tags.team = risk"; errors
/// name the condition and what is accepted.
Result<std::vector<RunCondition>> ParseRunFilter(std::string_view text);
/// KEY=VALUE pairs a person gives a run (--tag); keys of letters, digits, '_', '-', '.', not
/// beginning "fraudops." (fraudops' own).
Result<std::map<std::string, std::string>> ParseRunTags(const std::vector<std::string>& pairs);

struct RunFilter {
  std::string experiment;  ///< empty: all
  std::string status;      ///< empty: all
  /// Sort by this metric, highest first (or a run column: start_time, end_time, status,
  /// experiment, run_id); empty: newest first. Runs without the metric come last.
  std::string order_by;
  bool ascending = false;  ///< lowest (oldest) first instead
  size_t limit = 100;
  size_t offset = 0;  ///< runs skipped before the first returned (pagination)
  /// Metrics to return with each run (empty: none).
  std::vector<std::string> with_metrics;
  /// Tags to return with each run (empty: none).
  std::vector<std::string> with_tags;
  /// Every one must hold (ParseRunFilter).
  std::vector<RunCondition> conditions;
  /// Tuning trials (runs whose kRunKindTag is kTrialRunKind): listed with the rest, left
  /// out, or the only runs listed.
  enum class Trials : uint8_t { kInclude, kExclude, kOnly };
  Trials trials = Trials::kInclude;
};

/// The runs of one pipeline (experiment) with one status, and the latest of them.
struct RunStatusSummary {
  std::string experiment;
  std::string status;
  int64_t runs = 0;
  std::string latest_start;
  std::string latest_end;  ///< empty while running
};

struct ModelVersion {
  std::string model;
  int64_t version = 0;
  std::string run_id;
  std::string created_at;
  std::string algorithm;
  std::string bundle_uri;  ///< the model bundle's directory (file path or s3://…)
  double threshold = 0.5;
  nlohmann::json metrics = nlohmann::json::object();
  std::string description;
  std::string data_hash;
  std::string approval = "pending";  ///< pending, approved, rejected
  std::string approval_by, approval_at, approval_reason;
  bool archived = false;
  std::vector<std::string> aliases;
  /// The decision policy's text (docs/decision-policies.md), "" for none. Registered with
  /// the version and never changed: a new policy is a new version (ChangePolicy).
  std::string policy;

  /// Approved by register.approval: auto when it was registered (no person approved it).
  bool ApprovedByRule() const;
  /// policy_sha256 is listed when there is a policy; the text itself with `with_policy`.
  nlohmann::json ToJson(bool with_policy = false) const;
};

struct NewVersion {
  std::string model;
  std::string run_id;
  std::string algorithm;
  std::string bundle_uri;
  double threshold = 0.5;
  nlohmann::json metrics = nlohmann::json::object();
  std::string description;
  std::string data_hash;
  bool approve = false;              ///< register.approval: auto
  std::vector<std::string> aliases;  ///< moved to it when approved
  std::string policy;                ///< the decision policy's text, already parsed and valid
  /// Added to the version_created audit entry's details (e.g. the version a policy change
  /// started from).
  nlohmann::json audit_details = nlohmann::json::object();
  /// Called inside the transaction just before COMMIT (the fault-injection test uses it).
  std::function<void()> before_commit;
};

struct AuditEntry {
  std::string id, at, actor, action, model;
  int64_t version = 0;
  nlohmann::json details;
  nlohmann::json ToJson() const;
};

class MetadataStore {
 public:
  /// `url`: empty (then `default_sqlite_path`), sqlite:PATH, a path ending in .db, or
  /// postgresql://…; migrations are applied.
  static Result<std::unique_ptr<MetadataStore>> Open(const std::string& url,
                                                     const std::string& default_sqlite_path);
  explicit MetadataStore(std::unique_ptr<SqlConnection> db) : db_(std::move(db)) {}

  std::string Describe() const { return db_->Describe(); }
  Result<int64_t> SchemaVersion();

  // Tracking.
  Status CreateRun(const RunRecord& run);
  Status LogMetrics(const std::string& run_id, const std::map<std::string, double>& metrics);
  Status LogMetricHistory(const std::string& run_id, const std::string& name,
                          const std::vector<std::pair<int64_t, double>>& points);
  Status LogArtifacts(const std::string& run_id, const std::vector<ArtifactRecord>& artifacts);
  Status LogDatasets(const std::string& run_id, const std::vector<DatasetRecord>& datasets);
  /// Sets (or replaces) tags of a run, and removes `removed`; NotFound for an unknown run.
  Status SetTags(const std::string& run_id, const std::map<std::string, std::string>& tags,
                 const std::vector<std::string>& removed = {});
  Status EndRun(const std::string& run_id, RunStatus status, const std::string& error);
  /// By id or unique id prefix; with params, tags, metrics, artifacts and datasets.
  Result<RunRecord> GetRun(const std::string& id_or_prefix);
  /// Run summaries (no params/artifacts), with the metrics `filter.with_metrics` names.
  /// The runs `filter` selects, in its order, from `offset`, at most `limit`; with `total`,
  /// how many it selects in all.
  Result<std::vector<RunRecord>> ListRuns(const RunFilter& filter, size_t* total = nullptr);
  /// The tuning trials that `filter` would list but for its trials setting: what a listing
  /// that leaves them out says it left out.
  Result<size_t> CountTrials(RunFilter filter);
  /// Adds parameters to a run (values as JSON text). A parameter keeps its first value:
  /// logging it again with the same value is a no-op, with another a conflict naming both.
  Status LogParams(const std::string& run_id, const std::map<std::string, std::string>& params);
  /// The metrics of a run that have a per-step curve (MetricHistory), by name.
  Result<std::vector<std::string>> CurveNames(const std::string& run_id);
  Result<std::vector<std::pair<int64_t, double>>> MetricHistory(const std::string& run_id,
                                                                const std::string& name);
  /// Per pipeline and status: how many runs, and the latest one's times (for the server's
  /// pipeline gauges).
  Result<std::vector<RunStatusSummary>> RunSummary();
  /// How many of each experiment's runs are tuning trials (experiments with none left out).
  Result<std::map<std::string, int64_t>> TrialsByExperiment();
  /// Runs that ended before `utc` (UtcNow's form) and still record artifacts, with them.
  Result<std::vector<RunRecord>> RunsWithArtifactsEndedBefore(const std::string& utc);
  /// Forgets the artifacts of a run (their files are gone), audited as artifacts_deleted.
  Status DeleteArtifactRecords(const std::string& run_id, const std::string& actor,
                               const nlohmann::json& details);
  /// Points the run's artifacts at new URIs (name → uri), audited as artifacts_archived.
  Status MoveArtifactRecords(const std::string& run_id,
                             const std::map<std::string, std::string>& uris,
                             const std::string& actor, const nlohmann::json& details);

  // Registry. `actor` is who does it (user@host), recorded with the audit entry.
  Result<ModelVersion> CreateVersion(const NewVersion& version, const std::string& actor);
  /// `ref`: a version number, "latest", or "@alias".
  Result<ModelVersion> GetVersion(const std::string& model, const std::string& ref);
  /// Every version of `model` (empty: of every model), newest first.
  Result<std::vector<ModelVersion>> ListVersions(const std::string& model);
  Result<std::vector<std::string>> ListModels();
  /// approved or rejected, with why. Aliases are moved (`aliases`) only when approving. With
  /// `distinct_approver` (register.distinct_approver), the author of the version's run may not
  /// approve it (PermissionDenied, audited as approve_refused).
  Status SetApproval(const std::string& model, int64_t version, const std::string& approval,
                     const std::string& actor, const std::string& reason,
                     const std::vector<std::string>& aliases = {}, bool distinct_approver = false);
  /// Points `alias` at `version` (moving it atomically from another version).
  Status SetAlias(const std::string& model, const std::string& alias, int64_t version,
                  const std::string& actor);
  Status DeleteAlias(const std::string& model, const std::string& alias, const std::string& actor);
  /// Archives a version; its aliases are removed.
  Status Archive(const std::string& model, int64_t version, const std::string& actor,
                 const std::string& reason);
  /// Audit entries (empty model: all), oldest first.
  Result<std::vector<AuditEntry>> Audit(const std::string& model);

  // Lineage: the versions trained from data whose content hash, or raw file's SHA-256, is
  // `hash` or begins with it (at least 6 hex digits). The full hash matched is returned in
  // `matched`; an ambiguous prefix is an error listing the candidates.
  Result<std::vector<ModelVersion>> VersionsFromData(const std::string& hash,
                                                     std::string* matched = nullptr);

  SqlConnection& connection() { return *db_; }
  /// Runs `body` in one write transaction: committed when it returns OK, rolled back
  /// otherwise.
  Status InTransaction(const std::function<Status()>& body);
  /// Appends to the audit log; call inside the transaction of the change it records.
  Status AppendAudit(const std::string& actor, const std::string& action, const std::string& model,
                     int64_t version, const nlohmann::json& details);

 private:
  /// Sets (or replaces) the run's `tags`, inside the caller's transaction.
  Status WriteTags(const std::string& run_id, const std::map<std::string, std::string>& tags);
  Status Migrate();
  /// Inserts rows of `width` values into `table`; a row whose `key` exists updates `updated`.
  Status Upsert(const std::string& table, const std::string& key,
                const std::vector<std::string>& updated, size_t width,
                const std::vector<SqlValue>& values);
  Result<std::vector<ModelVersion>> QueryVersions(const std::string& where,
                                                  std::vector<SqlValue> params);
  Status MoveAlias(const std::string& model, const std::string& alias, int64_t version,
                   const std::string& actor);

  std::unique_ptr<SqlConnection> db_;
};

/// The current UTC time as ISO 8601 with milliseconds ("2026-11-23T10:00:00.123Z").
std::string UtcNow();
/// `time` as UtcNow writes it.
std::string FormatUtc(std::chrono::system_clock::time_point time);
/// Reads an ISO 8601 UTC time as UtcNow writes it (seconds, optional fraction, 'Z'), or a
/// date-time with an explicit +HH:MM offset; nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> ParseUtcTime(const std::string& text);
/// "user@host" of this process, for audit entries.
std::string CurrentActor();

}  // namespace fraudops
