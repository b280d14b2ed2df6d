#!/usr/bin/env bash
# The cost of XGBoost's collective (issue 20's goal: 2 workers x 1 thread within 1.3x the time
# of 1 process x 2 threads on the same data), with the release build:
#   fraudops train --algorithm xgboost on ROWS synthetic rows (a validation file of ROWS/4),
#   100 rounds of depth 6 without early stopping, as one process with 2 threads and as
#   `--workers 2` with 1 thread each; ROUNDS interleaved pairs (who goes first alternates),
#   medians of the wall times and the median of the pairs' ratios. The loopback interface's
#   transmitted bytes around each distributed run, divided by the boosting rounds, give the
#   bytes the collective moves per round (the tracker's few hundred bytes included).
#   bench/distributed.sh [ROWS=200000] [ROUNDS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(pwd)/build/release/src/fraudops
rows=${1:-200000}
rounds=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
"$bin" data synth --rows "$rows" --fraud-rate 0.01 --seed 1 --output train.csv >/dev/null 2>&1
"$bin" data synth --rows $((rows / 4)) --fraud-rate 0.01 --seed 2 --output valid.csv >/dev/null 2>&1
lo_tx() { awk '$1 == "lo:" { print $10 }' /proc/net/dev; }
train() {  # WORKERS: prints "seconds bytes auc"
  local before after start end auc
  before=$(lo_tx)
  start=$(date +%s.%N)
  auc=$(FRAUDOPS_GLOBAL_THREADS=2 "$bin" train --algorithm xgboost --data train.csv \
    --valid valid.csv --label Class --param num_round=100 --param max_depth=6 \
    --param early_stopping_rounds=0 --param eval_metric=auc --workers "$1" --output model.json \
    --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["validation"]["auc"])')
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
    round_, workers, seconds, sent, auc = line.split()
    runs.setdefault(round_, {})[workers] = (float(seconds), int(sent), float(auc))
pairs = [r for r in runs.values() if len(r) == 2]
one = statistics.median(p["1"][0] for p in pairs)
two = statistics.median(p["2"][0] for p in pairs)
ratio = statistics.median(p["2"][0] / p["1"][0] for p in pairs)
per_round = statistics.median(p["2"][1] for p in pairs) / 100
print(f"1 process x 2 threads: median {one:.2f} s; 2 workers x 1 thread: median {two:.2f} s; "
      f"ratio (median of {len(pairs)} pairs) {ratio:.2f}; loopback bytes per round (2 workers) "
      f"{per_round / 1024:.0f} KiB; validation auc {pairs[0]['1'][2]:.4f} vs {pairs[0]['2'][2]:.4f}")
EOF
