#!/usr/bin/env bash
# End to end on 284,807 synthetic rows: `fraudops run` from the CSV (goal <= 20 s) next to the
# same pipeline in Python (pandas + scikit-learn + xgboost), both from the same CSV file with
# the same hyperparameters, 2 threads. Also `fraudops run` with no configuration (it then
# synthesizes the data itself). Median of 3 each. Needs a release build, python3-xgboost and
# python3-sklearn.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(pwd)/build/release/src/fraudops
csv=${FRAUDOPS_BENCH_CSV:-/tmp/fraudops-bench-284807.csv}
[ -f "$csv" ] || "$bin" data synth --output "$csv" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
median() { sort -n | sed -n 2p; }
for source in "$csv" synthetic; do
  for i in 1 2 3; do
    FRAUDOPS_GLOBAL_THREADS=2 "$bin" run --home "$work/home" --data "$source" --json 2>/dev/null |
      /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); t=d["metrics"]["test"]; print("%.2f roc_auc=%.4f pr_auc=%.4f" % (d["seconds"], t["roc_auc"], t["pr_auc"]))'
  done | sort -n | sed -n 2p | sed "s|^|fraudops_run source=$(basename "$source") seconds=|"
done
for i in 1 2 3; do /usr/bin/python3 bench/peer_pipeline.py "$csv" models/xgboost_default.json; done |
  sort -t= -k2 -n | sed -n 2p
