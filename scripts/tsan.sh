#!/usr/bin/env bash
# The server tests under ThreadSanitizer (STYLE.md): builds fraudops and its server tests in
# build/tsan and runs them; the spawned servers inherit TSAN_OPTIONS, so a race in a server
# stops it with exit code 66 and fails its test. libgomp and libxgboost are not built with
# TSan; reports from inside them (OpenMP's own synchronization, which TSan cannot see) are
# suppressed by scripts/tsan.supp.   scripts/tsan.sh [GTEST_FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh tsan fraudops fraudops_serve_tests
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$(pwd)/scripts/tsan.supp"
build/tsan/tests/fraudops_serve_tests --gtest_filter="${1:-*}"
