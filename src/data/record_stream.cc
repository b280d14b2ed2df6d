#include "data/record_stream.h"

#include <cerrno>
#include <cstring>

namespace fraudops {

namespace {
constexpr size_t kReadBytes = 1 << 22;  // 4 MiB per read
}

std::string_view RecordChunk::record(size_t i) const {
  std::string_view r(text.data() + begin[i], end[i] - begin[i]);
  if (!r.empty() && r.back() == '\r') r.remove_suffix(1);
  return r;
}

Result<std::unique_ptr<RecordReader>> RecordReader::Open(const std::string& path, bool quoted) {
  std::FILE* file = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (file == nullptr) return Status::IoError(path + ": " + std::strerror(errno));
  return std::unique_ptr<RecordReader>(new RecordReader(file, path, quoted));
}

Result<std::unique_ptr<RecordReader>> RecordReader::FromMemory(std::string_view text, bool quoted,
                                                               std::string name) {
  static char empty[1] = {0};
  // fmemopen only reads the buffer ("r"); an empty text reads from a 0-byte view of `empty`.
  std::FILE* file = text.empty() ? fmemopen(empty, 1, "r")
                                 : fmemopen(const_cast<char*>(text.data()), text.size(), "r");
  if (file == nullptr) return Status::IoError(name + ": " + std::strerror(errno));
  if (text.empty()) (void)std::fgetc(file);  // consume the single byte: the stream is at its end
  return std::unique_ptr<RecordReader>(new RecordReader(file, std::move(name), quoted));
}

RecordReader::~RecordReader() {
  if (file_ != nullptr && file_ != stdin) std::fclose(file_);
}

bool RecordReader::Fill() {
  if (eof_) return false;
  if (!block_) block_ = std::make_unique_for_overwrite<char[]>(kReadBytes);
  const size_t got = std::fread(block_.get(), 1, kReadBytes, file_);
  buffer_.append(block_.get(), got);
  if (got == 0) eof_ = true;
  if (first_ && buffer_.size() >= 3 && buffer_.compare(0, 3, "\xEF\xBB\xBF") == 0)
    buffer_.erase(0, 3);  // BOM
  first_ = false;
  return got > 0;
}

Result<bool> RecordReader::Next(RecordChunk& chunk, size_t max_records) {
  chunk.begin.clear();
  chunk.end.clear();
  chunk.line.clear();
  // Records are found in buffer_ with memchr (newlines, and quotes in CSV, are rare bytes),
  // then the whole run of records is copied to the chunk at once.
  size_t record_start = 0, position = 0;
  bool in_quotes = false;
  size_t lines_in_record = 0;
  auto add = [&](size_t begin, size_t end) {
    const std::string_view record(buffer_.data() + begin, end - begin);
    if (record.find_first_not_of(" \t\r") != std::string_view::npos) {  // skip blank lines
      chunk.begin.push_back(begin);
      chunk.end.push_back(end);
      chunk.line.push_back(line_);
    }
  };
  // Flips `in_quotes` once per quote in buffer_[from, to) (CSV only).
  auto count_quotes = [&](size_t from, size_t to) {
    if (!quoted_) return;
    const char* data = buffer_.data();
    for (const char* q = data + from; q < data + to; ++q) {
      q = static_cast<const char*>(std::memchr(q, '"', static_cast<size_t>(data + to - q)));
      if (q == nullptr) break;
      in_quotes = !in_quotes;
    }
  };
  while (chunk.line.size() < max_records) {
    const char* data = buffer_.data();
    const void* found = position < buffer_.size()
                            ? std::memchr(data + position, '\n', buffer_.size() - position)
                            : nullptr;
    if (found == nullptr) {
      count_quotes(position, buffer_.size());
      position = buffer_.size();
      if (Fill()) continue;
      if (record_start < buffer_.size()) {  // the last record may lack its line end
        if (in_quotes) {
          return Status::DataError(path_ + ":" + std::to_string(line_) +
                                   ": a quoted field is not closed before the end of the file");
        }
        add(record_start, buffer_.size());
        record_start = buffer_.size();
      }
      break;
    }
    const size_t newline = static_cast<size_t>(static_cast<const char*>(found) - data);
    count_quotes(position, newline);  // a newline inside quotes continues the record
    position = newline + 1;
    ++lines_in_record;
    if (in_quotes) continue;
    add(record_start, newline);
    line_ += lines_in_record;
    lines_in_record = 0;
    record_start = position;
  }
  // Hand the records over in one copy; keep the unreturned rest for the next call.
  chunk.text.assign(buffer_, 0, record_start);
  buffer_.erase(0, record_start);
  return !chunk.line.empty();
}

void SplitCsvRecord(std::string_view record, char delimiter,
                    std::vector<std::string_view>& fields) {
  fields.clear();
  size_t start = 0;
  bool in_quotes = false;
  for (size_t i = 0; i < record.size(); ++i) {
    const char c = record[i];
    if (c == '"') {
      in_quotes = !in_quotes;
    } else if (c == delimiter && !in_quotes) {
      fields.push_back(record.substr(start, i - start));
      start = i + 1;
    }
  }
  fields.push_back(record.substr(start));
}

std::string_view UnquoteCsvField(std::string_view field, std::string& scratch) {
  if (field.size() < 2 || field.front() != '"' || field.back() != '"') return field;
  std::string_view inner = field.substr(1, field.size() - 2);
  if (inner.find('"') == std::string_view::npos) return inner;
  scratch.clear();
  for (size_t i = 0; i < inner.size(); ++i) {
    scratch += inner[i];
    if (inner[i] == '"' && i + 1 < inner.size() && inner[i + 1] == '"') ++i;
  }
  return scratch;
}

char DetectCsvDelimiter(std::string_view header) {
  const char candidates[] = {',', ';', '\t', '|'};
  size_t counts[4] = {0, 0, 0, 0};
  bool in_quotes = false;
  for (char c : header) {
    if (c == '"') in_quotes = !in_quotes;
    if (in_quotes) continue;
    for (size_t k = 0; k < 4; ++k) counts[k] += c == candidates[k];
  }
  size_t best = 0;
  for (size_t k = 1; k < 4; ++k) {
    if (counts[k] > counts[best]) best = k;
  }
  return counts[best] == 0 ? ',' : candidates[best];
}

}  // namespace fraudops
