// libFuzzer target: the CSV reader must return a Status for any input, never crash; streamed
// into a dataset file a window at a time (ImportCsvText, the windows' size taken from the
// input), it must succeed exactly when the reader does and hold the same data; the same
// input through the streaming record reader of batch scoring (records, fields, unquoting)
// must not crash either; read in parts (ReadCsvFilePart, unified by ReadParts) it must hold
// the same data whenever the whole reads.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "core/thread_pool.h"
#include "data/csv_reader.h"
#include "data/parts.h"
#include "data/record_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fraudops::ThreadPool pool(2);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  fraudops::CsvOptions options;
  options.table.label_column = "Class";
  auto single = fraudops::ParseCsv(text, "fuzz.csv", options, nullptr);
  auto parallel = fraudops::ParseCsv(text, "fuzz.csv", options, &pool);
  // One thread or many, the outcome is the same.
  if (single.ok() != parallel.ok()) __builtin_trap();
  if (single.ok() && single->ContentHash() != parallel->ContentHash()) __builtin_trap();

  static const std::string imported_path =
      "/tmp/fraudops-import-fuzz-" + std::to_string(getpid()) + ".fds";
  auto imported =
      fraudops::ImportCsvText(text, "fuzz.csv", options, nullptr, imported_path, 1 + size % 61);
  if (imported.ok() != single.ok()) __builtin_trap();
  if (imported.ok() && imported->content_hash != single->ContentHash()) __builtin_trap();
  std::remove(imported_path.c_str());

  static const std::string path = "/tmp/fraudops-record-fuzz-" + std::to_string(getpid()) + ".csv";
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return 0;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  // Read in parts (sharded reading: byte ranges split at line ends, unified): whenever the
  // whole file reads, the parts do too, and hold the same data.
  const int parts = 1 + static_cast<int>(size % 7);
  std::vector<std::string> names(static_cast<size_t>(parts), "part");
  auto in_parts = fraudops::ReadParts(
      static_cast<size_t>(parts), names, false, [&](size_t i, const std::vector<std::string>&) {
        std::pair<size_t, size_t> range;
        return fraudops::ReadCsvFilePart(path, options, i % 2 ? &pool : nullptr,
                                         static_cast<int>(i), parts, &range);
      });
  if (single.ok() && !in_parts.ok()) __builtin_trap();
  if (single.ok() && in_parts->ContentHash() != single->ContentHash()) __builtin_trap();

  auto reader = fraudops::RecordReader::Open(path, /*quoted=*/true);
  if (!reader.ok()) return 0;
  fraudops::RecordChunk chunk;
  std::vector<std::string_view> fields;
  std::string scratch;
  const char delimiter = fraudops::DetectCsvDelimiter(text.substr(0, text.find('\n')));
  while (true) {
    auto more = (*reader)->Next(chunk, 3);
    if (!more.ok() || !*more) break;
    for (size_t r = 0; r < chunk.size(); ++r) {
      fraudops::SplitCsvRecord(chunk.record(r), delimiter, fields);
      for (std::string_view field : fields) (void)fraudops::UnquoteCsvField(field, scratch);
    }
  }
  return 0;
}
