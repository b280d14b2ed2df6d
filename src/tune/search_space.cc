#include "tune/search_space.h"

#include <algorithm>
#include <cmath>

#include "core/strings.h"

namespace fraudops {

namespace {

constexpr std::pair<DimensionKind, std::string_view> kKindNames[] = {
    {DimensionKind::kUniform, "uniform"},
    {DimensionKind::kLogUniform, "log_uniform"},
    {DimensionKind::kInt, "int"},
    {DimensionKind::kCategorical, "categorical"},
};

std::string_view KindName(DimensionKind kind) {
  for (const auto& [value, name] : kKindNames) {
    if (value == kind) return name;
  }
  return "uniform";
}

const ParamSpec* FindSpec(const std::vector<ParamSpec>& params, const std::string& name) {
  for (const ParamSpec& spec : params) {
    if (spec.name == name ||
        std::find(spec.aliases.begin(), spec.aliases.end(), name) != spec.aliases.end())
      return &spec;
  }
  return nullptr;
}

/// `value` checked by the parameter table as if the user had set it (the same messages).
Result<nlohmann::json> CheckValue(const std::vector<ParamSpec>& params, const std::string& name,
                                  const nlohmann::json& value, const std::string& family,
                                  const std::string& origin) {
  HyperParameters one = {{name, HyperParameter{value, origin}}};
  FOPS_ASSIGN_OR_RETURN(ResolvedParams resolved, ResolveParams(params, one, family));
  return resolved.begin()->second;
}

Result<double> Number(const nlohmann::json& declaration, const char* key,
                      const std::string& where) {
  if (!declaration.contains(key))
    return Status::InvalidArgument(where + ": '" + key + "' is missing (a number)");
  const nlohmann::json& value = declaration.at(key);
  if (!value.is_number() || !std::isfinite(value.get<double>()))
    return Status::InvalidArgument(where + "/" + key + " = " + value.dump() + " must be a number");
  return value.get<double>();
}

}  // namespace

double Dimension::ToInternal(double value) const { return LogScale() ? std::log(value) : value; }

nlohmann::json Dimension::FromInternal(double internal) const {
  double value = LogScale() ? std::exp(internal) : internal;
  if (kind == DimensionKind::kInt) {
    return static_cast<long long>(std::clamp(std::round(value), low, high));
  }
  return std::clamp(value, low, high);
}

std::pair<double, double> Dimension::InternalBounds() const {
  if (kind == DimensionKind::kInt) {
    // low >= 1 on a log scale, so low - 0.5 > 0.
    return LogScale() ? std::make_pair(std::log(low - 0.5), std::log(high + 0.5))
                      : std::make_pair(low - 0.5, high + 0.5);
  }
  return {ToInternal(low), ToInternal(high)};
}

bool Dimension::Contains(const nlohmann::json& value) const {
  if (kind == DimensionKind::kCategorical) return ChoiceIndex(value) >= 0;
  if (!value.is_number()) return false;
  const double number = value.get<double>();
  if (number < low || number > high) return false;
  return kind != DimensionKind::kInt || std::floor(number) == number;
}

int Dimension::ChoiceIndex(const nlohmann::json& value) const {
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] == value) return static_cast<int>(i);
    if (choices[i].is_number() && value.is_number() &&
        choices[i].get<double>() == value.get<double>())
      return static_cast<int>(i);
  }
  return -1;
}

nlohmann::json Dimension::ToJson() const {
  nlohmann::json out = {{"type", KindName(kind)}};
  if (kind == DimensionKind::kCategorical) {
    out["choices"] = choices;
  } else {
    out["low"] = low;
    out["high"] = high;
    if (kind == DimensionKind::kInt && log) out["log"] = true;
  }
  if (!parent.empty()) {
    out["when"] = {{parent, parent_values.size() == 1 ? parent_values.front()
                                                      : nlohmann::json(parent_values)}};
  }
  return out;
}

