#!/usr/bin/env bash
# Builds the web console (web/) into OUT_DIR: installs its npm packages exactly as
# web/package-lock.json pins them (npm ci, only when the lockfile changed), then bundles
# web/src with esbuild into app.js and app.css, each also gzipped. The build runs it
# (src/CMakeLists.txt); it needs Node.js and npm (scripts/install-deps.sh).
set -euo pipefail
out=${1:?usage: scripts/build-console.sh OUT_DIR}
scripts=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
bash "$scripts/npm-ci.sh" "$scripts/../web"
cd "$scripts/../web"
node_modules/.bin/esbuild src/main.js --bundle --minify --format=iife --target=es2020 \
  --log-level=warning --outfile="$out/app.js.tmp.js"
mv "$out/app.js.tmp.js" "$out/app.js"
mv "$out/app.js.tmp.css" "$out/app.css"
for file in app.js app.css; do gzip -9 -n -c "$out/$file" > "$out/$file.gz"; done
