// Score calibration: the pool-adjacent-violators fit on a hand-worked example, Platt's fit
// recovering a known logit-linear miscalibration, both lowering the expected calibration
// error on held-out rows of generated data with a known miscalibration, and the bundle's
// JSON form read back exactly (or refused with its JSON pointer).
#include "model/calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "eval/metrics.h"

namespace fraudops {
namespace {

TEST(CalibrationTest, IsotonicPoolsAdjacentViolatorsAndInterpolatesBetweenBlocks) {
  // 0.2 (positive) before 0.3 (negative) violate the order: pooled to 1/2.
  std::vector<float> scores = {0.4f, 0.1f, 0.3f, 0.2f};
  std::vector<float> labels = {1, 0, 0, 1};
  auto fitted = ScoreCalibration::Fit(CalibrationMethod::kIsotonic, scores, labels);
  ASSERT_TRUE(fitted.ok()) << fitted.status().ToString();
  const nlohmann::json json = fitted->ToJson();
  EXPECT_EQ(json["method"], "isotonic");
  EXPECT_EQ(json["rows"], 4);
  EXPECT_EQ(json["positives"], 2);
  ASSERT_EQ(json["x"].size(), 4u);
  EXPECT_NEAR(json["x"][1].get<double>(), 0.2, 1e-7);
  EXPECT_EQ(json["y"], (nlohmann::json{0.0, 0.5, 0.5, 1.0}));
  EXPECT_EQ(fitted->Apply(0.05), 0);  // clipped below
  EXPECT_NEAR(fitted->Apply(0.15), 0.25, 1e-6);
  EXPECT_EQ(fitted->Apply(0.25), 0.5);
  EXPECT_NEAR(fitted->Apply(0.35), 0.75, 1e-6);
  EXPECT_EQ(fitted->Apply(0.99), 1);  // clipped above
  EXPECT_TRUE(std::isnan(fitted->Apply(std::nan(""))));
}

TEST(CalibrationTest, IsotonicOfTiedScoresIsTheirMeanAndDropsRedundantBreakpoints) {
  std::vector<float> scores = {0.5f, 0.5f, 0.5f, 0.5f, 0.6f, 0.7f, 0.8f};
  std::vector<float> labels = {1, 0, 0, 0, 1, 1, 1};
  auto fitted = ScoreCalibration::Fit(CalibrationMethod::kIsotonic, scores, labels);
  ASSERT_TRUE(fitted.ok());
  const nlohmann::json json = fitted->ToJson();
  // 0.5 → 1/4; 0.6, 0.7, 0.8 → 1: the middle breakpoint 0.7 is dropped.
  EXPECT_EQ(json["y"], (nlohmann::json{0.25, 1.0, 1.0}));
  EXPECT_EQ(fitted->Apply(0.5), 0.25);
  EXPECT_EQ(fitted->Apply(0.75), 1);
}

/// Rows whose true fraud probability is p (skewed low, as fraud is) and a model that reports
/// sigmoid(2·logit(p) + 1): over-confident and too high.
struct Miscalibrated {
  std::vector<float> scores, labels, truth;
};
Miscalibrated Generate(size_t rows, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<double> logit(-3, 1.2);
  std::uniform_real_distribution<double> uniform(0, 1);
  Miscalibrated out;
  for (size_t i = 0; i < rows; ++i) {
    const double z = logit(random);
    const double p = 1 / (1 + std::exp(-z));
    out.truth.push_back(static_cast<float>(p));
    out.labels.push_back(uniform(random) < p ? 1.0f : 0.0f);
    out.scores.push_back(static_cast<float>(1 / (1 + std::exp(-(2 * z + 1)))));
  }
  return out;
}

std::vector<float> Applied(const ScoreCalibration& calibration, std::vector<float> scores) {
  calibration.ApplyInPlace(scores);
  return scores;
}

TEST(CalibrationTest, BothMethodsLowerTheCalibrationErrorOfAKnownMiscalibrationOnHeldOutRows) {
  const Miscalibrated fit = Generate(40000, 1), held_out = Generate(40000, 2);
  const double before = ExpectedCalibrationError(held_out.scores, held_out.labels);
  const double ideal = ExpectedCalibrationError(held_out.truth, held_out.labels);
  EXPECT_GT(before, 0.02) << "the generated model is miscalibrated";
  for (CalibrationMethod method : {CalibrationMethod::kIsotonic, CalibrationMethod::kPlatt}) {
    SCOPED_TRACE(std::string(CalibrationMethodName(method)));
    auto fitted = ScoreCalibration::Fit(method, fit.scores, fit.labels);
    ASSERT_TRUE(fitted.ok()) << fitted.status().ToString();
    const double after =
        ExpectedCalibrationError(Applied(*fitted, held_out.scores), held_out.labels);
    EXPECT_LT(after, before / 4) << "before " << before << ", ideal " << ideal;
    EXPECT_LT(after, ideal + 0.005);
  }
  // Platt's map is logit-linear, so it recovers the true one: logit(p) = (logit(s) − 1) / 2.
  auto platt = ScoreCalibration::Fit(CalibrationMethod::kPlatt, fit.scores, fit.labels);
  ASSERT_TRUE(platt.ok());
  EXPECT_NEAR(platt->ToJson()["a"].get<double>(), 0.5, 0.05);
  EXPECT_NEAR(platt->ToJson()["b"].get<double>(), -0.5, 0.15);
}

TEST(CalibrationTest, TheJsonFormScoresExactlyAsTheFittedOne) {
  const Miscalibrated data = Generate(5000, 3);
  for (CalibrationMethod method : {CalibrationMethod::kIsotonic, CalibrationMethod::kPlatt}) {
    auto fitted = ScoreCalibration::Fit(method, data.scores, data.labels);
    ASSERT_TRUE(fitted.ok());
    auto read = ScoreCalibration::FromJson(nlohmann::json::parse(fitted->ToJson().dump()), "/c");
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(read->method(), method);
    for (float s : data.scores) ASSERT_EQ(read->Apply(s), fitted->Apply(s)) << s;
  }
}

TEST(CalibrationTest, BadInputIsRefusedWithWhereAndWhat) {
  std::vector<float> scores = {0.1f, 0.2f};
  auto one_class = ScoreCalibration::Fit(CalibrationMethod::kIsotonic, scores, {{0, 0}});
  ASSERT_FALSE(one_class.ok());
  EXPECT_NE(one_class.status().message().find("both classes"), std::string::npos);
  EXPECT_FALSE(ParseCalibrationMethod("beta").ok());
  EXPECT_NE(ParseCalibrationMethod("beta").status().message().find("isotonic, platt"),
            std::string::npos);
  auto error = [](const char* text) {
    auto read = ScoreCalibration::FromJson(nlohmann::json::parse(text), "/calibration");
    return read.ok() ? std::string("ok") : read.status().message();
  };
  EXPECT_EQ(error(R"({"method": "isotonic", "x": [0.1, 0.2], "y": [0, 1]})"), "ok");
  EXPECT_NE(error(R"({"method": "isotonic", "x": [0.2, 0.1], "y": [0, 1]})")
                .find("/calibration/x/1: breakpoints must ascend"),
            std::string::npos);
  EXPECT_NE(error(R"({"method": "isotonic", "x": [0.1, 0.2], "y": [0.5, 0.4]})").find("/y/1"),
            std::string::npos);
  EXPECT_NE(error(R"({"method": "isotonic", "x": [0.1, 0.2], "y": [0.5]})").find("/y"),
            std::string::npos);
  EXPECT_NE(error(R"({"method": "platt", "a": 1})").find("/calibration/b: missing"),
            std::string::npos);
  EXPECT_NE(error(R"({"method": "beta"})").find("/calibration/method"), std::string::npos);
  EXPECT_NE(error(R"([1])").find("/calibration: expected an object"), std::string::npos);
}

}  // namespace
}  // namespace fraudops
