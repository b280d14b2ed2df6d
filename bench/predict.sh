#!/usr/bin/env bash
# Batch scoring end to end: `fraudops predict` on a 1,000,000-row synthetic CSV in the reference
# format (about 530 MB) with the default pipeline's model, 2 threads, CSV out (score, margin,
# label), median of 3; next to the same job in Python (pandas + xgboost inplace_predict, 2
# threads, bench/peer_predict.py), median of 3; and with 3 reason codes per row on the first
# 20,000 rows. Needs a release build, python3-pandas and python3-xgboost.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(pwd)/build/release/src/fraudops
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
input=${FRAUDOPS_BENCH_1M_CSV:-/tmp/fraudops-bench-1m.csv}
[ -f "$input" ] || "$bin" data synth --rows 1000000 --seed 7 --output "$input" >/dev/null
FRAUDOPS_GLOBAL_THREADS=2 "$bin" run --home "$work/home" >/dev/null 2>&1
(cd "$work" && "$bin" models export fraud-detector@latest bundle --home home >/dev/null)
threshold=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["threshold"])' "$work/bundle/bundle.json")
echo "input: $input ($(du -m "$input" | cut -f1) MB), threshold $threshold"
for i in 1 2 3; do
  "$bin" predict --model "$work/bundle" --input "$input" --output "$work/out.csv" --threads 2 --json 2>&1 |
    /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print("%.2f %.0f" % (d["seconds"], d["rows_per_second"]))'
done | sort -n | sed -n 2p | sed 's|^\([^ ]*\) \(.*\)|fraudops_predict seconds=\1 rows_per_second=\2|'
for i in 1 2 3; do
  /usr/bin/python3 bench/peer_predict.py "$work/bundle/model.json" "$input" "$work/peer.csv" 2 "$threshold"
done | sort -t= -k3 -n | sed -n 2p
head -20001 "$input" > "$work/20k.csv"
"$bin" predict --model "$work/bundle" --input "$work/20k.csv" --output "$work/explained.csv" --threads 2 --explain 3 --json 2>&1 |
  tail -1 | sed 's|^|fraudops_predict_explain3_20k |'
