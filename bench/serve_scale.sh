#!/usr/bin/env bash
# Operating at scale (BENCHMARKS.md), on loopback, with the release build:
#   tls:         one `fraudops serve` (one worker), wrk -t1 -c16 on keep-alive connections,
#                plain HTTP vs HTTPS (TLS 1.3, a P-256 certificate), interleaved (medians);
#   balancer:    the same plain server direct vs through HAProxy with deploy/haproxy/haproxy.cfg,
#                interleaved (medians; the throughput and the p99);
#   tracing:     the same server with tracing at 100 % sampling, exporting OTLP/HTTP JSON (and,
#                a third server, OTLP/HTTP protobuf) to a local receiver (nginx answering 200)
#                vs tracing off (the plain server);
#   propagation: three replicas; DEPLOYS deployments by the CLI, each timed from the command's
#                exit until every replica serves it — PostgreSQL with LISTEN/NOTIFY (polling
#                set to 10 s) against the peer, polling every 250 ms (the default) on a
#                SQLite store the replicas share.
#   Each comparison is paired: the kind and the plain server loaded back to back, ROUNDS
#   times; the median of the pairs' ratios.
#   Besides throughput: the server's CPU per request (all its threads, /proc/PID/task/*/schedstat),
#   and for the traced kinds its trace exporter thread's ("tracing") per request.
#   SHARED=1 (the traced kinds; with SERVER_CPUS): each round loads the plain server alone (its
#   CPU per request: the denominator), then each traced kind *at the same time* as
#   the plain server, both pinned to the same cores, each in a scheduling group of its own
#   (setsid: the kernel's autogroups share the cores between them equally) and each with its
#   own wrk. Both servers then see the same machine over the same seconds, so the difference in
#   CPU per request (the kind's cost, in microseconds) is free of the machine's drift between
#   loads that back-to-back pairs compare; its throughput cost is that difference over the
#   plain server's CPU per request when alone (servers sharing a core take other turns and
#   other batches than one alone, so their CPU per request is not one server's). Only where
#   both servers' clients cost the same: an HTTPS client costs wrk more than an HTTP one, so on
#   a machine whose clients share one core the TLS server would be starved of requests (less
#   work per wake-up) and its CPU per request inflated; the other kinds are loaded back to back
#   as without SHARED.
#   bench/serve_scale.sh [SECONDS] [ROUNDS] [DEPLOYS]
#   KINDS="traced-protobuf" (any of tls balancer traced traced-protobuf tls-peer traced-peer)
#   compares only those; tls-peer is HTTPS and traced-peer tracing (protobuf) served by another
#   build, FOPS_PEER_BIN (e.g. an earlier commit's);
#   DEPLOYS=0 skips the propagation.
# Placement, for a machine with cores to spare: SERVER_CPUS, CLIENT_CPUS and SINK_CPUS
# (taskset lists, e.g. 0-3) pin the servers, wrk and the OTLP receiver to their own cores, so
# that only the server's own work (its workers and, when tracing, its exporter thread) shares
# the server's cores; WORKERS (1) sets the servers' workers, WRK_THREADS (1) and
# WRK_CONNECTIONS (16) the load, SINK_WORKERS (1) the receiver's nginx workers. Unset, every
# process shares every core (the figures in BENCHMARKS.md on two vCPUs).
# Needs wrk, haproxy, nginx, openssl; the propagation's PostgreSQL is FOPS_TEST_POSTGRES_URL
# (eval "$(scripts/test-servers.sh start)").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${FOPS_BIN:-$root/build/release/src/fraudops}
seconds=${1:-2}
rounds=${2:-15}
deploys=${3:-20}
workers=${WORKERS:-1}
kinds=${KINDS:-tls balancer traced traced-protobuf}
server_on=() client_on=() sink_on=()
[ -n "${SERVER_CPUS:-}" ] && server_on=(setsid taskset -c "$SERVER_CPUS")
[ -n "${CLIENT_CPUS:-}" ] && client_on=(taskset -c "$CLIENT_CPUS")
[ -n "${SINK_CPUS:-}" ] && sink_on=(taskset -c "$SINK_CPUS")
source "$root/bench/serve_lib.sh"
cd "$work"
echo "machine: $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "placement: server ${SERVER_CPUS:-any} ($workers workers), wrk ${CLIENT_CPUS:-any}" \
  "(${WRK_THREADS:-1} threads, ${WRK_CONNECTIONS:-16} connections), receiver ${SINK_CPUS:-any}"

