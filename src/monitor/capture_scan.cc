#include "monitor/capture_scan.h"

#include <simdjson.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <tuple>

#include "store/metadata_store.h"

namespace fraudops {

namespace fs = std::filesystem;
namespace od = simdjson::ondemand;

namespace {

/// One reader: a parser, a buffer and its share of the counts.
class Reader {
 public:
  Reader(const ScanOptions& options) : options_(options), result_{} {
    if (options.baseline) result_.counts = DriftCounts(*options.baseline);
  }

  /// Reads the lines of `path` that start in [begin, end) (a line is read by the range its
  /// first byte falls in). `partial`: the file the server is writing (….jsonl.partial); its
  /// last line counts only once its newline is written. Renamed meanwhile, it is read under
  /// its final name.
  Status ReadRange(std::string path, bool partial, uint64_t begin, uint64_t end) {
    std::ifstream in(path, std::ios::binary);
    if (!in && partial) {
      path.resize(path.size() - std::string_view(".partial").size());
      in.open(path, std::ios::binary);
      if (!in && errno == ENOENT) return Status::Ok();  // closed and removed meanwhile
    }
    if (!in) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
    if (begin == 0) ++result_.files;
    path_ = path;
    uint64_t offset = begin;  // of buffer_[0] in the file
    if (begin > 0) {
      // Skip the line begun in the range before (unless this range starts a line).
      in.seekg(static_cast<std::streamoff>(begin - 1));
      char before = 0;
      if (!in.get(before)) return Status::Ok();
      if (before != '\n') {
        std::string rest;
        if (!std::getline(in, rest)) return Status::Ok();
        offset = begin + rest.size() + 1;
      }
    }
    size_t capacity = std::max<size_t>(options_.chunk_bytes, 1 << 16);
    buffer_.resize(capacity + simdjson::SIMDJSON_PADDING);
    size_t carried = 0;
    while (offset < end) {
      in.read(buffer_.data() + carried, static_cast<std::streamsize>(capacity - carried));
      const size_t got = static_cast<size_t>(in.gcount());
      const size_t filled = carried + got;
      const bool eof = !in;  // end of file (or an error, checked below)
      size_t done = 0;
      while (done < filled && offset + done < end) {
        const char* start = buffer_.data() + done;
        const char* newline = static_cast<const char*>(std::memchr(start, '\n', filled - done));
        if (!newline) {
          if (!eof || partial) break;         // the rest waits for the next chunk (or the writer)
          newline = buffer_.data() + filled;  // a last line without its newline
        }
        line_offset_ = offset + done;
        Line(start, static_cast<size_t>(newline - start));
        done = static_cast<size_t>(newline - buffer_.data()) + 1;
      }
      if (eof || offset + done >= end) break;
      carried = filled - done;
      std::memmove(buffer_.data(), buffer_.data() + done, carried);
      offset += done;
      if (carried == capacity) {  // one line longer than the buffer: grow for it
        capacity *= 2;
        buffer_.resize(capacity + simdjson::SIMDJSON_PADDING);
      }
    }
    if (in.bad()) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
    return Status::Ok();
  }

  /// The first malformed line this reader met: file, byte offset, why.
  struct Malformation {
    std::string path;
    uint64_t offset = 0;
    std::string why;
  };
  const std::optional<Malformation>& first_malformed() const { return first_malformed_; }

  ScanResult& result() { return result_; }

 private:
  void Malformed(const std::string& why) {
    ++result_.malformed_lines;
    if (!first_malformed_ || std::tie(path_, line_offset_) <
                                 std::tie(first_malformed_->path, first_malformed_->offset)) {
      first_malformed_ = Malformation{path_, line_offset_, why};
    }
  }

