#!/usr/bin/env bash
# What the kinds of endpoint cost per request over HTTP, in one `fraudops serve` (one worker,
# wrk -t1 -c16 on loopback, ROUNDS rounds with the endpoints interleaved, medians):
#   plain: one model (the default pipeline's);
#   ab:    an A/B test of two versions, sticky by card_id (read from the body, hashed).
# The overhead per request is 1/rps(kind) - 1/rps(plain). Issue 16's goal: <= 2 us for A/B.
#   bench/serve_variants.sh [SECONDS] [ROUNDS]     (needs a release build and wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$root/build/release/src/fraudops
seconds=${1:-10}
rounds=${2:-3}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

home=$work/home
FRAUDOPS_GLOBAL_THREADS=$(nproc) "$bin" run --home "$home" >/dev/null 2>&1
XGBOOST_MAX_DEPTH=5 FRAUDOPS_GLOBAL_THREADS=$(nproc) "$bin" run --home "$home" >/dev/null 2>&1
"$bin" deploy fraud-detector@1 --endpoint plain --home "$home" >/dev/null
"$bin" deploy fraud-detector@1 --endpoint ab --home "$home" >/dev/null
"$bin" deploy fraud-detector@2 --endpoint ab --strategy ab --weight 30 --assignment-field card_id \
  --home "$home" >/dev/null
key=$("$bin" keys create --name bench --scope invoke --home "$home" 2>/dev/null)
bash scripts/sample-transaction.sh "$bin" "$work/plain.json"
sed 's/}$/,"card_id":"card-4242"}/' "$work/plain.json" >"$work/ab.json"

FRAUDOPS_API_CAPTURE_SAMPLE=0 "$bin" serve --home "$home" --listen 127.0.0.1:18380 --workers 1 \
  >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18380/readyz && break; sleep 0.1; done
for kind in plain ab; do
  curl -sf -H "x-api-key: $key" -d @"$work/$kind.json" \
    "http://127.0.0.1:18380/v1/endpoints/$kind/predict" >/dev/null
done

load() {  # KIND SECONDS
  WRK_BODY="$work/$1.json" WRK_KEY="$key" WRK_DELAY_MS=0 \
    wrk -t1 -c16 -d"$2"s -s "$root/bench/serve_wrk.lua" \
    "http://127.0.0.1:18380/v1/endpoints/$1/predict" | tail -1
}
field() { sed "s/.* $1=\([0-9.]*\).*/\1/"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
kinds=(plain ab)
for kind in "${kinds[@]}"; do load "$kind" 2 >/dev/null; done
for round in $(seq "$rounds"); do
  order=("${kinds[@]}")
  [ $((round % 2)) -eq 0 ] && order=(ab plain)
  for kind in "${order[@]}"; do
    echo "$kind $(load "$kind" "$seconds")" | tee -a "$work/runs.txt" | sed "s/^/round $round: /"
  done
done
plain=$(grep '^plain ' "$work/runs.txt" | field rps | median)
for kind in "${kinds[@]}"; do
  rps=$(grep "^$kind " "$work/runs.txt" | field rps | median)
  p99=$(grep "^$kind " "$work/runs.txt" | field p99_ms | median)
  echo "$kind median rps=$rps p99_ms=$p99 overhead_us=$(awk -v a="$rps" -v b="$plain" 'BEGIN { printf "%.2f", 1e6 / a - 1e6 / b }')"
done
