#!/usr/bin/env bash
# Sharded reading against the leader reading (issue 20, item 2), with the release build:
# `fraudops train --workers 2` on a CSV of ROWS synthetic rows, 10 rounds (reading dominates),
# as the leader reading the CSV and writing dataset files the workers slice (the peer) and
# with `--sharded` (each worker parses its byte range of the CSV; the leader reads nothing).
# ROUNDS interleaved pairs (who goes first alternates): medians of the wall times and of the
# leader's and the largest worker's peak resident memory (`peak_memory_mib`, and the shards'),
# and the validation AUC of each (the same rows train either way).
#   bench/sharded_reading.sh [ROWS=800000] [ROUNDS=3] [ALGORITHM=lgbm]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(pwd)/build/release/src/fraudops
rows=${1:-800000}
rounds=${2:-3}
algorithm=${3:-lgbm}
if [ "$algorithm" = xgboost ]; then
  params=(--param num_round=10 --param early_stopping_rounds=0)
else
  params=(--param num_iterations=10 --param early_stopping_round=0)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
"$bin" data synth --rows "$rows" --fraud-rate 0.01 --seed 1 --output train.csv >/dev/null 2>&1
"$bin" data synth --rows $((rows / 8)) --fraud-rate 0.01 --seed 2 --output valid.csv >/dev/null 2>&1
echo "data: $rows rows, $(du -m train.csv | cut -f1) MB CSV; $algorithm, 10 rounds, 2 workers"
train() {  # extra flags: prints "wall_seconds leader_peak_mib auc worker_peak_mib"
  local start end out
  start=$(date +%s.%N)
  out=$(FRAUDOPS_GLOBAL_THREADS=2 "$bin" train --algorithm "$algorithm" --data train.csv \
    --valid valid.csv --label Class "${params[@]}" --workers 2 "$@" --output model --json 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; j = json.load(sys.stdin); print(j["peak_memory_mib"], list(j["validation"].values())[0], max(s["peak_memory_mib"] for s in j["shards"]))')
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc) $out"
}
leader=() sharded=()
for i in $(seq "$rounds"); do
  if [ $((i % 2)) = 1 ]; then a=$(train); b=$(train --sharded); else b=$(train --sharded); a=$(train); fi
  echo "pair $i: leader reads: $a | sharded: $b"
  leader+=("$a") sharded+=("$b")
done
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { local n=$1; shift; printf '%s\n' "$@" | awk -v n="$n" '{ print $n }'; }
lw=$(field 1 "${leader[@]}" | median) sw=$(field 1 "${sharded[@]}" | median)
lm=$(field 2 "${leader[@]}" | median) sm=$(field 2 "${sharded[@]}" | median)
lk=$(field 4 "${leader[@]}" | median) sk=$(field 4 "${sharded[@]}" | median)
echo "leader reads: wall ${lw} s, leader peak ${lm} MiB, worker peak ${lk} MiB, auc $(field 3 "${leader[0]}")"
echo "sharded:      wall ${sw} s, leader peak ${sm} MiB, worker peak ${sk} MiB, auc $(field 3 "${sharded[0]}")"
echo "ratio sharded/leader: wall $(echo "scale=2; $sw / $lw" | bc), leader memory $(echo "scale=3; $sm / $lm" | bc), worker memory $(echo "scale=2; $sk / $lk" | bc)"
