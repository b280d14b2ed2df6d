#include "store/run_views.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace fraudops {
namespace {

TEST(RunViewsTest, ACurveThatFitsIsKeptWhole) {
  std::vector<std::pair<int64_t, double>> points = {{0, 1.0}, {1, 2.0}, {2, 3.0}};
  EXPECT_EQ(DownsampleCurve(points, 3), points);
  EXPECT_EQ(DownsampleCurve(points, 100), points);
  EXPECT_TRUE(DownsampleCurve({}, 10).empty());
}

TEST(RunViewsTest, ADownsampledCurveKeepsItsEndsAndEachBucketsExtremes) {
  std::vector<std::pair<int64_t, double>> points;
  for (int64_t i = 0; i < 1000; ++i) points.emplace_back(i, 0.5 + 0.0001 * i);
  points[123].second = 9.0;   // a spike
  points[777].second = -9.0;  // a dip
  const auto kept = DownsampleCurve(points, 50);
  ASSERT_LE(kept.size(), 50u);
  EXPECT_EQ(kept.front(), points.front());
  EXPECT_EQ(kept.back(), points.back());
  EXPECT_NE(std::find(kept.begin(), kept.end(), points[123]), kept.end());
  EXPECT_NE(std::find(kept.begin(), kept.end(), points[777]), kept.end());
  for (size_t i = 1; i < kept.size(); ++i) EXPECT_LT(kept[i - 1].first, kept[i].first);
  // Fewer than 4 points asked for: the ends only.
  EXPECT_EQ(DownsampleCurve(points, 2).size(), 2u);
}

TEST(RunViewsTest, ComparedRunsShowOnlyParametersThatDifferAndTheBestOfEachMetric) {
  RunRecord a, b;
  a.run_id = "a";
  b.run_id = "b";
  a.params = {{"eta", "0.1"}, {"seed", "1"}, {"train.lgbm.num_leaves", "31"}};
  b.params = {{"eta", "0.2"}, {"seed", "1"}, {"train.lgbm.num_leaves", "63"}};
  a.tags["algorithm"] = "xgboost";  // so lgbm's parameter is not its own
  b.tags["algorithm"] = "lgbm";
  a.metrics = {{"test.pr_auc", 0.8}, {"test.log_loss", 0.10}, {"rows", 5}};
  b.metrics = {{"test.pr_auc", 0.7}, {"test.log_loss", 0.08}, {"rows", 9}};
  const nlohmann::json out = CompareRunsJson({a, b});
  EXPECT_EQ(out["params"]["eta"], nlohmann::json({"0.1", "0.2"}));
  EXPECT_FALSE(out["params"].contains("seed"));
  EXPECT_EQ(out["params"]["train.lgbm.num_leaves"], nlohmann::json({"-", "63"}));
  EXPECT_EQ(out["best"]["test.pr_auc"], "a");
  EXPECT_EQ(out["best"]["test.log_loss"], "b");  // lower is better
  EXPECT_FALSE(out["best"].contains("rows"));    // not a quality metric
}

}  // namespace
}  // namespace fraudops