# One workspace: the built-in data (smaller: scoring does not depend on it), two versions.
printf 'preprocess:\n  synthetic_rows: 50000\ndeploy:\n  enabled: false\n' > config.yml
"$bin" run >/dev/null 2>&1 && "$bin" run >/dev/null 2>&1
"$bin" deploy fraud-detector@1 --strategy all_at_once >/dev/null
key=$("$bin" keys create --name bench --scope invoke 2>/dev/null)
bash "$root/scripts/sample-transaction.sh" "$bin" tx.json
key_args=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req "${key_args[@]}" -x509 -days 1 -subj /CN=bench -addext subjectAltName=IP:127.0.0.1 \
  -keyout tls.key -out tls.crt 2>/dev/null

export FRAUDOPS_API_CAPTURE_SAMPLE=0
declare -A server_pid
"${server_on[@]}" "$bin" serve --listen 127.0.0.1:18490 --workers "$workers" > plain.log 2>&1 &
pids+=($!); server_pid[plain]=$!; server_pid[balancer]=$!
FRAUDOPS_API_TLS_CERT_FILE=tls.crt FRAUDOPS_API_TLS_KEY_FILE=tls.key \
  "${server_on[@]}" "$bin" serve --listen 127.0.0.1:18491 --workers "$workers" > tls.log 2>&1 &
pids+=($!); server_pid[tls]=$!
if [[ " $kinds " == *" tls-peer "* ]]; then
  FRAUDOPS_API_TLS_CERT_FILE=tls.crt FRAUDOPS_API_TLS_KEY_FILE=tls.key \
    "${server_on[@]}" "${FOPS_PEER_BIN:?tls-peer needs FOPS_PEER_BIN}" serve \
    --listen 127.0.0.1:18497 --workers "$workers" > tls-peer.log 2>&1 &
  pids+=($!); server_pid[tls-peer]=$!
  wait_for https://127.0.0.1:18497/readyz
fi
# An OTLP receiver that reads each request and answers 200, as a collector that keeps up:
# nginx, one worker by default, so the receiving side costs little of this machine's two cores.
mkdir -p sink
cat > sink/nginx.conf <<EOF
daemon off; worker_processes ${SINK_WORKERS:-1}; pid $work/sink/nginx.pid; error_log $work/sink/error.log;
events {}
http { access_log off; client_body_temp_path $work/sink; client_max_body_size 16m;
  server { listen 127.0.0.1:18494; location / { return 200 "{}"; } } }
EOF
"${sink_on[@]}" nginx -c "$work/sink/nginx.conf" -p "$work/sink" > sink.log 2>&1 &
pids+=($!)
FRAUDOPS_TRACING_OTLP_URL=http://127.0.0.1:18494/v1/traces FRAUDOPS_TRACING_SAMPLE_RATIO=1 \
  FRAUDOPS_TRACING_PROTOCOL=http/json \
  "${server_on[@]}" "$bin" serve --listen 127.0.0.1:18495 --workers "$workers" > traced.log 2>&1 &
pids+=($!); server_pid[traced]=$!
FRAUDOPS_TRACING_OTLP_URL=http://127.0.0.1:18494/v1/traces FRAUDOPS_TRACING_SAMPLE_RATIO=1 \
  FRAUDOPS_TRACING_PROTOCOL=http/protobuf \
  "${server_on[@]}" "$bin" serve --listen 127.0.0.1:18496 --workers "$workers" > traced-protobuf.log 2>&1 &
pids+=($!); server_pid[traced-protobuf]=$!
if [[ " $kinds " == *" traced-peer "* ]]; then
  FRAUDOPS_TRACING_OTLP_URL=http://127.0.0.1:18494/v1/traces FRAUDOPS_TRACING_SAMPLE_RATIO=1 \
    FRAUDOPS_TRACING_PROTOCOL=http/protobuf \
    "${server_on[@]}" "${FOPS_PEER_BIN:?traced-peer needs FOPS_PEER_BIN}" serve \
    --listen 127.0.0.1:18498 --workers "$workers" > traced-peer.log 2>&1 &
  pids+=($!); server_pid[traced-peer]=$!
  wait_for http://127.0.0.1:18498/readyz
