#include "model/global_explanations.h"

#include <algorithm>
#include <cmath>

#include "core/sampling.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "model/tree_shap.h"

namespace fraudops {

namespace {

/// The values partial dependence evaluates feature `f` at: its categories' codes seen in the
/// rows (the first `points` of them), or quantiles of its values.
std::vector<double> Grid(const Ensemble& ensemble, std::span<const float> rows, size_t f,
                         size_t points) {
  const size_t width = ensemble.num_features();
  std::vector<double> values;
  for (size_t r = 0; r < rows.size() / width; ++r) {
    const float x = rows[r * width + f];
    if (!std::isnan(x)) values.push_back(x);
  }
  std::sort(values.begin(), values.end());
  const bool categorical =
      f < ensemble.feature_is_categorical.size() && ensemble.feature_is_categorical[f];
  std::vector<double> grid;
  if (categorical) {
    values.erase(std::unique(values.begin(), values.end()), values.end());
    if (values.size() > points) values.resize(points);
    return values;
  }
  for (size_t k = 0; k < points && !values.empty(); ++k) {
    const double q = (static_cast<double>(k) + 0.5) / static_cast<double>(points);
    grid.push_back(values[static_cast<size_t>(q * static_cast<double>(values.size() - 1))]);
  }
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());
  return grid;
}

}  // namespace

