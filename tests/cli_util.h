#pragma once
/// Running the real fraudops binary in a test's directory, and a small fast configuration.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "test_util.h"

namespace fraudops::testing {

inline std::string Binary() { return FRAUDOPS_BINARY; }

/// Runs fraudops in `dir` (as its working directory) with a clean fraudops environment.
inline CommandResult Fraudops(const TempDir& dir, const std::string& arguments,
                              const std::string& env = "") {
  return RunCommand("cd " + dir.path() +
                        " && env -u FRAUDOPS_CONFIG -u TRAINING_ALGORITHM -u FRAUDOPS_HOME " + env +
                        " " + Binary() + " " + arguments,
                    dir.path());
}

/// A command's standard output as JSON (a test failure, and a discarded value, when it is not).
inline nlohmann::json Json(const CommandResult& result) {
  auto parsed = nlohmann::json::parse(result.out, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << result.out << result.err;
  return parsed;
}

/// Writes `rows` rows of the built-in synthetic data to `file` in `dir`; its exit code.
inline int WriteSynthetic(const TempDir& dir, const std::string& file, int rows,
                          const std::string& fraud_rate, int seed) {
  return Fraudops(dir, "data synth --rows " + std::to_string(rows) + " --fraud-rate " + fraud_rate +
                           " --seed " + std::to_string(seed) + " --output " + file)
      .exit_code;
}

/// A small configuration so pipeline tests run in seconds.
inline void WriteSmallConfig(const TempDir& dir, const std::string& extra = "") {
  WriteText(dir.File("config.yml"),
            "preprocess:\n  synthetic_rows: 30000\n  synthetic_fraud_rate: 0.01\n" + extra);
  WriteText(
      dir.File("models/xgboost_default.json"),
      R"({"objective": "binary:logistic", "eval_metric": ["logloss", "aucpr"], "num_round": 40,
                "early_stopping_rounds": 10, "eta": 0.2, "max_depth": 4})");
}

}  // namespace fraudops::testing
