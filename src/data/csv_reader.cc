#include "data/csv_reader.h"

#include <fast_float/fast_float.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>

#include "core/numbers.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "data/record_stream.h"

namespace fraudops {

namespace {

constexpr const char* kNotUtf8 =
    "the text is not valid UTF-8; fraudops reads UTF-8 CSV files (convert one in another "
    "encoding first, e.g. iconv -f latin1 -t utf-8 in.csv > out.csv)";

/// Reads the field at `cursor` — quoted (may hold the delimiter and doubled quotes) or not —
/// into `cell`, and moves `cursor` past its delimiter; sets `exhausted` when it was the last
/// field of the line [cursor, end). Unescaped text of a quoted field with doubled quotes is
/// appended to `scratch` and `cell` points into it: the caller keeps `scratch` from
/// reallocating while it holds such views. Returns false with `error` on a malformed quote.
bool ReadField(const char*& cursor, const char* end, char delimiter, std::string& scratch,
               std::string_view* cell, bool* exhausted, std::string* error) {
  if (cursor < end && *cursor == '"') {
    const char* start = ++cursor;
    bool escaped = false;
    const char* quote;
    while (true) {
      quote = static_cast<const char*>(
          std::memchr(cursor, '"', cursor < end ? static_cast<size_t>(end - cursor) : 0));
      if (quote == nullptr) {
        *error = "unterminated quoted field (a field that spans lines is not supported)";
        return false;
      }
      if (quote + 1 < end && quote[1] == '"') {
        escaped = true;
        cursor = quote + 2;
        continue;
      }
      break;
    }
    std::string_view raw(start, static_cast<size_t>(quote - start));
    if (escaped) {
      size_t offset = scratch.size();
      for (size_t i = 0; i < raw.size(); ++i) {
        scratch += raw[i];
        if (raw[i] == '"') ++i;
      }
      raw = std::string_view(scratch).substr(offset);
    }
    *cell = raw;
    cursor = quote + 1;
    if (cursor < end && *cursor != delimiter) {
      *error = "unexpected text after a closing quote";
      return false;
    }
    *exhausted = cursor == end;
    if (cursor < end) ++cursor;
    return true;
  }
  const size_t remaining = cursor < end ? static_cast<size_t>(end - cursor) : 0;
  const char* next = static_cast<const char*>(std::memchr(cursor, delimiter, remaining));
  *cell = std::string_view(cursor, static_cast<size_t>((next ? next : end) - cursor));
  *exhausted = next == nullptr;
  cursor = next ? next + 1 : end;
  return true;
}

/// Splits one whole line (without its line break) into fields, for the header, type
/// inference and error messages; the hot loop reads fields one at a time instead.
class FieldSplitter {
 public:
  explicit FieldSplitter(char delimiter) : delimiter_(delimiter) {}

  bool Split(std::string_view line, std::vector<std::string_view>& fields, std::string& error) {
    fields.clear();
    scratch_.clear();
    scratch_.reserve(line.size());  // never reallocates, so views into it stay valid
    const char* cursor = line.data();
    const char* end = cursor + line.size();
    bool exhausted = false;
    while (!exhausted) {
      std::string_view cell;
      if (!ReadField(cursor, end, delimiter_, scratch_, &cell, &exhausted, &error)) return false;
      fields.push_back(cell);
    }
    return true;
  }

