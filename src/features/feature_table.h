#pragma once
/// A feature group's rows in memory (one ingestion, or all of them), and the segment file that
/// keeps one ingestion in the offline store (docs/formats/feature-segment.md):
///
///     "FOPSFSEG"  u32 version (1)  u32 header length  JSON header  payload
///
/// The header names the group, the row and key counts, the columns (name, type, categories)
/// and the payload's SHA-256; the payload holds, little-endian: the distinct entity keys
/// (u64 offsets, keys+1 of them, then the UTF-8 bytes), a u32 key code per row, the event,
/// available and ingestion times (i64 microseconds) per row, then each column's float32
/// values (a categorical column: the category's index in the header, NaN when missing).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"
#include "features/event_time.h"
#include "features/feature_group.h"
#include "model/policy.h"

namespace fraudops {

inline constexpr uint32_t kFeatureSegmentVersion = 1;

struct FeatureTable {
  std::string group;
  std::vector<std::string> keys;  ///< distinct entity keys (parts joined by JoinEntityKey)
  std::vector<uint32_t> key;      ///< per row: its index in `keys`
  /// Per row: when the value became true; when it became known (the created-time column,
  /// else the ingestion time); when it was ingested.
  std::vector<EventTime> event, available, ingested;
  std::vector<ColumnSchema> columns;  ///< numeric, or categorical with categories
  std::vector<std::vector<float>> values;

  size_t rows() const { return key.size(); }
  int ColumnIndex(std::string_view name) const;
  /// Appends `other`'s rows: keys and categories are re-coded into this table's
  /// dictionaries; a column `other` lacks is missing in its rows, a column this table lacks
  /// is added (missing in the earlier rows). A column's type must agree.
  Status Append(const FeatureTable& other);
};

/// A stored row as the values of a group's columns, in the group's order: numbers, category
/// texts (views into the table), missing (also for a column the table never had) — what
/// aggregates and online records take.
class GroupRowReader {
 public:
  GroupRowReader(const FeatureGroup& group, const FeatureTable& table);
  /// `out` must hold one value per group column.
  void Read(uint32_t row, std::vector<PolicyValue>& out) const;

 private:
  const FeatureGroup& group_;
  const FeatureTable& table_;
  std::vector<int> table_column_;  ///< per group column: the table's, or -1
};

/// The rows of `group` from data read by a data source: the entity key and time columns must
/// have been read as categories (their exact text; FeatureReadColumns), each declared column
/// must be there with its declared type. Every row gets `ingested`; `available` is the
/// created-time column's, else `ingested`. Errors name `source`, the column and the value.
Result<FeatureTable> FeatureTableFromDataset(const FeatureGroup& group, const Dataset& data,
                                             EventTime ingested, const std::string& source);

/// The columns a source must read as text for FeatureTableFromDataset (keys and times).
std::vector<std::string> FeatureTextColumns(const FeatureGroup& group);

/// The times of a dataset column: read as text (each distinct text parsed once), or numbers
/// of seconds from a source that types its own columns (the synthetic data, dataset files),
/// refused past 2^24 s where float32 loses the second. A missing time is an error naming
/// the row.
Result<std::vector<EventTime>> ColumnTimes(const Dataset& data, size_t column,
                                           const std::string& source);
/// A key cell's text: a category's, or a number's as a CSV would write it ("" when missing).
std::string_view KeyCellText(const Dataset& data, size_t column, size_t row, std::string& scratch);

/// The segment file's bytes; and its reader, which checks everything (version, sizes,
/// codes, checksum) before trusting it. `source` names it in errors. `verify_checksum`
/// false is for the fuzzer, which must reach the structure checks behind the checksum.
std::string EncodeFeatureSegment(const FeatureTable& table);
Result<FeatureTable> DecodeFeatureSegment(std::string_view bytes, const std::string& source,
                                          bool verify_checksum = true);

}  // namespace fraudops
