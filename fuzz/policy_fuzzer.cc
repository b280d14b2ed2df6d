// The decision-policy parser and evaluator (src/model/policy.h): any text is a policy or an
// InvalidArgument that names line:column; a parsed policy decides for missing values, numbers
// and strings without crashing, and always names a rule it has. The same text as one
// expression (a derived feature's, src/model/derived_features.h) parses or is refused the
// same way, and a derived feature over it computes a number or NaN.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "model/derived_features.h"
#include "model/policy.h"

namespace {

void FuzzExpression(const std::string& text) {
  auto expression = fraudops::PolicyExpression::Parse(text, "fuzz");
  if (!expression.ok()) {
    if (expression.status().code() != fraudops::StatusCode::kInvalidArgument ||
        expression.status().message().rfind("fuzz", 0) != 0) {
      std::abort();
    }
    return;
  }
  // As a derived feature over columns named like its fields (all numeric).
  std::vector<std::string> columns = expression->fields();
  columns.push_back("derived_feature");
  auto deriver =
      fraudops::FeatureDeriver::Create(columns, std::vector<bool>(columns.size() - 1, false),
                                       {{"derived_feature", text}}, true, "fuzz");
  if (!deriver.ok()) {
    // Only a field named like the derived feature itself may be refused.
    bool self = false;
    for (const std::string& field : expression->fields()) self |= field == "derived_feature";
    if (!self) std::abort();
    return;
  }
  std::vector<double> row(columns.size(), 0.0);
  for (size_t i = 0; i + 1 < row.size(); ++i) row[i] = i % 2 ? std::nan("") : 1e9 * i - 3.5;
  deriver->Derive(row.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  FuzzExpression(text);
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
