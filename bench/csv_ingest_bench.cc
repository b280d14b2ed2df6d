// CSV ingest throughput on a 284,807-row file in the reference format (issue: >= 300 MB/s on
// 2 cores). bench/csv_ingest.sh runs this next to pandas' read_csv on the same file.

#include <benchmark/benchmark.h>

#include <filesystem>

#include "bench_data.h"
#include "data/csv_reader.h"

namespace fraudops::bench {
namespace {

void BM_ReadCsvFile(benchmark::State& state) {
  const std::string& path = ReferenceCsv();
  const auto bytes = static_cast<int64_t>(std::filesystem::file_size(path));
  ThreadPool pool(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto dataset = ReadCsvFile(path, {}, &pool);
    if (!dataset.ok()) state.SkipWithError(dataset.status().message().c_str());
    benchmark::DoNotOptimize(dataset);
  }
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["rows"] = 284807;
}
BENCHMARK(BM_ReadCsvFile)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace fraudops::bench
