// Parity of the native engine with libxgboost on the same model and rows, and the loader's
// errors.
#include "model/xgboost_json.h"

#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <cmath>

#include "core/thread_pool.h"
#include "data/synth.h"
#include "model/tree_shap.h"
#include "train/xgboost_trainer.h"

namespace fraudops {
namespace {

/// Synthetic transactions with missing values and a categorical column, a model trained on
/// them by the xgboost trainer, and its JSON.
struct TrainedFixture {
  Logger logger{LogLevel::kOff};
  ThreadPool pool{2};
  Context context;
  Dataset data;
  std::string json;

  TrainedFixture() {
    context.logger = &logger;
    context.pool = &pool;
    context.threads = 2;
    SynthOptions options;
    options.rows = 20000;
    options.fraud_rate = 0.02;
    data = std::move(GenerateTransactions(options, &pool)).value();
    // Missing values in two columns, and a categorical "merchant" that carries signal.
    for (size_t r = 0; r < data.rows(); r += 7) data.columns[3][r] = std::nanf("");
    for (size_t r = 0; r < data.rows(); r += 11) data.columns[14][r] = std::nanf("");
    ColumnSchema merchant{"merchant", ColumnType::kCategorical, {}, {}};
    for (int c = 0; c < 40; ++c) merchant.categories.push_back("m" + std::to_string(c));
    std::vector<float> codes(data.rows());
    for (size_t r = 0; r < data.rows(); ++r) {
      codes[r] =
          data.label[r] > 0 && r % 3 ? static_cast<float>(33 + r % 5) : static_cast<float>(r % 33);
      if (r % 13 == 0) codes[r] = std::nanf("");
    }
    data.features.push_back(merchant);
    data.columns.push_back(codes);
    HyperParameters params;
    for (auto& [name, value] : std::map<std::string, nlohmann::json>{
             {"num_round", 60}, {"max_depth", 6}, {"eta", 0.3}, {"max_cat_to_onehot", 1}}) {
      params[name] = {value, "test"};
    }
    TrainInput input{&data, &data, params};
    auto model = XgboostTrainer().Train(input, context);
    EXPECT_TRUE(model.ok()) << model.status().ToString();
    json = *(*model)->Serialize();
  }

  /// libxgboost's own margins for every row of `data`, from the same JSON.
  std::vector<float> LibxgboostMargins() const { return LibxgboostPredict(1); }

