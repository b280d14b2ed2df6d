# Sourced by the examples' run.sh: starts `fraudops serve` on a free port of this workspace,
# sets $url once it listens (stopped when the script exits), and $key, a new API key with the
# invoke and features scopes. Needs $fraudops (the binary) and python3.
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
