#include "train/params.h"

#include <cmath>

#include "core/strings.h"

namespace fraudops {

namespace {

std::string KindName(ParamKind kind) {
  switch (kind) {
    case ParamKind::kInt:
      return "an integer";
    case ParamKind::kDouble:
      return "a number";
    case ParamKind::kString:
      return "a string";
    case ParamKind::kStringList:
      return "a string or a list of strings";
    case ParamKind::kBool:
      return "true or false";
  }
  return "a value";
}

/// Numbers may arrive as JSON numbers or as text (environment variables).
std::optional<double> AsNumber(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) return ParseDouble(value.get<std::string>());
  return std::nullopt;
}

}  // namespace

std::string ParamText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_integer()) return std::to_string(value.get<long long>());
  if (value.is_number()) return FormatDouble(value.get<double>());
  return value.dump();
}

Result<ResolvedParams> ResolveParams(const std::vector<ParamSpec>& specs,
                                     const HyperParameters& given, const std::string& family) {
  std::vector<std::string> names;
  for (const ParamSpec& spec : specs) {
    names.push_back(spec.name);
    for (const std::string& alias : spec.aliases) names.push_back(alias);
  }
  ResolvedParams resolved;
  std::map<std::string, std::string> set_by;  // canonical name -> the name the user wrote
  for (const auto& [name, param] : given) {
    const ParamSpec* spec = nullptr;
    for (const ParamSpec& candidate : specs) {
      if (candidate.name == name || std::find(candidate.aliases.begin(), candidate.aliases.end(),
                                              name) != candidate.aliases.end()) {
        spec = &candidate;
      }
    }
    const std::string where = param.origin + ": " + family + " parameter '" + name + "'";
    if (spec == nullptr) {
      return Status::InvalidArgument(where + " is unknown" + DidYouMean(name, names) +
                                     "; see docs/hyperparameters.md for the valid names");
    }
    if (auto previous = set_by.find(spec->name);
        previous != set_by.end() && previous->second != name) {
      return Status::InvalidArgument(where + " sets '" + spec->name + "', already set as '" +
                                     previous->second + "'; give only one of them");
    }
    set_by[spec->name] = name;
    const nlohmann::json& value = param.value;
    nlohmann::json checked;
    switch (spec->kind) {
      case ParamKind::kInt:
      case ParamKind::kDouble: {
        auto number = AsNumber(value);
        if (!number || (spec->kind == ParamKind::kInt && std::floor(*number) != *number)) {
          return Status::InvalidArgument(where + " = " + value.dump() + " must be " +
                                         KindName(spec->kind));
        }
        if (*number < spec->min || *number > spec->max) {
          return Status::InvalidArgument(
              where + " = " + FormatDouble(*number, 10) + " is out of range; accepted: " +
              FormatDouble(spec->min, 10) + " to " + FormatDouble(spec->max, 10));
        }
        checked = spec->kind == ParamKind::kInt ? nlohmann::json(static_cast<long long>(*number))
                                                : nlohmann::json(*number);
        break;
      }
      case ParamKind::kBool: {
        std::optional<bool> flag;
        if (value.is_boolean())
          flag = value.get<bool>();
        else if (value.is_string())
          flag = ParseBool(value.get<std::string>());
        else if (value.is_number_integer())
          flag = value.get<long long>() != 0;
        if (!flag)
          return Status::InvalidArgument(where + " = " + value.dump() + " must be true or false");
        checked = *flag;
        break;
      }
      case ParamKind::kString:
      case ParamKind::kStringList: {
        std::vector<std::string> items;
        if (value.is_string()) {
          std::string text = value.get<std::string>();
          if (spec->kind == ParamKind::kStringList) {
            for (const std::string& item : Split(text, ',')) items.emplace_back(Trim(item));
          } else {
            items.push_back(text);
          }
        } else if (spec->kind == ParamKind::kStringList && value.is_array()) {
          for (const auto& item : value) {
            if (!item.is_string()) {
              return Status::InvalidArgument(where + " must be a list of strings");
            }
            items.push_back(item.get<std::string>());
          }
        } else if (value.is_number()) {
          items.push_back(ParamText(value));
        } else {
          return Status::InvalidArgument(where + " = " + value.dump() + " must be " +
                                         KindName(spec->kind));
        }
        for (const std::string& item : items) {
          if (!spec->choices.empty() &&
              std::find(spec->choices.begin(), spec->choices.end(), item) == spec->choices.end()) {
            return Status::InvalidArgument(
                where + " = '" + item + "' is not valid; accepted: " + Join(spec->choices, ", ") +
                DidYouMean(item, spec->choices));
          }
        }
        checked = spec->kind == ParamKind::kString ? nlohmann::json(items.front())
                                                   : nlohmann::json(items);
        break;
      }
    }
    resolved[spec->name] = checked;
  }
  return resolved;
}

}  // namespace fraudops
