#include "train/rank_areas.h"

#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace fraudops {
namespace {

TEST(RankAreasTest, TheRadixSortOrdersScoresFromTheHighestWithEqualScoresTogether) {
  std::mt19937 random(5);
  std::normal_distribution<float> normal(0, 3);
  std::vector<float> scores;
  for (int i = 0; i < 20000; ++i) {
    float value = normal(random);
    if (i % 3 == 0) value = std::round(value);  // ties
    scores.push_back(value);
  }
  scores.insert(scores.end(), {0.0f, -0.0f, 1e-30f, -1e-30f, 1e30f, -1e30f, 0.5f});
  DescendingRadixSort sorter;
  const std::span<const uint64_t> order = sorter.Sort(scores);
  ASSERT_EQ(order.size(), scores.size());
  std::vector<bool> seen(scores.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const uint32_t row = static_cast<uint32_t>(order[i]);
    ASSERT_LT(row, scores.size());
    EXPECT_FALSE(seen[row]);
    seen[row] = true;
    if (i == 0) continue;
    const float previous = scores[static_cast<uint32_t>(order[i - 1])], here = scores[row];
    EXPECT_GE(previous, here) << "at " << i;
    // Equal scores (0 and -0 included) have equal keys, different ones different keys.
    EXPECT_EQ(previous == here, (order[i] >> 32) == (order[i - 1] >> 32)) << "at " << i;
  }
}

TEST(RankAreasTest, DescendingOrderOfDoublesIsAStableSortFromTheHighest) {
  std::mt19937 random(9);
  std::normal_distribution<double> normal(0, 3);
  std::vector<double> scores;
  for (int i = 0; i < 30000; ++i) {
    double value = normal(random);
    if (i % 4 == 0) value = std::round(value);             // ties
    if (i % 7 == 0) value = std::nextafter(value, 1e300);  // neighbours one ulp apart
    scores.push_back(value);
  }
  scores.insert(scores.end(), {0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300, 0.5, 0.0, 5e-324});
  std::vector<uint32_t> expected(scores.size());
  for (uint32_t i = 0; i < expected.size(); ++i) expected[i] = i;
  std::stable_sort(expected.begin(), expected.end(),
                   [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
  const std::vector<uint32_t> order = DescendingOrder(scores);
  ASSERT_EQ(order.size(), scores.size());
  // Equal scores, -0 and +0 among them, keep their rows' order, as a stable sort does.
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], expected[i]) << "at " << i;
  EXPECT_TRUE(DescendingOrder(std::vector<double>{}).empty());
  EXPECT_EQ(DescendingOrder(std::vector<double>{2, 2, 2}), (std::vector<uint32_t>{0, 1, 2}));
}

/// libxgboost's own `auc` and `aucpr` of given probabilities: a booster without trees
/// evaluates a matrix whose base margins are the scores' logits.
struct LibxgboostAreas {
  double auc = 0, aucpr = 0;
  std::vector<float> probabilities;  ///< as libxgboost computes them from the margins
};
LibxgboostAreas EvaluateWithLibxgboost(const std::vector<float>& margins,
                                       const std::vector<float>& labels,
                                       const std::vector<float>& weights) {
  std::vector<float> features(margins.size(), 0.0f);
  DMatrixHandle matrix = nullptr;
  EXPECT_EQ(XGDMatrixCreateFromMat(features.data(), margins.size(), 1, std::nanf(""), &matrix), 0);
  EXPECT_EQ(XGDMatrixSetFloatInfo(matrix, "label", labels.data(), labels.size()), 0);
  EXPECT_EQ(XGDMatrixSetFloatInfo(matrix, "base_margin", margins.data(), margins.size()), 0);
  if (!weights.empty()) {
    EXPECT_EQ(XGDMatrixSetFloatInfo(matrix, "weight", weights.data(), weights.size()), 0);
  }
  BoosterHandle booster = nullptr;
  EXPECT_EQ(XGBoosterCreate(&matrix, 1, &booster), 0);
  XGBoosterSetParam(booster, "objective", "binary:logistic");
  XGBoosterSetParam(booster, "eval_metric", "auc");
  XGBoosterSetParam(booster, "eval_metric", "aucpr");
  XGBoosterSetParam(booster, "verbosity", "0");
  const char* names[] = {"set"};
  const char* line = nullptr;
  EXPECT_EQ(XGBoosterEvalOneIter(booster, 0, &matrix, names, 1, &line), 0);
  LibxgboostAreas areas;
  const std::string text = line;  // "[0]\tset-auc:0.93…\tset-aucpr:0.41…"
  areas.auc = std::stod(text.substr(text.find("set-auc:") + 8));
  areas.aucpr = std::stod(text.substr(text.find("set-aucpr:") + 10));
  bst_ulong dimensions = 0;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  EXPECT_EQ(XGBoosterPredictFromDMatrix(
                booster, matrix,
                R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0,
                    "strict_shape": false})",
                &shape, &dimensions, &scores),
            0);
  areas.probabilities.assign(scores, scores + margins.size());
  XGBoosterFree(booster);
  XGDMatrixFree(matrix);
  return areas;
}