 private:
  char delimiter_;
  std::string scratch_;
};

/// The next line in [p, end): its text without CR/LF, and where the one after starts.
inline std::string_view NextLine(const char* p, const char* end, const char** next) {
  const char* newline =
      static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
  const char* line_end = newline ? newline : end;
  *next = newline ? newline + 1 : end;
  if (line_end > p && line_end[-1] == '\r') --line_end;
  return {p, static_cast<size_t>(line_end - p)};
}

inline bool ParseNumber(std::string_view cell, double* value) {
  auto result = fast_float::from_chars(cell.data(), cell.data() + cell.size(), *value);
  return result.ec == std::errc() && result.ptr == cell.data() + cell.size();
}

/// A numeric cell that fast_float rejected: missing marker, padded, or '+'-signed.
inline bool ParseNumberSlow(std::string_view cell, const std::vector<std::string>& missing,
                            float* out) {
  double value = 0;
  if (!ParseNumericCell(cell, missing, &value)) return false;
  *out = static_cast<float>(value);
  return true;
}

struct ColumnPlan {
  bool categorical = false;
};

/// What one thread parsed from its slice of lines.
struct Chunk {
  const char* begin = nullptr;
  const char* end = nullptr;
  size_t lines = 0;                        ///< lines consumed, blank ones included
  std::vector<std::vector<float>> values;  ///< per column (numbers; local codes if categorical)
  std::vector<Dictionary> dictionaries;    ///< per categorical column (local codes)
  std::vector<int32_t> label_codes;
  Dictionary label_dictionary;
  std::vector<size_t> label_first_line;  ///< local line of each label value's first use
  std::string error;                     ///< empty when OK
  size_t error_line = 0;                 ///< local, 1-based
  size_t error_column = 0;               ///< 1-based; 0 when the whole line is wrong
};

class CsvParser {
 public:
  CsvParser(const std::string& source, const CsvOptions& options)
      : source_(source), options_(options) {}

  Result<Dataset> Parse(std::string_view text, ThreadPool* pool) {
    FOPS_ASSIGN_OR_RETURN(std::string_view body, Start(text));
    std::vector<Chunk> chunks = Slice(body, pool);
    ParseAll(chunks, pool);
    return Merge(chunks, pool, first_data_line_ - 1);
  }

  /// Part `part` of `parts` (ReadCsvFilePart): the rows whose line starts in that share of
  /// the file's bytes, typed from the file's first rows as Parse types them. `range` gets the
  /// part's bytes [begin, end). The part is parsed `window_bytes` at a time and `done_with`
  /// told each window parsed (the caller releases its pages: memory holds the values, not
  /// the text).
  Result<Dataset> ParsePart(std::string_view text, int part, int parts, ThreadPool* pool,
                            std::pair<size_t, size_t>* range, size_t window_bytes,
                            const std::function<void(std::string_view)>& done_with) {
    FOPS_ASSIGN_OR_RETURN(std::string_view body, Start(text));
    const size_t body_begin = static_cast<size_t>(body.data() - text.data());
    // Where part k starts: the first line that starts at or after k/parts of the bytes.
    auto boundary = [&](int k) -> size_t {
      if (k <= 0) return body_begin;
      if (k >= parts) return text.size();
      const size_t at = text.size() / static_cast<size_t>(parts) * static_cast<size_t>(k) +
                        text.size() % static_cast<size_t>(parts) * static_cast<size_t>(k) /
                            static_cast<size_t>(parts);
      if (at <= body_begin) return body_begin;
      const void* newline = std::memchr(text.data() + at - 1, '\n', text.size() - (at - 1));
      return newline ? static_cast<size_t>(static_cast<const char*>(newline) + 1 - text.data())
                     : text.size();
    };
    const size_t begin = boundary(part), end = std::max(begin, boundary(part + 1));
    *range = {begin, end};
    auto parse = [&] {
      std::vector<Chunk> chunks;
      std::string_view rest = text.substr(begin, end - begin);
      while (!rest.empty()) {
        size_t size = std::min(std::max<size_t>(window_bytes, 1), rest.size());
        if (size < rest.size()) {
          const void* newline = std::memchr(rest.data() + size, '\n', rest.size() - size);
          size = newline ? static_cast<size_t>(static_cast<const char*>(newline) + 1 - rest.data())
                         : rest.size();
        }
        std::vector<Chunk> parsed = Slice(rest.substr(0, size), pool);
        ParseAll(parsed, pool);
        done_with(rest.substr(0, size));
        rest.remove_prefix(size);
        for (Chunk& chunk : parsed) chunks.push_back(std::move(chunk));
      }
      return chunks;
    };
    std::vector<Chunk> chunks = parse();
    if (part == 0) return Merge(chunks, pool, first_data_line_ - 1);
    // Line numbers count from the file's start, which only an error needs: on one, the lines
    // before the part are counted and the part is read again to say where.
    Result<Dataset> dataset = Merge(chunks, pool, 0);
    if (dataset.ok()) return dataset;
    const size_t lines_before = static_cast<size_t>(
        std::count(text.begin(), text.begin() + static_cast<long>(begin), '\n'));
    chunks = parse();
    return Merge(chunks, pool, lines_before);
  }

