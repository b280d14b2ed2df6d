#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default 60).
# Usage: [FUZZ_TARGETS="a b"] scripts/fuzz.sh [SECONDS]. Needs clang (apt-get install clang).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DFRAUDOPS_BUILD_FUZZERS=ON -DFRAUDOPS_BUILD_TESTS=OFF -DFRAUDOPS_BUILD_BENCH=OFF >/dev/null
targets=(csv_fuzzer config_fuzzer dataset_file_fuzzer url_fuzzer xgboost_json_fuzzer lightgbm_text_fuzzer bundle_fuzzer
         predict_request_fuzzer monitor_fuzzer policy_fuzzer oidc_fuzzer feature_store_fuzzer trace_fuzzer
         bin_mapper_fuzzer pipeline_fuzzer search_space_fuzzer)
if [ -n "${FUZZ_TARGETS:-}" ]; then read -r -a targets <<< "$FUZZ_TARGETS"; fi  # e.g. FUZZ_TARGETS=bundle_fuzzer
cmake --build build/fuzz --target "${targets[@]}"
for target in "${targets[@]}"; do
  corpus=build/fuzz/corpus/$target
  mkdir -p "$corpus"
  # Seed inputs (small valid files) start the corpus where we have them.
  if [ -d "fuzz/seeds/$target" ]; then cp -n fuzz/seeds/"$target"/* "$corpus"/; fi
  echo "fuzzing $target for ${seconds}s"
  "build/fuzz/fuzz/$target" "$corpus" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 2>&1 | tail -3
done
