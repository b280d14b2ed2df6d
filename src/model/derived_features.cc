#include "model/derived_features.h"

#include <algorithm>
#include <cmath>

#include "core/strings.h"

namespace fraudops {

Result<DerivedFeature> ParseDerivedFeature(std::string_view text, const std::string& source) {
  const size_t equals = text.find('=');
  DerivedFeature derived;
  if (equals != std::string_view::npos) {
    derived.name = std::string(Trim(text.substr(0, equals)));
    derived.expression = std::string(Trim(text.substr(equals + 1)));
  }
  const bool name_ok =
      !derived.name.empty() &&
      std::all_of(derived.name.begin(), derived.name.end(),
                  [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
                  }) &&
      !std::isdigit(static_cast<unsigned char>(derived.name[0]));
  if (!name_ok || derived.expression.empty()) {
    return Status::InvalidArgument(source + ": \"" + std::string(text) +
                                   "\" is not NAME = EXPRESSION (e.g. log_amount = log(Amount + "
                                   "1)); a name is letters, digits, '_' and '.'");
  }
  return derived;
}

Result<FeatureDeriver> FeatureDeriver::Create(const std::vector<std::string>& columns,
                                              const std::vector<bool>& categorical,
                                              const std::vector<DerivedFeature>& derived,
                                              bool float32, const std::string& source) {
  FeatureDeriver deriver;
  if (derived.size() > columns.size())
    return Status::InvalidArgument(source + " has more derived features than columns");
  deriver.inputs_ = columns.size() - derived.size();
  deriver.float32_ = float32;
  for (size_t d = 0; d < derived.size(); ++d) {
    const size_t column = deriver.inputs_ + d;
    const std::string where =
        (source.empty() ? "" : source + ": ") + "derived feature '" + derived[d].name + "'";
    if (columns[column] != derived[d].name)
      return Status::InvalidArgument(where + ": expected at column " + std::to_string(column));
    auto parsed = PolicyExpression::Parse(derived[d].expression, where);
    if (!parsed.ok()) return parsed.status();
    Compiled compiled{std::move(*parsed), {}};
    for (const std::string& field : compiled.expression.fields()) {
      auto it = std::find(columns.begin(), columns.end(), field);
      const size_t at = static_cast<size_t>(it - columns.begin());
      if (it == columns.end()) {
        return Status::InvalidArgument(where + " reads '" + field + "', which is not a feature" +
                                       DidYouMean(field, columns));
      }
      if (at >= column) {
        return Status::InvalidArgument(where + " reads '" + field +
                                       "', which is derived after it; declare it first");
      }
      if (at < deriver.inputs_ && at < categorical.size() && categorical[at]) {
        return Status::InvalidArgument(where + " reads '" + field +
                                       "', a categorical feature; derivations read numbers");
      }
      compiled.reads.push_back(at);
    }
    deriver.expressions_.push_back(std::move(compiled));
  }
  return deriver;
}

void FeatureDeriver::Derive(double* row) const {
  thread_local std::vector<PolicyValue> values;
  for (size_t d = 0; d < expressions_.size(); ++d) {
    const Compiled& compiled = expressions_[d];
    values.clear();
    for (size_t at : compiled.reads) {
      values.push_back(std::isnan(row[at]) ? PolicyValue() : PolicyValue::Number(row[at]));
    }
    const PolicyValue result = compiled.expression.Evaluate(values);
    double value = std::nan("");
    if (result.kind == PolicyValue::Kind::kNumber && std::isfinite(result.number))
      value = result.number;
    else if (result.kind == PolicyValue::Kind::kBool)
      value = result.number;
    row[inputs_ + d] = float32_ ? static_cast<double>(static_cast<float>(value)) : value;
  }
}

}  // namespace fraudops
