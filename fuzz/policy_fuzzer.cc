// The decision-policy parser and evaluator (src/model/policy.h): any text is a policy or an
// InvalidArgument that names line:column; a parsed policy decides for missing values, numbers
// and strings without crashing, and always names a rule it has.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "model/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto policy = fraudops::DecisionPolicy::Parse(text, "fuzz");
  if (!policy.ok()) {
    if (policy.status().code() != fraudops::StatusCode::kInvalidArgument ||
        policy.status().message().rfind("fuzz", 0) != 0) {
      std::abort();
    }
    return 0;
  }
  const std::vector<std::string> rules = policy->rule_names();
  for (int round = 0; round < 3; ++round) {
    std::vector<fraudops::PolicyValue> values;
    for (size_t i = 0; i < policy->fields().size(); ++i) {
      switch ((i + static_cast<size_t>(round)) % 3) {
        case 0:
          values.push_back(fraudops::PolicyValue());
          break;
        case 1:
          values.push_back(fraudops::PolicyValue::Number(static_cast<double>(i) - 1.5));
          break;
        default:
          values.push_back(fraudops::PolicyValue::String("XX"));
          break;
      }
    }
    const fraudops::PolicyDecision decision = policy->Evaluate(values);
    bool known = false;
    for (const std::string& rule : rules) known = known || rule == decision.rule;
    if (!known || decision.decision.empty()) std::abort();
  }
  return 0;
}
