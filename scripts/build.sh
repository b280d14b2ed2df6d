#!/usr/bin/env bash
# Configures and builds fraudops. Usage: scripts/build.sh [release|debug|tsan|clang|clang-check] [TARGET...]
#   release: optimized, into build/release
#   debug:   ASan + UBSan, into build/debug
#   tsan:    ThreadSanitizer (-O1, debug info), into build/tsan; scripts/tsan.sh runs the
#            server tests under it
#   clang:   clang with -Wthread-safety as an error (the lock annotations of core/mutex.h are
#            checked), -O0, no tests or benchmarks, and without the console (as the container
#            image builds it, so that configuration compiles too), into build/clang
#   clang-check: the clang configuration's source files checked, not compiled: each with
#            -fsyntax-only (scripts/syntax-only.sh; clang runs the lock analysis with its other
#            checks, before any code is generated), no object written, nothing linked — two
#            thirds of the clang build's time, and incremental; into build/clang-check;
#            scripts/lint.sh (run by scripts/test.sh) runs it
# release, debug and tsan are unity builds (CMAKE_UNITY_BUILD: the sources of a library compiled
# eight to a translation unit, so the headers and templates they share are compiled once, not
# for each file): a clean build takes a third of the time. FOPS_UNITY=0 builds file by file
# (faster to rebuild after editing one file). The clang build is always file by file, so every
# source file still compiles on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) type=Release ;;
  debug) type=Debug ;;
  tsan) type=RelWithDebInfo ;;
  clang | clang-check) type=Debug ;;
  *) echo "usage: scripts/build.sh [release|debug|tsan|clang|clang-check] [TARGET...]" >&2; exit 2 ;;
esac
shift || true
options=()
[ "$kind" = tsan ] && options=(-DFRAUDOPS_TSAN=ON -DFRAUDOPS_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g")
[[ $kind == clang* ]] && options=(-DCMAKE_CXX_COMPILER=clang++ -DFRAUDOPS_SANITIZE=OFF -DFRAUDOPS_BUILD_TESTS=OFF
                               -DFRAUDOPS_BUILD_BENCH=OFF -DFRAUDOPS_CONSOLE=OFF -DCMAKE_CXX_FLAGS_DEBUG="-O0")
unity=ON
[ "${FOPS_UNITY:-1}" = 0 ] && unity=OFF
[[ $kind == clang* ]] && unity=OFF
[ "$kind" = clang-check ] && options+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$(pwd)/scripts/syntax-only.sh")
options+=(-DCMAKE_UNITY_BUILD="$unity")
targets=()
for target in "$@"; do targets+=(--target "$target"); done
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "build/$kind" -G Ninja -DCMAKE_BUILD_TYPE="$type" "${options[@]}" >/dev/null
if [ "$kind" = clang-check ] && [ ${#targets[@]} -eq 0 ]; then  # every object, nothing linked
  while read -r object; do targets+=(--target "$object"); done < <(
    ninja -C build/clang-check -t targets all | sed -n 's/^\(.*\.o\): CXX_COMPILER.*/\1/p')
fi
cmake --build "build/$kind" -j "$jobs" "${targets[@]}"
