#pragma once
/// Helpers the trainers' unit tests share.

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/config.h"

namespace fraudops::testing {

/// Hyperparameters as a configuration would give them (source "test").
inline HyperParameters Params(const std::map<std::string, nlohmann::json>& values) {
  HyperParameters params;
  for (const auto& [name, value] : values) params[name] = HyperParameter{value, "test"};
  return params;
}

}  // namespace fraudops::testing