  /// Streams the CSV into the dataset file `path` a window of text at a time: each window's
  /// values go to scratch files (ColumnSpill) with codes in dictionaries kept across windows,
  /// so memory holds one window, not the file. `done_with` is told each window parsed (the
  /// caller releases its pages). The same Dataset as Parse gives, written.
  Result<DatasetFileInfo> Import(std::string_view text, ThreadPool* pool, const std::string& path,
                                 size_t window_bytes,
                                 const std::function<void(std::string_view)>& done_with) {
    FOPS_ASSIGN_OR_RETURN(std::string_view body, Start(text));
    FOPS_ASSIGN_OR_RETURN(std::unique_ptr<ColumnSpill> spill,
                          ColumnSpill::Create(path + ".import", names_.size() + 1));
    std::vector<Dictionary> dictionaries(names_.size());
    RawLabel label;
    Dictionary label_dictionary;
    size_t line_offset = first_data_line_ - 1, rows = 0;
    std::vector<float> buffer;
    while (!body.empty()) {
      size_t size = std::min(std::max<size_t>(window_bytes, 1), body.size());
      if (size < body.size()) {
        const char* newline =
            static_cast<const char*>(std::memchr(body.data() + size, '\n', body.size() - size));
        size = newline ? static_cast<size_t>(newline + 1 - body.data()) : body.size();
      }
      const std::string_view window = body.substr(0, size);
      body.remove_prefix(size);
      std::vector<Chunk> chunks = Slice(window, pool);
      ParseAll(chunks, pool);
      FOPS_RETURN_IF_ERROR(FirstError(chunks, line_offset));
      for (Chunk& chunk : chunks) {
        // The label as codes of one dictionary over the file (encoded when all is read).
        const std::vector<int32_t> remap =
            LabelCodes(chunk, label_dictionary, label.first_seen, line_offset);
        buffer.clear();
        for (int32_t code : chunk.label_codes)
          buffer.push_back(static_cast<float>(remap[static_cast<size_t>(code)]));
        FOPS_RETURN_IF_ERROR(spill->Append(0, buffer));
        for (size_t c = 0; c < names_.size(); ++c) {
          if (c == label_index_) continue;
          std::vector<float>& part = chunk.values[c];
          if (plan_[c].categorical) RecodeCategories(chunk.dictionaries[c], dictionaries[c], part);
          FOPS_RETURN_IF_ERROR(spill->Append(c + 1, part));
          std::vector<float>().swap(part);
        }
        line_offset += chunk.lines;
        rows += chunk.label_codes.size();
      }
      done_with(window);
    }
    label.dictionary = label_dictionary.values();
    FOPS_ASSIGN_OR_RETURN(LabelEncoding encoding, EncodeLabel(label, options_.table, source_));

    // The schema as AssembleDataset would give it.
    Dataset shape;
    shape.label_name = options_.table.label_column;
    if (!options_.table.numeric_label) shape.label_values = encoding.label_values;
    std::vector<size_t> kept = {0};
    const auto& drop = options_.table.drop_columns;
    for (size_t c = 0; c < names_.size(); ++c) {
      if (c == label_index_ || std::find(drop.begin(), drop.end(), names_[c]) != drop.end())
        continue;
      shape.features.push_back(
          {names_[c],
           plan_[c].categorical ? ColumnType::kCategorical : ColumnType::kNumeric,
           dictionaries[c].values(),
           {}});
      kept.push_back(c + 1);
    }
    if (shape.features.empty()) {
      return Status::DataError(source_ + ": no feature columns left besides the label '" +
                               options_.table.label_column + "'");
    }
    nlohmann::json schema = shape.SchemaJson();
    schema["rows"] = rows;
    return spill->Write(schema, kept, path, encoding.value_of_code);
  }

