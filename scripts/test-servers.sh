#!/usr/bin/env bash
# Starts (or stops) the real servers the tests use, on loopback, in a scratch directory:
# PostgreSQL 15, MariaDB, Redis and an S3-API server (npm s3rver). Installs what is missing.
#   scripts/test-servers.sh start   prints the environment the tests read (eval it)
#   scripts/test-servers.sh stop
# Ports: PostgreSQL 55432, MariaDB 33306, S3 45680, Redis 46379 (FOPS_TEST_PORT_BASE shifts them).
set -euo pipefail
cd "$(dirname "$0")/.."
root="${FOPS_TEST_SERVERS_DIR:-/tmp/fraudops-test-servers}"
base="${FOPS_TEST_PORT_BASE:-0}"
pg_port=$((55432 + base)) my_port=$((33306 + base)) s3_port=$((45680 + base)) redis_port=$((46379 + base))
pg_bin=/usr/lib/postgresql/15/bin
log() { echo "test-servers: $*" >&2; }

as_postgres() {  # from /, which the postgres user can enter
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

stop() {
  if [ -f "$root/pg/postmaster.pid" ]; then as_postgres "$pg_bin/pg_ctl" -D "$root/pg" -m fast stop >/dev/null 2>&1 || true; fi
  if [ -f "$root/mariadb.pid" ]; then kill "$(cat "$root/mariadb.pid")" 2>/dev/null || true; fi
  if [ -f "$root/s3rver.pid" ]; then kill "$(cat "$root/s3rver.pid")" 2>/dev/null || true; fi
  if [ -f "$root/redis.pid" ]; then kill "$(cat "$root/redis.pid")" 2>/dev/null || true; fi
  for _ in $(seq 50); do
    if ! pgrep -f "$root" >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  rm -rf "$root"
}

wait_for() {  # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  log "$name did not start; its log:"; cat "$root/$name.log" "$root/pg/server.log" >&2 2>/dev/null || true
  return 1
}

start() {
  stop
  mkdir -p "$root"
  chmod 755 "$root"
  # PostgreSQL: its own cluster, password authentication on loopback.
  mkdir -p "$root/pg"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$root/pg"; fi
  echo fraudops > "$root/pgpass"; chmod 644 "$root/pgpass"
  as_postgres "$pg_bin/initdb" -D "$root/pg" -U fraudops --pwfile="$root/pgpass" -A scram-sha-256 >"$root/initdb.log" 2>&1
  as_postgres "$pg_bin/pg_ctl" -D "$root/pg" -l "$root/pg/server.log" -o "-p $pg_port -k $root/pg -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
  wait_for pg env PGPASSWORD=fraudops psql -h 127.0.0.1 -p "$pg_port" -U fraudops -d postgres -c "SELECT 1"

  # MariaDB: a fresh data directory, a password user for the tests.
  mariadb-install-db --no-defaults --datadir="$root/mariadb" --user="$(id -un)" \
    --auth-root-authentication-method=socket >"$root/mariadb-install.log" 2>&1
  mariadbd --no-defaults --datadir="$root/mariadb" --port="$my_port" --bind-address=127.0.0.1 \
    --socket="$root/mariadb.sock" --pid-file="$root/mariadb.pid" --user="$(id -un)" \
    --skip-log-bin --innodb-flush-log-at-trx-commit=0 >"$root/mariadb.log" 2>&1 &
  wait_for mariadb mariadb --no-defaults --socket="$root/mariadb.sock" -uroot -e "SELECT 1"
  mariadb --no-defaults --socket="$root/mariadb.sock" -uroot -e \
    "CREATE USER 'fraudops'@'127.0.0.1' IDENTIFIED BY 'fraudops'; GRANT ALL ON *.* TO 'fraudops'@'127.0.0.1';"

  # s3rver: the S3 API (SigV4-checked, default credentials S3RVER/S3RVER).
  local s3dir="${FOPS_S3RVER_DIR:-$HOME/.cache/fraudops/s3rver}"
  if [ ! -x "$s3dir/node_modules/.bin/s3rver" ]; then
    mkdir -p "$s3dir"
    # The system's CA bundle, so a registry behind a TLS-inspecting proxy is trusted too.
    local ca=()
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then ca=(--cafile=/etc/ssl/certs/ca-certificates.crt); fi
    (cd "$s3dir" && npm install "${ca[@]}" --no-audit --no-fund --loglevel=error s3rver@3.7.1 >&2)
  fi
  mkdir -p "$root/s3"
  node "$s3dir/node_modules/.bin/s3rver" -d "$root/s3" -a 127.0.0.1 -p "$s3_port" --silent \
    >"$root/s3rver.log" 2>&1 &
  echo $! > "$root/s3rver.pid"
  wait_for s3rver curl -s -o /dev/null "http://127.0.0.1:$s3_port/"

  # Redis: no persistence, a password (the quota store's AUTH path is tested).
  redis-server --port "$redis_port" --bind 127.0.0.1 --requirepass fraudops --save "" --appendonly no \
    --dir "$root" --pidfile "$root/redis.pid" --logfile "$root/redis.log" --daemonize yes >/dev/null
  wait_for redis redis-cli -p "$redis_port" -a fraudops --no-auth-warning ping

  cat <<EOF
export FOPS_TEST_REDIS_URL=redis://:fraudops@127.0.0.1:$redis_port/0
export FOPS_TEST_POSTGRES_URL=postgresql://fraudops:fraudops@127.0.0.1:$pg_port/postgres
export FOPS_TEST_MYSQL_URL=mysql://fraudops:fraudops@127.0.0.1:$my_port/mysql
export FOPS_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port
export FOPS_TEST_S3_ACCESS_KEY=S3RVER
export FOPS_TEST_S3_SECRET_KEY=S3RVER
EOF
  log "PostgreSQL :$pg_port, MariaDB :$my_port, S3 :$s3_port (in $root)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
