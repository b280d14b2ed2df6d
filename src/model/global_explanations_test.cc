#include "model/global_explanations.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/logging.h"
#include "core/thread_pool.h"
#include "train/xgboost_trainer.h"

namespace fraudops {
namespace {

struct ExplainFixture {
  Logger logger{LogLevel::kOff};
  ThreadPool pool{2};
  Context context;
  Dataset data;
  std::unique_ptr<TrainedModel> model;

  /// Fraud more likely as x1 grows (a monotone effect), x2 a weaker one, x3 noise; trained
  /// with x1's effect constrained to be increasing.
  ExplainFixture() {
    context.logger = &logger;
    context.pool = &pool;
    context.threads = 2;
    data.features.resize(3);
    data.columns.resize(3);
    for (const char* name : {"x1", "x2", "x3"})
      data.features[static_cast<size_t>(name[1] - '1')].name = name;
    uint64_t state = 17;
    auto next = [&] {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      return static_cast<double>(state >> 11) * 0x1.0p-53;
    };
    for (int r = 0; r < 6000; ++r) {
      const double x1 = next(), x2 = next(), x3 = next();
      const double p = 1 / (1 + std::exp(-(6 * x1 + 1.5 * x2 - 5)));
      data.columns[0].push_back(static_cast<float>(x1));
      data.columns[1].push_back(r % 50 == 0 ? std::nanf("") : static_cast<float>(x2));
      data.columns[2].push_back(static_cast<float>(x3));
      data.label.push_back(next() < p ? 1.0f : 0.0f);
    }
    HyperParameters params;
    for (const auto& [name, value] :
         std::map<std::string, nlohmann::json>{{"num_round", 40},
                                               {"max_depth", 4},
                                               {"eta", 0.3},
                                               {"monotone_constraints", "(1,0,0)"}})
      params[name] = {value, "test"};
    TrainInput input{&data, nullptr, params};
    model = std::move(XgboostTrainer().Train(input, context)).value();
  }
};

TEST(GlobalExplanationsTest, ContributionsAddUpToTheMarginsAndRankTheFeatures) {
  ExplainFixture f;
  auto engine = f.model->Engine();
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  const std::vector<float> rows = f.data.RowMajor();
  auto explained = ExplainGlobally(**engine, rows, {.points = 300}, f.context);
  ASSERT_TRUE(explained.ok()) << explained.status().ToString();
  EXPECT_EQ(explained->rows, 6000u);
  EXPECT_LT(explained->max_additivity_error, 1e-6);
  ASSERT_EQ(explained->features.size(), 3u);
  EXPECT_EQ(explained->features[0].name, "x1");
  EXPECT_EQ(explained->features[2].name, "x3");
  EXPECT_GT(explained->features[0].mean_abs, 3 * explained->features[2].mean_abs);
  EXPECT_LE(std::fabs(explained->features[0].mean), explained->features[0].mean_abs);
  const nlohmann::json json = explained->ToJson();
  EXPECT_EQ(json["summary"]["features"][0], "x1");
  EXPECT_EQ(json["summary"]["rows"].size(), 300u);
  EXPECT_EQ(json["summary"]["shap"][0].size(), 300u);
  // The same whatever the threads.
  ThreadPool one(1);
  Context single = f.context;
  single.pool = &one;
  auto again = ExplainGlobally(**engine, rows, {.points = 300}, single);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ToJson(), json);
}

TEST(GlobalExplanationsTest, PartialDependenceFollowsAMonotoneEffect) {
  ExplainFixture f;
  auto engine = f.model->Engine();
  ASSERT_TRUE(engine.ok());
  const std::vector<float> rows = f.data.RowMajor();
  GlobalExplanationOptions options;
  options.partial_dependence = {"x1", "x3"};
  auto explained = ExplainGlobally(**engine, rows, options, f.context);
  ASSERT_TRUE(explained.ok()) << explained.status().ToString();
  ASSERT_EQ(explained->partial_dependence.size(), 2u);
  const nlohmann::json& x1 = explained->partial_dependence[0];
  EXPECT_EQ(x1["feature"], "x1");
  const std::vector<double> mean = x1["mean"].get<std::vector<double>>();
  ASSERT_EQ(mean.size(), 20u);
  // Constrained increasing in x1: every curve, averaged or not, never goes down.
  for (size_t i = 1; i < mean.size(); ++i) EXPECT_GE(mean[i], mean[i - 1]) << i;
  EXPECT_GT(mean.back() - mean.front(), 0.3);
  for (const auto& curve : x1["ice"]) {
    const std::vector<double> ice = curve.get<std::vector<double>>();
    for (size_t i = 1; i < ice.size(); ++i) EXPECT_GE(ice[i], ice[i - 1]);
  }
  EXPECT_EQ(x1["ice"].size(), 20u);
  // Noise moves the probability far less.
  const std::vector<double> noise =
      explained->partial_dependence[1]["mean"].get<std::vector<double>>();
  const auto [low, high] = std::minmax_element(noise.begin(), noise.end());
  EXPECT_LT(*high - *low, 0.5 * (mean.back() - mean.front()));

  options.partial_dependence = {"x4"};
  auto unknown = ExplainGlobally(**engine, rows, options, f.context);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'x4' is not a feature of the model (did you mean"),
            std::string::npos)
      << unknown.status().message();
}

TEST(GlobalExplanationsTest, SegmentsSplitTheMeansByTheirRowsAndAddUpToTheWhole) {
  // x1 drives the label: rows with a high x1 (the segment) owe it far more |SHAP|. Every 7th
  // row's segment value is missing: in neither side.
  ExplainFixture f;
  auto engine = f.model->Engine();
  ASSERT_TRUE(engine.ok());
  const std::vector<float> rows = f.data.RowMajor();
  ExplanationSegment high{"x1>0.8", std::vector<int8_t>(f.data.rows())};
  size_t in = 0, out = 0;
  for (size_t r = 0; r < f.data.rows(); ++r) {
    high.rows[r] = r % 7 == 0 ? -1 : f.data.columns[0][r] > 0.8f ? 1 : 0;
    in += high.rows[r] == 1;
    out += high.rows[r] == 0;
  }
  GlobalExplanationOptions options{.points = 100};
  options.segments = {high};
  auto explained = ExplainGlobally(**engine, rows, options, f.context);
  ASSERT_TRUE(explained.ok()) << explained.status().ToString();
  const nlohmann::json segment = explained->ToJson()["segments"][0];
  EXPECT_EQ(segment["segment"], "x1>0.8");
  EXPECT_EQ(segment["in"]["rows"], in);
  EXPECT_EQ(segment["out"]["rows"], out);
  EXPECT_EQ(segment["in"]["features"][0]["feature"], "x1");  // the global order
  const double x1_in = segment["in"]["features"][0]["mean_shap"].get<double>();
  const double x1_out = segment["out"]["features"][0]["mean_shap"].get<double>();
  EXPECT_GT(x1_in, 0) << "a high x1 raises the score";
  EXPECT_LT(x1_out, x1_in);
  // With no row missing, the two sides' means weigh back to the global mean.
  for (size_t r = 0; r < f.data.rows(); ++r) high.rows[r] = f.data.columns[0][r] > 0.8f;
  options.segments = {high};
  auto whole = ExplainGlobally(**engine, rows, options, f.context);
  ASSERT_TRUE(whole.ok());
  const nlohmann::json split = whole->ToJson()["segments"][0];
  for (size_t k = 0; k < 3; ++k) {
    const double n_in = split["in"]["rows"].get<double>(),
                 n_out = split["out"]["rows"].get<double>();
    const double combined = (n_in * split["in"]["features"][k]["mean_abs_shap"].get<double>() +
                             n_out * split["out"]["features"][k]["mean_abs_shap"].get<double>()) /
                            (n_in + n_out);
    EXPECT_NEAR(combined, whole->features[k].mean_abs, 1e-9) << k;
  }
  options.segments = {ExplanationSegment{"short", {1, 0}}};
  EXPECT_FALSE(ExplainGlobally(**engine, rows, options, f.context).ok());
}

}  // namespace
}  // namespace fraudops
