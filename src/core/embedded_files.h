#pragma once
/// Files of the repository compiled into the binary (see cmake/EmbedFiles.cmake).

#include <string_view>

namespace fraudops::embedded {

std::string_view env_example();           ///< templates/env.example
std::string_view xgboost_default_json();  ///< models/xgboost_default.json
std::string_view lgbm_default_json();     ///< models/lgbm_default.json
std::string_view xgboost_space_json();    ///< models/xgboost_space.json
std::string_view lgbm_space_json();       ///< models/lgbm_space.json
std::string_view openapi_json();          ///< docs/openapi.json (served at /openapi.json)

}  // namespace fraudops::embedded
