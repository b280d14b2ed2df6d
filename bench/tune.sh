#!/usr/bin/env bash
# Tuning against Optuna (issue 23): `fraudops tune` (TPE, median pruning, xgboost) and Optuna 3.1
# (Debian's python3-optuna: TPESampler, MedianPruner, XGBoost's Python package reporting every
# round through XGBoostPruningCallback) with the same search space (models/xgboost_space.json),
# the same base parameters (models/xgboost_default.json: up to 300 rounds, early stopping after
# 30), the same budget of TRIALS trials, the same training and validation rows (fraudops' time
# split; the peer reads the very rows from CSV) and the same threads (all cores, one trial at
# a time on both sides; fraudops' default tune.parallel: 0, which on 2 cores runs its blind
# start-up trials two at a time with one thread each — TUNE_PARALLEL=1 for strictly one at a
# time), for SEEDS seeds on each dataset, interleaved (who goes first alternates). Reported
# per seed and as means: the best trial's validation PR AUC (average precision) and the
# study's wall time (fraudops: the tune step; Optuna: study.optimize —
# neither counts reading the data). fraudops' trials train on every fraud and a weighted sample
# of the legitimate rows (tune.negatives_per_positive, 50 by default; TUNE_FLAGS=
# "--negatives-per-positive 0" for every row). So both sides' best parameters are also refit on
# every training row (XGBoost's Python package, the seed's, not timed) and scored on the
# validation rows and on the test rows no study saw: what each final model would score, free of
# the best-of-N selection that flatters a study's best value.
#   [TUNE_FLAGS="--parallel 2"] [FIRST_SEED=1] bench/tune.sh [TRIALS=20] [SEEDS=5] [DATASETS="synthetic numeric"]
# FIRST_SEED: the seeds run are FIRST_SEED … FIRST_SEED + SEEDS − 1 (6 for a second set of five:
# a change chosen on seeds 1–5 checked on seeds it was not chosen on).
# TUNE_FLAGS are added to fraudops' command (e.g. other strategies, pruners, parallel trials).
# synthetic: the built-in synthetic data (284,807 rows, 0.17 % fraud); numeric: the reference
# numeric set of ../shared/reference/lightgbm (250,000 rows, 30 features), skipped without it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$root/build/release/src/fraudops
trials=${1:-20}
seeds=${2:-5}
first_seed=${FIRST_SEED:-1}
datasets=${3:-synthetic numeric}
shared=${FOPS_SHARED_DIR:-$root/../shared}
python=/usr/bin/python3
if ! $python -c "import optuna, xgboost, pandas" 2>/dev/null; then
  apt-get install -y python3-optuna python3-xgboost python3-pandas >/dev/null
fi
threads=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "machine: $threads vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "optuna $($python -c 'import optuna; print(optuna.__version__)'), xgboost $($python -c 'import xgboost; print(xgboost.__version__)'); $trials trials a study"

prepare() {  # DATASET: writes data.csv (label, t, features) in time order
  case "$1" in
    synthetic)
      "$bin" data synth --output raw.csv >/dev/null 2>&1
      $python - <<'PY'
import pandas as pd
d = pd.read_csv("raw.csv").rename(columns={"Class": "label"})
d.insert(1, "t", range(len(d)))
d.to_csv("data.csv", index=False)
PY
      ;;
    numeric)
      [ -f "$shared/reference/lightgbm/numeric_train.csv.xz" ] || return 1
      $python - "$shared/reference/lightgbm" <<'PY'
import sys, pandas as pd
base = sys.argv[1]
d = pd.concat([pd.read_csv(f"{base}/numeric_train.csv.xz"), pd.read_csv(f"{base}/numeric_test.csv.xz")])
d.insert(1, "t", range(len(d)))
d.to_csv("data.csv", index=False)
PY
      ;;
  esac
  # The training rows first (70 %, or numeric's own 200,000 of 250,000), then validation.
  local train=0.7 validation=0.15 test=0.15
  if [ "$1" = numeric ]; then train=0.8 validation=0.19 test=0.01; fi
  cat > bench.yml <<YML
preprocess:
  label_column: label
  time_column: t
  split_method: time
  train_ratio: $train
  validation_ratio: $validation
  test_ratio: $test
train:
  xgboost_params_file: $root/models/xgboost_default.json
tune:
  strategy: tpe
  pruner: median
  objective: pr_auc
  parallel: ${TUNE_PARALLEL:-0}
YML
}

run_fraudops() {  # SEED: prints "best seconds pruned"
  rm -rf ws
  FRAUDOPS_GLOBAL_SEED=$1 "$bin" tune --config bench.yml --data data.csv --home ws --study "s$1" \
    --trials "$trials" ${TUNE_FLAGS:-} --json > fraudops.json 2> fraudops.err
  $python - <<'PY'
import glob, json
study = json.load(open("fraudops.json"))
run = json.load(open(glob.glob(f"ws/artifacts/*/{study['execution_id']}/run.json")[0]))
tune = [s for s in run["steps"] if s["name"] == "tune"][0]
pruned = sum(t["state"] == "pruned" for t in study["trials"])
print(study["best"]["value"], tune["seconds"], pruned)
json.dump(study["best"]["params"], open("best_params.json", "w"))
PY
}

