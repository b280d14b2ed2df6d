#include "monitor/drift.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fraudops {
namespace {

nlohmann::json Baseline() {
  return nlohmann::json::parse(R"({
    "format_version": 1, "rows": 100, "bins": 4,
    "features": [
      {"name": "amount", "type": "numeric", "cuts": [10, 20, 30], "counts": [25, 25, 25, 25], "missing": 0},
      {"name": "merchant", "type": "categorical", "categories": ["shop", "fuel"], "counts": [60, 40], "missing": 0}
    ],
    "score": {"cuts": [0.5], "counts": [90, 10], "missing": 0}
  })");
}

TEST(DriftTest, BinsFollowTheBaselineRule) {
  auto baseline = DriftBaseline::FromJson(Baseline(), "baseline.json");
  ASSERT_TRUE(baseline.ok()) << baseline.status().message();
  const BaselineColumn& amount = baseline->features[0];
  EXPECT_EQ(amount.NumericBin(-5), 0u);
  EXPECT_EQ(amount.NumericBin(10), 1u);  // a value equal to a cut goes above it
  EXPECT_EQ(amount.NumericBin(29.9), 2u);
  EXPECT_EQ(amount.NumericBin(INFINITY), 3u);
  EXPECT_EQ(amount.NumericBin(NAN), 4u);  // missing
  const BaselineColumn& merchant = baseline->features[1];
  EXPECT_EQ(merchant.CategoryBin("fuel"), 1u);
  EXPECT_EQ(merchant.CategoryBin("casino"), 2u);  // other
  EXPECT_EQ(merchant.bins(), 4u);                 // shop, fuel, other, missing
}

TEST(DriftTest, PsiAndKsFromCounts) {
  EXPECT_DOUBLE_EQ(Psi({25, 25, 25, 25}, {25, 25, 25, 25}), 0.0);
  const double expected =
      (0.4 - 0.25) * std::log(0.4 / 0.25) * 2 + (0.1 - 0.25) * std::log(0.1 / 0.25) * 2;
  EXPECT_NEAR(Psi({25, 25, 25, 25}, {40, 10, 40, 10}), expected, 1e-12);
  // An empty live bin costs the floor, not infinity.
  EXPECT_TRUE(std::isfinite(Psi({50, 50}, {100, 0})));
  EXPECT_NEAR(Psi({50, 50}, {100, 0}),
              (1 - 0.5) * std::log(1 / 0.5) + (kPsiFloor - 0.5) * std::log(kPsiFloor / 0.5), 1e-12);
  // KS: the largest gap of the cumulative shares; the missing bin is left out.
  EXPECT_NEAR(BinnedKs({25, 25, 25, 25, 0}, {50, 25, 25, 0, 999}, 4), 0.25, 1e-12);
}

TEST(DriftTest, CompareJudgesOnlyWindowsWithEnoughRows) {
  auto baseline = DriftBaseline::FromJson(Baseline(), "b.json");
  DriftCounts counts(*baseline);
  counts.features[0] = {0, 0, 0, 100, 0};  // every amount in the top bin
  counts.features[1] = {60, 40, 0, 0};
  counts.score = {90, 10, 0};
  counts.rows = 100;
  DriftThresholds thresholds;
  thresholds.min_rows = 100;
  DriftResult result = CompareDrift(*baseline, counts, thresholds);
  EXPECT_TRUE(result.judged);
  EXPECT_EQ(result.Violations(), std::vector<std::string>{"amount"});
  EXPECT_NEAR(*result.columns[0].ks, 0.75, 1e-12);
  EXPECT_FALSE(result.columns[1].ks.has_value());  // categories have no order
  EXPECT_EQ(result.columns[2].name, "$score");
  thresholds.min_rows = 101;
  EXPECT_TRUE(CompareDrift(*baseline, counts, thresholds).Violations().empty());
  DriftResult empty = CompareDrift(*baseline, DriftCounts(*baseline), thresholds);
  EXPECT_FALSE(empty.judged);
  EXPECT_EQ(empty.columns[0].psi, 0.0);  // nothing to compare, not the floor's 6.9
  thresholds.min_rows = 1;
  thresholds.psi_by_feature["amount"] = 100;
  thresholds.ks_by_feature["amount"] = 0.8;
  EXPECT_TRUE(CompareDrift(*baseline, counts, thresholds).Violations().empty());
}

TEST(DriftTest, BaselineErrorsNameTheJsonPointer) {
  nlohmann::json bad = Baseline();
  bad["features"][0]["counts"] = {1, 2};
  auto result = DriftBaseline::FromJson(bad, "baseline.json");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "baseline.json: /features/0/counts: has 2 bins for 3 cuts; expected cuts + 1");
  bad = Baseline();
  bad["format_version"] = 9;
  EXPECT_NE(
      DriftBaseline::FromJson(bad, "b.json").status().message().find("/format_version: expected 1"),
      std::string::npos);
  bad = Baseline();
  bad["features"][1]["categories"] = {"shop"};
  EXPECT_NE(
      DriftBaseline::FromJson(bad, "b.json").status().message().find("/features/1/categories"),
      std::string::npos);
}

}  // namespace
}  // namespace fraudops
