#!/usr/bin/env bash
# Installs a directory's npm packages exactly as its package-lock.json pins them (npm ci),
# only when the lockfile is newer than what was installed; one install at a time per
# directory (parallel builds may ask together). Usage: scripts/npm-ci.sh DIR
set -euo pipefail
cd "${1:?usage: scripts/npm-ci.sh DIR}"
exec 9> .npm.lock
flock 9
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
  touch node_modules/.package-lock.json
fi
