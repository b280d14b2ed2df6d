#!/usr/bin/env bash
# Registry writes/s and `runs list` latency with 10,000 runs, on SQLite and on PostgreSQL
# (a private server started by scripts/test-servers.sh). Release build.
#   bench/registry.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10000}"
bash scripts/build.sh release >/dev/null
eval "$(bash scripts/test-servers.sh start)"
trap 'bash scripts/test-servers.sh stop' EXIT
scratch=$(mktemp -d)
build/release/bench/fraudops_registry_bench "sqlite:$scratch/fraudops.db" "$runs"
psql "$FOPS_TEST_POSTGRES_URL" -q -c "CREATE DATABASE registry_bench"
build/release/bench/fraudops_registry_bench "${FOPS_TEST_POSTGRES_URL%/*}/registry_bench" "$runs"
rm -rf "$scratch"
