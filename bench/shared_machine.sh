#!/usr/bin/env bash
# `fraudops run` (the default pipeline on the built-in 284,807 rows) on a quiet machine and
# beside two CPU-bound processes (two `yes > /dev/null`), in one script, the conditions
# interleaved, ROUNDS rounds, medians (issue 17: a good citizen on a shared machine; goal: no
# worse than the fair share, <= 2.2x the quiet time on 2 cores shared with two busy
# processes). Each condition twice: as fraudops runs now (OMP_WAIT_POLICY=PASSIVE, set by
# fraudops itself) and as it ran before (OMP_WAIT_POLICY=active: libgomp's threads spin).
#   bench/shared_machine.sh [ROUNDS]     (needs a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$root/build/release/src/fraudops
rounds=${1:-3}
work=$(mktemp -d)
busy=()
stop_busy() {
  for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null || true; done
  busy=()
}
trap 'stop_busy; rm -rf "$work"' EXIT

one_run() {  # POLICY: the run's wall seconds
  rm -rf "$work/home"
  local start end
  start=$(date +%s%N)
  OMP_WAIT_POLICY=$1 FRAUDOPS_DEPLOY_ENABLED=false "$bin" run --home "$work/home" >/dev/null 2>&1
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.2f", ns / 1e9 }'
}

echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
one_run PASSIVE >/dev/null  # warm the page cache and the binary
for round in $(seq "$rounds"); do
  for load in quiet busy; do
    if [ "$load" = busy ]; then
      for _ in 1 2; do yes >/dev/null & busy+=($!); done
    fi
    order=(PASSIVE active)
    [ $((round % 2)) -eq 0 ] && order=(active PASSIVE)
    for policy in "${order[@]}"; do
      seconds=$(one_run "$policy")
      echo "$load $policy $seconds" | tee -a "$work/runs.txt" | sed "s/^/round $round: /"
    done
    stop_busy
  done
done
median() { grep "^$1 $2 " "$work/runs.txt" | awk '{ print $3 }' | sort -n |
  awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for policy in PASSIVE active; do
  quiet=$(median quiet "$policy")
  loaded=$(median busy "$policy")
  echo "$policy: quiet ${quiet} s, beside two busy processes ${loaded} s," \
       "ratio $(awk -v a="$loaded" -v b="$quiet" 'BEGIN { printf "%.2f", a / b }')"
done
