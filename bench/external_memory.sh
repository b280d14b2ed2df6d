#!/usr/bin/env bash
# Training on data larger than memory (issue 20): peak resident memory and wall time of
# `fraudops train --algorithm ALGORITHM` in memory and with --external-memory, on the same
# dataset file of ROWS synthetic rows (30 features) with a validation file of ROWS/8, 10 rounds
# (xgboost: depth 6; lgbm: its defaults, 31 leaves; validation ROC AUC reported); ROUNDS
# interleaved pairs (who goes first alternates), medians; the peak is the process's maximum
# resident set (GNU time's %M, which the JSON's peak_memory_mib matches; for lgbm it includes
# the pages of the mapped bin file, which the kernel may drop). With the release build:
#   bench/external_memory.sh [ROWS=800000] [ROUNDS=3] [ALGORITHM=xgboost|lgbm]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(pwd)/build/release/src/fraudops
rows=${1:-800000}
rounds=${2:-3}
algorithm=${3:-xgboost}
case "$algorithm" in
  xgboost) params=(--param num_round=10 --param max_depth=6 --param eval_metric=auc) ;;
  lgbm) params=(--param num_iterations=10 --param metric=auc) ;;
  *) echo "ALGORITHM: xgboost or lgbm" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
"$bin" data synth --rows "$rows" --fraud-rate 0.01 --seed 1 --output train.csv >/dev/null 2>&1
"$bin" data import train.csv --output train.fds >/dev/null 2>&1
"$bin" data synth --rows $((rows / 8)) --fraud-rate 0.01 --seed 2 --output valid.csv >/dev/null 2>&1
"$bin" data import valid.csv --output valid.fds >/dev/null 2>&1
rm train.csv valid.csv
echo "$algorithm; data: $rows rows, $(du -m train.fds | cut -f1) MiB dataset file"
train() {  # FLAGS...: prints "seconds peak_mib auc"
  /usr/bin/time -f "%e %M" -o time.txt "$bin" train --algorithm "$algorithm" --data train.fds \
    --valid valid.fds --library-defaults "${params[@]}" --json --output model "$@" \
    2>/dev/null >out.json
  local auc
  auc=$(/usr/bin/python3 -c 'import json; print(json.load(open("out.json"))["validation"]["auc"])' 2>/dev/null || echo -)
  awk -v auc="$auc" '{ printf "%s %.0f %s\n", $1, $2 / 1024, auc }' time.txt
}
memory=() external=()
for ((i = 0; i < rounds; i++)); do
  if ((i % 2 == 0)); then
    memory+=("$(train)"); external+=("$(train --external-memory)")
  else
    external+=("$(train --external-memory)"); memory+=("$(train)")
  fi
  echo "pair $i: in memory ${memory[-1]} | external ${external[-1]}  (seconds, peak MiB, validation AUC)"
done
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ms=$(printf '%s\n' "${memory[@]}" | cut -d' ' -f1 | median)
es=$(printf '%s\n' "${external[@]}" | cut -d' ' -f1 | median)
mm=$(printf '%s\n' "${memory[@]}" | cut -d' ' -f2 | median)
em=$(printf '%s\n' "${external[@]}" | cut -d' ' -f2 | median)
echo "in memory: ${ms} s, peak ${mm} MiB"
echo "external memory: ${es} s, peak ${em} MiB"
awk -v a="$em" -v b="$mm" -v c="$es" -v d="$ms" \
  'BEGIN { printf "peak memory ratio (external / in memory): %.2f; time ratio: %.2f\n", a / b, c / d }'
