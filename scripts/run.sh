#!/usr/bin/env bash
# The main job: installs what is missing, builds fraudops (release), runs the whole pipeline
# on the built-in synthetic dataset (or what config.yml / the arguments say), which
# registers the model and deploys it to the endpoint `fraud-detector`, then serves it:
# creates an API key, prints a ready-to-paste curl example, and runs `fraudops serve`
# until Ctrl-C. Arguments are passed to `fraudops run`, e.g. scripts/run.sh --data tx.csv
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release fraudops   # only the program it runs (tests and benchmarks: scripts/test.sh)
fraudops=build/release/src/fraudops
"$fraudops" run "$@"

home="${FRAUDOPS_HOME:-./fraudops-home}"
endpoint="${FRAUDOPS_DEPLOY_ENDPOINT_NAME:-fraud-detector}"
listen="${FRAUDOPS_API_LISTEN:-127.0.0.1:8080}"
key=$("$fraudops" keys create --name quickstart --scope invoke,feedback,admin 2>/dev/null)
bash scripts/sample-transaction.sh "$fraudops" "$home/sample-transaction.json"
# A person to sign in to the web console as, made once (its password shown only then).
console_login="the user 'quickstart' made on the first run (fraudops users list)"
if ! "$fraudops" users list 2>/dev/null | grep -q '^quickstart '; then
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  if printf '%s\n' "$password" | "$fraudops" users add quickstart --role viewer --role data_scientist \
      --role approver --role deployer --role admin --password-stdin >/dev/null 2>&1; then
    console_login="user quickstart, password $password (shown once)"
  fi
fi
cat <<MSG

Serving endpoint '$endpoint' on http://$listen (Ctrl-C stops). Your API key (shown once):

  export FRAUDOPS_KEY=$key

Score a transaction, with its top 3 reason codes:

  curl -s -H "x-api-key: \$FRAUDOPS_KEY" -H 'content-type: application/json' \\
       -d @$home/sample-transaction.json 'http://$listen/v1/endpoints/$endpoint/predict?explain=3'

The web console: http://$listen/ui — sign in as $console_login.

Health, metrics and the API description: http://$listen/readyz  /metrics  /openapi.json

MSG
exec "$fraudops" serve
