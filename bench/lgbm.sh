#!/usr/bin/env bash
# lgbm against real LightGBM 4.6.0 on the reference trainings (../shared/reference/lightgbm):
#  1. quality: every reference model trained again by fraudops with its parameters, test ROC AUC
#     and average precision beside LightGBM's (computed the same way from its expected_*_prob.txt),
#     RMSE for the regression; and the training time (binning + boosting) of each, median of 3;
#  2. the `numeric` training from the command line, as LightGBM's CLI was timed (parse the CSV,
#     bin, train 200 iterations, write the model), 2 threads, median of 3 wall times.
# LightGBM cannot be installed here (no Debian package), so its times are the ones SOURCE.md
# recorded on a 2-core AMD EPYC VM like this one; compare ratios, not absolute times.
# Needs a release build (scripts/build.sh release).
set -euo pipefail
cd "$(dirname "$0")/.."
reference=${1:-../shared/reference/lightgbm}
[ -f "$reference/numeric_train.csv.xz" ] || { echo "no reference set at $reference" >&2; exit 2; }
build/release/bench/fraudops_lgbm_parity --reference "$reference" --threads 2 --repeat 3

scratch=${TMPDIR:-/tmp}/fraudops-lgbm-bench
mkdir -p "$scratch"
[ -f "$scratch/numeric_train.csv" ] || xz -dc "$reference/numeric_train.csv.xz" > "$scratch/numeric_train.csv"
times=()
for run in 1 2 3; do
  start=$(date +%s.%N)
  build/release/src/fraudops train --algorithm lgbm --library-defaults --data "$scratch/numeric_train.csv" \
    --label label --param objective=binary --param num_iterations=200 --param learning_rate=0.1 \
    --param num_leaves=31 --param min_sum_hessian_in_leaf=1 --param seed=7 --param num_threads=2 \
    --output "$scratch/model_numeric.txt" > "$scratch/train.out" 2>/dev/null
  end=$(date +%s.%N)
  times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
echo
echo "fraudops train, numeric (CSV parse + bin + 200 iterations + write), 2 threads: wall ${times[*]} s, median $median s"
echo "LightGBM 4.6.0 CLI, same training (SOURCE.md): wall 3.68 s (median of 3.32 / 4.04 / 3.68)"
echo "ratio (fraudops / LightGBM): $(awk -v m="$median" 'BEGIN { printf "%.2f", m / 3.68 }')"