 private:
  /// Reads the header (names, delimiter, label) and decides the column types: the body
  /// after the header, or why the text is not a CSV with rows.
  Result<std::string_view> Start(std::string_view text) {
    if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
    const char* p = text.data();
    const char* end = p + text.size();
    // Header: the first non-blank line.
    std::string_view header;
    size_t header_line = 0;
    while (p < end && header.empty()) {
      header = NextLine(p, end, &p);
      ++header_line;
      if (Trim(header).empty()) header = {};
    }
    if (header.empty()) {
      return Status::DataError(source_ +
                               ": the file is empty; expected a header line naming "
                               "the columns, then one transaction per line");
    }
    delimiter_ = options_.delimiter ? options_.delimiter : DetectCsvDelimiter(header);
    FieldSplitter splitter(delimiter_);
    std::vector<std::string_view> fields;
    std::string error;
    if (!splitter.Split(header, fields, error)) {
      return Status::DataError(source_ + ":" + std::to_string(header_line) + ": header: " + error);
    }
    for (size_t i = 0; i < fields.size(); ++i) {
      if (!IsValidUtf8(fields[i])) {
        return Status::DataError(source_ + ":" + std::to_string(header_line) + ": column " +
                                 std::to_string(i + 1) + " of the header: " + kNotUtf8);
      }
      names_.emplace_back(Trim(fields[i]));
    }
    FOPS_RETURN_IF_ERROR(CheckColumns(names_, options_.table, source_));
    label_index_ = options_.table.label_column.empty()
                       ? kNoLabel
                       : static_cast<size_t>(
                             std::find(names_.begin(), names_.end(), options_.table.label_column) -
                             names_.begin());
    first_data_line_ = header_line + 1;

    const char* body = p;
    if (body >= end || Trim(std::string_view(body, static_cast<size_t>(end - body))).empty()) {
      return Status::DataError(source_ + ": the file has a header but no rows");
    }
    FOPS_RETURN_IF_ERROR(InferTypes(body, end));
    return std::string_view(body, static_cast<size_t>(end - body));
  }

  /// Slices `body` into chunks at line breaks, a few per thread for balance.
  std::vector<Chunk> Slice(std::string_view body_text, ThreadPool* pool) const {
    const char* body = body_text.data();
    const char* end = body + body_text.size();
    size_t threads = pool ? static_cast<size_t>(pool->size()) : 1;
    size_t bytes = body_text.size();
    size_t count = bytes < (1 << 20) ? 1 : threads * 4;
    std::vector<Chunk> chunks(count);
    const char* start = body;
    for (size_t i = 0; i < count; ++i) {
      const char* stop = i + 1 == count ? end : body + bytes * (i + 1) / count;
      if (stop < start) stop = start;
      if (stop < end) {
        const char* newline =
            static_cast<const char*>(std::memchr(stop, '\n', static_cast<size_t>(end - stop)));
        stop = newline ? newline + 1 : end;
      }
      chunks[i].begin = start;
      chunks[i].end = stop;
      start = stop;
    }
    return chunks;
  }