  /// libxgboost's prediction of `type` (1 margin, 2 contributions) for the first `rows` rows
  /// of `data` (0: all).
  std::vector<float> LibxgboostPredict(int type, size_t rows = 0) const {
    BoosterHandle booster = nullptr;
    EXPECT_EQ(XGBoosterCreate(nullptr, 0, &booster), 0);
    EXPECT_EQ(XGBoosterLoadModelFromBuffer(booster, json.data(), json.size()), 0);
    auto matrix = XgbMatrix::FromDataset(data, 2);
    EXPECT_TRUE(matrix.ok());
    const bst_ulong* shape = nullptr;
    bst_ulong dimensions = 0;
    const float* result = nullptr;
    DMatrixHandle handle = matrix->handle(), slice = nullptr;
    if (rows > 0) {
      std::vector<int> indices(rows);
      for (size_t r = 0; r < rows; ++r) indices[r] = static_cast<int>(r);
      EXPECT_EQ(XGDMatrixSliceDMatrix(handle, indices.data(), rows, &slice), 0);
      handle = slice;
    }
    EXPECT_EQ(
        XGBoosterPredictFromDMatrix(
            booster, handle,
            ("{\"type\": " + std::to_string(type) +
             R"(, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})")
                .c_str(),
            &shape, &dimensions, &result),
        0)
        << XGBGetLastError();
    size_t size = 1;
    for (bst_ulong d = 0; d < dimensions; ++d) size *= shape[d];
    std::vector<float> out(result, result + size);
    XGBoosterFree(booster);
    if (slice != nullptr) XGDMatrixFree(slice);
    return out;
  }
};

TEST(XgboostJsonTest, MarginsEqualLibxgboostWithMissingValuesAndCategories) {
  TrainedFixture f;
  auto ensemble = LoadXgboostJson(f.json, "model.json");
  ASSERT_TRUE(ensemble.ok()) << ensemble.status().ToString();
  EXPECT_EQ(ensemble->num_features(), f.data.num_features());
  EXPECT_EQ(ensemble->feature_names.back(), "merchant");
  EXPECT_GT(ensemble->num_trees(), 10u);
  size_t categorical_nodes = 0;
  for (const TreeNode& node : ensemble->nodes)
    categorical_nodes += (node.flags() & TreeNode::kCategorical) != 0;
  EXPECT_GT(categorical_nodes, 0u) << "the fixture should exercise categorical splits";

  std::vector<float> expected = f.LibxgboostMargins();
  std::vector<float> float_rows = f.data.RowMajor();
  std::vector<double> rows(float_rows.begin(), float_rows.end());
  std::vector<double> batch = ensemble->PredictMargins(rows, f.context);
  EXPECT_EQ(batch, ensemble->PredictMargins(float_rows, f.context));
  double worst = 0;
  for (size_t r = 0; r < f.data.rows(); ++r) {
    double single = ensemble->PredictMargin(rows.data() + r * f.data.num_features());
    EXPECT_EQ(single, batch[r]);
    worst = std::max(worst, std::abs(single - static_cast<double>(expected[r])));
  }
  EXPECT_LE(worst, 1e-6) << "largest |native - libxgboost| margin difference";
  std::fprintf(stderr, "largest |native - libxgboost| margin difference: %g\n", worst);
  // Probabilities through the link.
  EXPECT_NEAR(ensemble->PredictProbability(rows.data()),
              1 / (1 + std::exp(-static_cast<double>(expected[0]))), 1e-7);
}

TEST(XgboostJsonTest, TreeShapEqualsLibxgboostPredContribs) {
  TrainedFixture f;
  auto ensemble = LoadXgboostJson(f.json, "model.json");
  ASSERT_TRUE(ensemble.ok()) << ensemble.status().ToString();
  auto shap = TreeShap::Create(*ensemble);
  ASSERT_TRUE(shap.ok()) << shap.status().ToString();
  constexpr size_t kRows = 5000;  // of 20,000: enough to cover every path, quick under ASan
  std::vector<float> expected = f.LibxgboostPredict(2, kRows);
  const size_t width = f.data.num_features() + 1;
  ASSERT_EQ(expected.size(), kRows * width);
  std::vector<float> float_rows = f.data.RowMajor();
  std::vector<double> rows(float_rows.begin(), float_rows.end());
  TreeShap::Workspace workspace;
  std::vector<double> out(width);
  double worst = 0, worst_sum = 0;
  for (size_t r = 0; r < kRows; ++r) {
    const double* row = rows.data() + r * f.data.num_features();
    shap->Contributions(row, out.data(), workspace);
    double sum = 0;
    for (size_t k = 0; k < width; ++k) {
      worst = std::max(worst, std::abs(out[k] - static_cast<double>(expected[r * width + k])));
      sum += out[k];
    }
    worst_sum = std::max(worst_sum, std::abs(sum - ensemble->PredictMargin(row)));
  }
  std::fprintf(stderr, "largest |TreeSHAP - pred_contribs|: %g; largest |sum - margin|: %g\n",
               worst, worst_sum);
  EXPECT_LE(worst, 1e-5);
  EXPECT_LE(worst_sum, 1e-5);
}

TEST(XgboostJsonTest, MalformedModelsAreErrorsNamingTheJsonPointer) {
  auto not_json = LoadXgboostJson("{\"learner\": ", "m.json");
  // A NUL byte outside a string once made the NaN scan loop forever (found by the fuzzer).
  EXPECT_FALSE(LoadXgboostJson(std::string_view("{\0NaN", 5), "m.json").ok());
  ASSERT_FALSE(not_json.ok());
  EXPECT_NE(not_json.status().message().find("not valid JSON"), std::string::npos);

  const std::string tree =
      R"({"tree_param": {"num_nodes": "3"}, "left_children": [1, -1, -1], "right_children": [2, -1, -1],
          "split_indices": [FEATURE, 0, 0], "split_conditions": [0.5, -1.0, 1.0], "default_left": [1, 0, 0],
          "split_type": [0, 0, 0]})";
  auto model = [&](const std::string& feature, const std::string& objective) {
    std::string t = tree;
    t.replace(t.find("FEATURE"), 7, feature);
    return R"({"learner": {"feature_names": ["a", "b"], "gradient_booster": {"name": "gbtree", "model": {"trees": [)" +
           t +
           R"(]}}, "learner_model_param": {"base_score": "5E-1", "num_feature": "2"}, "objective": {"name": ")" +
           objective + R"("}}, "version": [1, 7, 4]})";
  };
  auto good = LoadXgboostJson(model("1", "binary:logistic"), "m.json");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  double row[2] = {0, 0.2}, missing[2] = {0, std::nan("")}, at[2] = {0, 0.5},
         above[2] = {0, 0.5000001};
  EXPECT_EQ(good->PredictMargin(row), -1.0);      // 0.2 < 0.5: left
  EXPECT_EQ(good->PredictMargin(missing), -1.0);  // missing: default left
  EXPECT_EQ(good->PredictMargin(at), 1.0);        // XGBoost's test is x < t
  EXPECT_EQ(good->PredictMargin(above), 1.0);

  auto bad_feature = LoadXgboostJson(model("7", "binary:logistic"), "m.json");
  ASSERT_FALSE(bad_feature.ok());
  EXPECT_NE(bad_feature.status().message().find(
                "/learner/gradient_booster/model/trees/0/split_indices/0"),
            std::string::npos)
      << bad_feature.status().message();

  auto bad_objective = LoadXgboostJson(model("1", "multi:softprob"), "m.json");
  ASSERT_FALSE(bad_objective.ok());
  EXPECT_NE(bad_objective.status().message().find("/learner/objective/name"), std::string::npos);

  std::string cycle = model("1", "binary:logistic");
  cycle.replace(cycle.find("\"left_children\": [1, -1, -1]"), 28, "\"left_children\": [0, -1, -1]");
  auto cyclic = LoadXgboostJson(cycle, "m.json");
  ASSERT_FALSE(cyclic.ok());
  EXPECT_NE(cyclic.status().message().find("node 0 is reached twice"), std::string::npos)
      << cyclic.status().message();
}

}  // namespace
}  // namespace fraudops
