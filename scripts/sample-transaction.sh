#!/usr/bin/env bash
# Writes one synthetic transaction as a JSON object of features (the predict body), for the
# curl example of scripts/run.sh and the serving benchmarks.
#   scripts/sample-transaction.sh FRAUDOPS_BINARY OUTPUT_JSON
set -euo pipefail
fraudops=$1 output=$2
csv=$(mktemp)
trap 'rm -f "$csv"' EXIT
"$fraudops" data synth --rows 10 --seed 7 --output "$csv" >/dev/null 2>&1
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) { name[i] = $i; gsub(/"/, "", name[i]) }; next }
         NR == 2 { printf "{"; for (i = 1; i <= NF; i++) if (name[i] != "Class") printf "%s\"%s\": %s", (n++ ? ", " : ""), name[i], $i; print "}"; exit }' \
  "$csv" > "$output"
