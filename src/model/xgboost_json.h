#pragma once
/// Loads the JSON model libxgboost 1.7+ saves (`XGBoosterSaveModel(…, "model.json")`):
/// gbtree boosters with objectives binary:logistic / binary:logitraw / reg:squarederror /
/// reg:logistic, base_score, numerical and categorical splits, default directions for
/// missing values and feature names. Errors name the JSON pointer of the offending value.

#include <string>
#include <string_view>

#include "core/status.h"
#include "model/ensemble.h"

namespace fraudops {

Result<Ensemble> LoadXgboostJson(std::string_view text, const std::string& source);

}  // namespace fraudops
