#!/usr/bin/env bash
# The checks scripts/test.sh runs before the tests (STYLE.md):
#   1. formatting: clang-format --dry-run --Werror over src/ tests/ bench/ fuzz/ (.clang-format);
#      `scripts/lint.sh --fix` reformats instead;
#   2. locks: every source file of the clang configuration checked with -Wthread-safety as an
#      error (scripts/build.sh clang-check: -fsyntax-only, no code generated), which checks every
#      GUARDED_BY / REQUIRES / EXCLUDES of core/mutex.h and that each file compiles on its own.
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
echo "lint: the clang -Wthread-safety check (each source file, -fsyntax-only)"
bash scripts/build.sh clang-check
