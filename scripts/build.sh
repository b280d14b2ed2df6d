#!/usr/bin/env bash
# Configures and builds fraudops. Usage: scripts/build.sh [release|debug]
#   release: optimized, into build/release
#   debug:   ASan + UBSan, into build/debug
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) type=Release ;;
  debug) type=Debug ;;
  *) echo "usage: scripts/build.sh [release|debug]" >&2; exit 2 ;;
esac
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "build/$kind" -G Ninja -DCMAKE_BUILD_TYPE="$type" >/dev/null
cmake --build "build/$kind" -j "$jobs"
