#!/usr/bin/env bash
# The feature store, side by side (BENCHMARKS.md): the point-in-time join of 284,807 labelled
# rows against 2,000,000 feature rows over 3 groups, fraudops vs pandas merge_asof (identical
# result checked), interleaved; then online reads of one entity (embedded; Redis when
# FOPS_BENCH_REDIS_URL is set). Needs a release build (scripts/build.sh release) and
# python3-pandas.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/bench/fraudops_features_bench
dir=$(mktemp -d /tmp/fraudops-features-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for round in 1 2; do
  echo "-- round $round"
  "$bin" join "$dir" 3
  /usr/bin/python3 bench/peer_merge_asof.py "$dir" 3
done
"$bin" online "$dir"
