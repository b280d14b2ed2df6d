#include "serve/capture.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

#include "core/strings.h"

namespace fraudops {

namespace fs = std::filesystem;

struct CaptureWriter::OpenFile {
  std::FILE* file = nullptr;
  std::string partial, final_name;
  size_t bytes = 0;
  std::chrono::steady_clock::time_point opened;
};

namespace {

/// Closes a capture file and gives it its final name (readers take only *.jsonl).
void CloseCaptureFile(std::FILE* file, const std::string& partial, const std::string& final_name) {
  std::fclose(file);
  std::error_code ec;
  fs::rename(partial, final_name, ec);
}

}  // namespace

void AppendCaptureRecords(const ScoredRows& scored, std::string_view time, double latency_us,
                          std::string& out) {
  const LoadedModel& model = *scored.model;
  const ParsedRows& rows = *scored.rows;
  const size_t width = model.encoder().size();
  for (size_t r = 0; r < rows.rows; ++r) {
    out += "{\"v\":1,\"request_id\":\"";
    AppendJsonEscaped(out, scored.request_id);
    if (rows.batch) {
      out += '-';
      out += std::to_string(r);
    }
    out += '"';
    if (!scored.trace_id.empty()) {
      out += ",\"trace_id\":\"";
      out += scored.trace_id;
      out += '"';
    }
    out += ",\"time\":\"";
    out += time;
    out += "\",\"endpoint\":";
    AppendJsonString(out, scored.endpoint);
    out += ",\"variant\":\"";
    out += scored.variant_name;
    out += "\",\"model\":";
    AppendJsonString(out, model.ref().model);
    out += ",\"version\":";
    out += std::to_string(model.ref().version);
    out += ",\"latency_us\":";
    AppendJsonNumber(out, std::round(latency_us));
    out += ",\"features\":{";
    for (size_t f = 0; f < width; ++f) {
      if (f) out += ',';
      AppendJsonString(out, model.encoder().feature(f).name);
      out += ':';
      model.AppendFeatureValue(out, f, rows.values[r * width + f], LoadedModel::Digits::kExact);
    }
    out += "},\"score\":";
    AppendJsonNumber(out, scored.scores[r]);
    out += ",\"label\":";
    out += scored.scores[r] >= model.threshold() ? '1' : '0';
    if (scored.decisions) {
      out += ",\"decision\":";
      AppendJsonString(out, scored.decisions[r].decision);
      out += ",\"rule\":";
      AppendJsonString(out, scored.decisions[r].rule);
    }
    out += "}\n";
  }
}

BackgroundWorker::Options CaptureWriter::WorkerOptions(Logger* logger) {
  BackgroundWorker::Options options;
  options.name = "capture";
  options.logger = logger;
  options.final_pass = true;  // writes what is queued and closes the files
  options.first_delay = kWriteInterval;
  return options;
}

CaptureWriter::CaptureWriter(CaptureOptions options)
    : options_(std::move(options)),
      worker_(WorkerOptions(options_.logger), [this] { return WritePass(); }) {
  worker_.Start();
}

CaptureWriter::~CaptureWriter() {
  worker_.Stop();  // the final pass writes what is queued and closes the files
  MutexLock lock(&mutex_);
  stopped_ = true;
  flushed_.SignalAll();
}

bool CaptureWriter::Submit(const std::string& endpoint, std::string lines, size_t rows) {
  {
    MutexLock lock(&mutex_);
    if (queued_rows_ + rows > options_.queue_rows || stopped_ || worker_.stopping()) {
      dropped_rows_ += rows;
      return false;
    }
    queue_.push_back({endpoint, std::move(lines), rows});
    queued_rows_ += rows;
    ++submitted_;
    // The writer wakes on its own every kWriteInterval; it is woken early only by the
    // submission that fills the queue past half, so a request never pays for a futex wake
    // and a context switch otherwise.
    const size_t half = options_.queue_rows / 2;
    const bool crossed_half = queued_rows_ >= half && queued_rows_ - rows < half;
    if (!crossed_half) return true;
  }
  worker_.Wake();
  return true;
}

void CaptureWriter::Flush() {
  MutexLock lock(&mutex_);
  const uint64_t target = submitted_;
  worker_.Wake();
  while (done_ < target && !stopped_) flushed_.Wait();
}

BackgroundWorker::Duration CaptureWriter::WritePass() {
  std::vector<Batch> batches;
  {
    MutexLock lock(&mutex_);
    batches.swap(queue_);
    queued_rows_ = 0;
  }
  for (Batch& batch : batches) Write(batch);
  // Close files that are old enough even when no traffic arrives.
  const auto now = std::chrono::steady_clock::now();
  for (auto it = files_.begin(); it != files_.end();) {
    if (now - it->second->opened >= options_.rotate_after) {
      CloseCaptureFile(it->second->file, it->second->partial, it->second->final_name);
      it = files_.erase(it);
    } else {
      std::fflush(it->second->file);
      ++it;
    }
  }
  if (worker_.stopping()) CloseAll();
  MutexLock lock(&mutex_);
  done_ += batches.size();
  flushed_.SignalAll();
  return kWriteInterval;
}

void CaptureWriter::Write(Batch& batch) {
  auto& slot = files_[batch.endpoint];
  if (slot && (slot->bytes >= options_.max_file_bytes ||
               std::chrono::steady_clock::now() - slot->opened >= options_.rotate_after)) {
    CloseCaptureFile(slot->file, slot->partial, slot->final_name);
    slot.reset();
  }
  if (!slot) {
    const fs::path directory = fs::path(options_.directory) / batch.endpoint;
    std::error_code ec;
    fs::create_directories(directory, ec);
    std::time_t t = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&t, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    char name[96];  // the process id keeps replicas sharing a workspace out of each other's files
    std::snprintf(name, sizeof name, "%s-%ld-%06llu.jsonl", stamp, static_cast<long>(::getpid()),
                  static_cast<unsigned long long>(++sequence_));
    auto file = std::make_unique<OpenFile>();
    file->final_name = (directory / name).string();
    file->partial = file->final_name + ".partial";
    file->file = std::fopen(file->partial.c_str(), "ab");
    if (file->file != nullptr) std::setvbuf(file->file, nullptr, _IOFBF, 1 << 20);
    file->opened = std::chrono::steady_clock::now();
    if (file->file == nullptr) {
      if (write_errors_++ == 0 && options_.logger)
        options_.logger->Warn("capture",
                              "cannot open " + file->partial + "; captured rows are dropped");
      dropped_rows_ += batch.rows;
      files_.erase(batch.endpoint);
      return;
    }
    slot = std::move(file);
  }
  if (std::fwrite(batch.lines.data(), 1, batch.lines.size(), slot->file) != batch.lines.size()) {
    if (write_errors_++ == 0 && options_.logger)
      options_.logger->Warn("capture", "writing " + slot->partial + " failed (disk full?)");
    dropped_rows_ += batch.rows;
    return;
  }
  slot->bytes += batch.lines.size();
  written_rows_ += batch.rows;
}

void CaptureWriter::CloseAll() {
  for (auto& [endpoint, file] : files_)
    CloseCaptureFile(file->file, file->partial, file->final_name);
  files_.clear();
}

}  // namespace fraudops
