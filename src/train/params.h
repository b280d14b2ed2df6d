#pragma once
/// Hyperparameters declared once: name, kind, bounds, library default, description and
/// aliases. A trainer resolves the user's values (from models/*_default.json, XGBOOST_* /
/// LGBM_* variables, or flags) against its table: unknown names are errors naming the
/// closest valid one and where the value came from; values are type- and bounds-checked.

#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/status.h"

namespace fraudops {

enum class ParamKind { kInt, kDouble, kString, kStringList, kBool };

struct ParamSpec {
  std::string name;
  ParamKind kind;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::string library_default;  ///< the library's own default, for the docs
  std::string description;
  std::vector<std::string> aliases = {};
  std::vector<std::string> choices = {};  ///< for strings and string lists; empty = any
};

/// Checked values by canonical name; strings and lists as JSON strings / arrays.
using ResolvedParams = std::map<std::string, nlohmann::json>;

/// Resolves `given` against `specs`. `family` names the table in messages ("xgboost").
Result<ResolvedParams> ResolveParams(const std::vector<ParamSpec>& specs,
                                     const HyperParameters& given, const std::string& family);

/// The value as the library's string form ("0.1", "6", "hist").
std::string ParamText(const nlohmann::json& value);

}  // namespace fraudops