  void ParseAll(std::vector<Chunk>& chunks, ThreadPool* pool) {
    auto work = [&](size_t i) { ParseChunk(chunks[i]); };
    if (pool && chunks.size() > 1) {
      pool->ParallelFor(chunks.size(), work);
    } else {
      for (size_t i = 0; i < chunks.size(); ++i) work(i);
    }
  }

  /// The first chunk's error, with its line counted from `line_offset` (the lines before the
  /// first chunk).
  Status FirstError(const std::vector<Chunk>& chunks, size_t line_offset) const {
    for (const Chunk& chunk : chunks) {
      if (!chunk.error.empty()) {
        return Status::DataError(Where(line_offset + chunk.error_line, chunk.error_column) + ": " +
                                 chunk.error);
      }
      line_offset += chunk.lines;
    }
    return Status::Ok();
  }

  /// For each of a chunk's local label codes, its code in the file's `dictionary`; a value
  /// new to the file is added, and where it first appeared to `first_seen` (`line_offset`:
  /// the lines before the chunk).
  std::vector<int32_t> LabelCodes(const Chunk& chunk, Dictionary& dictionary,
                                  std::vector<std::string>& first_seen, size_t line_offset) const {
    std::vector<int32_t> remap;
    const auto& local = chunk.label_dictionary.values();
    for (size_t i = 0; i < local.size(); ++i) {
      const size_t before = dictionary.size();
      remap.push_back(dictionary.Code(local[i]));
      if (dictionary.size() != before)
        first_seen.push_back(Where(line_offset + chunk.label_first_line[i], label_index_ + 1));
    }
    return remap;
  }

  /// A chunk's local category codes in `part` as codes of the file's `dictionary`.
  static void RecodeCategories(const Dictionary& local, Dictionary& dictionary,
                               std::vector<float>& part) {
    std::vector<float> remap;
    for (const std::string& value : local.values())
      remap.push_back(static_cast<float>(dictionary.Code(value)));
    for (float& code : part) {
      if (!std::isnan(code)) code = remap[static_cast<size_t>(code)];
    }
  }

  std::string Where(size_t line, size_t column) const {
    std::string where = source_ + ":" + std::to_string(line);
    if (column > 0) {
      where += ": column " + std::to_string(column) + " ('" +
               (column <= names_.size() ? names_[column - 1] : std::string("?")) + "')";
    }
    return where;
  }

  /// Decides numeric or categorical per column from the first rows: numeric when at least
  /// kNumericShare of the non-missing values there are numbers. A column that is mostly
  /// numbers with a stray text value is numeric, and the stray value is reported.
  Status InferTypes(const char* p, const char* end) {
    constexpr double kNumericShare = 0.95;
    plan_.assign(names_.size(), {});
    std::vector<size_t> numbers(names_.size(), 0), texts(names_.size(), 0);
    FieldSplitter splitter(delimiter_);
    std::vector<std::string_view> fields;
    std::string error;
    size_t seen = 0;
    while (p < end && seen < options_.type_inference_rows) {
      std::string_view line = NextLine(p, end, &p);
      if (line.empty()) continue;
      if (!splitter.Split(line, fields, error) || fields.size() != names_.size()) break;
      ++seen;
      for (size_t c = 0; c < fields.size(); ++c) {
        double value;
        if (ParseNumber(fields[c], &value)) {
          ++numbers[c];
        } else if (!IsMissingMarker(Trim(fields[c]), options_.table.missing_values)) {
          if (ParseDouble(fields[c]))
            ++numbers[c];
          else
            ++texts[c];
        }
      }
    }
    const auto& forced = options_.table.categorical_columns;
    for (size_t c = 0; c < names_.size(); ++c) {
      double seen_values = static_cast<double>(numbers[c] + texts[c]);
      bool numeric =
          texts[c] == 0 || static_cast<double>(numbers[c]) >= kNumericShare * seen_values;
      plan_[c].categorical =
          !numeric || std::find(forced.begin(), forced.end(), names_[c]) != forced.end();
    }
    return Status::Ok();
  }

