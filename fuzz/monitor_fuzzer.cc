// Fuzzes the monitor's parsers: the input read as capture lines (scanned against a fixed
// baseline with a labels map), as a labels CSV, and its first line as a cron expression.
// Any input gives counts or an error, never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "core/cron.h"
#include "monitor/capture_scan.h"
#include "monitor/quality.h"

namespace {

const fraudops::DriftBaseline& Baseline() {
  static const fraudops::DriftBaseline baseline =
      *fraudops::DriftBaseline::FromJson(nlohmann::json::parse(R"({
    "format_version": 1, "rows": 10,
    "features": [{"name": "a", "type": "numeric", "cuts": [0, 1], "counts": [3, 3, 4], "missing": 0},
                 {"name": "m", "type": "categorical", "categories": ["x", "y"], "counts": [5, 5], "missing": 0}],
    "score": {"cuts": [0.5], "counts": [8, 2], "missing": 0}})"),
                                         "fuzz");
  return baseline;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static const std::string directory = "/tmp/fraudops-monitor-fuzz-" + std::to_string(getpid());
  std::filesystem::create_directories(directory);
  {
    std::ofstream out(directory + "/20261123T000000Z-1-0.jsonl",
                      std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  fraudops::LabelMap labels;
  labels["r1"] = {1.0f, ""};
  fraudops::ScanOptions options;
  options.directory = directory;
  options.drift_window = {"2026-11-23T00:00:00.000Z", ""};
  options.quality_window = {"", "2026-11-24T00:00:00.000Z"};
  options.baseline = &Baseline();
  options.labels = &labels;
  options.chunk_bytes = 64;  // lines across chunk boundaries and buffer growth
  options.range_bytes = 50;  // lines across piece boundaries
  (void)fraudops::ScanCapture(options);
  (void)fraudops::ParseLabelsCsv(text, "fuzz.csv", "2026-11-23T00:00:00.000Z");
  auto cron = fraudops::CronSchedule::Parse(std::string(text.substr(0, text.find('\n'))));
  if (cron.ok()) (void)cron->Next(std::chrono::system_clock::from_time_t(1795000000));
  return 0;
}
