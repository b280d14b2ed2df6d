#!/usr/bin/env bash
# Serving with enrichment from the embedded online store (BENCHMARKS.md): one `fraudops serve`
# (one worker, wrk -t1 -c16 on loopback), two endpoints on the built-in data with card ids —
#   plain:    a model without feature store features (card_id dropped);
#   enriched: a model reading 6 velocity features of card_activity by card_id (the embedded
#             store materialized from 284,807 transactions of 10,000 cards);
# interleaved over ROUNDS rounds (medians), the overhead per request 1/rps(enriched) -
# 1/rps(plain); then the enriched endpoint's latency at half its peak, paced (p50, p99).
#   bench/serve_features.sh [SECONDS] [ROUNDS]      (needs a release build and wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$root/build/release/src/fraudops
seconds=${1:-10}
rounds=${2:-3}
source "$root/bench/serve_lib.sh"

cd "$work"
cp "$root/examples/card-velocity/config.yml" config.yml
sed -e 's/  features: \[card_activity\]/  drop_columns: [card_id]/' config.yml > plain.yml
export FRAUDOPS_GLOBAL_THREADS=$(nproc)
"$bin" features apply >/dev/null && "$bin" features ingest card_activity >/dev/null
"$bin" run >/dev/null 2>&1                                                  # @1: enriched
"$bin" run --config plain.yml >/dev/null 2>&1                            # @2: plain
"$bin" features materialize >/dev/null
"$bin" deploy fraud-detector@1 --endpoint enriched >/dev/null
"$bin" deploy fraud-detector@2 --endpoint plain >/dev/null
key=$("$bin" keys create --name bench --scope invoke 2>/dev/null)
bash "$root/scripts/sample-transaction.sh" "$bin" plain.json
sed 's/}$/,"card_id":"card-000042","Time":172800}/' plain.json > enriched.json

FRAUDOPS_API_CAPTURE_SAMPLE=0 "$bin" serve --listen 127.0.0.1:18480 --workers 1 > serve.log 2>&1 &
pids+=($!)
wait_for http://127.0.0.1:18480/readyz
for kind in plain enriched; do
  curl -sS -H "x-api-key: $key" -d @"$kind.json" "http://127.0.0.1:18480/v1/endpoints/$kind/predict"; echo
done
load() {  # KIND CONNECTIONS SECONDS DELAY_MS
  WRK_BODY="$work/$1.json" WRK_KEY="$key" WRK_DELAY_MS="$4" \
    wrk -t1 -c"$2" -d"$3"s -s "$root/bench/serve_wrk.lua" \
    "http://127.0.0.1:18480/v1/endpoints/$1/predict" | tail -1
}
echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
for kind in plain enriched; do load "$kind" 16 2 0 >/dev/null; done
for round in $(seq "$rounds"); do
  order=(plain enriched)
  [ $((round % 2)) -eq 0 ] && order=(enriched plain)
  for kind in "${order[@]}"; do
    echo "$kind $(load "$kind" 16 "$seconds" 0)" | tee -a runs.txt | sed "s/^/round $round: /"
  done
done
plain=$(grep '^plain ' runs.txt | field rps | median_value)
enriched=$(grep '^enriched ' runs.txt | field rps | median_value)
echo "plain median rps=$plain; enriched median rps=$enriched;" \
     "overhead_us=$(awk -v a="$enriched" -v b="$plain" 'BEGIN { printf "%.2f", 1e6 / a - 1e6 / b }')"
target=$(awk -v r="$enriched" 'BEGIN { printf "%d", r / 2 }')
connections=$(( target / 900 + 1 ))
for _ in 1 2; do
  got=$(load enriched "$connections" 3 1 | field rps)
  connections=$(awk -v c="$connections" -v t="$target" -v g="$got" 'BEGIN { n = int(c * t / g + 0.5); print n < 1 ? 1 : n }')
done
echo "enriched at half of its peak ($target req/s), c=$connections: $(load enriched "$connections" "$seconds" 1)"
