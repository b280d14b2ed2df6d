#!/usr/bin/env bash
# Deploy and rollback time: from the start of `fraudops deploy NAME@VERSION` (or `fraudops
# deploy rollback`) in another process to the first response of a running `fraudops serve`
# that comes from the new version, with the default pipeline's model. Five of each; prints
# every timing and the medians. Needs a release build and python3.  bench/deploy.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(pwd)/build/release/src/fraudops
rounds=${1:-5}
work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# Two versions of the model: the second run registers version 2 and deploys it.
for seed in 1 2; do
  FRAUDOPS_GLOBAL_SEED=$seed "$bin" run --home "$work/home" >/dev/null 2>&1
done
key=$("$bin" keys create --name bench --scope invoke --home "$work/home" 2>/dev/null)
"$bin" serve --home "$work/home" --listen 127.0.0.1:0 --port-file "$work/port" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
bash scripts/sample-transaction.sh "$bin" "$work/tx.json"
/usr/bin/python3 - "$bin" "$work/home" "$(cat "$work/port")" "$key" "$work/tx.json" "$rounds" <<'PY'
import http.client, json, statistics, subprocess, sys, time
bin_, home, port, key, sample, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
body = open(sample).read()
connection = http.client.HTTPConnection("127.0.0.1", port)

def version():
    connection.request("POST", "/v1/endpoints/fraud-detector/predict", body,
                       {"x-api-key": key, "content-type": "application/json"})
    reply = connection.getresponse()
    data = json.loads(reply.read())
    assert reply.status == 200, data
    return data["version"]

def timed(command, wanted):
    start = time.perf_counter()
    subprocess.run([bin_] + command + ["--home", home], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli = time.perf_counter() - start
    while version() != wanted:
        time.sleep(0.001)
    return time.perf_counter() - start, cli

deploys, rollbacks = [], []
assert version() == 2
for _ in range(rounds):
    total, cli = timed(["deploy", "fraud-detector@1", "--strategy", "all-at-once"], 1)
    deploys.append(total)
    print("deploy v1:   %.0f ms (the CLI itself: %.0f ms)" % (total * 1e3, cli * 1e3))
    total, cli = timed(["deploy", "rollback"], 2)
    rollbacks.append(total)
    print("rollback v2: %.0f ms (the CLI itself: %.0f ms)" % (total * 1e3, cli * 1e3))
print("median deploy %.0f ms, median rollback %.0f ms" % (statistics.median(deploys) * 1e3, statistics.median(rollbacks) * 1e3))
PY
