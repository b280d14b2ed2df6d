#pragma once
/// The special floating-point values the code names: infinity, NaN, and a missing cell of a
/// float column (NaN, as XGBoost and LightGBM read a missing value).

#include <limits>

namespace fraudops {

inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

}  // namespace fraudops
