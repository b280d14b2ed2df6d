#!/bin/sh
# Card velocity features end to end (README.md): ingest the built-in transactions with card ids
# into a feature group, train on point-in-time velocity features, fill the online store, serve,
# and score a transaction sent with only its card id and its own fields.
# Usage: run.sh [WORK_DIR] (default ./work); FRAUDOPS names the binary; ROWS the data's size.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-work}
fraudops=${FRAUDOPS:-fraudops}
mkdir -p "$work"
cd "$work"
sed "s/synthetic_rows: 284807/synthetic_rows: ${ROWS:-284807}/" "$here/config.yml" > config.yml
"$fraudops" features apply
"$fraudops" features ingest card_activity
"$fraudops" run
"$fraudops" features materialize
"$fraudops" deploy fraud-detector@latest --endpoint fraud-detector --strategy all_at_once
. "$here/../serve.sh"  # starts the server: $url, $key

echo "== card-000042's velocity at the end of the data"
curl -sf -H "x-api-key: $key" "$url/v1/features/card_activity/card-000042?at=172800"; echo
echo "== a transaction scored with its card id: the server reads the card's velocity"
fields=$(python3 -c 'import json; print(json.dumps({**{"V%d" % i: 0.0 for i in range(1, 29)}, "Amount": 120.0}))')
curl -sf -H "x-api-key: $key" "$url/v1/endpoints/fraud-detector/predict?explain=3" \
  -d "$(echo "$fields" | python3 -c 'import json, sys; d = json.load(sys.stdin); d.update(card_id="card-000042", Time=172800); print(json.dumps(d))')"
echo