  void Line(const char* data, size_t length) {
    while (length > 0 && (data[length - 1] == '\r' || data[length - 1] == ' ')) --length;
    if (length == 0) return;
    ++result_.lines;
    const size_t allocated = static_cast<size_t>(buffer_.data() + buffer_.size() - data);
    od::document doc;
    if (auto error = parser_.iterate(data, length, allocated).get(doc))
      return Malformed(simdjson::error_message(error));
    od::object row;
    if (doc.get_object().get(row)) return Malformed("not a JSON object");
    std::string_view time, model, request_id, variant;
    int64_t version = 0;
    double score = NAN, latency_us = NAN;
    int64_t decision = 0;
    bool in_drift = false, in_quality = false, features_seen = false;
    const DriftBaseline* baseline = options_.baseline;
    if (baseline) row_bins_.assign(baseline->features.size(), 0);
    for (auto field : row) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return Malformed("unreadable member name");
      auto value = field.value();
      if (key == "time") {
        if (value.get_string().get(time)) return Malformed("/time is not a string");
        in_drift = baseline != nullptr && options_.drift_window.Contains(time);
        in_quality = !options_.quality_window.empty() && options_.quality_window.Contains(time);
        if (!in_drift && !in_quality) return;  // outside both windows: the rest is not read
      } else if (key == "request_id") {
        // The view stays valid for the whole line: the parser writes each string of a
        // document after the ones before it, and reuses its buffer only for the next line.
        if (value.get_string().get(request_id)) return Malformed("/request_id is not a string");
      } else if (key == "model") {
        if (value.get_string().get(model)) return Malformed("/model is not a string");
        if (!options_.model.empty() && model != options_.model) return OtherVersion(time);
      } else if (key == "version") {
        if (value.get_int64().get(version)) return Malformed("/version is not an integer");
        if (options_.version != 0 && version != options_.version) return OtherVersion(time);
      } else if (key == "variant") {
        if (value.get_string().get(variant)) return Malformed("/variant is not a string");
      } else if (key == "latency_us") {
        if (value.get_double().get(latency_us)) return Malformed("/latency_us is not a number");
      } else if (key == "features") {
        if (!baseline) {  // no drift: present is enough
          features_seen = true;
          continue;
        }
        if (time.empty()) return Malformed("/time must come before /features");
        od::object features;
        if (value.get_object().get(features)) return Malformed("/features is not an object");
        if (!ReadFeatures(features)) return;
        features_seen = true;
      } else if (key == "score") {
        if (value.get_double().get(score)) return Malformed("/score is not a number");
      } else if (key == "label") {
        if (value.get_int64().get(decision)) return Malformed("/label is not an integer");
      }
    }
    if (time.empty()) return Malformed("no /time");
    if (!features_seen) return Malformed("no /features");
    if (std::isnan(score)) return Malformed("no /score");
    if (in_drift) {
      DriftCounts& counts = result_.counts;
      for (size_t f = 0; f < row_bins_.size(); ++f) counts.features[f][row_bins_[f]]++;
      counts.score[baseline->score.NumericBin(score)]++;
      counts.rows++;
    }
    if (in_quality) {
      result_.quality_rows++;
      if (decision) result_.quality_alerts++;
      VariantRows* rows = nullptr;
      if (options_.by_variant) {
        auto found = result_.variants.find(variant);
        rows = found != result_.variants.end() ? &found->second
                                               : &result_.variants[std::string(variant)];
        rows->rows++;
        rows->alerts += decision != 0;
        rows->scores.push_back(static_cast<float>(score));
        if (!std::isnan(latency_us)) rows->latency_us.push_back(static_cast<float>(latency_us));
      }
      std::vector<JoinedPrediction>& joined = rows ? rows->joined : result_.joined;
      if (options_.labels) {
        auto label = options_.labels->find(request_id);
        if (label != options_.labels->end()) {
          joined.push_back({static_cast<float>(score), label->second.label,
                            static_cast<uint8_t>(decision != 0)});
        } else if (options_.unlabeled_as_negative) {
          joined.push_back({static_cast<float>(score), 0.0f, static_cast<uint8_t>(decision != 0)});
        }
      }
    }
  }

  void OtherVersion(std::string_view time) {
    if (!time.empty()) result_.other_version_rows++;
  }

