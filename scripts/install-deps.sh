#!/usr/bin/env bash
# Installs every Debian 12 package fraudops' build, tests and benchmarks need.
# Idempotent: a no-op when all are present. Uses sudo only when not root.
set -euo pipefail

packages=(
  # toolchain; clang and clang-format for the checks of scripts/lint.sh
  g++ cmake ninja-build pkg-config git ca-certificates clang clang-format
  # libraries (docs/dependencies.md says why each)
  libxgboost-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libsqlite3-dev libssl-dev
  libfast-float-dev libpq-dev libmariadb-dev libcurl4-openssl-dev libboost-dev libsimdjson-dev
  libhiredis-dev libargon2-dev
  # tests and benchmarks: the real servers the tests start (scripts/test-servers.sh), their
  # clients for loading test data, Node.js and npm for the S3-API server (s3rver)
  libgtest-dev libgmock-dev libbenchmark-dev sqlite3 python3 python3-pandas
  postgresql postgresql-client mariadb-server mariadb-client redis-server curl procps
  # xz: the LightGBM parity test reads the compressed reference set in ../shared
  xz-utils
  # the load balancers the replica tests put in front of fraudops serve (deploy/haproxy,
  # deploy/nginx)
  haproxy nginx-light
)
# Node.js and npm may come from elsewhere (e.g. NodeSource, whose nodejs bundles npm).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

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
