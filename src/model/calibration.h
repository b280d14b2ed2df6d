#pragma once
/// Score calibration (docs/calibration.md): a monotone map from the model's probability to a
/// calibrated one, fitted on held-out (validation) rows and stored in the bundle, so batch
/// scoring, serving and streaming apply the same map through ModelBundle.
///
/// - isotonic: the pool-adjacent-violators fit of the labels on the scores (a non-decreasing
///   step function), stored as breakpoints and applied with linear interpolation between them
///   and clipping outside them;
/// - platt: a logistic regression of the label on the score's log-odds,
///   p = 1 / (1 + exp(−(a·logit(s) + b))), fitted by Newton's method on Platt's smoothed
///   targets ((N₊ + 1)/(N₊ + 2) and 1/(N₋ + 2)).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fraudops {

enum class CalibrationMethod : uint8_t { kIsotonic, kPlatt };

/// The accepted method names ("isotonic", "platt"), for errors and docs.
std::vector<std::string> CalibrationMethodNames();
std::string_view CalibrationMethodName(CalibrationMethod method);
/// "isotonic" or "platt"; the error lists them.
Result<CalibrationMethod> ParseCalibrationMethod(std::string_view name);

class ScoreCalibration {
 public:
  /// Fits `method` on probabilities and 0/1 labels (> 0.5 is positive). Refused without
  /// both classes among the labels.
  static Result<ScoreCalibration> Fit(CalibrationMethod method, std::span<const float> scores,
                                      std::span<const float> labels);
  /// Reads ToJson's object; errors name `pointer` (e.g. "/calibration") and the member.
  static Result<ScoreCalibration> FromJson(const nlohmann::json& json, const std::string& pointer);

  /// The calibrated probability of a model probability (NaN stays NaN).
  double Apply(double probability) const;
  void ApplyInPlace(std::vector<float>& scores) const {
    for (float& s : scores) s = static_cast<float>(Apply(s));
  }

  CalibrationMethod method() const { return method_; }
  /// {"method", "rows", "positives"} and the map: isotonic {"x", "y"} (breakpoints, x
  /// ascending, y non-decreasing), platt {"a", "b"}.
  nlohmann::json ToJson() const;

 private:
  CalibrationMethod method_ = CalibrationMethod::kIsotonic;
  std::vector<double> x_, y_;  ///< isotonic breakpoints
  double a_ = 1, b_ = 0;       ///< platt
  size_t rows_ = 0, positives_ = 0;
};

}  // namespace fraudops
