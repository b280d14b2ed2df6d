#!/usr/bin/env bash
# Stream scoring throughput (BENCHMARKS.md): N transactions in a Redis stream (a private
# redis-server on loopback), scored by `fraudops stream score` with the default pipeline's
# model — each result written to the output stream with its once-only marker, then the entry
# acknowledged — with one consumer, then with two in one group; events/s from the first
# entry read to the last output written (XLEN polled every 50 ms).
#   bench/stream.sh [EVENTS]        (needs a release build and redis-server)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$root/build/release/src/fraudops
load=$root/build/release/bench/fraudops_features_bench
events=${1:-200000}
source "$root/bench/serve_lib.sh"
port=46990
redis-server --port $port --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
until redis-cli -p $port ping >/dev/null 2>&1; do sleep 0.05; done
url=redis://127.0.0.1:$port/0
cd "$work"
printf 'deploy:\n  enabled: false\nstream:\n  url: %s\n' "$url" > config.yml
FRAUDOPS_GLOBAL_THREADS=$(nproc) "$bin" run >/dev/null 2>&1
"$bin" deploy fraud-detector@1 --strategy all_at_once >/dev/null
echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $events events"
for consumers in 1 2; do
  redis-cli -p $port flushall >/dev/null
  "$load" stream-load "$url" fraudops:transactions "$events"
  start=$(date +%s%N)
  running=()
  for c in $(seq "$consumers"); do
    "$bin" stream score --consumer "c$c" >"consumer-$c.log" 2>&1 &
    running+=($!)
  done
  pids+=("${running[@]}")
  until [ "$(redis-cli -p $port xlen fraudops:scores)" -ge "$events" ]; do sleep 0.05; done
  elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  kill "${running[@]}"; wait "${running[@]}" 2>/dev/null || true
  echo "consumers=$consumers events=$events seconds=$(awk -v m="$elapsed_ms" 'BEGIN { printf "%.2f", m / 1000 }')" \
       "events_per_s=$(awk -v n="$events" -v m="$elapsed_ms" 'BEGIN { printf "%.0f", n * 1000 / m }')" \
       "pending=$(redis-cli -p $port xpending fraudops:transactions fraudops-score | head -1)"
done
