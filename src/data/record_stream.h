#pragma once
/// Streaming readers for delimited text (CSV) and JSON Lines: a file is read in chunks of
/// whole records, so memory stays bounded whatever the file's size, and the records of a
/// chunk can be parsed in parallel. Used by batch scoring; quoted fields (RFC 4180, with
/// "" escapes and newlines inside quotes) are handled.

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fraudops {

/// Records of one chunk: `text` holds them; record i is text[begin[i], end[i]) without its
/// line end, and starts on line `line[i]` of the file (1-based).
struct RecordChunk {
  std::string text;
  std::vector<size_t> begin, end;
  std::vector<size_t> line;
  size_t size() const { return line.size(); }
  std::string_view record(size_t i) const;
};

class RecordReader {
 public:
  /// Opens `path` ("-" reads standard input). `quoted`: newlines inside double quotes do not
  /// end a record (CSV); JSON Lines records end at every newline.
  static Result<std::unique_ptr<RecordReader>> Open(const std::string& path, bool quoted);
  /// Reads records from `text` (which must outlive the reader), e.g. a request body; `name`
  /// is used in messages.
  static Result<std::unique_ptr<RecordReader>> FromMemory(std::string_view text, bool quoted,
                                                          std::string name);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  /// Reads up to `max_records` non-empty records into `chunk`; false when the file is done.
  Result<bool> Next(RecordChunk& chunk, size_t max_records);
  const std::string& path() const { return path_; }

 private:
  RecordReader(std::FILE* file, std::string path, bool quoted)
      : file_(file), path_(std::move(path)), quoted_(quoted) {}
  bool Fill();

  std::FILE* file_;
  std::string path_;
  bool quoted_;
  std::string buffer_;             ///< bytes read but not yet returned
  std::unique_ptr<char[]> block_;  ///< what one read fills
  size_t line_ = 1;
  bool eof_ = false, first_ = true;
};

/// Splits one CSV record into fields (views into `record`, quotes kept as written).
void SplitCsvRecord(std::string_view record, char delimiter, std::vector<std::string_view>& fields);
/// A field's text without its quotes and with "" unescaped (`scratch` holds it when needed).
std::string_view UnquoteCsvField(std::string_view field, std::string& scratch);
/// The delimiter of a header line: the most frequent of , ; tab | outside quotes (',' if none);
/// the CSV reader and the streaming reader both decide with it.
char DetectCsvDelimiter(std::string_view header);

}  // namespace fraudops
