#!/usr/bin/env bash
# Installs the Debian 12 packages fraudops needs. Idempotent: a no-op when all are present.
# Uses sudo only when not root.
#   scripts/install-deps.sh          everything: build, lint, tests, benchmarks (the default)
#   scripts/install-deps.sh build    only what building the fraudops binary needs
#   scripts/install-deps.sh runtime  only the shared libraries the binary loads (the image)
set -euo pipefail
mode=${1:-all}

# The build: compiler and the libraries' headers (docs/dependencies.md says why each).
build=(
  g++ cmake ninja-build pkg-config ca-certificates
  libxgboost-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libsqlite3-dev libssl-dev
  libfast-float-dev libpq-dev libmariadb-dev libcurl4-openssl-dev libboost-dev libsimdjson-dev
  libhiredis-dev libargon2-dev
)
# What the binary loads at run time (the container image's final stage).
runtime=(
  ca-certificates libxgboost0 libdmlc0 libgomp1 libyaml-cpp0.7 libsqlite3-0 libssl3 libpq5
  libmariadb3 libcurl4 libsimdjson14 libhiredis0.14 libargon2-1 libstdc++6
)
case "$mode" in
  build) packages=("${build[@]}") ;;
  runtime) packages=("${runtime[@]}") ;;
  all)
    packages=(
      "${build[@]}"
      # checks: clang and clang-format for scripts/lint.sh; git for the code version
      git clang clang-format
      # tests and benchmarks: the real servers the tests start (scripts/test-servers.sh),
      # their clients for loading test data, Node.js and npm for the S3-API server (s3rver) and for
      # building the web console (web/, bundled by esbuild at build time)
      libgtest-dev libgmock-dev libbenchmark-dev sqlite3 python3 python3-pandas
      postgresql postgresql-client mariadb-server mariadb-client redis-server curl procps
      # xz: the LightGBM parity test reads the compressed reference set in ../shared
      xz-utils
      # the load balancers the replica tests put in front of fraudops serve (deploy/haproxy,
      # deploy/nginx)
      haproxy nginx-light
      # the Kubernetes manifests' offline validation (scripts/validate-manifests.py): the
      # API's schemas as the Python client carries them, YAML
      python3-kubernetes python3-yaml
      # the container image's test (scripts/test-image.sh): an OCI builder without a daemon,
      # and debootstrap for its local Debian base
      buildah debootstrap
      # distributed training's compatibility test: XGBoost's own Python workers against the
      # tracker (src/train/tracker_test.cc); iproute2's `ip netns` for the tests that run
      # workers on separate network hosts (tests/distributed_train_test.cc)
      python3-xgboost iproute2
      # the console's browser tests (tests/browser): Debian's Chromium, driven by playwright-core
      chromium
    )
    ;;
  *) echo "usage: scripts/install-deps.sh [all|build|runtime]" >&2; exit 2 ;;
esac
# Node.js and npm may come from elsewhere (e.g. NodeSource, whose nodejs bundles npm).
if [ "$mode" = all ]; then
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
  # kubectl (its kustomize renders the overlays) may come from Kubernetes' own repository.
  command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The tests start their own servers: a system service that a package just installed enabled
# (where systemd runs) is stopped again, so nothing listens on its ports for them.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for pair in haproxy:haproxy nginx-light:nginx postgresql:postgresql mariadb-server:mariadb \
    redis-server:redis-server; do
    if [[ " ${missing[*]} " == *" ${pair%%:*} "* ]]; then
      $sudo systemctl disable --now "${pair#*:}" >/dev/null 2>&1 || true
    fi
  done
fi
