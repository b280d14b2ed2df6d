#pragma once
/// Streams (docs/streaming.md): Redis Streams consumers that keep the feature store current
/// from events (`fraudops stream ingest`) and score transactions as they arrive (`fraudops
/// stream score`). Each consumer reads its stream in a consumer group, so several share the
/// work and a crashed one's entries are taken over (XAUTOCLAIM after `claim_idle`); an entry
/// is acknowledged only once its effect is written. Scoring is at-least-once on input and
/// exactly-once on output by transaction id: an output is written together with a marker of
/// its id, in one Lua script, so a redelivered transaction is not written twice. An entry that
/// fails `max_deliveries` times is moved, with its last error, to a dead-letter stream.
///
/// An entry holds the event as JSON in its field `data` (the same object a predict request
/// sends for one transaction).

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/logging.h"
#include "core/redis.h"
#include "core/status.h"
#include "features/enricher.h"
#include "features/feature_store.h"
#include "features/online_store.h"
#include "model/bundle.h"

namespace fraudops {

struct StreamOptions {
  std::string input;        ///< the stream read
  std::string group;        ///< its consumer group
  std::string consumer;     ///< this consumer's name (host:pid by default)
  std::string dead_letter;  ///< where entries go after max_deliveries failures
  size_t batch = 500;
  std::chrono::milliseconds block{1000};
  std::chrono::milliseconds claim_idle{30000};
  int64_t max_deliveries = 5;
  Logger* logger = nullptr;
};

/// What a consumer has done, for /metrics.
struct StreamCounters {
  std::atomic<uint64_t> processed{0};   ///< entries whose effect was written, then acknowledged
  std::atomic<uint64_t> duplicates{0};  ///< redelivered transactions already written (skipped)
  std::atomic<uint64_t> failures{0};    ///< failed attempts (left pending for a retry)
  std::atomic<uint64_t> dead_lettered{0};
  std::atomic<uint64_t> reclaimed{0};  ///< entries taken over from other consumers
};

/// One entry read from a stream.
struct StreamEntry {
  std::string id;
  std::string data;  ///< the `data` field ("" when absent)
  int64_t deliveries = 1;
};

/// What a consumer does with a batch: for each entry, Ok (its effect written: acknowledge)
/// or the error that keeps it pending.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  virtual std::vector<Status> Handle(const std::vector<StreamEntry>& entries) = 0;
};

/// The consumer loop shared by ingest and score.
class StreamConsumer {
 public:
  StreamConsumer(RedisClient& redis, StreamOptions options, StreamHandler& handler,
                 StreamCounters& counters)
      : redis_(redis), options_(std::move(options)), handler_(handler), counters_(counters) {}
  /// Creates the group when new (reading the stream from its start).
  Status Prepare();
  /// One round: entries of dead consumers taken over, else new ones (waiting up to `block`);
  /// handled, acknowledged or recorded as failed; those past max_deliveries dead-lettered.
  /// Returns how many entries it saw.
  Result<size_t> Poll();
  /// Polls until `stop` is set (checked between rounds).
  Status Run(const std::atomic<bool>& stop);
  /// The group's lag (entries not yet delivered) and pending entries, and the dead-letter
  /// stream's length (XINFO GROUPS, XLEN).
  Result<std::array<int64_t, 3>> Lag();

 private:
  Status Process(std::vector<StreamEntry> entries);
  RedisClient& redis_;
  StreamOptions options_;
  StreamHandler& handler_;
  StreamCounters& counters_;
  std::string claim_cursor_ = "0-0";
};

/// Scores transactions with an endpoint's production model (and its decision policy),
/// enriched from the online store, and writes each result to the output stream.
class ScoreHandler final : public StreamHandler {
 public:
  /// `bundle` is the model; `model_ref` names it in outputs. `output` and `id_field` (the
  /// event field that identifies a transaction; empty: the entry id) as in stream.output and
  /// stream.id_field; `dedup_ttl` how long an id is remembered.
  ScoreHandler(RedisClient& redis, ModelBundle bundle, std::string model_ref, OnlineStore* online,
               std::string output, std::string id_field, std::chrono::seconds dedup_ttl,
               StreamCounters& counters);
  Status Init();
  std::vector<Status> Handle(const std::vector<StreamEntry>& entries) override;

 private:
  RedisClient& redis_;
  ModelBundle bundle_;
  std::string model_ref_;
  OnlineStore* online_;
  std::string output_, id_field_;
  std::chrono::seconds dedup_ttl_;
  StreamCounters& counters_;
  std::unique_ptr<FeatureEncoder> encoder_;
  std::unique_ptr<FeatureEnricher> enricher_;
  std::vector<std::string> fields_;  ///< policy fields, then the enricher's
  std::vector<int> enricher_slots_;
};

/// Keeps feature groups current from events: each event updates its entities' online records
/// (latest row, window) and is appended to the offline store, a segment per `segment_rows`
/// events (and at Flush).
class IngestHandler final : public StreamHandler {
 public:
  IngestHandler(std::vector<FeatureGroup> groups, OnlineStore& online, FeatureRegistry* offline,
                size_t segment_rows);
  Status Init();
  std::vector<Status> Handle(const std::vector<StreamEntry>& entries) override;
  /// Writes the rows not yet in a segment.
  Status Flush();

 private:
  struct Group {
    FeatureGroup definition;
    OnlineUpdater updater;
    FeatureTable pending;                                 ///< rows for the next segment
    std::unordered_map<std::string, uint32_t> key_codes;  ///< into pending.keys
  };
  std::vector<Group> groups_;
  OnlineStore& online_;
  FeatureRegistry* offline_;
  size_t segment_rows_;
};

}  // namespace fraudops