TEST(RankAreasTest, EqualLibxgboostsAucAndAucprWithTiesAndWeights) {
  std::mt19937 random(11);
  std::normal_distribution<float> normal(0, 1.5f);
  std::uniform_real_distribution<float> uniform(0, 1);
  for (const bool weighted : {false, true}) {
    for (const float fraud_shift : {4.0f, 1.0f}) {
      std::vector<float> margins, labels, weights;
      for (int i = 0; i < 30000; ++i) {
        float margin = normal(random);
        if (i % 2 == 0) margin = std::round(margin * 8) / 8;  // many tied scores
        margins.push_back(margin - fraud_shift);
        // Positives more likely at high margins: a curve neither perfect nor random.
        labels.push_back(
            uniform(random) < 1 / (1 + std::exp(-(2 * margin - fraud_shift - 2))) ? 1.0f : 0.0f);
        if (weighted) weights.push_back(0.25f + 2 * uniform(random));
      }
      const LibxgboostAreas expected = EvaluateWithLibxgboost(margins, labels, weights);
      DescendingRadixSort sorter;
      const RankAreas areas = LibxgboostRankAreas(expected.probabilities, labels, weights, sorter);
      SCOPED_TRACE("weighted " + std::to_string(weighted) + ", shift " +
                   std::to_string(fraud_shift));
      EXPECT_NEAR(areas.roc_auc, expected.auc, 1e-12);
      EXPECT_NEAR(areas.pr_auc, expected.aucpr, 1e-12);
      // Not average precision: the interpolated area is another number on these scores.
      EXPECT_GT(areas.pr_auc, 0.05);
      EXPECT_LT(areas.roc_auc, 0.99);
    }
  }
}

TEST(RankAreasTest, OneClassIsUndefinedAsInLibxgboost) {
  DescendingRadixSort sorter;
  const std::vector<float> scores = {0.1f, 0.7f, 0.3f}, negatives = {0, 0, 0};
  const RankAreas areas = LibxgboostRankAreas(scores, negatives, {}, sorter);
  EXPECT_TRUE(std::isnan(areas.roc_auc));
  EXPECT_TRUE(std::isnan(areas.pr_auc));
  const RankAreas empty = LibxgboostRankAreas({}, {}, {}, sorter);
  EXPECT_TRUE(std::isnan(empty.roc_auc));
  // Perfectly ranked: both areas 1.
  const std::vector<float> labels = {0, 1, 0};
  const RankAreas perfect = LibxgboostRankAreas(scores, labels, {}, sorter);
  EXPECT_DOUBLE_EQ(perfect.roc_auc, 1.0);
  EXPECT_DOUBLE_EQ(perfect.pr_auc, 1.0);
}

}  // namespace
}  // namespace fraudops
