// TreeSHAP against the Shapley definition computed by brute force over every feature subset,
// on real LightGBM models; contributions sum to the margin; reason codes.
#include "model/tree_shap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/lightgbm_text.h"

namespace fraudops {
namespace {

const std::filesystem::path kGolden =
    std::filesystem::path(FRAUDOPS_SOURCE_DIR) / "tests/data/lightgbm";

Ensemble LoadGolden(const std::string& name) {
  std::ifstream in(kGolden / ("model_" + name + ".txt"));
  std::stringstream text;
  text << in.rdbuf();
  auto model = LoadLightgbmText(text.str(), name);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(model).value();
}

/// Rows of a golden test CSV (features in model order; these CSVs list them in that order).
std::vector<std::vector<double>> GoldenRows(const std::string& data, size_t count) {
  std::ifstream in(kGolden / (data + "_test.csv"));
  std::string line;
  std::getline(in, line);
  std::vector<std::vector<double>> rows;
  while (rows.size() < count && std::getline(in, line)) {
    std::vector<double> row;
    std::stringstream fields(line + ",");
    std::string field;
    std::getline(fields, field, ',');  // the label
    while (std::getline(fields, field, ','))
      row.push_back(field.empty() ? std::nan("") : std::stod(field));
    rows.push_back(row);
  }
  return rows;
}

/// E[tree(x) | features in `present` fixed to x's values]: absent features average the
/// children by cover (the path-dependent expectation TreeSHAP explains).
double Expectation(const Ensemble& e, uint32_t node, const double* row, uint32_t present) {
  const TreeNode& n = e.nodes[node];
  if (n.is_leaf()) return e.leaf_value[node];
  if (present & (1u << n.feature())) return Expectation(e, e.Child(n, row), row, present);
  const auto left = static_cast<uint32_t>(n.left);
  return (e.cover[left] * Expectation(e, left, row, present) +
          e.cover[left + 1] * Expectation(e, left + 1, row, present)) /
         e.cover[node];
}

/// Shapley values by their definition: a weighted sum over all 2^(M-1) subsets per feature.
std::vector<double> BruteForceShapley(const Ensemble& e, const double* row) {
  const size_t m = e.num_features();
  std::vector<double> value(size_t{1} << m, 0.0);
  for (uint32_t subset = 0; subset < value.size(); ++subset) {
    for (size_t t = 0; t < e.num_trees(); ++t)
      value[subset] += Expectation(e, e.tree_begin[t], row, subset);
  }
  std::vector<double> phi(m, 0.0);
  for (size_t i = 0; i < m; ++i) {
    for (uint32_t subset = 0; subset < value.size(); ++subset) {
      if (subset & (1u << i)) continue;
      const auto s = static_cast<double>(__builtin_popcount(subset));
      const double weight = std::tgamma(s + 1) * std::tgamma(static_cast<double>(m) - s) /
                            std::tgamma(static_cast<double>(m) + 1);
      phi[i] += weight * (value[subset | (1u << i)] - value[subset]);
    }
  }
  return phi;
}

TEST(TreeShapTest, EqualsTheShapleyDefinitionOnRealLightgbmModels) {
  // Both methods: per-leaf tables (the default) and the recursion (no table budget).
  for (const size_t budget : {size_t{256} << 20, size_t{0}}) {
    for (const auto& [model_name, data] :
         {std::pair{"missing", "missing"}, std::pair{"missing_zero", "missing"}}) {
      SCOPED_TRACE(std::string(model_name) + (budget ? ", tables" : ", recursion"));
      Ensemble model = LoadGolden(model_name);
      auto shap = TreeShap::Create(model, budget);
      ASSERT_TRUE(shap.ok()) << shap.status().ToString();
      EXPECT_EQ(shap->tabulated_trees(), budget ? model.num_trees() : 0u);
      // The first rows hold NaNs in f0..f4 and exact zeros in f5 (missing-value paths).
      for (const std::vector<double>& row : GoldenRows(data, 6)) {
        std::vector<double> fast = shap->Contributions(row.data());
        std::vector<double> exact = BruteForceShapley(model, row.data());
        for (size_t f = 0; f < exact.size(); ++f)
          EXPECT_NEAR(fast[f], exact[f], 1e-9) << "feature " << f;
      }
    }
  }
}

TEST(TreeShapTest, ContributionsSumToTheMarginWithCategoricalSplits) {
  Ensemble model = LoadGolden("categorical");
  // A budget for some trees' tables only: the rest are explained by recursion.
  auto full = TreeShap::Create(model);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->tabulated_trees(), model.num_trees());
  auto shap = TreeShap::Create(model, full->table_bytes() / 2);
  ASSERT_TRUE(shap.ok()) << shap.status().ToString();
  EXPECT_GT(shap->tabulated_trees(), 0u);
  EXPECT_LT(shap->tabulated_trees(), model.num_trees());
  auto recursive = TreeShap::Create(model, 0);
  ASSERT_TRUE(recursive.ok());
  TreeShap::Workspace workspace;
  std::vector<double> out(model.num_features() + 1);
  double worst = 0;
  for (const std::vector<double>& row : GoldenRows("categorical", 1000)) {
    shap->Contributions(row.data(), out.data(), workspace);
    double sum = 0;
    for (double v : out) sum += v;
    worst = std::max(worst, std::abs(sum - model.PredictMargin(row.data())));
    std::vector<double> other = recursive->Contributions(row.data());
    for (size_t f = 0; f < out.size(); ++f) worst = std::max(worst, std::abs(out[f] - other[f]));
  }
  EXPECT_LT(worst, 1e-9);
}

TEST(TreeShapTest, ABatchEqualsRowByRowRecursion) {
  // Batches cross block boundaries and end in a partial block; blocks with and without NaN
  // (the first rows' NaNs; the later half with NaN set to 0) take different split code.
  for (const auto& [model_name, data] :
       {std::pair{"missing", "missing"}, std::pair{"missing_zero", "missing"},
        std::pair{"categorical", "categorical"}}) {
    SCOPED_TRACE(model_name);
    Ensemble model = LoadGolden(model_name);
    auto shap = TreeShap::Create(model);
    auto recursive = TreeShap::Create(model, 0);
    ASSERT_TRUE(shap.ok() && recursive.ok());
    ASSERT_EQ(shap->tabulated_trees(), model.num_trees());
    std::vector<std::vector<double>> rows = GoldenRows(data, 1000);
    ASSERT_GT(rows.size(), 200u);
    for (size_t r = rows.size() / 2; r < rows.size(); ++r) {
      for (double& x : rows[r]) x = std::isnan(x) ? 0 : x;
    }
    const size_t width = model.num_features() + 1;
    std::vector<double> batch, out(rows.size() * width);
    for (const auto& row : rows) batch.insert(batch.end(), row.begin(), row.end());
    TreeShap::Workspace workspace;
    shap->Contributions(batch.data(), rows.size(), out.data(), workspace);
    size_t nan_rows = 0;
    double worst = 0;
    for (size_t r = 0; r < rows.size(); ++r) {
      nan_rows +=
          std::any_of(rows[r].begin(), rows[r].end(), [](double x) { return std::isnan(x); });
      const std::vector<double> one = recursive->Contributions(rows[r].data());
      for (size_t f = 0; f < width; ++f)
        worst = std::max(worst, std::abs(out[r * width + f] - one[f]));
    }
    EXPECT_LT(worst, 1e-9);
    if (std::string(data) == "missing") {
      EXPECT_GT(nan_rows, 0u);
    }
  }
}

TEST(TreeShapTest, TopReasonsAreTheLargestContributionsByMagnitude) {
  const double row[4] = {1, 2, 3, 4}, contributions[4] = {0.1, -0.7, 0.7, 0.05};
  std::vector<ReasonCode> reasons = TreeShap::TopReasons(row, contributions, 4, 3);
  ASSERT_EQ(reasons.size(), 3u);
  EXPECT_EQ(reasons[0].feature, 1u);  // ties by magnitude: the lower index first
  EXPECT_EQ(reasons[1].feature, 2u);
  EXPECT_EQ(reasons[2].feature, 0u);
  EXPECT_EQ(reasons[1].value, 3);
  EXPECT_EQ(reasons[1].contribution, 0.7);
  EXPECT_EQ(TreeShap::TopReasons(row, contributions, 4, 10).size(), 4u);
}

}  // namespace
}  // namespace fraudops