  /// The hot loop. Numbers are parsed in place (one pass over the bytes); quoted, missing or
  /// odd cells, labels and categories take the general path through ReadField.
  void ParseChunk(Chunk& chunk) {
    const size_t columns = names_.size();
    // reserve(), not resize(): the estimate errs high, and reserved pages that are never
    // written are never faulted in (zero-filling them cost a third of the time on 2 threads).
    const size_t estimate = static_cast<size_t>(chunk.end - chunk.begin) / (columns * 8 + 1) + 16;
    chunk.values.resize(columns);
    chunk.dictionaries.resize(columns);
    for (size_t c = 0; c < columns; ++c) {
      if (c != label_index_) chunk.values[c].reserve(estimate);
    }
    enum Kind : uint8_t { kNumber, kCategory, kLabel };
    std::vector<Kind> kinds(columns, kNumber);
    for (size_t c = 0; c < columns; ++c) {
      kinds[c] = c == label_index_ ? kLabel : plan_[c].categorical ? kCategory : kNumber;
    }
    chunk.label_codes.reserve(estimate);
    std::string scratch;
    std::vector<std::string_view> fields;
    FieldSplitter splitter(delimiter_);
    const char delimiter = delimiter_;
    const auto& missing = options_.table.missing_values;
    const char* p = chunk.begin;
    while (p < chunk.end) {
      const char* next_line;
      std::string_view line = NextLine(p, chunk.end, &next_line);
      p = next_line;
      ++chunk.lines;
      if (line.empty() || (line.size() < 8 && Trim(line).empty())) continue;
      const char* cursor = line.data();
      const char* const line_end = cursor + line.size();
      bool exhausted = false;  // the line's last field has been read
      for (size_t c = 0; c < columns; ++c) {
        if (exhausted) {  // the line ended before this column
          splitter.Split(line, fields, chunk.error);
          chunk.error = "expected " + std::to_string(columns) + " fields as in the header, found " +
                        std::to_string(fields.size()) + " (a ragged row)";
          return Fail(chunk, 0);
        }
        if (kinds[c] == kNumber && cursor < line_end && *cursor != '"') {
          double value;
          auto parsed = fast_float::from_chars(cursor, line_end, value);
          if (parsed.ec == std::errc() && (parsed.ptr == line_end || *parsed.ptr == delimiter)) {
            chunk.values[c].push_back(static_cast<float>(value));
            exhausted = parsed.ptr == line_end;
            cursor = exhausted ? line_end : parsed.ptr + 1;
            continue;
          }
        }
        std::string_view cell;
        scratch.clear();
        if (!ReadField(cursor, line_end, delimiter, scratch, &cell, &exhausted, &chunk.error)) {
          return Fail(chunk, c + 1);
        }
        if (kinds[c] == kLabel) {
          std::string_view text = Trim(cell);
          if (IsMissingMarker(text, missing)) {
            chunk.error =
                "the label is missing ('" + std::string(text) + "'); every row needs a label";
            return Fail(chunk, c + 1);
          }
          size_t before = chunk.label_dictionary.size();
          chunk.label_codes.push_back(chunk.label_dictionary.Code(text));
          if (chunk.label_dictionary.size() != before) {
            if (!IsValidUtf8(text)) {
              chunk.error = kNotUtf8;
              return Fail(chunk, c + 1);
            }
            chunk.label_first_line.push_back(chunk.lines);
          }
        } else if (kinds[c] == kCategory) {
          std::string_view text = Trim(cell);
          if (IsMissingMarker(text, missing)) {
            chunk.values[c].push_back(kMissing);
          } else {
            size_t before = chunk.dictionaries[c].size();
            chunk.values[c].push_back(static_cast<float>(chunk.dictionaries[c].Code(text)));
            if (chunk.dictionaries[c].size() != before && !IsValidUtf8(text)) {
              chunk.error = kNotUtf8;
              return Fail(chunk, c + 1);
            }
          }
        } else {
          double value;
          float number;
          if (ParseNumber(cell, &value)) {
            number = static_cast<float>(value);
          } else if (!ParseNumberSlow(cell, missing, &number)) {
            chunk.error =
                "'" + std::string(cell.substr(0, 40)) +
                "' is not a number, and this column is numeric (at least 95 % of its first "
                "rows hold numbers); accepted: decimal or scientific numbers, a missing-value "
                "marker (preprocess.missing_values), or list the column in "
                "preprocess.categorical_columns";
            return Fail(chunk, c + 1);
          }
          chunk.values[c].push_back(number);
        }
      }
      if (!exhausted) {  // fields left over after the last column
        splitter.Split(line, fields, chunk.error);
        chunk.error = "expected " + std::to_string(columns) + " fields as in the header, found " +
                      std::to_string(fields.size()) + " (a ragged row)";
        return Fail(chunk, 0);
      }
      if (label_index_ == kNoLabel) {  // every row gets the one label "0"
        if (chunk.label_dictionary.size() == 0) chunk.label_first_line.push_back(chunk.lines);
        chunk.label_codes.push_back(chunk.label_dictionary.Code("0"));
      }
    }
  }

