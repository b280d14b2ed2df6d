#pragma once
/// Structured logging. A Logger writes each event to its sinks: the console (human-readable
/// on a TTY, JSON lines otherwise, or as forced by configuration) and optional files (always
/// JSON lines). Loggers are passed explicitly through Context; there is no global logger.
/// Thread-safe: events from several threads are written whole, never interleaved.

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/mutex.h"

namespace fraudops {

enum class LogLevel { kDebug = 0, kInfo, kWarn, kError, kOff };

std::string_view LogLevelName(LogLevel level);
/// Accepts debug, info, warn, warning, error, off (any case).
bool ParseLogLevel(std::string_view text, LogLevel* level);

/// One key=value field of a log event; values are rendered as JSON strings or numbers.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v), quoted(true) {}
  LogField(std::string_view k, const char* v) : key(k), value(v), quoted(true) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
  LogField(std::string_view k, double v);
  LogField(std::string_view k, long long v) : key(k), value(std::to_string(v)), quoted(false) {}
  LogField(std::string_view k, int v) : LogField(k, static_cast<long long>(v)) {}
  LogField(std::string_view k, size_t v) : LogField(k, static_cast<long long>(v)) {}
  std::string key;
  std::string value;
  bool quoted;
};

enum class LogFormat { kAuto, kHuman, kJson };

class LogSink {
 public:
  virtual ~LogSink() = default;
  /// `timestamp` is ISO 8601 UTC with milliseconds.
  virtual void Write(std::string_view timestamp, LogLevel level, std::string_view component,
                     std::string_view message, const std::vector<LogField>& fields) = 0;
};

/// Writes to a stdio stream; `format` kAuto picks human on a TTY and JSON otherwise.
std::unique_ptr<LogSink> MakeStreamSink(std::FILE* stream, LogFormat format);
/// Appends JSON lines to `path`; returns nullptr when the file cannot be opened.
std::unique_ptr<LogSink> MakeFileSink(const std::string& path);

class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::kInfo) : level_(level) {}

  /// Adds a sink and returns an id that RemoveSink takes.
  int AddSink(std::unique_ptr<LogSink> sink) EXCLUDES(mutex_);
  void RemoveSink(int id) EXCLUDES(mutex_);
  /// Safe while other threads log (a server's reload changes it).
  void set_level(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
  LogLevel level() const { return level_.load(std::memory_order_relaxed); }

  void Log(LogLevel level, std::string_view component, std::string_view message,
           std::vector<LogField> fields = {}) EXCLUDES(mutex_);
  void Debug(std::string_view component, std::string_view message,
             std::vector<LogField> fields = {}) {
    Log(LogLevel::kDebug, component, message, std::move(fields));
  }
  void Info(std::string_view component, std::string_view message,
            std::vector<LogField> fields = {}) {
    Log(LogLevel::kInfo, component, message, std::move(fields));
  }
  void Warn(std::string_view component, std::string_view message,
            std::vector<LogField> fields = {}) {
    Log(LogLevel::kWarn, component, message, std::move(fields));
  }
  void Error(std::string_view component, std::string_view message,
             std::vector<LogField> fields = {}) {
    Log(LogLevel::kError, component, message, std::move(fields));
  }

 private:
  std::atomic<LogLevel> level_;
  Mutex mutex_;
  int next_id_ GUARDED_BY(mutex_) = 0;
  std::vector<std::pair<int, std::unique_ptr<LogSink>>> sinks_ GUARDED_BY(mutex_);
};

/// The trace id every log line this thread writes carries as its field trace_id (empty:
/// none); the server sets it while it serves a request (serve/tracing.h).
void SetLogTraceId(std::string_view trace_id);

/// Escapes `text` as the inside of a JSON string.
std::string JsonEscape(std::string_view text);
/// The same, appended to `out`.
void AppendJsonEscaped(std::string& out, std::string_view text);

}  // namespace fraudops
