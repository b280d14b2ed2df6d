#!/usr/bin/env bash
# CSV ingest, side by side: fraudops' reader (Google Benchmark, 1 and 2 threads) and pandas
# read_csv on the same 284,807-row file in the reference format. Needs a release build
# (scripts/build.sh release) and python3-pandas.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release
csv=${FRAUDOPS_BENCH_CSV:-/tmp/fraudops-bench-284807.csv}
[ -f "$csv" ] || "$bin/src/fraudops" data synth --output "$csv" >/dev/null
echo "file: $csv ($(du -m "$csv" | cut -f1) MB), machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
FRAUDOPS_BENCH_CSV=$csv "$bin/bench/fraudops_bench" --benchmark_filter=ReadCsvFile --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true
/usr/bin/python3 bench/peer_read_csv.py "$csv" 3