  static void Fail(Chunk& chunk, size_t column) {
    chunk.error_line = chunk.lines;
    chunk.error_column = column;
  }

  /// The chunks as one dataset; `lines_before` the lines before the first chunk.
  Result<Dataset> Merge(std::vector<Chunk>& chunks, ThreadPool* pool, size_t lines_before) {
    FOPS_RETURN_IF_ERROR(FirstError(chunks, lines_before));
    size_t rows = 0;
    for (const Chunk& chunk : chunks) rows += chunk.label_codes.size();

    // The label, with global codes and where each value first appeared.
    RawLabel label;
    label.codes.reserve(rows);
    Dictionary label_dictionary;
    size_t line_offset = lines_before;
    for (const Chunk& chunk : chunks) {
      const std::vector<int32_t> remap =
          LabelCodes(chunk, label_dictionary, label.first_seen, line_offset);
      for (int32_t code : chunk.label_codes)
        label.codes.push_back(remap[static_cast<size_t>(code)]);
      line_offset += chunk.lines;
    }
    label.dictionary = label_dictionary.values();

    // Columns are independent: concatenate (and remap category codes) in parallel.
    std::vector<RawColumn> columns(names_.size());
    auto merge_column = [&](size_t c) {
      if (c == label_index_) return;
      RawColumn& column = columns[c];
      column.name = names_[c];
      column.categorical = plan_[c].categorical;
      column.values.reserve(rows);
      Dictionary dictionary;
      for (Chunk& chunk : chunks) {
        std::vector<float>& part = chunk.values[c];
        if (column.categorical) RecodeCategories(chunk.dictionaries[c], dictionary, part);
        column.values.insert(column.values.end(), part.begin(), part.end());
        std::vector<float>().swap(part);
      }
      column.categories = dictionary.values();
    };
    if (pool != nullptr && chunks.size() > 1) {
      pool->ParallelFor(names_.size(), merge_column);
    } else {
      for (size_t c = 0; c < names_.size(); ++c) merge_column(c);
    }
    if (label_index_ != kNoLabel) columns.erase(columns.begin() + static_cast<long>(label_index_));
    return AssembleDataset(std::move(columns), std::move(label), options_.table, source_);
  }

