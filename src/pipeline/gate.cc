#include "pipeline/gate.h"

#include "core/strings.h"
#include "eval/metrics.h"

namespace fraudops {

Status ValidateGateConfig(const EvaluateConfig& config) {
  std::vector<std::string> names = MetricNames();
  for (const auto* limits : {&config.min_metrics, &config.max_metrics}) {
    const char* key =
        limits == &config.min_metrics ? "evaluate.min_metrics" : "evaluate.max_metrics";
    for (const auto& [name, value] : *limits) {
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        return Status::InvalidArgument(std::string(key) + " names unknown metric '" + name + "'" +
                                       DidYouMean(name, names) + "; valid: " + Join(names, ", "));
      }
    }
  }
  return Status::Ok();
}

GateResult ApplyGate(const EvaluateConfig& config, const nlohmann::json& test_metrics) {
  GateResult result;
  auto check = [&](const std::string& metric, double limit, bool minimum, const std::string& key) {
    const auto& value = test_metrics.contains(metric) ? test_metrics[metric] : nlohmann::json();
    std::string relation = minimum ? " >= " : " <= ";
    if (!value.is_number()) {
      std::string reason = "test " + metric + " is not available, so " + key + " = " +
                           FormatDouble(limit, 15) + " cannot be met";
      result.checks.push_back(reason + ": failed");
      result.reasons.push_back(reason);
      result.passed = false;
      return;
    }
    double actual = value.get<double>();
    bool ok = minimum ? actual >= limit : actual <= limit;
    std::string line = "test " + metric + " " + FormatDouble(actual, 6) +
                       (ok ? relation : (minimum ? " < " : " > ")) + FormatDouble(limit, 15) +
                       " (" + key + ")";
    result.checks.push_back(line + (ok ? ": passed" : ": failed"));
    if (!ok) {
      result.passed = false;
      result.reasons.push_back(line);
    }
  };
  check("roc_auc", config.min_roc_auc, true, "evaluate.min_roc_auc");
  for (const auto& [name, limit] : config.min_metrics) {
    check(name, limit, true, "evaluate.min_metrics." + name);
  }
  for (const auto& [name, limit] : config.max_metrics) {
    check(name, limit, false, "evaluate.max_metrics." + name);
  }
  return result;
}

}  // namespace fraudops
