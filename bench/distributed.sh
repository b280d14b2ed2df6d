#!/usr/bin/env bash
# The cost of the collective (issue 20's goal: 2 workers x 1 thread within 1.3x the time of
# 1 process x 2 threads on the same data), with the release build:
#   fraudops train --algorithm ALGORITHM on ROWS synthetic rows (a validation file of ROWS/4),
#   100 rounds (xgboost: depth 6; lgbm: 31 leaves) without early stopping, as one process
#   with 2 threads and as
#   `--workers 2` with 1 thread each; ROUNDS interleaved pairs (who goes first alternates),
#   medians of the wall times and the median of the pairs' ratios. The loopback interface's
#   transmitted bytes around each distributed run, divided by the boosting rounds, give the
#   bytes the collective moves per round (the tracker's few hundred bytes included). The
#   training phase alone (the JSON's `seconds`: the trainer's time in one process; with workers
#   from starting them to loading rank 0's model, so without reading the CSV and writing the
#   dataset files the workers read) is compared too.
#   With SHARDED=sharded the workers read their own parts of the CSV files (`--sharded`)
#   instead of dataset files the leader writes.
#   bench/distributed.sh [ROWS=200000] [ROUNDS=5] [ALGORITHM=xgboost] [SHARDED=]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(pwd)/build/release/src/fraudops
rows=${1:-200000}
rounds=${2:-5}
algorithm=${3:-xgboost}
sharded=()
[ "${4:-}" = sharded ] && sharded=(--sharded)
if [ "$algorithm" = xgboost ]; then
  params=(--param num_round=100 --param max_depth=6 --param early_stopping_rounds=0 --param eval_metric=auc)
else
  params=(--param num_iterations=100 --param num_leaves=31 --param early_stopping_round=0 --param metric=auc)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
"$bin" data synth --rows "$rows" --fraud-rate 0.01 --seed 1 --output train.csv >/dev/null 2>&1
"$bin" data synth --rows $((rows / 4)) --fraud-rate 0.01 --seed 2 --output valid.csv >/dev/null 2>&1
lo_tx() { awk '$1 == "lo:" { print $10 }' /proc/net/dev; }
train() {  # WORKERS: prints "seconds bytes auc training_seconds"
  local before after start end auc
  before=$(lo_tx)
  start=$(date +%s.%N)
  auc=$(FRAUDOPS_GLOBAL_THREADS=2 "$bin" train --algorithm "$algorithm" --data train.csv \
    --valid valid.csv --label Class "${params[@]}" --workers "$1" $([ "$1" -gt 1 ] && echo "${sharded[@]}") --output model \
    --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; j = json.load(sys.stdin); print(j["validation"]["auc"], j["seconds"])')
  end=$(date +%s.%N)
  after=$(lo_tx)
  echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }') $((after - before)) $auc"
}
train 1 >/dev/null  # warm the page cache
for round in $(seq "$rounds"); do
  order=(1 2)
  [ $((round % 2)) -eq 0 ] && order=(2 1)
  for workers in "${order[@]}"; do
    echo "$round $workers $(train "$workers")" | tee -a runs.txt
  done
done
/usr/bin/python3 - runs.txt <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    round_, workers, seconds, sent, auc, training = line.split()
    runs.setdefault(round_, {})[workers] = (float(seconds), int(sent), float(auc), float(training))
pairs = [r for r in runs.values() if len(r) == 2]
one = statistics.median(p["1"][0] for p in pairs)
two = statistics.median(p["2"][0] for p in pairs)
ratio = statistics.median(p["2"][0] / p["1"][0] for p in pairs)
per_round = statistics.median(p["2"][1] for p in pairs) / 100
train_ratio = statistics.median(p["2"][3] / p["1"][3] for p in pairs)
print(f"1 process x 2 threads: median {one:.2f} s; 2 workers x 1 thread: median {two:.2f} s; "
      f"ratio (median of {len(pairs)} pairs) {ratio:.2f}; loopback bytes per round (2 workers) "
      f"{per_round / 1024:.0f} KiB; validation auc {pairs[0]['1'][2]:.4f} vs {pairs[0]['2'][2]:.4f}; "
      f"training phase only (the trainer's own seconds; with workers from starting them to "
      f"rank 0's model) ratio {train_ratio:.2f}")
EOF
