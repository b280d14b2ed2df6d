#!/usr/bin/env bash
# The bias and explanation report end to end on the reference-size data (284,807 rows, every
# row explained): fraudops (ExplainGlobally + ComputeBias, bench/responsible_ai_bench.cc)
# against Python (pandas, xgboost's pred_contribs, numpy; bench/peer_responsible_ai.py) on the
# same CSV and the default pipeline's XGBoost model, one facet (Amount > 100), 1,000 bootstrap
# resamples and the flip test on 5,000 rows of each group; 2 threads each, interleaved,
# ROUNDS rounds (default 2: the peer takes minutes), medians. Then the pipeline's own cost: `fraudops run` with and without
# explain.enabled and a bias facet, interleaved, 3 rounds, medians of the run's seconds.
# Needs a release build, python3-pandas and python3-xgboost.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(pwd)/build/release/src/fraudops
bench=$(pwd)/build/release/bench/fraudops_responsible_ai_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" data synth --rows 284807 --seed 1 --output "$work/data.csv" >/dev/null 2>&1
FRAUDOPS_GLOBAL_THREADS=2 "$bin" run --home "$work/home" >/dev/null 2>&1
(cd "$work" && "$bin" models export fraud-detector@latest bundle --home home >/dev/null)
threshold=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["threshold"])' "$work/bundle/bundle.json")
for i in $(seq "${ROUNDS:-2}"); do
  echo "fraudops $("$bench" "$work/bundle/model.json" "$work/data.csv" Amount 100 "$threshold" 2)"
  echo "peer $(/usr/bin/python3 bench/peer_responsible_ai.py "$work/bundle/model.json" "$work/data.csv" Amount 100 "$threshold" 2)"
done | tee "$work/report.txt"
/usr/bin/python3 - "$work/report.txt" <<'PY'
import json, statistics, sys
runs = {"fraudops": [], "peer": []}
for line in open(sys.argv[1]):
    who, _, rest = line.partition(" ")
    runs[who].append(json.loads(rest))
for who, rs in runs.items():
    print(who, {k: round(statistics.median(r[k] for r in rs), 3) for k in ("read_s", "explain_s", "bias_s", "total_s")},
          "DI", round(rs[0]["DI"], 4), "additivity", rs[0]["max_additivity_error"])
print("peer / fraudops total: %.2f" % (statistics.median(r["total_s"] for r in runs["peer"]) /
                                       statistics.median(r["total_s"] for r in runs["fraudops"])))
PY
# The pipeline: a run on the built-in data, with and without the report.
for i in 1 2 3; do
  for with in no yes sample; do
    case $with in
      no) extra="" ;;
      yes) extra="FRAUDOPS_EXPLAIN_ENABLED=true FRAUDOPS_BIAS_FACETS=Amount>100" ;;
      sample) extra="FRAUDOPS_EXPLAIN_ENABLED=true FRAUDOPS_EXPLAIN_ROWS=20000 FRAUDOPS_BIAS_FACETS=Amount>100" ;;
    esac
    rm -rf "$work/run"
    seconds=$(env FRAUDOPS_GLOBAL_THREADS=2 $extra "$bin" run --json --home "$work/run" 2>/dev/null |
      /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); s={x["name"]: x["seconds"] for x in r["steps"]}; print("%.2f %.2f %.2f" % (r["seconds"], s["explain"], s["bias"]))')
    echo "run report=$with $seconds"
  done
done
