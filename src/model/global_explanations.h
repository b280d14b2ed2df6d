#pragma once
/// Global explanations of a tree model over many rows (docs/explanations.md), from exact
/// TreeSHAP (model/tree_shap.h) on every row given: each feature's mean |SHAP| and mean SHAP,
/// the additivity check (contributions plus the base value against the engine's own margin),
/// a summary (beeswarm) sample and dependence points for the top features, and partial
/// dependence with individual conditional expectation (ICE) curves for chosen features.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/status.h"
#include "model/ensemble.h"

namespace fraudops {

/// Rows to explain apart (e.g. a bias facet): per row 1 in the segment, 0 in the rest, any
/// other value in neither (the segment's value missing).
struct ExplanationSegment {
  std::string name;
  std::vector<int8_t> rows;
};

struct GlobalExplanationOptions {
  size_t top_features = 8;  ///< summary and dependence plots for this many features
  size_t points = 1000;     ///< rows (evenly taken) in the summary and dependence plots
  std::vector<std::string> partial_dependence = {};  ///< features; empty: the top 3
  size_t grid_points = 20;                ///< values of a feature partial dependence evaluates
  size_t partial_dependence_rows = 1000;  ///< rows (evenly taken) averaged at each value
  size_t ice_rows = 20;                   ///< of those, the rows drawn as ICE curves
  std::vector<ExplanationSegment> segments = {};  ///< each one's rows against the rest's
};

struct FeatureAttribution {
  std::string name;
  double mean_abs = 0;  ///< mean |SHAP| over the rows: the feature's global importance
  double mean = 0;      ///< mean SHAP (signed)
};

struct GlobalExplanation {
  size_t rows = 0;
  double base_value = 0;  ///< the expected margin (TreeSHAP's bias)
  /// Largest |Σ contributions + base value − margin| over the rows: TreeSHAP against the
  /// leaves the engine's traversal reaches, summed in double (exact up to rounding).
  double max_additivity_error = 0;
  std::vector<FeatureAttribution> features;  ///< by mean |SHAP|, largest first
  /// {"features": [names], "rows": [indices], "values": [[per feature]], "shap": [[…]]}: the
  /// top features' values and contributions on an even sample of rows.
  nlohmann::json summary;
  /// Per chosen feature: {"feature", "grid": [values], "mean": [probability], "ice": [[…]]}.
  nlohmann::json partial_dependence = nlohmann::json::array();
  /// Per segment: {"segment", "in": {"rows", "features": [{feature, mean_abs_shap,
  /// mean_shap}]}, "out": {…}}, the features in the order of `features`.
  nlohmann::json segments = nlohmann::json::array();

  nlohmann::json ToJson() const;
};

/// Explains `ensemble` on `rows` (row-major, num_features() values each, NaN missing).
/// A partial dependence feature it does not have is an error naming the closest.
Result<GlobalExplanation> ExplainGlobally(const Ensemble& ensemble, std::span<const float> rows,
                                          const GlobalExplanationOptions& options,
                                          const Context& context);

}  // namespace fraudops