fi
if [[ " $kinds " == *" balancer "* ]]; then
  FRAUDOPS_LB_LISTEN=127.0.0.1:18492 FRAUDOPS_LB_STATS=127.0.0.1:18493 \
    FRAUDOPS_REPLICA_1=127.0.0.1:18490 FRAUDOPS_REPLICA_2=127.0.0.1:18490 \
    FRAUDOPS_REPLICA_3=127.0.0.1:18490 haproxy -db -f "$root/deploy/haproxy/haproxy.cfg" > haproxy.log 2>&1 &
  pids+=($!)
  wait_for http://127.0.0.1:18492/readyz
fi
wait_for http://127.0.0.1:18490/readyz
wait_for https://127.0.0.1:18491/readyz
wait_for http://127.0.0.1:18495/readyz
wait_for http://127.0.0.1:18496/readyz

cpu_ns() {  # nanoseconds on a CPU, all the server's threads
  local task total=0
  for task in /proc/"$1"/task/*; do
    total=$((total + $(cut -d' ' -f1 "$task/schedstat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
# Nanoseconds on a CPU of the server's trace exporter thread (named "tracing"; 0 without one).
exporter_ns() {
  local task
  for task in /proc/"$1"/task/*; do
    if [ "$(cat "$task/comm" 2>/dev/null)" = tracing ]; then cut -d' ' -f1 "$task/schedstat"; return; fi
  done
  echo 0
}
wrk_load() {  # URL: wrk's summary line
  WRK_BODY="$work/tx.json" WRK_KEY="$key" WRK_DELAY_MS=0 "${client_on[@]}" wrk -t"${WRK_THREADS:-1}" \
    -c"${WRK_CONNECTIONS:-16}" -d"$seconds"s -s "$root/bench/serve_wrk.lua" "$1" | tail -1
}
measured() {  # NAME SUMMARY CPU_NS EXPORTER_NS: NAME, the summary, CPU and exporter µs per request
  local requests
  requests=$(echo "$2" | sed 's/.*requests=\([0-9]*\).*/\1/')
  echo "$1 $2 cpu_us=$(awk -v t="$3" -v n="$requests" 'BEGIN { printf "%.3f", t / 1e3 / n }')" \
    "exporter_us=$(awk -v t="$4" -v n="$requests" 'BEGIN { printf "%.3f", t / 1e3 / n }')"
}
load() {  # NAME URL: wrk's summary, the server's CPU time per request (client excluded), and its exporter's
  local pid=${server_pid[$1]} before exporter_before summary
  before=$(cpu_ns "$pid")
  exporter_before=$(exporter_ns "$pid")
  summary=$(wrk_load "$2")
  measured "$1" "$summary" $(($(cpu_ns "$pid") - before)) $(($(exporter_ns "$pid") - exporter_before))
}
load_shared() {  # NAME URL: NAME and the plain server loaded at the same time; a line for each
  local pid=${server_pid[$1]} plain_pid=${server_pid[plain]} before plain_before exporter_before
  before=$(cpu_ns "$pid")
  plain_before=$(cpu_ns "$plain_pid")
  exporter_before=$(exporter_ns "$pid")
  wrk_load "$2" > "shared-$1.txt" &
  wrk_load "${url[plain]}" > shared-plain.txt
  wait $!
  measured "$1" "$(cat "shared-$1.txt")" $(($(cpu_ns "$pid") - before)) \
    $(($(exporter_ns "$pid") - exporter_before))
  measured plain-shared "$(cat shared-plain.txt)" $(($(cpu_ns "$plain_pid") - plain_before)) 0
}
declare -A url=(
  [plain]=http://127.0.0.1:18490/v1/endpoints/fraud-detector/predict
  [tls]=https://127.0.0.1:18491/v1/endpoints/fraud-detector/predict
  [balancer]=http://127.0.0.1:18492/v1/endpoints/fraud-detector/predict
  [traced]=http://127.0.0.1:18495/v1/endpoints/fraud-detector/predict
  [traced-protobuf]=http://127.0.0.1:18496/v1/endpoints/fraud-detector/predict
  [tls-peer]=https://127.0.0.1:18497/v1/endpoints/fraud-detector/predict
  [traced-peer]=http://127.0.0.1:18498/v1/endpoints/fraud-detector/predict
)
seconds_saved=$seconds; seconds=2
for kind in plain $kinds; do load "$kind" "${url[$kind]}" >/dev/null; done  # warm up
seconds=$seconds_saved
# Paired: each round loads every kind right next to a load of the plain server (which goes
# first alternates), and each comparison is the median over rounds of the pair's ratio. This
# machine's speed drifts by up to 2x over minutes (shared VMs): medians of separate loads
# minutes apart compare the drift, not the servers.
flip=0
for round in $(seq "$rounds"); do
  [ -n "${SHARED:-}" ] &&
    load plain "${url[plain]}" | sed "s/^/alone $round /" | tee -a runs.txt | sed 's/^/round /'
  for kind in $kinds; do
    if [[ -n "${SHARED:-}" && $kind == traced* ]]; then
      load_shared "$kind" "${url[$kind]}" | sed "s/^/$kind $round /" | tee -a runs.txt | sed 's/^/round /'
      continue
    fi
    pair=("$kind" plain)
    [ $((flip++ % 2)) -eq 0 ] && pair=(plain "$kind")
    for one in "${pair[@]}"; do
      load "$one" "${url[$one]}" | sed "s/^/$kind $round /" | tee -a runs.txt | sed 's/^/round /'
    done
  done
