// Training overhead: fraudops' train step (columnar dataset in, trained model out) against
// the same rounds through bare libxgboost on the same data as a ready row-major matrix —
// same parameters, same per-round evaluation (validation every round, train every 10th),
// no early stopping so both do exactly the same rounds. Issue goal: overhead <= 5 %.

#include <benchmark/benchmark.h>
#include <xgboost/c_api.h>

#include <limits>

#include "bench_data.h"
#include "core/logging.h"
#include "train/xgboost_trainer.h"

namespace fraudops::bench {
namespace {

constexpr int kRounds = 100;
constexpr int kThreads = 2;
constexpr int kTrainEvery = 10;

const std::vector<std::pair<const char*, const char*>>& SharedParams() {
  static const std::vector<std::pair<const char*, const char*>> params = {
      {"objective", "binary:logistic"},
      {"tree_method", "hist"},
      {"eta", "0.1"},
      {"max_depth", "6"},
      {"min_child_weight", "1"},
      {"subsample", "0.8"},
      {"colsample_bytree", "0.8"},
      {"max_bin", "256"},
      {"seed", "42"},
      {"nthread", "2"},
      {"eval_metric", "logloss"},
      {"eval_metric", "auc"},
      {"eval_metric", "aucpr"}};
  return params;
}

/// SharedParams for the trainer, with these metrics, rounds and training-set metric interval,
/// no early stopping, and scale_pos_weight from the class balance.
HyperParameters TrainerParams(const Splits& splits, nlohmann::json metrics, int rounds,
                              int train_every) {
  HyperParameters params;
  for (const auto& [name, value] : SharedParams()) {
    if (std::string(name) == "eval_metric") continue;
    params[name] = {nlohmann::json(value), "bench"};
  }
  params["eval_metric"] = {std::move(metrics), "bench"};
  params["num_round"] = {rounds, "bench"};
  params["early_stopping_rounds"] = {0, "bench"};
  params["train_metrics_every"] = {train_every, "bench"};
  double positives = static_cast<double>(splits.train.CountPositives());
  params["scale_pos_weight"] = {(static_cast<double>(splits.train.rows()) - positives) / positives,
                                "bench"};
  return params;
}

/// What a user of the C API starts from: row-major matrices, labels, scale_pos_weight's text.
struct BareInput {
  explicit BareInput(const Splits& splits)
      : train(splits.train.RowMajor()),
        validation(splits.validation.RowMajor()),
        columns(splits.train.num_features()) {
    double positives = static_cast<double>(splits.train.CountPositives());
    scale = std::to_string((static_cast<double>(splits.train.rows()) - positives) / positives);
  }
  /// A DMatrix of `values` (`dataset`'s rows) with its labels.
  DMatrixHandle Matrix(const std::vector<float>& values, const Dataset& dataset,
                       int threads) const {
    DMatrixHandle matrix = nullptr;
    XGDMatrixCreateFromMat_omp(values.data(), dataset.rows(), columns,
                               std::numeric_limits<float>::quiet_NaN(), &matrix, threads);
    XGDMatrixSetFloatInfo(matrix, "label", dataset.label.data(), dataset.rows());
    return matrix;
  }
  std::vector<float> train, validation;
  size_t columns;
  std::string scale;
};

void BM_FraudopsTrainStep(benchmark::State& state) {
  const Splits& splits = ReferenceSplits();
  Logger logger(LogLevel::kOff);
  ThreadPool pool(kThreads);
  Context context{&logger, &pool, kThreads, 42, false};
  const HyperParameters params = TrainerParams(
      splits, nlohmann::json::array({"logloss", "auc", "aucpr"}), kRounds, kTrainEvery);
  for (auto _ : state) {
    auto model = XgboostTrainer().Train({&splits.train, &splits.validation, params}, context);
    if (!model.ok()) state.SkipWithError(model.status().message().c_str());
    benchmark::DoNotOptimize(model);
  }
}

void BM_BareLibxgboost(benchmark::State& state) {
  const Splits& splits = ReferenceSplits();
  const BareInput input(splits);
  for (auto _ : state) {
    DMatrixHandle train = input.Matrix(input.train, splits.train, kThreads);
    DMatrixHandle validation = input.Matrix(input.validation, splits.validation, kThreads);
    DMatrixHandle matrices[] = {train, validation};
    const char* names[] = {"train", "validation"};
    BoosterHandle booster = nullptr;
    XGBoosterCreate(matrices, 2, &booster);
    for (const auto& [name, value] : SharedParams()) XGBoosterSetParam(booster, name, value);
    XGBoosterSetParam(booster, "scale_pos_weight", input.scale.c_str());
    for (int round = 0; round < kRounds; ++round) {
      XGBoosterUpdateOneIter(booster, round, train);
      bool with_train = (round + 1) % kTrainEvery == 0 || round + 1 == kRounds;
      const char* result = nullptr;
      XGBoosterEvalOneIter(booster, round, with_train ? matrices : matrices + 1,
                           with_train ? names : names + 1, with_train ? 2 : 1, &result);
      benchmark::DoNotOptimize(result);
    }
    XGBoosterFree(booster);
    XGDMatrixFree(train);
    XGDMatrixFree(validation);
  }
}

// A tuning trial's rounds: one thread, validation `aucpr` only, every round, no training-set
// metrics. The trainer computes the area itself (radix sort) from validation scores it keeps
// by walking each round's tree (train/xgboost_scores.h); bare libxgboost predicts its cached
// validation scores and sorts them each round — what a peer tuner's trials (Optuna with
// XGBoost's package) run.
constexpr int kTrialRounds = 200;

void BM_FraudopsTrialRounds(benchmark::State& state) {
  const Splits& splits = ReferenceSplits();
  Logger logger(LogLevel::kOff);
  ThreadPool pool(1);
  Context context{&logger, &pool, 1, 42, false};
  HyperParameters params =
      TrainerParams(splits, nlohmann::json::array({"aucpr"}), kTrialRounds, 100000);
  params["max_depth"] = {4, "bench"};
  params["nthread"] = {1, "bench"};
  XgbTrainCache cache;  // as a study's thread of trials: the matrices built once
  for (auto _ : state) {
    TrainInput input{&splits.train, &splits.validation, params};
    input.cache = &cache;
    auto model = XgboostTrainer().Train(input, context);
    if (!model.ok()) state.SkipWithError(model.status().message().c_str());
    benchmark::DoNotOptimize(model);
  }
}

void BM_BareLibxgboostTrialRounds(benchmark::State& state) {
  const Splits& splits = ReferenceSplits();
  const BareInput input(splits);
  // Built once, as a peer study does.
  DMatrixHandle train = input.Matrix(input.train, splits.train, 1);
  DMatrixHandle validation = input.Matrix(input.validation, splits.validation, 1);
  DMatrixHandle matrices[] = {train, validation};
  const char* names[] = {"validation"};
  for (auto _ : state) {
    BoosterHandle booster = nullptr;
    XGBoosterCreate(matrices, 2, &booster);
    for (const auto& [name, value] : SharedParams()) {
      if (std::string(name) != "eval_metric") XGBoosterSetParam(booster, name, value);
    }
    XGBoosterSetParam(booster, "max_depth", "4");
    XGBoosterSetParam(booster, "nthread", "1");
    XGBoosterSetParam(booster, "eval_metric", "aucpr");
    XGBoosterSetParam(booster, "scale_pos_weight", input.scale.c_str());
    for (int round = 0; round < kTrialRounds; ++round) {
      XGBoosterUpdateOneIter(booster, round, train);
      const char* result = nullptr;
      XGBoosterEvalOneIter(booster, round, matrices + 1, names, 1, &result);
      benchmark::DoNotOptimize(result);
    }
    XGBoosterFree(booster);
  }
  XGDMatrixFree(train);
  XGDMatrixFree(validation);
}

// Five repetitions each; bench/train_overhead.sh interleaves them at random so machine noise
// hits both alike, and compares medians.
BENCHMARK(BM_BareLibxgboost)
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->Repetitions(5)
    ->UseRealTime();
BENCHMARK(BM_FraudopsTrainStep)
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->Repetitions(5)
    ->UseRealTime();

BENCHMARK(BM_BareLibxgboostTrialRounds)
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->Repetitions(5)
    ->UseRealTime();
BENCHMARK(BM_FraudopsTrialRounds)
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->Repetitions(5)
    ->UseRealTime();

}  // namespace
}  // namespace fraudops::bench
