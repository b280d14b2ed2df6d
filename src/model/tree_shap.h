#pragma once
/// Exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent Individualized
/// Feature Attribution for Tree Ensembles", Algorithm 2): per feature, its Shapley value for
/// the margin, with the expectation over absent features taken along the tree's own
/// training cover (XGBoost's sum_hessian, LightGBM's data counts). The contributions plus
/// the bias (the expected margin) sum to the row's margin. Reason codes are the top-k
/// features by |contribution|.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/ensemble.h"

namespace fraudops {

struct ReasonCode {
  size_t feature = 0;       ///< index into the model's features
  double value = 0;         ///< the row's value of that feature
  double contribution = 0;  ///< its TreeSHAP contribution to the margin
};

class TreeShap {
 public:
  /// Fails when a node lacks a positive cover (a model saved without statistics).
  static Result<TreeShap> Create(const Ensemble& ensemble);

  /// Writes num_features() + 1 values to `out`: per feature, then the bias. Uses
  /// `workspace` for the paths (reuse it across calls to avoid allocating).
  struct Workspace;
  void Contributions(const double* row, double* out, Workspace& workspace) const;
  std::vector<double> Contributions(const double* row) const;

  /// The `k` largest contributions by magnitude (ties: lower feature index first).
  static std::vector<ReasonCode> TopReasons(const double* row, const double* contributions, size_t features, size_t k);

  double bias() const { return bias_; }

  struct PathElement {
    int64_t feature;
    double zero_fraction, one_fraction, weight;
  };
  struct Workspace {
    std::vector<PathElement> path;
  };

 private:
  explicit TreeShap(const Ensemble& ensemble) : ensemble_(&ensemble) {}
  void Recurse(uint32_t node, const double* row, double* phi, PathElement* parent_path, size_t depth,
               double zero_fraction, double one_fraction, int64_t feature) const;

  const Ensemble* ensemble_;
  double bias_ = 0;
  size_t path_size_ = 0;
};

}  // namespace fraudops
