#!/usr/bin/env bash
# Two builds of `fraudops serve` side by side on the same model and machine: peak throughput
# (closed loop, wrk -t1 -c16) and latency at a fixed pace (half of the lower peak), one
# worker each, ROUNDS rounds with the two interleaved and the order alternating, medians
# reported. For changes that must not slow the hot path (issue 16: the serving layer
# restructured, within 3 %).
#
#   bench/serve_compare.sh BEFORE_BINARY AFTER_BINARY [SECONDS] [ROUNDS]
#
# BEFORE_BINARY is usually an earlier commit's release build:
#   git worktree add /tmp/before <commit> && (cd /tmp/before && scripts/build.sh release fraudops)
# Needs wrk (apt-get install wrk). The model is the default pipeline's, trained by AFTER.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
before=$(readlink -f "$1")
after=$(readlink -f "$2")
seconds=${3:-10}
rounds=${4:-5}
source "$root/bench/serve_lib.sh"

FRAUDOPS_GLOBAL_THREADS=$(nproc) "$after" run --home "$work/home" >/dev/null 2>&1
key=$("$after" keys create --name bench --scope invoke --home "$work/home" 2>/dev/null)
bash scripts/sample-transaction.sh "$after" "$work/tx.json"

declare -A bin=([before]=$before [after]=$after) port=([before]=18280 [after]=18281)
for name in before after; do
  "${bin[$name]}" serve --home "$work/home" --listen "127.0.0.1:${port[$name]}" --workers 1 \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
done
for name in before after; do
  wait_for "http://127.0.0.1:${port[$name]}/readyz"
  curl -sf -H "x-api-key: $key" -d @"$work/tx.json" \
    "http://127.0.0.1:${port[$name]}/v1/endpoints/fraud-detector/predict" >/dev/null
done

load() {  # NAME CONNECTIONS SECONDS DELAY_MS: one wrk run, its summary line
  WRK_BODY="$work/tx.json" WRK_KEY="$key" WRK_DELAY_MS="$4" \
    wrk -t1 -c"$2" -d"$3"s -s "$root/bench/serve_wrk.lua" \
    "http://127.0.0.1:${port[$1]}/v1/endpoints/fraud-detector/predict" | tail -1
}

echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "before: $before"
echo "after:  $after"
for name in before after; do load "$name" 16 2 0 >/dev/null; done  # warm-up
echo "== peak, wrk -t1 -c16, ${seconds}s, $rounds rounds"
for round in $(seq "$rounds"); do
  order=(before after)
  [ $((round % 2)) -eq 0 ] && order=(after before)
  for name in "${order[@]}"; do
    echo "$name $(load "$name" 16 "$seconds" 0)" | tee -a "$work/peak.txt" | sed "s/^/round $round: /"
  done
done
for name in before after; do
  echo "$name median rps=$(grep "^$name " "$work/peak.txt" | field rps | median_value)" \
       "p99_ms=$(grep "^$name " "$work/peak.txt" | field p99_ms | median_value)"
done | tee "$work/peak-median.txt"
b=$(grep '^before' "$work/peak-median.txt" | field rps)
a=$(grep '^after' "$work/peak-median.txt" | field rps)
echo "after / before peak: $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')"

target=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%d", (a < b ? a : b) / 2 }')
connections=$(( target / 900 + 1 ))
echo "== paced at half of the lower peak (about $target req/s: $connections connections, WRK_DELAY_MS=1), $rounds rounds"
for round in $(seq "$rounds"); do
  order=(before after)
  [ $((round % 2)) -eq 0 ] && order=(after before)
  for name in "${order[@]}"; do
    echo "$name $(load "$name" "$connections" "$seconds" 1)" | tee -a "$work/paced.txt" | sed "s/^/round $round: /"
  done
done
for name in before after; do
  echo "$name median rps=$(grep "^$name " "$work/paced.txt" | field rps | median_value)" \
       "p50_ms=$(grep "^$name " "$work/paced.txt" | field p50_ms | median_value)" \
       "p99_ms=$(grep "^$name " "$work/paced.txt" | field p99_ms | median_value)"
done
