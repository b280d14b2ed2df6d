#pragma once
/// The online feature store (docs/features.md, "Online store"): per feature group and
/// entity, one record with the entity's latest row and its window of recent events, so a
/// scorer reads everything a model needs about an entity in one lookup and computes the
/// aggregates at the request's moment with the code training used (aggregation.h).
///
/// Two kinds, behind one interface:
///   - embedded (the default): an append-only log file under the workspace
///     (<home>/online/features.log), replayed into memory on open; processes on one machine
///     share it — writers append under a file lock after catching up, readers pick up
///     appended records at most `refresh` later. Survives restarts; compacted on open when
///     mostly superseded records.
///   - Redis (features.online_url = redis://…): for replicas; reads are one MGET per
///     request, writes compare-and-set each record (a Lua script), retried on conflict.
///
/// Keys are "fraudops:features:<group>:<entity key>"; values OnlineRecord::Encode's bytes
/// (docs/formats/online-record.md).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "features/aggregation.h"
#include "features/event_time.h"
#include "features/feature_group.h"
#include "features/feature_table.h"
#include "model/policy.h"

namespace fraudops {

/// One entity's state in one group.
struct OnlineRecord {
  bool has_latest = false;
  EventTime event = 0, available = 0;  ///< of the latest row
  std::vector<PolicyInput> latest;     ///< per group column: number, category text, missing
  EntityWindow window;                 ///< recent events, for the group's aggregates

  std::string Encode() const;
  /// Refuses malformed bytes (`slots`: the group's AggregatePlan::slots()).
  static Result<OnlineRecord> Decode(std::string_view bytes, size_t slots);
};

/// The key of `entity` in `group` in the online store.
std::string OnlineKey(std::string_view group, std::string_view entity);

/// Folds rows of a group into online records, as they arrive.
class OnlineUpdater {
 public:
  static Result<OnlineUpdater> Create(const FeatureGroup& group);
  const FeatureGroup& group() const { return group_; }
  const AggregatePlan& plan() const { return plan_; }
  /// One row: its times and its column values in the group's column order (numbers already
  /// rounded to float32). The latest row is replaced when this one is newer (event time,
  /// then available time; a tie goes to the later arrival); the event joins the window, from
  /// which events older than the newest minus the longest window leave.
  void Apply(OnlineRecord& record, EventTime event, EventTime available,
             std::span<const PolicyValue> columns) const;

 private:
  FeatureGroup group_;
  AggregatePlan plan_;
};

/// Reads a model's features of one group from a record at a moment.
class GroupReader {
 public:
  /// `features`: names of the group's columns or aggregates.
  static Result<GroupReader> Create(const FeatureGroup& group,
                                    const std::vector<std::string>& features);
  const FeatureGroup& group() const { return group_; }
  size_t slots() const { return plan_.slots(); }
  /// out[i] for features[i]: a column's latest value when its event time is at or before `t`
  /// and within the TTL (else missing); an aggregate at `t`. A null record is an entity the
  /// store has never seen: missing columns, empty windows.
  void Read(const OnlineRecord* record, EventTime t, std::vector<PolicyValue>& out) const;

 private:
  FeatureGroup group_;
  AggregatePlan plan_;
  struct Output {
    bool aggregate = false;
    size_t index = 0;
  };
  std::vector<Output> outputs_;
};

class OnlineStore {
 public:
  virtual ~OnlineStore() = default;
  /// "embedded <path>" or "redis <url without password>".
  virtual std::string Describe() const = 0;
  /// The values at `keys` (nullopt where there is none), in one round trip.
  virtual Status Get(std::span<const std::string> keys,
                     std::vector<std::optional<std::string>>* values) = 0;
  /// Read-modify-write of each key, atomic per key against every other writer: `update`
  /// gets a key's index and current value and returns the new value.
  using Updater =
      std::function<Result<std::string>(size_t index, const std::optional<std::string>& current)>;
  virtual Status Update(std::span<const std::string> keys, const Updater& update) = 0;
  /// Overwrites each key.
  virtual Status Put(std::span<const std::pair<std::string, std::string>> entries) = 0;
};

struct OnlineStoreOptions {
  std::string url;                         ///< features.online_url: "" embedded, or redis://…
  std::string embedded_path;               ///< the embedded store's log file
  std::chrono::milliseconds refresh{250};  ///< embedded: how stale a reader may be
  int timeout_ms = 500;                    ///< Redis command timeout
  bool connect_now = true;                 ///< Redis: fail now when it cannot be reached
};

/// The options `config` names (features.online_url; the embedded store under
/// <home>/online/features.log).
struct Config;
OnlineStoreOptions OnlineStoreOptionsFrom(const Config& config);
Result<std::unique_ptr<OnlineStore>> OpenOnlineStore(const OnlineStoreOptions& options);

/// What materialization wrote.
struct MaterializeResult {
  std::string group;
  size_t entities = 0;
  size_t events = 0;  ///< window events written
  EventTime newest = 0;
};
/// Writes `group`'s online records from its offline rows `table`: per entity the latest
/// row available by `now` and the events of its last longest-window, replacing what the
/// store held. Also records the group's freshness (FreshnessKey).
Result<MaterializeResult> Materialize(OnlineStore& store, const FeatureGroup& group,
                                      const FeatureTable& table, EventTime now);

/// The key holding a group's freshness: "<newest event time µs> <written at µs>".
std::string FreshnessKey(std::string_view group);
/// Records that `group` now holds values up to event time `newest` (kept when older).
Status RecordFreshness(OnlineStore& store, std::string_view group, EventTime newest);

}  // namespace fraudops