done
[ -n "${RUNS_COPY:-}" ] && cp runs.txt "$RUNS_COPY"
python3 - runs.txt <<'EOF'
import re, statistics, sys
runs = {}  # (kind, round) -> {server: {field: value}}
for line in open(sys.argv[1]):
    kind, round_, server, rest = line.split(" ", 3)
    fields = dict((k, float(v)) for k, v in re.findall(r"(\w+)=([0-9.]+)", rest))
    runs.setdefault((kind, round_), {})[server] = fields
def median(values):
    return statistics.median(values)
def quartiles(values, digits=2):
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return f"[{q[0]:.{digits}f}, {q[2]:.{digits}f}]"
for kind in ("tls", "tls-peer", "balancer", "traced", "traced-protobuf", "traced-peer"):
    shared = [(v, runs[("alone", r)]["plain"]) for (k, r), v in runs.items()
              if k == kind and "plain-shared" in v and ("alone", r) in runs]
    if shared:
        extra = [v[kind]["cpu_us"] - v["plain-shared"]["cpu_us"] for v, _ in shared]
        cost = [100 * e / alone["cpu_us"] for e, (_, alone) in zip(extra, shared)]
        print(f"{kind} and plain at the same time over {len(shared)} rounds: CPU per request "
              f"+{median(extra):.3f} us (quartiles {quartiles(extra, 3)}); the plain server alone "
              f"{median([a['cpu_us'] for _, a in shared]):.2f} us/request, "
              f"{median([a['rps'] for _, a in shared]):.0f} rps: throughput cost "
              f"{median(cost):.1f} % (quartiles {quartiles(cost, 1)} %); shared: "
              f"{median([v['plain-shared']['cpu_us'] for v, _ in shared]):.2f} vs "
              f"{median([v[kind]['cpu_us'] for v, _ in shared]):.2f} us/request"
              + (f", its trace exporter thread {median([v[kind]['exporter_us'] for v, _ in shared]):.3f} us/request"
                 if kind.startswith("traced") else ""))
        continue
    pairs = [v for (k, _), v in runs.items() if k == kind and len(v) == 2]
    if not pairs:
        continue
    rps = [p[kind]["rps"] / p["plain"]["rps"] for p in pairs]
    cpu = [p["plain"]["cpu_us"] / p[kind]["cpu_us"] for p in pairs]
    extra_us = [p[kind]["cpu_us"] - p["plain"]["cpu_us"] for p in pairs]
    per_request_us = [1e6 / p[kind]["rps"] - 1e6 / p["plain"]["rps"] for p in pairs]
    print(f"{kind} vs plain over {len(pairs)} pairs: throughput ratio median {median(rps):.3f} "
          f"quartiles {quartiles(rps)}; server CPU ratio median {median(cpu):.3f}; "
          f"server CPU +{median(extra_us):.2f} us/request; 1/rps +{median(per_request_us):.2f} us; "
          f"plain median rps {median([p['plain']['rps'] for p in pairs]):.0f}, "
          f"{kind} median rps {median([p[kind]['rps'] for p in pairs]):.0f}, "
          f"p99 ms {median([p['plain']['p99_ms'] for p in pairs]):.2f} vs "
          f"{median([p[kind]['p99_ms'] for p in pairs]):.2f}"
          + (f"; its trace exporter thread {median([p[kind]['exporter_us'] for p in pairs]):.3f} us/request"
             if kind.startswith("traced") else ""))