refit() {  # PARAMS_FILE SEED: validation and test PR AUC of a model on every training row
  $python "$root/bench/peer_optuna.py" refit train.csv valid.csv test.csv \
    "$root/models/xgboost_default.json" "$(cat "$1")" "$2" "$threads"
}

export_rows() {  # the rows fraudops split into training, validation and test, as CSV
  $python - <<'PY'
import glob, json, pandas as pd
study = json.load(open("fraudops.json"))
base = glob.glob(f"ws/artifacts/*/{study['execution_id']}")[0]
splits = json.load(open(f"{base}/processed/manifest.json"))["splits"]
excluded = [e["name"] for e in json.load(open(f"{base}/raw/validation.json"))["excluded"]]
d = pd.read_csv("data.csv").sort_values("t", kind="mergesort")
d = d.drop(columns=[c for c in excluded + ["t"] if c in d.columns])
n_train, n_valid = splits["train"]["rows"], splits["validation"]["rows"]
n_test = splits["test"]["rows"]
d.iloc[:n_train].to_csv("train.csv", index=False)
d.iloc[n_train:n_train + n_valid].to_csv("valid.csv", index=False)
d.iloc[n_train + n_valid:n_train + n_valid + n_test].to_csv("test.csv", index=False)
assert d.iloc[n_train + n_valid:n_train + n_valid + n_test]["label"].sum() == splits["test"]["positives"]
print(f"test rows: {n_test}, {splits['test']['positives']} positive")
assert d.iloc[:n_train]["label"].sum() == splits["train"]["positives"]
assert d.iloc[n_train:n_train + n_valid]["label"].sum() == splits["validation"]["positives"]
PY
}

run_optuna() {  # SEED
  $python "$root/bench/peer_optuna.py" train.csv valid.csv "$root/models/xgboost_space.json" \
    "$root/models/xgboost_default.json" "$trials" "$1" "$threads" |
    $python -c 'import json,sys; r=json.load(sys.stdin); print(r["best"], r["seconds"], r["pruned"]); json.dump(r["params"], open("optuna_params.json", "w"))'
}

for dataset in $datasets; do
  if ! prepare "$dataset"; then echo "$dataset: skipped (no $shared/reference)"; continue; fi
  echo "== $dataset: $(($(wc -l < data.csv) - 1)) rows"
  # The rows fraudops splits off, for the peer: from a first run of one trial.
  trials_wanted=$trials
  trials=1
  run_fraudops 0 >/dev/null
  export_rows
  trials=$trials_wanted
  ours=() peer=()
  for ((seed = first_seed; seed < first_seed + seeds; seed++)); do
    if ((seed % 2 == 1)); then
      ours+=("$(run_fraudops $seed)")
      peer+=("$(run_optuna $seed)")
    else
      peer+=("$(run_optuna $seed)")
      ours+=("$(run_fraudops $seed)")
    fi
    ours[-1]+=" $(refit best_params.json $seed)"
    peer[-1]+=" $(refit optuna_params.json $seed)"
    echo "seed $seed: fraudops ${ours[-1]} | optuna ${peer[-1]}  (best PR AUC, seconds, pruned, refit: validation and test PR AUC)"
  done
  printf '%s\n' "${ours[@]}" > ours.txt
  printf '%s\n' "${peer[@]}" > peer.txt
  $python - "$dataset" <<'PY'
import sys
ours = [list(map(float, l.split())) for l in open("ours.txt")]
peer = [list(map(float, l.split())) for l in open("peer.txt")]
mean = lambda rows, i: sum(r[i] for r in rows) / len(rows)
print(f"{sys.argv[1]}: fraudops best PR AUC {mean(ours, 0):.4f} in {mean(ours, 1):.1f} s "
      f"({mean(ours, 2):.1f} pruned; its best parameters refit on every training row: "
      f"validation {mean(ours, 3):.4f}, test {mean(ours, 4):.4f}); optuna {mean(peer, 0):.4f} "
      f"in {mean(peer, 1):.1f} s (refit: validation {mean(peer, 3):.4f}, "
      f"test {mean(peer, 4):.4f}; {mean(peer, 2):.1f} pruned); time ratio {mean(ours, 1) / mean(peer, 1):.2f}, "
      f"PR AUC difference {mean(ours, 0) - mean(peer, 0):+.4f} "
      f"(refit on test: {mean(ours, 4) - mean(peer, 4):+.4f})")
PY
  rm -f train.csv valid.csv test.csv
done
