#pragma once
/// Shared inputs of the micro-benchmarks: the reference-size synthetic dataset, as a CSV file
/// (path from $FRAUDOPS_BENCH_CSV, else generated once into the temp directory) and as
/// stratified train/validation splits.

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/thread_pool.h"
#include "data/split.h"
#include "data/synth.h"

namespace fraudops::bench {

inline const std::string& ReferenceCsv() {
  static const std::string path = [] {
    const char* given = std::getenv("FRAUDOPS_BENCH_CSV");
    if (given != nullptr && *given) return std::string(given);
    std::string generated =
        (std::filesystem::temp_directory_path() / "fraudops-bench-284807.csv").string();
    if (!std::filesystem::exists(generated)) {
      ThreadPool pool(0);
      if (!WriteSyntheticCsv(SynthOptions{}, generated, &pool).ok()) std::abort();
    }
    return generated;
  }();
  return path;
}

struct Splits {
  Dataset train, validation;
};

inline const Splits& ReferenceSplits() {
  static const Splits splits = [] {
    ThreadPool pool(0);
    Dataset data = std::move(GenerateTransactions(SynthOptions{}, &pool)).value();
    SplitIndices split = std::move(StratifiedSplit(data, {0.7, 0.15, 0.15}, 42)).value();
    return Splits{data.Take(split.train), data.Take(split.validation)};
  }();
  return splits;
}

}  // namespace fraudops::bench
