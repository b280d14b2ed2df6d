#!/usr/bin/env bash
# Real-time scoring: `fraudops serve` against the Python stack `mlflow models serve` runs
# (gunicorn + Flask + xgboost, bench/peers/flask_app.py), the same model (the default
# pipeline's, on the built-in synthetic data), one JSON transaction per request, Debian's wrk
# on loopback on the same machine.
#
#  1. Peak throughput, closed loop (wrk -t1 -c16, 10 s after a 2 s warm-up), three rounds
#     with the servers interleaved; the median round is reported. fraudops with its default
#     workers (one per core) and with one worker (wrk itself needs a core); the peer tuned as
#     its users tune it: one gunicorn worker per core, OMP_NUM_THREADS=1 (and one worker).
#  2. Latency at half of fraudops' best peak: paced load (each of C connections waits
#     WRK_DELAY_MS between a response and its next request; C set to reach the rate), p50/p99.
#
# Needs a release build (scripts/build.sh release), wrk, gunicorn, python3-flask and
# python3-xgboost (apt-get install wrk gunicorn python3-flask python3-xgboost). bench/serve.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$root/build/release/src/fraudops
seconds=${1:-10}
cores=$(nproc)
source "$root/bench/serve_lib.sh"

# The model, a key, one transaction.
FRAUDOPS_GLOBAL_THREADS=$cores "$bin" run --home "$work/home" >/dev/null 2>&1
(cd "$work" && "$bin" models export fraud-detector@latest bundle --home home >/dev/null)
key=$("$bin" keys create --name bench --scope invoke --home "$work/home" 2>/dev/null)
bash scripts/sample-transaction.sh "$bin" "$work/tx.json"
trees=$(/usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"])' "$work/bundle/model.json")

"$bin" serve --home "$work/home" --listen 127.0.0.1:18180 >"$work/fraudops-default.log" 2>&1 &
pids+=($!)
"$bin" serve --home "$work/home" --listen 127.0.0.1:18181 --workers 1 >"$work/fraudops-1.log" 2>&1 &
pids+=($!)
for w in "$cores" 1; do
  FRAUDOPS_BUNDLE="$work/bundle" OMP_NUM_THREADS=1 gunicorn -w "$w" -b "127.0.0.1:$((18190 + w))" \
    --chdir "$root/bench/peers" flask_app:app >"$work/peer-$w.log" 2>&1 &
  pids+=($!)
done
wait_for http://127.0.0.1:18180/healthz
wait_for http://127.0.0.1:18181/healthz
sleep 2  # gunicorn workers load the model
predict=/v1/endpoints/fraud-detector/predict
declare -A url=(
  [fraudops_workers_$cores]="http://127.0.0.1:18180$predict" [fraudops_workers_1]="http://127.0.0.1:18181$predict"
  [peer_workers_$cores]="http://127.0.0.1:$((18190 + cores))/invocations" [peer_workers_1]="http://127.0.0.1:18191/invocations")
declare -A auth=([fraudops_workers_$cores]=$key [fraudops_workers_1]=$key [peer_workers_$cores]= [peer_workers_1]=)
order=(fraudops_workers_$cores peer_workers_$cores fraudops_workers_1 peer_workers_1)
curl -sf -H "x-api-key: $key" -d @"$work/tx.json" "${url[fraudops_workers_1]}" >/dev/null
curl -sf -H 'content-type: application/json' -d @"$work/tx.json" "${url[peer_workers_1]}" >/dev/null

load() {  # NAME CONNECTIONS SECONDS DELAY_MS: one wrk run, its summary line
  WRK_BODY="$work/tx.json" WRK_KEY="${auth[$1]}" WRK_DELAY_MS="$4" \
    wrk -t1 -c"$2" -d"$3"s -s "$root/bench/serve_wrk.lua" "${url[$1]}" | tail -1
}

echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), model: $trees trees"
for name in "${order[@]}"; do load "$name" 16 2 0 >/dev/null; done  # warm-up
for round in 1 2 3; do
  for name in "${order[@]}"; do
    echo "$name $(load "$name" 16 "$seconds" 0)" | tee -a "$work/peak.txt" | sed "s/^/round $round: /"
  done
done
median() {  # NAME: the median round's line by rps
  grep "^$1 " "$work/peak.txt" | sed 's/.* rps=\([0-9]*\).*/\1 &/' | sort -n | sed -n 2p | cut -d' ' -f2-
}
echo "== peak (median of 3 rounds, wrk -t1 -c16, ${seconds}s)"
for name in "${order[@]}"; do median "$name"; done
rps() { median "$1" | sed 's/.* rps=\([0-9]*\).*/\1/'; }
best_ours=$(( $(rps fraudops_workers_1) > $(rps fraudops_workers_$cores) ? $(rps fraudops_workers_1) : $(rps fraudops_workers_$cores) ))
best_peer=$(( $(rps peer_workers_1) > $(rps peer_workers_$cores) ? $(rps peer_workers_1) : $(rps peer_workers_$cores) ))
echo "ratio of the best configurations: $best_ours / $best_peer = $(awk -v a="$best_ours" -v b="$best_peer" 'BEGIN { printf "%.1f", a / b }')x"

# Half of the best peak, paced: find C for WRK_DELAY_MS=1 from a short run, correct once.
target=$((best_ours / 2))
echo "== latency at half of the best peak ($target req/s), paced, WRK_DELAY_MS=1"
for name in fraudops_workers_$cores fraudops_workers_1; do
  connections=$(( target / 900 + 1 ))
  for _ in 1 2; do
    got=$(load "$name" "$connections" 3 1 | sed 's/.* rps=\([0-9]*\).*/\1/')
    connections=$(awk -v c="$connections" -v t="$target" -v g="$got" 'BEGIN { n = int(c * t / g + 0.5); print n < 1 ? 1 : n }')
  done
  echo "$name c=$connections $(load "$name" "$connections" "$seconds" 1)"
done
