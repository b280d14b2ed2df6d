#pragma once
/// Loads LightGBM's text model format (`version=v3` and `v4`, what `save_model` and the CLI
/// write): numerical splits with `decision_type` bits (bit 0 categorical, bit 1 default left,
/// bits 2–3 missing type None/Zero/NaN), categorical splits as `cat_boundaries` /
/// `cat_threshold` bitsets, single-leaf trees, objectives binary (`sigmoid:k`),
/// cross_entropy, the regression family (identity) and poisson/gamma/tweedie (exp),
/// `feature_names`, `feature_infos` (categorical features listed by code), and the
/// `pandas_categorical` line the Python package appends. Scores equal LightGBM's bit for bit.
/// Errors name the file and line.

#include <string>
#include <string_view>

#include "core/status.h"
#include "model/ensemble.h"

namespace fraudops {

Result<Ensemble> LoadLightgbmText(std::string_view text, const std::string& source);

}  // namespace fraudops
