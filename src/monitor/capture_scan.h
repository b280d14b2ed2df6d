#pragma once
/// Reads an endpoint's capture files (docs/formats/capture.md) in one streaming pass: each
/// file that can hold rows of the window — closed ones (*.jsonl) and the ones being written
/// (*.jsonl.partial, up to their last complete line) — is read in chunks of
/// `chunk_bytes`, each line parsed with simdjson On-Demand, its features counted into the
/// baseline's bins (drift) and, for rows in the quality window, its score and decision
/// joined with the delayed labels by request id. Files, in pieces of `range_bytes`, are
/// shared among the pool's threads,
/// each with its own parser, buffer and counts, merged at the end — so memory is bounded by
/// threads × chunk_bytes plus the labels, whatever the window holds.
///
/// Times are compared as text: capture writes UtcNow's fixed form
/// ("2026-11-23T10:00:00.123Z"), which sorts as time does.

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "monitor/drift.h"

namespace fraudops {

/// [from, to) as UtcNow text; empty `to` means no end.
struct TimeWindow {
  std::string from, to;
  bool Contains(std::string_view time) const { return time >= from && (to.empty() || time < to); }
  bool empty() const { return from.empty() && to.empty(); }
};

struct DelayedLabel {
  float label = 0;
  std::string label_time;
};
/// request id -> label. Transparent lookup, so a request id read from a capture line is
/// looked up without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>()(text); }
};
using LabelMap = std::unordered_map<std::string, DelayedLabel, StringHash, std::equal_to<>>;

struct ScanOptions {
  std::string directory;  ///< <home>/capture/<endpoint>
  TimeWindow drift_window;
  TimeWindow quality_window;  ///< empty: no quality join
  /// Only rows answered by this model version count ("" / 0: any).
  std::string model;
  int64_t version = 0;
  /// Required for drift; null: no drift counts (features are not read), only the quality
  /// window (which must then be set).
  const DriftBaseline* baseline = nullptr;
  const LabelMap* labels = nullptr;  ///< for the quality join; may be null
  /// Quality-window rows without a label join as negatives (no chargeback by maturity
  /// means legitimate); otherwise they are left out.
  bool unlabeled_as_negative = false;
  /// Also group the quality window's rows by the variant that answered (A/B reports).
  bool by_variant = false;
  ThreadPool* pool = nullptr;  ///< null: this thread
  size_t chunk_bytes = 8 << 20;
  /// Files are read in pieces of this many bytes (a line belongs to the piece its first byte
  /// is in), so one large file is shared among the threads too.
  uint64_t range_bytes = 32 << 20;
};

/// A captured prediction in the quality window that has a label.
struct JoinedPrediction {
  float score = 0;
  float label = 0;
  uint8_t decision = 0;  ///< the label the endpoint answered (score >= threshold)
};

/// The quality window's rows one variant answered (ScanOptions::by_variant).
struct VariantRows {
  uint64_t rows = 0, alerts = 0;
  std::vector<float> scores;      ///< every row's
  std::vector<float> latency_us;  ///< every row's request time in the server
  std::vector<JoinedPrediction> joined;
};

struct ScanResult {
  DriftCounts counts;               ///< rows of the drift window
  uint64_t files = 0, lines = 0;    ///< read
  uint64_t other_version_rows = 0;  ///< in a window but answered by another version
  uint64_t malformed_lines = 0;
  std::string first_malformed;                               ///< "file:line: why"
  uint64_t quality_rows = 0;                                 ///< predictions in the quality window
  uint64_t quality_alerts = 0;                               ///< … of them answered positive
  std::vector<JoinedPrediction> joined;                      ///< … of them with a label
  std::map<std::string, VariantRows, std::less<>> variants;  ///< by_variant: by variant name
};

/// NotFound when the directory does not exist; a file that cannot be read is an error.
Result<ScanResult> ScanCapture(const ScanOptions& options);

}  // namespace fraudops
