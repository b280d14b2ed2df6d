#!/usr/bin/env bash
# The compiler launcher of `scripts/build.sh clang-check`: runs the compile command it is given
# with -fsyntax-only (clang's checks, -Wthread-safety among them, without generating code),
# then leaves an empty file where the command names its object, so that ninja counts the file
# checked and checks it again only when it or a header it includes changes (the command's
# dependency file is written as in a build).
set -euo pipefail
"$@" -fsyntax-only
object='' previous=''
for arg in "$@"; do
  [ "$previous" = -o ] && object=$arg
  previous=$arg
done
if [ -n "$object" ]; then : > "$object"; fi
