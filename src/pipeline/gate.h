#pragma once
/// The quality gate: compares test metrics with the configured minimums
/// (evaluate.min_roc_auc, evaluate.min_metrics) and maximums (evaluate.max_metrics).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/status.h"

namespace fraudops {

struct GateResult {
  bool passed = true;
  /// One line per check: "roc_auc 0.9712 >= 0.9 (evaluate.min_roc_auc): passed".
  std::vector<std::string> checks;
  /// The failed checks, naming metric, value and threshold.
  std::vector<std::string> reasons;

  /// A check that failed: listed with the others, and a reason.
  void Fail(const std::string& line) {
    passed = false;
    checks.push_back(line);
    reasons.push_back(line);
  }
};

/// Fails when a configured metric name is unknown (before any work is done).
Status ValidateGateConfig(const EvaluateConfig& config);

GateResult ApplyGate(const EvaluateConfig& config, const nlohmann::json& test_metrics);

}  // namespace fraudops