EOF
for kind in $kinds; do
  [[ $kind == traced* ]] || continue
  echo "$kind: $(curl -s "${url[$kind]%%/v1/*}/metrics" | grep '^fraudops_trace_spans_total' | tr '\n' ' ')"
done
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

# Propagation: three replicas; each deployment timed until all serve it.
propagate() {  # NAME CONFIG_ARGS...: prints the milliseconds of each deployment
  local name=$1 ports=(18501 18502 18503)
  for port in "${ports[@]}"; do
    "$bin" serve --listen "127.0.0.1:$port" --workers 1 > "$name-$port.log" 2>&1 &
    pids+=($!)
  done
  for port in "${ports[@]}"; do wait_for "http://127.0.0.1:$port/healthz"; done
  /usr/bin/python3 - "$bin" "$deploys" "${ports[@]}" <<'EOF' | tee "$name.txt" | tail -1 | sed "s/^/$name: /"
import json, subprocess, sys, time, urllib.request
binary, count, ports = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
times = []
for i in range(count):
    target = f"fraud-detector@{2 if i % 2 == 0 else 1}"
    subprocess.run([binary, "deploy", target, "--strategy", "all_at_once"], check=True,
                   capture_output=True)
    start = time.perf_counter()
    pending = set(ports)
    while pending:
        for port in list(pending):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz") as answer:
                body = json.load(answer)
            if body["endpoints"].get("fraud-detector", {}).get("production") == target:
                pending.discard(port)
    times.append((time.perf_counter() - start) * 1000)
times.sort()
print(f"deployments={count} median_ms={times[count // 2]:.1f} max_ms={times[-1]:.1f}")
EOF
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
[ "$deploys" -eq 0 ] && exit 0
FRAUDOPS_API_POLL_INTERVAL_MS=250 propagate polling-sqlite
if [ -n "${FOPS_TEST_POSTGRES_URL:-}" ]; then
  database=fraudops_bench_$$
  psql "$FOPS_TEST_POSTGRES_URL" -qc "CREATE DATABASE $database" >/dev/null
  url="${FOPS_TEST_POSTGRES_URL%/*}/$database"
  mkdir -p pg && cd pg
  printf 'preprocess:\n  synthetic_rows: 50000\ndeploy:\n  enabled: false\nglobal:\n  metadata_url: %s\n' "$url" > config.yml
  "$bin" run >/dev/null 2>&1 && "$bin" run >/dev/null 2>&1
  printf 'correct horse battery\n' | "$bin" users add ops --role admin --role deployer --password-stdin >/dev/null
  export FRAUDOPS_CREDENTIALS=$work/pg/credentials.json FRAUDOPS_API_POLL_INTERVAL_MS=10000
  "$bin" serve --listen 127.0.0.1:18500 --workers 1 > login.log 2>&1 &
  pids+=($!)
  wait_for http://127.0.0.1:18500/healthz
  printf 'correct horse battery\n' | "$bin" login --url http://127.0.0.1:18500 --user ops --password-stdin >/dev/null
  "$bin" deploy fraud-detector@1 --strategy all_at_once >/dev/null
  kill "${pids[@]}"; wait 2>/dev/null || true; pids=()
  FRAUDOPS_URL=http://127.0.0.1:18501 propagate notify-postgresql
  cd "$work"
  psql "$FOPS_TEST_POSTGRES_URL" -qc "DROP DATABASE $database WITH (FORCE)" >/dev/null
else
  echo "notify-postgresql: skipped (FOPS_TEST_POSTGRES_URL is not set)"
fi