Result<SearchSpace> SearchSpace::Parse(const nlohmann::json& spec,
                                       const std::vector<ParamSpec>& params,
                                       const std::string& family, const std::string& where,
                                       const std::vector<std::string>& fixed) {
  if (!spec.is_object() || spec.empty()) {
    return Status::InvalidArgument(
        where +
        ": a search space is a JSON object of parameter declarations, e.g. "
        "{\"eta\": {\"type\": \"log_uniform\", \"low\": 0.01, \"high\": 0.3}}");
  }
  std::vector<std::string> names;
  for (const ParamSpec& p : params) names.push_back(p.name);
  std::vector<Dimension> declared;
  for (const auto& [written, declaration] : spec.items()) {
    const std::string at = where + " /" + written;
    const ParamSpec* param = FindSpec(params, written);
    if (param == nullptr) {
      return Status::InvalidArgument(at + ": '" + written + "' is not a " + family + " parameter" +
                                     DidYouMean(written, names) + "; see docs/hyperparameters.md");
    }
    if (std::find(fixed.begin(), fixed.end(), param->name) != fixed.end()) {
      return Status::InvalidArgument(at + ": '" + param->name +
                                     "' is set by the tuner for every trial and cannot be tuned");
    }
    for (const Dimension& other : declared) {
      if (other.name == param->name) {
        return Status::InvalidArgument(at + ": '" + param->name + "' is declared twice");
      }
    }
    if (!declaration.is_object() || !declaration.contains("type") ||
        !declaration["type"].is_string()) {
      return Status::InvalidArgument(
          at + " must be an object with a \"type\": uniform, log_uniform, int or categorical");
    }
    static const std::vector<std::string> kAllowed = {"type", "low",     "high",
                                                      "log",  "choices", "when"};
    for (const auto& [key, unused] : declaration.items()) {
      if (std::find(kAllowed.begin(), kAllowed.end(), key) == kAllowed.end()) {
        return Status::InvalidArgument(at + "/" + key + " is not a declaration key; accepted: " +
                                       Join(kAllowed, ", ") + DidYouMean(key, kAllowed));
      }
    }
    Dimension d;
    d.name = param->name;
    const std::string type = declaration["type"].get<std::string>();
    bool known = false;
    for (const auto& [kind, name] : kKindNames) {
      if (name == type) {
        d.kind = kind;
        known = true;
      }
    }
    if (!known) {
      std::vector<std::string> kinds;
      for (const auto& [kind, name] : kKindNames) kinds.emplace_back(name);
      return Status::InvalidArgument(at + "/type = '" + type + "' is not valid; accepted: " +
                                     Join(kinds, ", ") + DidYouMean(type, kinds));
    }
    const std::string origin = at;
    if (d.kind == DimensionKind::kCategorical) {
      if (!declaration.contains("choices") || !declaration["choices"].is_array() ||
          declaration["choices"].empty()) {
        return Status::InvalidArgument(at + "/choices must be a non-empty list of values");
      }
      if (declaration.contains("low") || declaration.contains("high") ||
          declaration.contains("log")) {
        return Status::InvalidArgument(at +
                                       ": a categorical dimension takes choices, not low, "
                                       "high or log");
      }
      for (const nlohmann::json& choice : declaration["choices"]) {
        FOPS_ASSIGN_OR_RETURN(nlohmann::json checked,
                              CheckValue(params, d.name, choice, family, origin + "/choices"));
        if (d.ChoiceIndex(checked) >= 0)
          return Status::InvalidArgument(at + "/choices lists " + checked.dump() + " twice");
        d.choices.push_back(checked);
      }
    } else {
      if (declaration.contains("choices"))
        return Status::InvalidArgument(at + ": choices belong to a categorical dimension");
      if (param->kind != ParamKind::kInt && param->kind != ParamKind::kDouble) {
        return Status::InvalidArgument(at + ": '" + d.name +
                                       "' is not a number; declare it \"type\": \"categorical\"");
      }
      if (param->kind == ParamKind::kInt && d.kind != DimensionKind::kInt) {
        return Status::InvalidArgument(at + "/type: '" + d.name +
                                       "' is an integer; declare it \"type\": \"int\"");
      }
      FOPS_ASSIGN_OR_RETURN(d.low, Number(declaration, "low", at));
      FOPS_ASSIGN_OR_RETURN(d.high, Number(declaration, "high", at));
      if (declaration.contains("log")) {
        if (!declaration["log"].is_boolean() || d.kind != DimensionKind::kInt) {
          return Status::InvalidArgument(
              at + "/log: true or false, for an int dimension (use log_uniform for numbers)");
        }
        d.log = declaration["log"].get<bool>();
      }
      FOPS_RETURN_IF_ERROR(CheckValue(params, d.name, d.low, family, origin + "/low").status());
      FOPS_RETURN_IF_ERROR(CheckValue(params, d.name, d.high, family, origin + "/high").status());
      if (!(d.low < d.high)) {
        return Status::InvalidArgument(at + ": low (" + FormatDouble(d.low) +
                                       ") must be less than high (" + FormatDouble(d.high) + ")");
      }
      if (d.kind == DimensionKind::kInt &&
          (std::floor(d.low) != d.low || std::floor(d.high) != d.high)) {
        return Status::InvalidArgument(at + ": an int dimension's low and high are integers");
      }
      if (d.LogScale() && d.low <= 0) {
        return Status::InvalidArgument(at + ": a log scale needs low > 0 (got " +
                                       FormatDouble(d.low) + ")");
      }
    }
    if (declaration.contains("when")) {
      const nlohmann::json& when = declaration["when"];
      if (!when.is_object() || when.size() != 1) {
        return Status::InvalidArgument(
            at +
            "/when must name one categorical parameter and its value(s), e.g. "
            "{\"grow_policy\": \"lossguide\"}");
      }
      const ParamSpec* parent = FindSpec(params, when.begin().key());
      d.parent = parent ? parent->name : when.begin().key();
      const nlohmann::json& values = when.begin().value();
      if (values.is_array()) {
        for (const nlohmann::json& v : values) d.parent_values.push_back(v);
      } else {
        d.parent_values.push_back(values);
      }
      if (d.parent_values.empty()) return Status::InvalidArgument(at + "/when lists no value");
    }
    declared.push_back(std::move(d));
  }
  // Conditions name categorical dimensions of the space and their choices; parents first.
  SearchSpace space;
  std::vector<bool> placed(declared.size(), false);
  for (size_t pass = 0; pass < declared.size(); ++pass) {
    for (size_t i = 0; i < declared.size(); ++i) {
      if (placed[i]) continue;
      Dimension& d = declared[i];
      if (!d.parent.empty()) {
        auto parent = std::find_if(space.dimensions_.begin(), space.dimensions_.end(),
                                   [&](const Dimension& p) { return p.name == d.parent; });
        if (parent == space.dimensions_.end()) continue;
        if (parent->kind != DimensionKind::kCategorical) {
          return Status::InvalidArgument(where + " /" + d.name + "/when: '" + d.parent +
                                         "' must be a categorical dimension");
        }
        for (nlohmann::json& value : d.parent_values) {
          FOPS_ASSIGN_OR_RETURN(value, CheckValue(params, parent->name, value, family,
                                                  where + " /" + d.name + "/when"));
          if (parent->ChoiceIndex(value) < 0) {
            return Status::InvalidArgument(where + " /" + d.name + "/when: " + value.dump() +
                                           " is not one of " + parent->name + "'s choices");
          }
        }
      }
      space.dimensions_.push_back(d);
      placed[i] = true;
    }
  }
  for (size_t i = 0; i < declared.size(); ++i) {
    if (placed[i]) continue;
    const Dimension& d = declared[i];
    auto parent = std::find_if(declared.begin(), declared.end(),
                               [&](const Dimension& p) { return p.name == d.parent; });
    if (parent == declared.end()) {
      return Status::InvalidArgument(where + " /" + d.name + "/when: '" + d.parent +
                                     "' is not a dimension of the space");
    }
    if (parent->kind != DimensionKind::kCategorical) {
      return Status::InvalidArgument(where + " /" + d.name + "/when: '" + d.parent +
                                     "' must be a categorical dimension");
    }
    return Status::InvalidArgument(where + " /" + d.name + "/when: the conditions form a cycle");
  }
  return space;
}

