#pragma once
/// Request-time feature derivations (docs/derived-features.md): model features computed from
/// other features by an expression of the decision-policy language — `log_amount =
/// log(Amount + 1)`, `hour = hour(Time)`, `ratio = Amount / (V14 + 10)`. They are declared
/// once (preprocess.derived_features), computed by the pipeline before training and recorded
/// in the bundle's input signature, and batch scoring and serving compute them from the raw
/// fields with this same code: clients send raw fields only, and the model sees bit-identical
/// inputs wherever it runs.
///
/// Rows are laid out as the signature is: the raw features first, then the derived ones in
/// their declared order; a derivation reads raw numeric features and derived features
/// declared before it. A missing input (NaN) is missing to the expression; a result that is
/// missing (log of 0, a division by 0, a string) is NaN; numbers are rounded to float32 when
/// the signature's dtype is, as the training dataset stores them.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/policy.h"

namespace fraudops {

struct DerivedFeature {
  std::string name;
  std::string expression;
};

/// "NAME = EXPRESSION" (one entry of preprocess.derived_features).
Result<DerivedFeature> ParseDerivedFeature(std::string_view text, const std::string& source);

class FeatureDeriver {
 public:
  FeatureDeriver() = default;
  /// `columns`: every column's name in row order (the raw features, then the derived);
  /// `categorical[i]` for each raw one; `derived`: the definitions of the last
  /// derived.size() columns. Errors name `source` (if any), the feature and what is wrong (an
  /// unknown field, a categorical input, a field declared later, a malformed expression).
  static Result<FeatureDeriver> Create(const std::vector<std::string>& columns,
                                       const std::vector<bool>& categorical,
                                       const std::vector<DerivedFeature>& derived, bool float32,
                                       const std::string& source);
  bool empty() const { return expressions_.empty(); }
  /// Raw features per row (the derived ones follow).
  size_t inputs() const { return inputs_; }
  /// Fills the derived features of one row (row[inputs()] …) from the values before them.
  void Derive(double* row) const;

 private:
  struct Compiled {
    PolicyExpression expression;
    std::vector<size_t> reads;  ///< the row index of each of the expression's fields
  };
  size_t inputs_ = 0;
  bool float32_ = true;
  std::vector<Compiled> expressions_;
};

}  // namespace fraudops
