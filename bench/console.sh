#!/usr/bin/env bash
# The web console in Chromium with 10,000 runs (the registry bench's store, every 100th run
# with 1,000-round curves): time from navigation to a usable runs table, sorting by a metric,
# a run's page with its curves drawn, and the console's size gzipped. Release build; Debian's
# Chromium driven by playwright-core (tests/browser). docs/console.md, BENCHMARKS.md.
#   bench/console.sh [RUNS] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10000}"
repeats="${2:-5}"
bash scripts/build.sh release fraudops fraudops_registry_bench >/dev/null
bash scripts/npm-ci.sh tests/browser
scratch=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$scratch"' EXIT
home="$scratch/home"
mkdir -p "$home"
build/release/bench/fraudops_registry_bench "sqlite:$home/fraudops.db" "$runs" curves >&2
fraudops="$PWD/build/release/src/fraudops"
printf 'global:\n  home: %s\n' "$home" > "$scratch/config.yml"
printf 'a bench passphrase of some length\n' |
  "$fraudops" users add bench --role viewer --password-stdin --config "$scratch/config.yml" >/dev/null
port=$((20000 + RANDOM % 20000))
FRAUDOPS_API_LISTEN="127.0.0.1:$port" "$fraudops" serve --config "$scratch/config.yml" \
  > "$scratch/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
FOPS_URL="http://127.0.0.1:$port" FOPS_USER=bench FOPS_PASSWORD='a bench passphrase of some length' \
  FOPS_REPEATS="$repeats" FOPS_RUNS="$runs" node bench/console_bench.mjs
