#pragma once
/// Data capture (docs/formats/capture.md): sampled requests and their responses, one JSON
/// line per scored row, written by a background worker to
/// <home>/capture/<endpoint>/<UTC start>-<pid>-<sequence>.jsonl. The file being written is named
/// …jsonl.partial and renamed when it is closed (at capture_max_file_mb, after
/// capture_rotate_seconds, or at shutdown), so a reader that takes *.jsonl never sees half a
/// file. Submit never blocks a request: when the queue is full the rows are dropped and
/// counted. The writer takes the queue every 100 ms (sooner when it is half full) and writes
/// it with one flush per file.
///
/// AppendCaptureRecords is the one encoder of the record; the monitor reads what it writes.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/background_worker.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "serve/scored_rows.h"

namespace fraudops {

/// Appends one capture line (format version 1, with its newline) per row of `scored`:
/// `time` is when it was answered (ISO 8601 UTC), `latency_us` the request's time in the
/// server.
void AppendCaptureRecords(const ScoredRows& scored, std::string_view time, double latency_us,
                          std::string& out);

struct CaptureOptions {
  std::string directory;  ///< <home>/capture
  size_t max_file_bytes = 64 << 20;
  std::chrono::seconds rotate_after{3600};
  size_t queue_rows = 100000;
  Logger* logger = nullptr;  ///< write failures are logged once each
};

class CaptureWriter {
 public:
  explicit CaptureWriter(CaptureOptions options);
  ~CaptureWriter();  ///< writes what is queued and closes the files
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  /// Queues `lines` (JSON text with its newline, `rows` of them) for `endpoint`. False, and
  /// the rows counted as dropped, when the queue is full.
  bool Submit(const std::string& endpoint, std::string lines, size_t rows) EXCLUDES(mutex_);
  /// Waits until everything submitted so far is written (tests, shutdown).
  void Flush() EXCLUDES(mutex_);

  uint64_t written_rows() const { return written_rows_.load(); }
  uint64_t dropped_rows() const { return dropped_rows_.load(); }
  uint64_t write_errors() const { return write_errors_.load(); }

 private:
  struct Batch {
    std::string endpoint, lines;
    size_t rows;
  };
  struct OpenFile;
  /// How often the writer takes the queue (and flushes its files) when not woken.
  static constexpr std::chrono::milliseconds kWriteInterval{100};
  static BackgroundWorker::Options WorkerOptions(Logger* logger);
  /// One pass of the worker: writes the queue, closes files old enough (all when stopping).
  BackgroundWorker::Duration WritePass() EXCLUDES(mutex_);
  void Write(Batch& batch);
  void CloseAll();

  CaptureOptions options_;
  Mutex mutex_;
  CondVar flushed_{&mutex_};
  std::vector<Batch> queue_ GUARDED_BY(mutex_);
  size_t queued_rows_ GUARDED_BY(mutex_) = 0;
  uint64_t submitted_ GUARDED_BY(mutex_) = 0;  ///< batches
  uint64_t done_ GUARDED_BY(mutex_) = 0;       ///< batches written (or dropped by a write error)
  bool stopped_ GUARDED_BY(mutex_) = false;
  /// The worker's own: only WritePass touches them.
  std::map<std::string, std::unique_ptr<OpenFile>> files_;
  uint64_t sequence_ = 0;
  std::atomic<uint64_t> written_rows_{0}, dropped_rows_{0}, write_errors_{0};
  BackgroundWorker worker_;
};

}  // namespace fraudops
