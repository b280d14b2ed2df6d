#!/usr/bin/env bash
# Installs what is missing, checks formatting and the lock annotations (scripts/lint.sh),
# builds fraudops in Debug (ASan + UBSan), starts the test servers and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/lint.sh
bash scripts/build.sh debug
# The console's browser tests: playwright-core and axe-core as tests/browser's lockfile pins them.
bash scripts/npm-ci.sh tests/browser
# The real servers the tests use (PostgreSQL, MariaDB, S3 API), on loopback, stopped at exit.
repo=$(pwd)
servers_env=$(bash scripts/test-servers.sh start)
trap 'bash "$repo/scripts/test-servers.sh" stop' EXIT
eval "$servers_env"
jobs=$(nproc 2>/dev/null || echo 2)
cd build/debug
# Longest tests first: on a fresh build ctest has no timings of its own, so it starts from
# those of a CI run (tests/ctest-costs.txt, ctest's cost-data format; regenerate it from a CI
# log when tests grow a lot) instead of leaving a four-minute test to run alone at the end.
if [ ! -f Testing/Temporary/CTestCostData.txt ]; then
  mkdir -p Testing/Temporary
  cp "$repo/tests/ctest-costs.txt" Testing/Temporary/CTestCostData.txt
fi
ctest --output-on-failure -j "$jobs"
