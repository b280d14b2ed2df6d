#pragma once
/// The CSV reader: header-driven, typed columns, multi-threaded. Accepts quoted fields
/// (numbers too), scientific notation, CRLF, a UTF-8 byte-order mark, and a delimiter
/// auto-detected among , ; tab | (or configured). A column is numeric when every non-missing
/// value in its first rows is a number, otherwise categorical (dictionary-encoded);
/// TableOptions can force categorical. Fields that span lines (a newline inside quotes) are
/// not supported and are reported. Errors name the file, line and column.

#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"
#include "data/dataset.h"
#include "data/dataset_file.h"
#include "data/table.h"

namespace fraudops {

class ThreadPool;

struct CsvOptions {
  TableOptions table;
  char delimiter = 0;  ///< 0: detect from the header among , ; \t |
  /// Rows read to decide whether a column is numeric or categorical.
  size_t type_inference_rows = 1000;
};

/// Parses CSV text; `source` names it in error messages (usually the path).
Result<Dataset> ParseCsv(std::string_view text, const std::string& source,
                         const CsvOptions& options, ThreadPool* pool);

/// Reads the CSV file at `path` (memory-mapped).
Result<Dataset> ReadCsvFile(const std::string& path, const CsvOptions& options, ThreadPool* pool);

/// Part `part` of `parts` of the CSV file at `path`, for sharded reading: the rows whose line
/// starts in bytes [size·part/parts, size·(part+1)/parts) of the file (so the parts split at
/// line ends and together hold every row once), typed from the file's first rows as ReadCsvFile
/// types them. Categories are coded in first-seen order within the part (data/parts.h merges
/// the parts' dictionaries); errors name the line in the file. `range` receives the part's
/// bytes [begin, end); a part may hold no rows. The part is parsed `window_bytes` at a time,
/// each window's pages released once parsed: memory holds the values, not the text.
inline constexpr size_t kImportWindowBytes = 64 << 20;
Result<Dataset> ReadCsvFilePart(const std::string& path, const CsvOptions& options,
                                ThreadPool* pool, int part, int parts,
                                std::pair<size_t, size_t>* range,
                                size_t window_bytes = kImportWindowBytes);

/// Streams the CSV file at `path` into the dataset file `output` kImportWindowBytes of text at
/// a time: files larger than memory. Gives the file ReadCsvFile's dataset would (same content
/// hash).
Result<DatasetFileInfo> ImportCsvFile(const std::string& path, const CsvOptions& options,
                                      ThreadPool* pool, const std::string& output);
/// The same from text in memory, `window_bytes` at a time (tests, fuzzing); `source` names
/// it in errors.
Result<DatasetFileInfo> ImportCsvText(std::string_view text, const std::string& source,
                                      const CsvOptions& options, ThreadPool* pool,
                                      const std::string& output,
                                      size_t window_bytes = kImportWindowBytes);

/// Parses "auto", ",", ";", "|", "\t", "\\t" or "tab" into the delimiter (0 for auto).
Result<char> ParseDelimiterSetting(std::string_view setting);

}  // namespace fraudops
