# Shared by the serving benchmarks (bench/serve.sh, bench/serve_compare.sh,
# bench/serve_variants.sh); sourced, not run. Gives a scratch directory $work removed at exit,
# the servers' pids (append to `pids`; they are stopped at exit), and helpers.
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() {  # URL (http or https, a self-signed certificate accepted): until it answers (10 s), or exit
  for _ in $(seq 100); do curl -sk -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "server at $1 did not start" >&2
  exit 1
}
field() { sed "s/.* $1=\([0-9.]*\).*/\1/"; }  # NAME: the value of NAME=… in a wrk summary line
median_value() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
