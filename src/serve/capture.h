#pragma once
/// Data capture (docs/formats/capture.md): sampled requests and their responses, one JSON
/// line per scored row, written by a background thread to
/// <home>/capture/<endpoint>/<UTC start>-<pid>-<sequence>.jsonl. The file being written is named
/// …jsonl.partial and renamed when it is closed (at capture_max_file_mb, after
/// capture_rotate_seconds, or at shutdown), so a reader that takes *.jsonl never sees half a
/// file. Submit never blocks a request: when the queue is full the rows are dropped and
/// counted. The writer takes the queue every 100 ms (sooner when it is half full) and writes
/// it with one flush per file.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/logging.h"

namespace fraudops {

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
  bool Submit(const std::string& endpoint, std::string lines, size_t rows);
  /// Waits until everything submitted so far is written (tests, shutdown).
  void Flush();

  uint64_t written_rows() const { return written_rows_.load(); }
  uint64_t dropped_rows() const { return dropped_rows_.load(); }
  uint64_t write_errors() const { return write_errors_.load(); }

 private:
  struct Batch {
    std::string endpoint, lines;
    size_t rows;
  };
  struct OpenFile;
  /// How often the writer thread takes the queue (and flushes its files) when not woken.
  static constexpr std::chrono::milliseconds kWriteInterval{100};
  void Run();
  void Write(Batch& batch);
  void CloseAll();

  CaptureOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_, flushed_;
  std::vector<Batch> queue_;       // guarded by mutex_
  size_t queued_rows_ = 0;         // guarded by mutex_
  uint64_t submitted_ = 0, done_ = 0;  // guarded by mutex_ (batches)
  bool stop_ = false;              // guarded by mutex_
  bool flush_requested_ = false;   // guarded by mutex_
  std::map<std::string, std::unique_ptr<OpenFile>> files_;  // writer thread only
  std::atomic<uint64_t> written_rows_{0}, dropped_rows_{0}, write_errors_{0};
  uint64_t sequence_ = 0;
  std::thread thread_;
};

}  // namespace fraudops