Result<GlobalExplanation> ExplainGlobally(const Ensemble& ensemble, std::span<const float> rows,
                                          const GlobalExplanationOptions& options,
                                          const Context& context) {
  const size_t width = ensemble.num_features();
  if (width == 0 || rows.size() % width != 0) {
    return Status::InvalidArgument("global explanations: " + std::to_string(rows.size()) +
                                   " values are not rows of " + std::to_string(width) +
                                   " features");
  }
  std::vector<size_t> chosen;  // partial dependence features, checked before the work
  for (const std::string& name : options.partial_dependence) {
    const auto it = std::find(ensemble.feature_names.begin(), ensemble.feature_names.end(), name);
    if (it == ensemble.feature_names.end()) {
      return Status::InvalidArgument("partial dependence: '" + name +
                                     "' is not a feature of the model" +
                                     DidYouMean(name, ensemble.feature_names));
    }
    chosen.push_back(static_cast<size_t>(it - ensemble.feature_names.begin()));
  }
  const size_t n = rows.size() / width;
  for (const ExplanationSegment& segment : options.segments) {
    if (segment.rows.size() != n) {
      return Status::InvalidArgument("global explanations: segment '" + segment.name + "' has " +
                                     std::to_string(segment.rows.size()) + " rows, not " +
                                     std::to_string(n));
    }
  }
  GlobalExplanation out;
  out.rows = n;
  FOPS_ASSIGN_OR_RETURN(const TreeShap shap, TreeShap::Create(ensemble));

  // Contributions chunk by chunk in parallel; sums per chunk, added in chunk order (the same
  // result whatever the threads).
  constexpr size_t kChunk = 256;
  const size_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> sum_abs(chunks * width, 0.0), sum(chunks * width, 0.0);
  std::vector<double> worst(chunks, 0.0), bias(chunks, 0.0);
  // Per chunk, segment and side (0 the rest, 1 the segment): sums of |SHAP| and SHAP, rows.
  const size_t segments = options.segments.size();
  std::vector<double> segment_abs(chunks * segments * 2 * width, 0.0),
      segment_sum(chunks * segments * 2 * width, 0.0);
  std::vector<size_t> segment_rows(chunks * segments * 2, 0);
  const std::vector<size_t> sample = EvenlySpaced(n, options.points);
  std::vector<double> sample_shap(sample.size() * width, 0.0);
  context.pool->ParallelFor(chunks, [&](size_t c) {
    const size_t begin = c * kChunk, end = std::min(n, begin + kChunk), count = end - begin;
    std::vector<double> in(count * width), phi(count * (width + 1));
    for (size_t i = 0; i < count * width; ++i) in[i] = rows[begin * width + i];
    TreeShap::Workspace workspace;
    shap.Contributions(in.data(), count, phi.data(), workspace);
    for (size_t i = 0; i < count; ++i) {
      // The margin of the leaves the engine's traversal reaches, summed in double (the
      // engine sums an XGBoost model's leaves in float, as XGBoost does: 1e-6 apart).
      double margin = ensemble.base_margin;
      for (size_t t = 0; t < ensemble.num_trees(); ++t)
        margin += ensemble.leaf_value[ensemble.LeafNode(t, &in[i * width])];
      const double* row = &phi[i * (width + 1)];
      double total = row[width];
      for (size_t f = 0; f < width; ++f) {
        sum_abs[c * width + f] += std::fabs(row[f]);
        sum[c * width + f] += row[f];
        total += row[f];
      }
      bias[c] = row[width];
      worst[c] = std::max(worst[c], std::fabs(total - margin));
      for (size_t s = 0; s < segments; ++s) {
        const int8_t side = options.segments[s].rows[begin + i];
        if (side != 0 && side != 1) continue;
        const size_t slot = (c * segments + s) * 2 + static_cast<size_t>(side);
        ++segment_rows[slot];
        for (size_t f = 0; f < width; ++f) {
          segment_abs[slot * width + f] += std::fabs(row[f]);
          segment_sum[slot * width + f] += row[f];
        }
      }
      const auto at = std::lower_bound(sample.begin(), sample.end(), begin + i);
      if (at != sample.end() && *at == begin + i) {
        std::copy(row, row + width,
                  sample_shap.begin() + static_cast<long>((at - sample.begin()) * width));
      }
    }
  });
  if (chunks > 0) out.base_value = bias[0];
  for (double w : worst) out.max_additivity_error = std::max(out.max_additivity_error, w);
  for (size_t f = 0; f < width; ++f) {
    FeatureAttribution feature;
    feature.name = ensemble.feature_names[f];
    for (size_t c = 0; c < chunks; ++c) {
      feature.mean_abs += sum_abs[c * width + f];
      feature.mean += sum[c * width + f];
    }
    if (n > 0) {
      feature.mean_abs /= static_cast<double>(n);
      feature.mean /= static_cast<double>(n);
    }
    out.features.push_back(std::move(feature));
  }
  std::vector<size_t> order(width);
  for (size_t f = 0; f < width; ++f) order[f] = f;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return out.features[a].mean_abs > out.features[b].mean_abs;
  });
  std::vector<FeatureAttribution> ranked;
  for (size_t f : order) ranked.push_back(out.features[f]);
  out.features = std::move(ranked);
  for (size_t s = 0; s < segments; ++s) {  // chunk sums added in chunk order, as above
    nlohmann::json entry = {{"segment", options.segments[s].name}};
    for (size_t side = 0; side < 2; ++side) {
      size_t count = 0;
      std::vector<double> abs_total(width, 0.0), total(width, 0.0);
      for (size_t c = 0; c < chunks; ++c) {
        const size_t slot = (c * segments + s) * 2 + side;
        count += segment_rows[slot];
        for (size_t f = 0; f < width; ++f) {
          abs_total[f] += segment_abs[slot * width + f];
          total[f] += segment_sum[slot * width + f];
        }
      }
      nlohmann::json list = nlohmann::json::array();
      const double divide = count > 0 ? static_cast<double>(count) : 1.0;
      for (size_t f : order) {
        list.push_back({{"feature", ensemble.feature_names[f]},
                        {"mean_abs_shap", abs_total[f] / divide},
                        {"mean_shap", total[f] / divide}});
      }
      entry[side == 1 ? "in" : "out"] = {{"rows", count}, {"features", list}};
    }
    out.segments.push_back(std::move(entry));
  }

  // The summary: the top features' values and contributions on the sample.
  const size_t top = std::min(options.top_features, width);
  nlohmann::json names = nlohmann::json::array(), values = nlohmann::json::array(),
                 contributions = nlohmann::json::array();
  for (size_t k = 0; k < top; ++k) {
    const size_t f = order[k];
    names.push_back(ensemble.feature_names[f]);
    nlohmann::json xs = nlohmann::json::array(), phis = nlohmann::json::array();
    for (size_t s = 0; s < sample.size(); ++s) {
      const float x = rows[sample[s] * width + f];
      xs.push_back(std::isnan(x) ? nlohmann::json() : nlohmann::json(x));
      phis.push_back(sample_shap[s * width + f]);
    }
    values.push_back(std::move(xs));
    contributions.push_back(std::move(phis));
  }
  out.summary = {
      {"features", names}, {"rows", sample}, {"values", values}, {"shap", contributions}};
  if (chosen.empty()) {
    for (size_t k = 0; k < std::min<size_t>(3, width); ++k) chosen.push_back(order[k]);
  }

  // Partial dependence: the mean probability with the feature set to each grid value, over
  // an even sample of the rows; ICE: the first of those rows, each its own curve.
  const std::vector<size_t> pd_rows = EvenlySpaced(n, options.partial_dependence_rows);
  std::vector<float> batch(pd_rows.size() * width);
  for (size_t f : chosen) {
    const std::vector<double> grid = Grid(ensemble, rows, f, options.grid_points);
    nlohmann::json mean = nlohmann::json::array(), ice = nlohmann::json::array();
    const size_t ice_rows = std::min(options.ice_rows, pd_rows.size());
    std::vector<std::vector<double>> curves(ice_rows);
    for (double value : grid) {
      for (size_t i = 0; i < pd_rows.size(); ++i) {
        std::copy(rows.begin() + static_cast<long>(pd_rows[i] * width),
                  rows.begin() + static_cast<long>((pd_rows[i] + 1) * width),
                  batch.begin() + static_cast<long>(i * width));
        batch[i * width + f] = static_cast<float>(value);
      }
      const std::vector<double> at =
          ensemble.PredictMargins(std::span<const float>(batch), context);
      double total = 0;
      for (size_t i = 0; i < at.size(); ++i) {
        const double p = ensemble.ApplyLink(at[i]);
        total += p;
        if (i < ice_rows) curves[i].push_back(p);
      }
      mean.push_back(at.empty() ? 0.0 : total / static_cast<double>(at.size()));
    }
    for (std::vector<double>& curve : curves) ice.push_back(std::move(curve));
    nlohmann::json entry = {{"feature", ensemble.feature_names[f]},
                            {"grid", grid},
                            {"mean", mean},
                            {"ice", ice},
                            {"rows", pd_rows.size()}};
    if (f < ensemble.feature_categories.size() && !ensemble.feature_categories[f].empty())
      entry["categories"] = ensemble.feature_categories[f];
    out.partial_dependence.push_back(std::move(entry));
  }
  return out;
}

nlohmann::json GlobalExplanation::ToJson() const {
  nlohmann::json list = nlohmann::json::array();
  for (const FeatureAttribution& f : features) {
    list.push_back({{"feature", f.name}, {"mean_abs_shap", f.mean_abs}, {"mean_shap", f.mean}});
  }
  return {{"rows", rows},
          {"base_value", base_value},
          {"max_additivity_error", max_additivity_error},
          {"features", list},
          {"summary", summary},
          {"partial_dependence", partial_dependence},
          {"segments", segments}};
}

}  // namespace fraudops
