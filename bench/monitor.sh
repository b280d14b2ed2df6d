#!/usr/bin/env bash
# Monitoring throughput and memory: `fraudops monitor run` against the same drift numbers
# computed with Debian's python3-pandas (bench/monitor_psi.py), on capture files of the
# synthetic transactions (bench/make_capture.py) for the model the default pipeline deploys.
#  1. 1,000,000 captured rows (one file, ~0.8 GB): fraudops with 1 and with all threads (each
#     the median of 3 runs), the
#     peer (single-threaded, as pandas is); rows/s and peak memory (/usr/bin/time), and the
#     largest difference between their PSI and KS values (they must agree);
#  2. 10,000,000 rows (ten such files): fraudops' time and peak memory.
# Needs a release build (scripts/build.sh release) and python3-pandas (apt-get install
# python3-pandas); about 9 GB of scratch space in $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$root/build/release/src/fraudops
scratch=${TMPDIR:-/tmp}/fraudops-monitor-bench
rm -rf "$scratch"
mkdir -p "$scratch"
export FRAUDOPS_HOME=$scratch/home FRAUDOPS_GLOBAL_LOG_LEVEL=error
"$bin" run --json > "$scratch/run.json"
baseline=$(python3 -c "import json,sys; print(json.load(open('$scratch/run.json'))['artifact_dir'])")/model/baseline.json
"$bin" data synth --rows 1000000 --seed 99 --output "$scratch/synth.csv" > /dev/null
at=2026-11-23T12:00:00Z
from=2026-11-23T11:00:00.000Z
to=2026-11-23T12:00:00.000Z
capture=$scratch/home/capture/fraud-detector
mkdir -p "$capture"
/usr/bin/python3 bench/make_capture.py "$scratch/synth.csv" "$capture/20261123T110500Z-1-0.jsonl" \
  2026-11-23T11:05:00Z 2026-11-23T11:55:00Z fraud-detector 1
sync  # the file's pages written back, so writeback does not run during the measurements
echo "capture file: $(du -h "$capture/20261123T110500Z-1-0.jsonl" | cut -f1), $(wc -l < "$capture/20261123T110500Z-1-0.jsonl") lines"

peak() { awk '/Maximum resident set size/ { printf "%.0f", $6 / 1024 }' "$1"; }
measure() {  # label threads -> prints a row (median of 3 runs), leaves the JSON in $scratch/fraudops.json
  local label=$1 threads=$2 runs=() peaks=() rows=0
  for run in 1 2 3; do
    FRAUDOPS_GLOBAL_THREADS=$threads /usr/bin/time -v "$bin" monitor run --at $at --window 1h --json --no-report \
      > "$scratch/fraudops.json" 2> "$scratch/time.txt" || [ $? -eq 5 ]
    runs+=("$(python3 -c "import json; print('%.3f' % json.load(open('$scratch/fraudops.json'))['seconds'])")")
    peaks+=("$(peak "$scratch/time.txt")")
    rows=$(python3 -c "import json; print(json.load(open('$scratch/fraudops.json'))['drift']['rows'])")
  done
  local seconds
  seconds=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
  printf '%-34s rows %9d  %8.3f s  %10.0f rows/s  peak %5s MiB  (runs %s s)\n' "$label" "$rows" "$seconds" \
    "$(awk -v r="$rows" -v s="$seconds" 'BEGIN { print r / s }')" "$(printf '%s\n' "${peaks[@]}" | sort -n | tail -1)" "${runs[*]}"
  echo "$seconds" > "$scratch/median_$threads.txt"
}

echo "== 1,000,000 rows"
measure "fraudops monitor run, 1 thread" 1
cp "$scratch/fraudops.json" "$scratch/fraudops_1m.json"
measure "fraudops monitor run, all threads" 0
/usr/bin/time -v /usr/bin/python3 bench/monitor_psi.py "$baseline" $from $to fraud-detector 1 \
  "$capture/20261123T110500Z-1-0.jsonl" > "$scratch/peer.json" 2> "$scratch/peer_time.txt"
python3 - "$scratch/peer.json" "$scratch/fraudops_1m.json" "$(peak "$scratch/peer_time.txt")" "$(cat "$scratch/median_1.txt")" <<'PY'
import json, sys
peer, ours = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ours["seconds"] = float(sys.argv[4])  # the median of the three runs
print("%-34s rows %9d  %8.3f s  %10.0f rows/s  peak %5s MiB" % ("pandas (python3-pandas 1.5.3)", peer["rows"], peer["seconds"], peer["rows"] / peer["seconds"], sys.argv[3]))
diff = 0.0
for column in ours["drift"]["columns"]:
    mine = peer["columns"][column["name"]]
    diff = max(diff, abs(mine["psi"] - column["psi"]))
    if column["ks"] is not None:
        diff = max(diff, abs(mine["ks"] - column["ks"]))
print("rows equal: %s; largest PSI/KS difference: %.3g" % (peer["rows"] == ours["drift"]["rows"], diff))
print("throughput ratio (fraudops 1 thread / pandas): %.1fx" % ((ours["drift"]["rows"] / ours["seconds"]) / (peer["rows"] / peer["seconds"])))
PY

echo "== 10,000,000 rows"
for copy in 1 2 3 4 5 6 7 8 9; do
  cp "$capture/20261123T110500Z-1-0.jsonl" "$capture/20261123T110500Z-1-$copy.jsonl"
done
sync
measure "fraudops monitor run, 1 thread" 1
measure "fraudops monitor run, all threads" 0
rm -rf "$scratch"
