#pragma once
/// `fraudops train`: trains one model outside the pipeline and writes the library's own
/// model file (LightGBM text for lgbm, XGBoost JSON for xgboost), for anyone who uses
/// LightGBM or XGBoost to load.

#include <CLI/CLI.hpp>
#include <functional>

namespace fraudops {

/// Adds the command to `app`; the returned function runs it when it was parsed and returns
/// its exit code, or -1 when it was not.
std::function<int()> AddTrainCommand(CLI::App& app);
/// `fraudops worker`: one worker of a distributed training run (train/distributed.h).
std::function<int()> AddWorkerCommand(CLI::App& app);

}  // namespace fraudops
