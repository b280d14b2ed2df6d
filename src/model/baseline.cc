#include "model/baseline.h"

#include <algorithm>
#include <cmath>

namespace fraudops {

nlohmann::json Histogram(std::span<const float> values, size_t bins) {
  std::vector<float> present;
  present.reserve(values.size());
  for (float v : values) {
    if (!std::isnan(v)) present.push_back(v);
  }
  std::sort(present.begin(), present.end());
  std::vector<double> cuts;
  for (size_t k = 1; k < bins && !present.empty(); ++k) {
    const double cut = present[std::min(present.size() - 1, k * present.size() / bins)];
    if (cuts.empty() || cut > cuts.back()) cuts.push_back(cut);
  }
  std::vector<uint64_t> counts(cuts.size() + 1, 0);
  for (float v : present) {
    counts[static_cast<size_t>(std::upper_bound(cuts.begin(), cuts.end(), static_cast<double>(v)) -
                               cuts.begin())]++;
  }
  nlohmann::json out = {
      {"cuts", cuts}, {"counts", counts}, {"missing", values.size() - present.size()}};
  if (!present.empty()) {
    double sum = 0, squares = 0;
    for (float v : present) sum += v;
    const double mean = sum / static_cast<double>(present.size());
    for (float v : present) squares += (v - mean) * (v - mean);
    out["min"] = present.front();
    out["max"] = present.back();
    out["mean"] = mean;
    out["std"] = std::sqrt(squares / static_cast<double>(present.size()));
  }
  return out;
}

nlohmann::json MakeBaseline(const Dataset& train, std::span<const float> scores, size_t bins) {
  nlohmann::json features = nlohmann::json::array();
  for (size_t f = 0; f < train.num_features(); ++f) {
    const ColumnSchema& schema = train.features[f];
    const std::vector<float>& column = train.columns[f];
    nlohmann::json entry = {{"name", schema.name}};
    if (schema.type == ColumnType::kCategorical) {
      std::vector<uint64_t> counts(schema.categories.size(), 0);
      uint64_t missing = 0;
      for (float v : column) {
        // Compared as a float first: casting an out-of-range float to an integer is undefined.
        if (!(v >= 0 && v < static_cast<float>(counts.size())))
          ++missing;
        else
          counts[static_cast<size_t>(v)]++;
      }
      entry["type"] = "categorical";
      entry["categories"] = schema.categories;
      entry["counts"] = counts;
      entry["missing"] = missing;
    } else {
      entry = Histogram(column, bins);
      entry["name"] = schema.name;
      entry["type"] = "numeric";
    }
    features.push_back(entry);
  }
  return {{"format_version", kBaselineFormatVersion},
          {"rows", train.rows()},
          {"bins", bins},
          {"features", features},
          {"score", Histogram(scores, bins)}};
}

}  // namespace fraudops
