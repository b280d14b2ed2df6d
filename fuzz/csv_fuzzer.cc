// libFuzzer target: the CSV reader must return a Status for any input, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/thread_pool.h"
#include "data/csv_reader.h"

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
  return 0;
}