bool SearchSpace::Active(const Dimension& dimension, const nlohmann::json& params) const {
  if (dimension.parent.empty()) return true;
  if (!params.contains(dimension.parent)) return false;
  const nlohmann::json& value = params.at(dimension.parent);
  return std::any_of(dimension.parent_values.begin(), dimension.parent_values.end(),
                     [&](const nlohmann::json& v) { return v == value; });
}

bool SearchSpace::Contains(const nlohmann::json& params) const {
  if (!params.is_object()) return false;
  size_t matched = 0;
  for (const Dimension& d : dimensions_) {
    if (!Active(d, params)) continue;
    if (!params.contains(d.name) || !d.Contains(params.at(d.name))) return false;
    ++matched;
  }
  return matched == params.size();
}

nlohmann::json SearchSpace::SampleDimension(const Dimension& d, std::mt19937_64& rng) {
  if (d.kind == DimensionKind::kCategorical) {
    std::uniform_int_distribution<size_t> pick(0, d.choices.size() - 1);
    return d.choices[pick(rng)];
  }
  const auto [low, high] = d.InternalBounds();
  std::uniform_real_distribution<double> uniform(low, high);
  return d.FromInternal(uniform(rng));
}

nlohmann::json SearchSpace::SampleRandom(std::mt19937_64& rng) const {
  nlohmann::json params = nlohmann::json::object();
  for (const Dimension& d : dimensions_) {
    if (Active(d, params)) params[d.name] = SampleDimension(d, rng);
  }
  return params;
}

nlohmann::json SearchSpace::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (const Dimension& d : dimensions_) out[d.name] = d.ToJson();
  return out;
}

}  // namespace fraudops
