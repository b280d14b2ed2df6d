#!/usr/bin/env bash
# The checks scripts/test.sh runs before the tests (STYLE.md):
#   1. formatting: clang-format --dry-run --Werror over src/ tests/ bench/ fuzz/ (.clang-format);
#      `scripts/lint.sh --fix` reformats instead;
#   2. locks: the clang build with -Wthread-safety as an error (scripts/build.sh clang), which
#      checks every GUARDED_BY / REQUIRES / EXCLUDES of core/mutex.h.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc' 'bench/*.h' \
                                      'fuzz/*.cc' 'fuzz/*.h')
if [ "${1:-}" = --fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
echo "lint: clang-format over ${#files[@]} files"
clang-format --dry-run --Werror "${files[@]}"
echo "lint: the clang -Wthread-safety build"
bash scripts/build.sh clang
