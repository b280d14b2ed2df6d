#!/usr/bin/env bash
# Installs what is missing, builds fraudops in Debug (ASan + UBSan) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh debug
jobs=$(nproc 2>/dev/null || echo 2)
cd build/debug
ctest --output-on-failure -j "$jobs"
