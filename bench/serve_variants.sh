#!/usr/bin/env bash
# What the kinds of endpoint cost per request over HTTP, in one `fraudops serve` (one worker,
# wrk -t1 -c16 on loopback, ROUNDS rounds with the endpoints interleaved, medians):
#   plain: one model (the default pipeline's);
#   ab:    an A/B test of two versions, sticky by card_id (read from the body, hashed);
#   multi: a multi-model endpoint, the model named by x-fraudops-target-model (warm: cached);
#   policy: plain's model with a 20-rule decision policy over the amount and four request
#           fields sent beside the features (none of the rules fires: all are evaluated);
#   combined: the mean of plain's model and a second one (the cost of scoring a second model).
# The overhead per request is 1/rps(kind) - 1/rps(plain). Issue 16's goals: <= 2 us for A/B
# and for a 20-rule policy, <= 1 us for a warm multi-model request. Then cold loads: a second server whose cache holds
# one model, asked for the two versions in turn, so every request loads its model; the mean
# of fraudops_model_load_seconds over LOADS loads (goal: <= 50 ms for the reference-size model).
#   bench/serve_variants.sh [SECONDS] [ROUNDS]     (needs a release build and wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$root/build/release/src/fraudops
seconds=${1:-10}
rounds=${2:-3}
source "$root/bench/serve_lib.sh"

home=$work/home
FRAUDOPS_GLOBAL_THREADS=$(nproc) "$bin" run --home "$home" >/dev/null 2>&1
XGBOOST_MAX_DEPTH=5 FRAUDOPS_GLOBAL_THREADS=$(nproc) "$bin" run --home "$home" >/dev/null 2>&1
"$bin" deploy fraud-detector@1 --endpoint plain --home "$home" >/dev/null
"$bin" deploy fraud-detector@1 --endpoint ab --home "$home" >/dev/null
"$bin" deploy fraud-detector@2 --endpoint ab --strategy ab --weight 30 --assignment-field card_id \
  --home "$home" >/dev/null
"$bin" deploy multi multi --default fraud-detector@1 --home "$home" >/dev/null
policy_file=$work/policy20.txt
for i in $(seq 0 19); do
  case $((i % 4)) in
    0) echo "r$i: Amount > $((5000 + i)) and score > 0.3 -> review" ;;
    1) echo "r$i: country in [\"XX\", \"YY\", \"Z$i\"] -> decline" ;;
    2) echo "r$i: hour < 5 and Amount / (avg_amount + 1) > $i -> review" ;;
    *) echo "r$i: missing(card_age) or score >= 0.9$i -> decline" ;;
  esac
done >"$policy_file"
echo "default -> approve" >>"$policy_file"
"$bin" models policy fraud-detector@1 "$policy_file" --home "$home" >/dev/null   # @3
"$bin" models combine fraud-detector --model fraud-detector@1 --model fraud-detector@2 \
  --home "$home" >/dev/null                                                    # @4
for version in 3 4; do "$bin" models approve "fraud-detector@$version" --home "$home" >/dev/null; done
"$bin" deploy fraud-detector@3 --endpoint policy --home "$home" >/dev/null
"$bin" deploy fraud-detector@4 --endpoint combined --home "$home" >/dev/null
key=$("$bin" keys create --name bench --scope invoke --home "$home" 2>/dev/null)
bash scripts/sample-transaction.sh "$bin" "$work/plain.json"
sed 's/}$/,"card_id":"card-4242"}/' "$work/plain.json" >"$work/ab.json"
cp "$work/plain.json" "$work/multi.json"
sed 's/}$/,"country":"FR","card_age":120,"avg_amount":14,"hour":14}/' "$work/plain.json" >"$work/policy.json"
cp "$work/plain.json" "$work/combined.json"

FRAUDOPS_API_CAPTURE_SAMPLE=0 "$bin" serve --home "$home" --listen 127.0.0.1:18380 --workers 1 \
  >"$work/serve.log" 2>&1 &