  /// Fills row_bins_; missing features stay in their missing bin. False when malformed.
  bool ReadFeatures(od::object& features) {
    const DriftBaseline& baseline = *options_.baseline;
    for (size_t f = 0; f < baseline.features.size(); ++f)
      row_bins_[f] = baseline.features[f].missing_bin();
    size_t expected = 0;  // capture writes features in the signature's order
    for (auto field : features) {
      std::string_view key;
      if (field.unescaped_key().get(key)) {
        Malformed("unreadable feature name");
        return false;
      }
      size_t f;
      if (expected < baseline.features.size() && baseline.features[expected].name == key) {
        f = expected;
      } else {
        auto found = baseline.feature_index.find(std::string(key));
        if (found == baseline.feature_index.end()) continue;  // not a model feature
        f = found->second;
      }
      expected = f + 1;
      const BaselineColumn& column = baseline.features[f];
      auto value = field.value();
      od::json_type type;
      if (value.type().get(type)) {
        Malformed("/features/" + std::string(key) + " cannot be read");
        return false;
      }
      switch (type) {
        case od::json_type::null:
          break;
        case od::json_type::number: {
          double number;
          if (value.get_double().get(number)) {
            Malformed("/features/" + std::string(key) + " is not a number");
            return false;
          }
          row_bins_[f] = column.categorical ? column.categories.size() : column.NumericBin(number);
          break;
        }
        case od::json_type::string: {
          std::string_view text;
          if (value.get_string().get(text)) {
            Malformed("/features/" + std::string(key) + " is not a valid string");
            return false;
          }
          if (column.categorical) {
            row_bins_[f] = column.CategoryBin(text);
          } else if (text == "inf") {
            row_bins_[f] = column.NumericBin(INFINITY);
          } else if (text == "-inf") {
            row_bins_[f] = column.NumericBin(-INFINITY);
          }
          break;
        }
        default:
          Malformed("/features/" + std::string(key) + " is neither a number, a string nor null");
          return false;
      }
    }
    return true;
  }

  const ScanOptions& options_;
  ScanResult result_;
  od::parser parser_;
  std::vector<char> buffer_;
  std::vector<uint32_t> row_bins_;
  std::string path_;
  uint64_t line_offset_ = 0;  // of the line being read
  std::optional<Malformation> first_malformed_;
};

/// The line number of the line starting at byte `offset` of `path` (0: cannot tell).
uint64_t LineNumberAt(const std::string& path, uint64_t offset) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buffer(1 << 20);
  uint64_t line = 1, read = 0;
  while (in && read < offset) {
    in.read(buffer.data(),
            static_cast<std::streamsize>(std::min<uint64_t>(buffer.size(), offset - read)));
    const size_t got = static_cast<size_t>(in.gcount());
    line += static_cast<uint64_t>(std::count(buffer.data(), buffer.data() + got, '\n'));
    read += got;
  }
  return read == offset ? line : 0;
}

}  // namespace

