#!/usr/bin/env bash
# The main job: installs what is missing, builds fraudops (release), and runs the whole
# pipeline on the built-in synthetic dataset (or what config.yml / the arguments say).
# Any arguments are passed to `fraudops run`, e.g. scripts/run.sh --data transactions.csv
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release
exec build/release/src/fraudops run "$@"
