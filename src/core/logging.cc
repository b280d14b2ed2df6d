#include "core/logging.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>

#include "core/strings.h"

namespace fraudops {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "info";
}

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  std::string lower = ToLower(text);
  if (lower == "debug")
    *level = LogLevel::kDebug;
  else if (lower == "info")
    *level = LogLevel::kInfo;
  else if (lower == "warn" || lower == "warning")
    *level = LogLevel::kWarn;
  else if (lower == "error")
    *level = LogLevel::kError;
  else if (lower == "off")
    *level = LogLevel::kOff;
  else
    return false;
  return true;
}

LogField::LogField(std::string_view k, double v)
    : key(k), value(std::isfinite(v) ? FormatDouble(v, 6) : "null"), quoted(false) {}

void AppendJsonEscaped(std::string& out, std::string_view text) {
  size_t plain = 0;  // start of the run of characters that need no escape
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) continue;
    out.append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[(c >> 4) & 15];
        out += kHex[c & 15];
      }
    }
  }
  out.append(text.data() + plain, text.size() - plain);
}

std::string JsonEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendJsonEscaped(out, text);
  return out;
}

namespace {

std::string JsonLine(std::string_view timestamp, LogLevel level, std::string_view component,
                     std::string_view message, const std::vector<LogField>& fields) {
  std::string line = "{\"ts\":\"" + std::string(timestamp) + "\",\"level\":\"" +
                     std::string(LogLevelName(level)) + "\",\"component\":\"" +
                     JsonEscape(component) + "\",\"msg\":\"" + JsonEscape(message) + "\"";
  for (const LogField& field : fields) {
    line += ",\"" + JsonEscape(field.key) + "\":";
    line += field.quoted ? "\"" + JsonEscape(field.value) + "\"" : field.value;
  }
  line += "}\n";
  return line;
}

class StreamSink : public LogSink {
 public:
  StreamSink(std::FILE* stream, bool human) : stream_(stream), human_(human) {}

  void Write(std::string_view timestamp, LogLevel level, std::string_view component,
             std::string_view message, const std::vector<LogField>& fields) override {
    std::string line;
    if (human_) {
      static constexpr std::string_view kColors[] = {"\033[2m", "\033[32m", "\033[33m", "\033[31m",
                                                     ""};
      std::string level_name = ToUpper(LogLevelName(level));
      level_name.resize(5, ' ');
      line = std::string(timestamp.substr(11, 8)) + " " +
             std::string(kColors[static_cast<int>(level)]) + level_name + "\033[0m " +
             std::string(component) + ": " + std::string(message);
      for (const LogField& field : fields) line += " " + field.key + "=" + field.value;
      line += "\n";
    } else {
      line = JsonLine(timestamp, level, component, message, fields);
    }
    std::fwrite(line.data(), 1, line.size(), stream_);
    std::fflush(stream_);
  }

 private:
  std::FILE* stream_;
  bool human_;
};

class FileSink : public LogSink {
 public:
  explicit FileSink(std::FILE* file) : file_(file) {}
  ~FileSink() override { std::fclose(file_); }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  void Write(std::string_view timestamp, LogLevel level, std::string_view component,
             std::string_view message, const std::vector<LogField>& fields) override {
    std::string line = JsonLine(timestamp, level, component, message, fields);
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }

 private:
  std::FILE* file_;
};

std::string NowIso8601() {
  auto now = std::chrono::system_clock::now();
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis % 1000));
  return buffer;
}

}  // namespace

std::unique_ptr<LogSink> MakeStreamSink(std::FILE* stream, LogFormat format) {
  bool human =
      format == LogFormat::kHuman || (format == LogFormat::kAuto && isatty(fileno(stream)) != 0);
  return std::make_unique<StreamSink>(stream, human);
}

std::unique_ptr<LogSink> MakeFileSink(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) return nullptr;
  return std::make_unique<FileSink>(file);
}

int Logger::AddSink(std::unique_ptr<LogSink> sink) {
  MutexLock lock(&mutex_);
  sinks_.emplace_back(next_id_, std::move(sink));
  return next_id_++;
}

void Logger::RemoveSink(int id) {
  MutexLock lock(&mutex_);
  std::erase_if(sinks_, [id](const auto& entry) { return entry.first == id; });
}

namespace {
thread_local std::string log_trace_id;
}  // namespace

void SetLogTraceId(std::string_view trace_id) { log_trace_id.assign(trace_id); }

void Logger::Log(LogLevel level, std::string_view component, std::string_view message,
                 std::vector<LogField> fields) {
  const LogLevel threshold = this->level();
  if (level < threshold || threshold == LogLevel::kOff) return;
  if (!log_trace_id.empty()) fields.emplace_back("trace_id", log_trace_id);
  std::string timestamp = NowIso8601();
  MutexLock lock(&mutex_);
  for (auto& [id, sink] : sinks_) sink->Write(timestamp, level, component, message, fields);
}

}  // namespace fraudops
