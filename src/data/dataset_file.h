#pragma once
/// The binary dataset file (.fds) for processed splits: a fixed preamble, a JSON header
/// (schema, row count, layout, SHA-256 of the payload), then the label and each feature
/// column as little-endian float32 arrays, each starting on a 64-byte boundary so a reader
/// can mmap the file and use the columns in place. Spec: docs/formats/dataset-file.md.

#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"

namespace fraudops {

inline constexpr int kDatasetFileVersion = 1;

struct DatasetFileInfo {
  int version = 0;
  size_t rows = 0;
  std::string payload_sha256;
  std::string content_hash;
};

/// Writes atomically (temp file, then rename). Returns the payload's SHA-256 and the
/// dataset's content hash (as Dataset::ContentHash()), computed while writing.
Result<DatasetFileInfo> WriteDatasetFile(const Dataset& dataset, const std::string& path);

/// Hands block `index` (0: the label, then each feature column) to `sink` in pieces.
using BlockReader =
    std::function<Status(size_t index, const std::function<void(std::string_view)>& sink)>;

/// The streaming writer behind WriteDatasetFile: `schema` is Dataset::SchemaJson() of the data
/// (with "rows"), and the blocks are read twice — once for the checksums the header carries,
/// once to write — so no block needs to be in memory. Atomic like every writer.
Result<DatasetFileInfo> WriteDatasetFileFromBlocks(const nlohmann::json& schema, size_t blocks,
                                                   const BlockReader& read_block,
                                                   const std::string& path);

/// Columns streamed to files in a scratch directory as they are read, then written as one
/// dataset file: imports larger than memory (SQL tables, CSV files). Block 0 is the label.
class ColumnSpill {
 public:
  /// Creates `dir` (removed again with this object) with one file per block.
  static Result<std::unique_ptr<ColumnSpill>> Create(const std::string& dir, size_t blocks);
  ~ColumnSpill();
  ColumnSpill(const ColumnSpill&) = delete;
  ColumnSpill& operator=(const ColumnSpill&) = delete;

  Status Append(size_t block, std::span<const float> values);
  /// Writes blocks `kept` (the label's first) as the dataset file `path` with `schema`
  /// (Dataset::SchemaJson() with "rows"). With `label_map`, the label block holds codes and
  /// is written as label_map[code].
  Result<DatasetFileInfo> Write(const nlohmann::json& schema, const std::vector<size_t>& kept,
                                const std::string& path, const std::vector<float>& label_map = {});

 private:
  ColumnSpill() = default;
  std::string dir_;
  std::vector<std::unique_ptr<FILE, int (*)(FILE*)>> files_;
  std::vector<std::string> paths_;
  std::vector<size_t> unsynced_;  ///< bytes appended to each block since its last WriteBack
};

/// Reads and verifies (version, layout, checksum) a dataset file.
Result<Dataset> ReadDatasetFile(const std::string& path, DatasetFileInfo* info = nullptr);

/// A dataset file opened to be read in pieces, for data larger than memory (external-memory
/// training, docs/external-memory.md): the header is parsed and the layout checked at Open;
/// values are read with pread, so what was read stays in the page cache (which the kernel
/// reclaims), not in this process. Safe to read from several threads.
class DatasetFileReader {
 public:
  /// Parses the header and checks that the file's size matches its layout.
  static Result<std::unique_ptr<DatasetFileReader>> Open(const std::string& path);
  ~DatasetFileReader();
  DatasetFileReader(const DatasetFileReader&) = delete;
  DatasetFileReader& operator=(const DatasetFileReader&) = delete;

  const std::string& path() const { return path_; }
  size_t rows() const { return info_.rows; }
  /// version, rows, and the payload's SHA-256 and content hash as the header records them.
  const DatasetFileInfo& info() const { return info_; }
  /// The features and label names and values, with no rows.
  const Dataset& schema() const { return schema_; }
  /// Block `index`'s values (0: the label, then each feature) of rows [begin, begin + out.size()).
  Status Read(size_t index, size_t begin, std::span<float> out) const;
  /// Reads the whole payload once, in pieces, and checks its SHA-256 against the header.
  Status Verify() const;

 private:
  DatasetFileReader() = default;
  std::string path_;
  int fd_ = -1;
  DatasetFileInfo info_;
  Dataset schema_;
  size_t payload_offset_ = 0, stride_ = 0;
};

/// Rows [begin, end) of `reader`'s file (a worker's slice). Not checked against the file's
/// checksum, which covers the whole payload.
Result<Dataset> ReadDatasetFileRows(const DatasetFileReader& reader, size_t begin, size_t end);

/// A dataset file as training reads it in pieces: some of its feature columns (those left
/// after preprocess.drop_columns), categorical codes re-coded into another file's
/// dictionaries (a validation file read with the training file's, as AlignCategories does in
/// memory).
class DatasetFileView {
 public:
  /// All of `reader`'s features except `drop` (each must exist, as DropColumns says).
  static Result<DatasetFileView> Make(const DatasetFileReader& reader,
                                      const std::vector<std::string>& drop);
  /// Codes this view's categorical columns as `reference` does; `reference` must have the
  /// same feature names in order. A category `reference` lacks becomes missing.
  Status AlignTo(const DatasetFileView& reference);

  const DatasetFileReader& reader() const { return *reader_; }
  size_t rows() const { return reader_->rows(); }
  /// The features read (names, types, categories) and the label; no rows.
  const Dataset& schema() const { return schema_; }
  /// Feature `feature` (of schema()) for rows [begin, begin + out.size()).
  Status ReadFeature(size_t feature, size_t begin, std::span<float> out) const;
  Status ReadLabels(size_t begin, std::span<float> out) const {
    return reader_->Read(0, begin, out);
  }
  /// Rows labelled 1 (above 0.5), read in pieces.
  Result<size_t> CountPositives() const;
  /// schema() with every row's label read: a dataset with no feature values (4 bytes a row).
  Result<Dataset> SchemaWithLabels() const;

 private:
  const DatasetFileReader* reader_ = nullptr;
  Dataset schema_;
  std::vector<size_t> columns_;             ///< per feature: the file's feature index
  std::vector<std::vector<float>> recode_;  ///< per feature: file code -> code; empty: as is
};

}  // namespace fraudops
