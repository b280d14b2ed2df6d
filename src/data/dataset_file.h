#pragma once
/// The binary dataset file (.fds) for processed splits: a fixed preamble, a JSON header
/// (schema, row count, layout, SHA-256 of the payload), then the label and each feature
/// column as little-endian float32 arrays, each starting on a 64-byte boundary so a reader
/// can mmap the file and use the columns in place. Spec: docs/formats/dataset-file.md.

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

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

/// Reads and verifies (version, layout, checksum) a dataset file.
Result<Dataset> ReadDatasetFile(const std::string& path, DatasetFileInfo* info = nullptr);

}  // namespace fraudops