  const std::string& source_;
  const CsvOptions& options_;
  char delimiter_ = ',';
  std::vector<std::string> names_;
  std::vector<ColumnPlan> plan_;
  static constexpr size_t kNoLabel = static_cast<size_t>(-1);
  size_t label_index_ = 0;  ///< kNoLabel when TableOptions::label_column is empty
  size_t first_data_line_ = 2;
};

/// A read-only memory map, unmapped on destruction.
class MappedFile {
 public:
  ~MappedFile() {
    if (data_ != nullptr && size_ > 0) ::munmap(data_, size_);
  }
  /// `populate`: read the whole file in at once (it is about to be parsed whole).
  Status Open(const std::string& path, bool populate = true) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) {
      return Status::DataError("cannot open data file '" + path + "': " + std::strerror(errno));
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0 || S_ISDIR(info.st_mode)) {
      ::close(fd);
      return Status::DataError("'" + path + "' is not a readable file");
    }
    size_ = static_cast<size_t>(info.st_size);
    if (size_ > 0) {
      data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
      if (data_ == MAP_FAILED) {
        data_ = nullptr;
        ::close(fd);
        return Status::DataError("cannot map '" + path + "': " + std::strerror(errno));
      }
      ::madvise(data_, size_, populate ? MADV_WILLNEED : MADV_SEQUENTIAL);
    }
    ::close(fd);
    return Status::Ok();
  }
  std::string_view text() const { return {static_cast<const char*>(data_), size_}; }
  /// Drops `part`'s whole pages from this process (they stay in the page cache).
  void Release(std::string_view part) const {
    const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const uintptr_t from = (reinterpret_cast<uintptr_t>(part.data()) + page - 1) / page * page;
    const uintptr_t to = (reinterpret_cast<uintptr_t>(part.data()) + part.size()) / page * page;
    if (to > from) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

Result<char> ParseDelimiterSetting(std::string_view setting) {
  if (setting == "auto" || setting.empty()) return char{0};
  if (setting == "\\t" || setting == "tab" || setting == "\t") return '\t';
  if (setting == "," || setting == ";" || setting == "|") return setting[0];
  return Status::InvalidArgument("preprocess.delimiter = '" + std::string(setting) +
                                 "' is not valid; accepted: auto, ',', ';', tab, '|'");
}

Result<Dataset> ParseCsv(std::string_view text, const std::string& source,
                         const CsvOptions& options, ThreadPool* pool) {
  CsvParser parser(source, options);
  return parser.Parse(text, pool);
}

Result<Dataset> ReadCsvFile(const std::string& path, const CsvOptions& options, ThreadPool* pool) {
  MappedFile file;
  FOPS_RETURN_IF_ERROR(file.Open(path));
  return ParseCsv(file.text(), path, options, pool);
}

Result<Dataset> ReadCsvFilePart(const std::string& path, const CsvOptions& options,
                                ThreadPool* pool, int part, int parts,
                                std::pair<size_t, size_t>* range, size_t window_bytes) {
  if (parts < 1 || part < 0 || part >= parts)
    return Status::InvalidArgument("part " + std::to_string(part) + " of " + std::to_string(parts));
  MappedFile file;
  FOPS_RETURN_IF_ERROR(file.Open(path, /*populate=*/false));
  CsvParser parser(path, options);
  return parser.ParsePart(file.text(), part, parts, pool, range, window_bytes,
                          [&](std::string_view window) { file.Release(window); });
}

Result<DatasetFileInfo> ImportCsvFile(const std::string& path, const CsvOptions& options,
                                      ThreadPool* pool, const std::string& output) {
  MappedFile file;
  FOPS_RETURN_IF_ERROR(file.Open(path, /*populate=*/false));
  CsvParser parser(path, options);
  return parser.Import(file.text(), pool, output, kImportWindowBytes,
                       [&](std::string_view window) { file.Release(window); });
}

Result<DatasetFileInfo> ImportCsvText(std::string_view text, const std::string& source,
                                      const CsvOptions& options, ThreadPool* pool,
                                      const std::string& output, size_t window_bytes) {
  CsvParser parser(source, options);
  return parser.Import(text, pool, output, window_bytes, [](std::string_view) {});
}

}  // namespace fraudops