Result<ScanResult> ScanCapture(const ScanOptions& options) {
  if (!options.baseline && options.quality_window.empty()) {
    return Status::InvalidArgument("ScanCapture needs a baseline (drift) or a quality window");
  }
  std::error_code error;
  if (!fs::is_directory(options.directory, error)) {
    return Status::NotFound(
        "no capture directory " + options.directory +
        " (the endpoint has captured nothing yet; api.capture_sample sets how much is captured)");
  }
  // Which files can hold rows of a window: closed ones, started before the window's end
  // (the name starts with the UTC start) and written to after its start.
  TimeWindow any = options.baseline ? options.drift_window : options.quality_window;
  if (options.baseline && !options.quality_window.empty()) {
    any.from = std::min(any.from, options.quality_window.from);
    any.to = (any.to.empty() || options.quality_window.to.empty())
                 ? ""
                 : std::max(any.to, options.quality_window.to);
  }
  struct File {
    std::string path;
    uintmax_t size;
    bool partial;
  };
  std::vector<File> files;
  for (const auto& entry : fs::directory_iterator(options.directory, error)) {
    const std::string name = entry.path().filename().string();
    const bool partial = name.size() > 14 && name.substr(name.size() - 14) == ".jsonl.partial";
    if (name.size() < 22 || (!partial && name.substr(name.size() - 6) != ".jsonl")) continue;
    if (!any.to.empty()) {
      // "20261123T112707Z-…" against "2026-11-23T11:27:07.042Z"
      const std::string start = name.substr(0, 4) + "-" + name.substr(4, 2) + "-" +
                                name.substr(6, 2) + "T" + name.substr(9, 2) + ":" +
                                name.substr(11, 2) + ":" + name.substr(13, 2);
      if (start >= any.to) continue;
    }
    struct stat info {};
    if (!any.from.empty() && ::stat(entry.path().c_str(), &info) == 0) {
      const auto written = std::chrono::system_clock::from_time_t(info.st_mtime);
      if (FormatUtc(written + std::chrono::seconds(2)) < any.from) continue;
    }
    std::error_code size_error;  // a file closed and renamed meanwhile has no size: read it anyway
    const uintmax_t size = entry.file_size(size_error);
    files.push_back({entry.path().string(), size_error ? 0 : size, partial});
  }
  if (error) return Status::IoError("cannot list " + options.directory + ": " + error.message());
  // Pieces of at most range_bytes, so one big file keeps every thread busy; largest first, so
  // the last piece to finish is a small one. A file renamed meanwhile (size 0) is one piece
  // read to its end.
  struct Piece {
    const File* file;
    uint64_t begin, end;
  };
  std::vector<Piece> pieces;
  const uint64_t range = std::max<uint64_t>(options.range_bytes, 1);
  for (const File& file : files) {
    if (file.size == 0) {
      pieces.push_back({&file, 0, UINT64_MAX});
      continue;
    }
    for (uint64_t begin = 0; begin < file.size; begin += range) {
      const bool last = begin + range >= file.size;
      // A closed file's last piece reads to the end (a last line without its newline);
      // a partial file stops at the size listed, the rest is the next pass's.
      pieces.push_back(
          {&file, begin,
           last && !file.partial ? UINT64_MAX : std::min<uint64_t>(begin + range, file.size)});
    }
  }
  std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return std::min<uint64_t>(a.end, a.file->size) - a.begin >
           std::min<uint64_t>(b.end, b.file->size) - b.begin;
  });

  const size_t threads =
      options.pool ? std::max<size_t>(1, std::min<size_t>(options.pool->size(), pieces.size())) : 1;
  std::vector<std::unique_ptr<Reader>> readers;
  for (size_t t = 0; t < threads; ++t) readers.push_back(std::make_unique<Reader>(options));
  std::mutex mutex;
  size_t next = 0;
  Status failure;
  auto work = [&](size_t t) {
    while (true) {
      size_t index;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (next >= pieces.size() || !failure.ok()) return;
        index = next++;
      }
      const Piece& piece = pieces[index];
      Status status =
          readers[t]->ReadRange(piece.file->path, piece.file->partial, piece.begin, piece.end);
      if (!status.ok()) {
        std::lock_guard<std::mutex> lock(mutex);
        if (failure.ok()) failure = status;
      }
    }
  };
  if (options.pool && threads > 1)
    options.pool->ParallelFor(threads, work);
  else
    work(0);
  FOPS_RETURN_IF_ERROR(failure);

  ScanResult result = std::move(readers[0]->result());
  for (size_t t = 1; t < threads; ++t) {
    ScanResult& part = readers[t]->result();
    result.counts.Merge(part.counts);
    result.files += part.files;
    result.lines += part.lines;
    result.other_version_rows += part.other_version_rows;
    result.malformed_lines += part.malformed_lines;
    result.quality_rows += part.quality_rows;
    result.quality_alerts += part.quality_alerts;
    result.joined.insert(result.joined.end(), part.joined.begin(), part.joined.end());
    for (auto& [name, rows] : part.variants) {
      VariantRows& into = result.variants[name];
      into.rows += rows.rows;
      into.alerts += rows.alerts;
      into.scores.insert(into.scores.end(), rows.scores.begin(), rows.scores.end());
      into.latency_us.insert(into.latency_us.end(), rows.latency_us.begin(), rows.latency_us.end());
      into.joined.insert(into.joined.end(), rows.joined.begin(), rows.joined.end());
    }
  }
  // The first malformed line (by file and position), named by its line number.
  const Reader* first = nullptr;
  for (const auto& reader : readers) {
    const auto& mine = reader->first_malformed();
    if (mine && (!first ||
                 std::tie(mine->path, mine->offset) <
                     std::tie(first->first_malformed()->path, first->first_malformed()->offset))) {
      first = reader.get();
    }
  }
  if (first) {
    const auto& m = *first->first_malformed();
    result.first_malformed =
        m.path + ":" + std::to_string(LineNumberAt(m.path, m.offset)) + ": " + m.why;
  }
  return result;
}

}  // namespace fraudops
