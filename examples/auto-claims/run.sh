#!/bin/sh
# The auto-claims workflow in one command (README.md): generate the claims and customers
# tables, declare and ingest two feature groups, train on a point-in-time training set, fill
# the online store, deploy, serve, and score a claim sent with only its policy_id and its own
# fields. Usage: run.sh [WORK_DIR] (default ./work); FRAUDOPS names the binary.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-work}
fraudops=${FRAUDOPS:-fraudops}
mkdir -p "$work"
cd "$work"
python3 "$here/generate.py" --out data
cp "$here/config.yml" config.yml
"$fraudops" features apply
"$fraudops" features ingest customers
"$fraudops" features ingest claims_history
"$fraudops" run
"$fraudops" features materialize
"$fraudops" deploy claims-fraud@latest --endpoint claims-fraud --strategy all_at_once
key=$("$fraudops" keys create --name example --scope invoke,features --json |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')

rm -f serve.port
"$fraudops" serve --listen 127.0.0.1:0 --port-file serve.port > serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
tries=0
while [ ! -s serve.port ]; do  # the server writes its port once it listens
  tries=$((tries + 1))
  if [ $tries -gt 300 ] || ! kill -0 $server 2>/dev/null; then
    echo "the server did not start:" >&2; cat serve.log >&2; exit 1
  fi
  sleep 0.1
done
url="http://127.0.0.1:$(cat serve.port)"

echo "== the policy holder's profile and claims history, as the online store has them"
curl -sf -H "x-api-key: $key" "$url/v1/features/customers/POL-000123"; echo
curl -sf -H "x-api-key: $key" "$url/v1/features/claims_history/POL-000123"; echo
echo "== a new claim, scored with only its policy_id and its own fields"
curl -sf -H "x-api-key: $key" "$url/v1/endpoints/claims-fraud/predict?explain=3" -d '{
  "policy_id": "POL-000123", "claim_time": "2026-01-15T10:00:00Z",
  "incident_type": "Single Vehicle Collision", "incident_severity": "Total Loss",
  "num_vehicles_involved": 1, "num_injuries": 0, "num_witnesses": 0,
  "police_report_available": "NO", "total_claim_amount": 24500}'
echo
