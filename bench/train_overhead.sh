#!/usr/bin/env bash
# Training overhead: fraudops' train step vs the same 100 rounds through bare libxgboost on the
# same matrix, repetitions interleaved at random; and a tuning trial's rounds (one thread,
# validation aucpr every round) against the same rounds through bare libxgboost.
# Needs a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
build/release/bench/fraudops_bench --benchmark_filter='BareLibxgboost|FraudopsTrainStep|FraudopsTrialRounds' \
  --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