pids+=($!)
wait_for http://127.0.0.1:18380/readyz
for kind in plain ab multi policy combined; do
  curl -sf -H "x-api-key: $key" -H "x-fraudops-target-model: fraud-detector@1" -d @"$work/$kind.json" \
    "http://127.0.0.1:18380/v1/endpoints/$kind/predict" >/dev/null
done

load() {  # KIND SECONDS
  WRK_BODY="$work/$1.json" WRK_KEY="$key" WRK_DELAY_MS=0 WRK_TARGET_MODEL=fraud-detector@1 \
    wrk -t1 -c16 -d"$2"s -s "$root/bench/serve_wrk.lua" \
    "http://127.0.0.1:18380/v1/endpoints/$1/predict" | tail -1
}

echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
kinds=(plain ab multi policy combined)
for kind in "${kinds[@]}"; do load "$kind" 2 >/dev/null; done
for round in $(seq "$rounds"); do
  order=("${kinds[@]}")
  [ $((round % 2)) -eq 0 ] && order=(combined policy multi ab plain)
  for kind in "${order[@]}"; do
    echo "$kind $(load "$kind" "$seconds")" | tee -a "$work/runs.txt" | sed "s/^/round $round: /"
  done
done
plain=$(grep '^plain ' "$work/runs.txt" | field rps | median_value)
for kind in "${kinds[@]}"; do
  rps=$(grep "^$kind " "$work/runs.txt" | field rps | median_value)
  p99=$(grep "^$kind " "$work/runs.txt" | field p99_ms | median_value)
  echo "$kind median rps=$rps p99_ms=$p99 overhead_us=$(awk -v a="$rps" -v b="$plain" 'BEGIN { printf "%.2f", 1e6 / a - 1e6 / b }')"
done

# Cold loads: a workspace of its own whose only endpoint is multi-model (a version another
# endpoint serves is shared, not loaded again), a cache with room for one model (either: they
# differ by a few percent), the two versions asked for in turn.
loads=${LOADS:-20}
one_model=$(curl -s http://127.0.0.1:18380/metrics | awk '$1 == "fraudops_model_cache_bytes" { print $2 }')
echo "one model in memory: $one_model bytes"
cold=$work/cold
FRAUDOPS_DEPLOY_ENABLED=false FRAUDOPS_GLOBAL_THREADS=$(nproc) "$bin" run --home "$cold" >/dev/null 2>&1
FRAUDOPS_DEPLOY_ENABLED=false XGBOOST_MAX_DEPTH=5 FRAUDOPS_GLOBAL_THREADS=$(nproc) "$bin" run --home "$cold" >/dev/null 2>&1
"$bin" deploy multi multi --default fraud-detector@1 --home "$cold" >/dev/null
cold_key=$("$bin" keys create --name bench --scope invoke --home "$cold" 2>/dev/null)
FRAUDOPS_API_CAPTURE_SAMPLE=0 FRAUDOPS_API_MODEL_CACHE_BYTES=$(( one_model * 3 / 2 )) \
  "$bin" serve --home "$cold" --listen 127.0.0.1:18381 --workers 1 >"$work/cold.log" 2>&1 &
pids+=($!)
wait_for http://127.0.0.1:18381/readyz
start=$(date +%s%N)
for i in $(seq "$loads"); do
  curl -sf -o /dev/null -H "x-api-key: $cold_key" -H "x-fraudops-target-model: fraud-detector@$((1 + i % 2))" \
    -d @"$work/plain.json" http://127.0.0.1:18381/v1/endpoints/multi/predict
done
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
metrics=$(curl -s http://127.0.0.1:18381/metrics)
count=$(echo "$metrics" | awk '$1 == "fraudops_model_load_seconds_count" { print $2 }')
sum=$(echo "$metrics" | awk '$1 == "fraudops_model_load_seconds_sum" { print $2 }')
echo "cold: $count loads, mean load $(awk -v s="$sum" -v c="$count" 'BEGIN { printf "%.1f", 1000 * s / c }') ms," \
     "mean request (curl, new connection each) $(awk -v e="$elapsed_ms" -v n="$loads" 'BEGIN { printf "%.1f", e / n }') ms;" \
     "evictions $(echo "$metrics" | awk '$1 == "fraudops_model_cache_evictions_total" { print $2 }')"
