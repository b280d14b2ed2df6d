#!/usr/bin/env bash
# Builds the container image (Containerfile) with buildah — chroot isolation, no daemon —
# from a local Debian 12 base made with debootstrap, then runs fraudops inside it: --version,
# a pipeline run on the built-in data, and a scoring request to `fraudops serve`. Checks the
# image's user, labels and HEALTHCHECK. The ctest ContainerImage runs it.
#   FOPS_IMAGE_STORE  buildah's storage (default ~/.cache/fraudops/containers): the base
#                     image and the build's layers are kept there between runs (untagged
#                     layers pruned once it passes 16 GB)
# Exit 77 (skipped) when buildah is missing outside CI.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "test-image: [$SECONDS s] $*" >&2; }
if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
  if [ -n "${CI:-}" ]; then log "buildah and debootstrap are required under CI"; exit 1; fi
  log "buildah or debootstrap is not installed (scripts/install-deps.sh): skipped"; exit 77
fi
store="${FOPS_IMAGE_STORE:-$HOME/.cache/fraudops/containers}"
mkdir -p "$store"
bah() { buildah --root "$store/storage" --runroot "$store/run" --storage-driver vfs "$@"; }
base=localhost/debian:bookworm-slim
image=localhost/fraudops:test
work=$(mktemp -d)
container=""
serve_pid="" serve_port=""
cleanup() {
  # serve_pid is the subshell running `bah` (a function), not buildah nor the server inside
  # it: killing it alone left both running after the test. The server (its port is its own)
  # is stopped by its command line, and buildah's run then ends by itself.
  if [ -n "$serve_port" ]; then
    pkill -TERM -f "fraudops serve --listen 127.0.0.1:$serve_port" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  if [ -n "$container" ]; then bah rm "$container" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The base: Debian 12 from its own archive (no registry needed), made once.
if ! bah inspect --type image "$base" >/dev/null 2>&1; then
  log "making $base with debootstrap"
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$work/rootfs/var/cache/apt/archives"/*.deb "$work/rootfs/var/lib/apt/lists"/*
  ctr=$(bah from scratch)
  mnt=$(bah mount "$ctr")
  cp -a "$work/rootfs/." "$mnt/"
  bah umount "$ctr" >/dev/null
  bah config --cmd /bin/bash "$ctr"
  bah commit -q "$ctr" "$base" >/dev/null
  bah rm "$ctr" >/dev/null
  rm -rf "$work/rootfs"
  log "made $base"
fi

# Every revision leaves untagged layers behind, and the vfs driver stores each layer whole: the
# store grew to 48 GB over a few dozen runs and filled a disk. Past 16 GB, they go (the tagged
# base stays; the next build then runs its steps again).
if [ "$(du -s --block-size=1G "$store/storage" 2>/dev/null | cut -f1)" -gt 16 ]; then
  log "pruning untagged layers from $store (over 16 GB)"
  bah rmi --prune >/dev/null 2>&1 || true
fi

revision=$(git describe --always --dirty --tags 2>/dev/null || echo unknown)
log "building $image (revision $revision)"
start=$(date +%s)
bah bud --isolation chroot --format docker --layers --build-arg BASE_IMAGE="$base" \
  --build-arg REVISION="$revision" -t "$image" -f Containerfile . 2>&1 |
  while IFS= read -r line; do printf '[%s s] %s\n' "$SECONDS" "$line"; done >"$work/build.log" ||
  { tail -40 "$work/build.log" >&2; exit 1; }
log "built in $(( $(date +%s) - start )) s"
# Each step's start, for whoever wants to know where the time goes (ctest keeps it in LastTest.log).
grep -E '^\[[0-9]+ s\] (\[[0-9]+/[0-9]+\] )?(STEP|COMMIT)' "$work/build.log" >&2 || true

# What the image says about itself.
inspect() { bah inspect --type image --format "$1" "$image"; }
[ "$(inspect '{{.Docker.Config.User}}')" = "10001:10001" ] || { log "the image does not run as 10001"; exit 1; }
[ "$(inspect '{{index .Docker.Config.Labels "org.opencontainers.image.revision"}}')" = "$revision" ] ||
  { log "no revision label"; exit 1; }
[ -n "$(inspect '{{index .Docker.Config.Labels "org.opencontainers.image.version"}}')" ] || { log "no version label"; exit 1; }
health=$(inspect '{{.Docker.Config.Healthcheck.Test}}')
[[ "$health" == *"/healthz"* ]] || { log "no HEALTHCHECK on /healthz: $health"; exit 1; }
size=$(bah images --format '{{.Size}}' "$image")
log "image size $size"

container=$(bah from "$image")
run() { bah run --isolation chroot "$container" -- "$@"; }
version=$(run fraudops --version)
[[ "$version" == *"$revision"* ]] || { log "fraudops --version said '$version'"; exit 1; }
# No compiler, no headers in the final stage.
if run bash -c 'command -v g++ || ls /usr/include/xgboost' >/dev/null 2>&1; then
  log "the final stage has build tools"; exit 1
fi

# The pipeline on the built-in data (smaller, so the test takes seconds), as the image's user.
run bash -c 'mkdir -p /var/lib/fraudops/w && cd /var/lib/fraudops/w &&
  printf "preprocess:\n  synthetic_rows: 30000\n" > config.yml &&
  fraudops run --json > run.json && fraudops keys create --name image-test --json > key.json' ||
  { log "the pipeline failed inside the image"; exit 1; }
log "the pipeline ran inside the image"
key=$(run bash -c 'cd /var/lib/fraudops/w && grep -o "\"key\": *\"[^\"]*\"" key.json' | sed 's/.*"\(fops_[^"]*\)"/\1/')
[ -n "$key" ] || { log "no API key"; exit 1; }

# Serving: chroot isolation shares the host's network, so the test reaches it on loopback.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bah run --isolation chroot "$container" -- bash -c \
  "cd /var/lib/fraudops/w && exec fraudops serve --listen 127.0.0.1:$port" >"$work/serve.log" 2>&1 &
serve_pid=$! serve_port=$port
for _ in $(seq 300); do
  if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/serve.log" >&2; log "serve did not become ready"; exit 1; }
transaction='{"Time": 40000, "Amount": 12.5'
for i in $(seq 1 28); do transaction+=", \"V$i\": 0.1"; done
transaction+='}'
answer=$(curl -sf -H "x-api-key: $key" -H 'content-type: application/json' \
  -d "$transaction" "http://127.0.0.1:$port/v1/endpoints/fraud-detector/predict") ||
  { cat "$work/serve.log" >&2; log "the scoring request failed"; exit 1; }
[[ "$answer" == *'"score"'* ]] || { log "no score in: $answer"; exit 1; }
# The HEALTHCHECK's own command, pointed at this server's port.
check=$(inspect '{{index .Docker.Config.Healthcheck.Test 3}}')
run bash -c "${check//8080/$port}" || { log "the HEALTHCHECK command failed against a healthy server"; exit 1; }
log "ok: --version, a pipeline run and a scoring request inside the image ($answer)"
