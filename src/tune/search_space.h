#pragma once
/// A search space over one algorithm's hyperparameters (docs/tuning.md): each dimension is
/// uniform, log-uniform, an integer range (optionally on a log scale) or a list of choices,
/// and may be conditional — present only when a categorical dimension has one of some values.
/// Declared as JSON:
///   {"eta": {"type": "log_uniform", "low": 0.01, "high": 0.3},
///    "max_depth": {"type": "int", "low": 3, "high": 10},
///    "grow_policy": {"type": "categorical", "choices": ["depthwise", "lossguide"]},
///    "max_leaves": {"type": "int", "low": 8, "high": 256, "log": true,
///                   "when": {"grow_policy": "lossguide"}}}
/// and checked against the trainer's parameter table: names (aliases become the canonical
/// name; unknown names get a did-you-mean), kinds, bounds and choices.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/status.h"
#include "train/params.h"

namespace fraudops {

enum class DimensionKind { kUniform, kLogUniform, kInt, kCategorical };

struct Dimension {
  std::string name;  ///< the parameter's canonical name
  DimensionKind kind = DimensionKind::kUniform;
  double low = 0, high = 0;
  bool log = false;                     ///< kInt on a log scale (kLogUniform always is)
  std::vector<nlohmann::json> choices;  ///< kCategorical, as the parameter table checked them
  std::string parent;                   ///< "" or the categorical dimension it depends on
  std::vector<nlohmann::json> parent_values;

  bool Numeric() const { return kind != DimensionKind::kCategorical; }
  bool LogScale() const { return kind == DimensionKind::kLogUniform || log; }
  /// A numeric value in the internal scale the samplers work in (log for log scales), and
  /// back; FromInternal rounds integers and clamps to [low, high].
  double ToInternal(double value) const;
  nlohmann::json FromInternal(double internal) const;
  /// The internal scale's bounds (integers widened by half a step each side).
  std::pair<double, double> InternalBounds() const;
  /// Whether `value` lies in the dimension (in range, an integer, or one of the choices).
  bool Contains(const nlohmann::json& value) const;
  /// Index of `value` among the choices, or -1.
  int ChoiceIndex(const nlohmann::json& value) const;
  nlohmann::json ToJson() const;
};

class SearchSpace {
 public:
  /// `spec` as above; `family` names the trainer ("xgboost") and `where` the source ("tune.space
  /// file models/x.json") in messages. `fixed` names parameters the tuner sets itself, which a
  /// space may not tune.
  static Result<SearchSpace> Parse(const nlohmann::json& spec, const std::vector<ParamSpec>& params,
                                   const std::string& family, const std::string& where,
                                   const std::vector<std::string>& fixed = {});

  /// Parents before the dimensions that depend on them.
  const std::vector<Dimension>& dimensions() const { return dimensions_; }
  /// Whether `dimension` is present given the values chosen so far (`params`).
  bool Active(const Dimension& dimension, const nlohmann::json& params) const;
  /// Whether `params` is a point of this space: every active dimension has a value inside it,
  /// and nothing else is set (warm starting keeps the earlier trials that are).
  bool Contains(const nlohmann::json& params) const;
  /// One point drawn uniformly (on each dimension's scale).
  nlohmann::json SampleRandom(std::mt19937_64& rng) const;
  /// A value of one dimension drawn uniformly.
  static nlohmann::json SampleDimension(const Dimension& dimension, std::mt19937_64& rng);
  /// The declaration, canonical (names as the table names them): what a study stores.
  nlohmann::json ToJson() const;

 private:
  std::vector<Dimension> dimensions_;
};

}  // namespace fraudops
