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
. "$here/../serve.sh"  # starts the server: $url, $key

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
