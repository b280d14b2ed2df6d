// Model bundles: every past bundle.json version keeps loading and scoring as libxgboost does
// (tests/data/bundles), the feature encoder turns text into exactly what the CSV reader gave
// training, and malformed bundles are errors naming the JSON pointer.
#include "model/bundle.h"

#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "../../tests/test_util.h"
#include "core/files.h"
#include "core/strings.h"
#include "data/csv_reader.h"
#include "model/baseline.h"

namespace fraudops {
namespace {

namespace fs = std::filesystem;
const fs::path kBundles = fs::path(FRAUDOPS_SOURCE_DIR) / "tests/data/bundles";

/// rows.csv encoded for `bundle` (columns matched by name), row-major.
std::vector<double> EncodeRows(const ModelBundle& bundle, size_t* count) {
  FeatureEncoder encoder(bundle.input);
  std::ifstream in(kBundles / "rows.csv");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header = Split(line, ',');
  std::vector<double> rows;
  *count = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = Split(line, ',');
    std::vector<double> row(encoder.size(), std::nan(""));
    for (size_t c = 0; c < header.size(); ++c) {
      const int f = encoder.Find(header[c]);
      if (f < 0) continue;
      bool ok = false;
      row[static_cast<size_t>(f)] = encoder.EncodeText(static_cast<size_t>(f), fields[c], &ok);
      EXPECT_TRUE(ok) << header[c] << "=" << fields[c];
    }
    encoder.Derive(row.data());
    rows.insert(rows.end(), row.begin(), row.end());
    ++*count;
  }
  return rows;
}

std::vector<float> LibxgboostMargins(const std::string& model_path, const std::vector<double>& rows,
                                     size_t count, size_t width) {
  std::vector<float> matrix(rows.begin(), rows.end());
  DMatrixHandle dmatrix = nullptr;
  BoosterHandle booster = nullptr;
  EXPECT_EQ(XGDMatrixCreateFromMat(matrix.data(), count, width, std::nanf(""), &dmatrix), 0);
  EXPECT_EQ(XGBoosterCreate(nullptr, 0, &booster), 0);
  EXPECT_EQ(XGBoosterLoadModel(booster, model_path.c_str()), 0);
  const bst_ulong* shape = nullptr;
  bst_ulong dimensions = 0;
  const float* result = nullptr;
  EXPECT_EQ(
      XGBoosterPredictFromDMatrix(
          booster, dmatrix,
          R"({"type": 1, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})",
          &shape, &dimensions, &result),
      0);
  std::vector<float> out(result, result + count);
  XGBoosterFree(booster);
  XGDMatrixFree(dmatrix);
  return out;
}

TEST(BundleTest, EveryPastFormatVersionLoadsAndScoresAsLibxgboost) {
  std::vector<double> first_scores;
  for (int version = 1; version <= kBundleFormatVersion; ++version) {
    SCOPED_TRACE("format " + std::to_string(version));
    const fs::path dir = kBundles / ("v" + std::to_string(version));
    ASSERT_TRUE(fs::exists(dir))
        << "tests/data/bundles needs a golden bundle of every format version";
    auto bundle = LoadModel(dir.string());
    ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
    EXPECT_EQ(bundle->format_version, version);
    EXPECT_EQ(bundle->algorithm, "xgboost");
    // Format 3 adds derived features after the 30 raw ones (log_amount, hour); format 4's
    // golden bundle leaves Time out (an ignored input) and reads 4 feature store features
    // after the 29 others, which rows.csv lacks: they encode as missing. Format 5's leaves
    // Time out too (the default time column).
    const size_t width = version == 5 ? 29 : version == 4 ? 33 : version == 3 ? 32 : 30;
    const size_t inputs = version >= 4 ? 29 : 30;
    ASSERT_EQ(bundle->input.features.size(), width);
    EXPECT_EQ(bundle->input.features[inputs - 1].name, "Amount");
    EXPECT_EQ(FeatureEncoder(bundle->input).input_size(), inputs);
    EXPECT_EQ(FeatureEncoder(bundle->input).has_store_features(), version == 4);
    if (version == 4) {
      EXPECT_EQ(bundle->input.features[30].feature, "card_activity:tx_10m");
      EXPECT_EQ(bundle->input.feature_groups.size(), 1u);
      EXPECT_EQ(bundle->input.feature_time, "Time");
      EXPECT_EQ(bundle->input.ignored, std::vector<std::string>{"Time"});
    }
    EXPECT_EQ(bundle->input.dtype, "float32");
    ASSERT_TRUE(bundle->threshold.has_value());
    EXPECT_EQ(bundle->label_values, (std::vector<std::string>{"0", "1"}));
    EXPECT_TRUE(bundle->lineage.contains("run_id")) << bundle->lineage.dump();
    if (version >= 2) {
      EXPECT_EQ(bundle->baseline_file, "baseline.json");
    }
    if (version == 5) {
      EXPECT_EQ(bundle->input.ignored, std::vector<std::string>{"Time"});
    }

    size_t count = 0;
    std::vector<double> rows = EncodeRows(*bundle, &count);
    ASSERT_EQ(count, 21u);
    const size_t v1 = version >= 4 ? 0 : 1;  // where V1 is (formats 4 and 5 have no Time)
    EXPECT_TRUE(std::isnan(rows[20 * width + v1]) && std::isnan(rows[20 * width + v1 + 4]))
        << "the empty field and NA are missing";
    if (version == 3) {  // the derived features are what their expressions say
      for (size_t r = 0; r < count; ++r) {
        const double* row = rows.data() + r * width;
        EXPECT_EQ(row[30], static_cast<float>(std::log(row[29] + 1))) << "row " << r;
        EXPECT_EQ(row[31], std::floor(std::fmod(row[0], 86400) / 3600)) << "row " << r;
      }
    }
    std::vector<float> expected =
        LibxgboostMargins((dir / bundle->model_file).string(), rows, count, width);
    std::vector<double> scores;
    for (size_t r = 0; r < count; ++r) {
      const double margin = bundle->ensemble.PredictMargin(rows.data() + r * width);
      EXPECT_NEAR(margin, expected[r], 1e-6) << "row " << r;
      scores.push_back(bundle->ensemble.ApplyLink(margin));
    }
    if (version == 5) {  // the probabilities go through the bundle's isotonic calibration
      ASSERT_TRUE(bundle->calibration.has_value());
      EXPECT_EQ(bundle->calibration->method(), CalibrationMethod::kIsotonic);
      size_t changed = 0;
      for (size_t r = 0; r < count; ++r) {
        const double calibrated = bundle->PredictProbability(rows.data() + r * width);
        EXPECT_EQ(calibrated, bundle->calibration->Apply(scores[r])) << "row " << r;
        changed += calibrated != scores[r];
      }
      EXPECT_GT(changed, count / 2);
    } else {
      EXPECT_FALSE(bundle->calibration.has_value());
    }
    if (version >= 3) continue;  // another model (it takes derived features)
    if (first_scores.empty()) first_scores = scores;
    EXPECT_EQ(scores, first_scores) << "formats 1 and 2 score the same model alike";
  }
}

TEST(BundleTest, ACombinationScoresEveryModelOnOneRowAndCombinesTheirProbabilities) {
  testing::TempDir dir;
  auto first = LoadBundle((kBundles / "v2").string());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const std::string text = testing::ReadText((kBundles / "v2/model.json").string());
  std::string shifted = text;  // the same trees from another base score: other probabilities
  const std::string from = "\"base_score\":\"5E-1\"";
  shifted.replace(shifted.find(from), from.size(), "\"base_score\":\"2E-1\"");
  std::vector<CombinationInput> inputs(2);
  inputs[0].bundle = &*first;
  inputs[0].model_text = text;
  inputs[0].weight = 3;
  inputs[1].bundle = &*first;
  inputs[1].model_text = shifted;
  inputs[1].weight = 1;
  nlohmann::json first_json =
      nlohmann::json::parse(testing::ReadText((kBundles / "v2/bundle.json").string()));
  // A calibration fitted to the first model's scores is not the combination's: dropped.
  first_json["calibration"] = {{"method", "platt"}, {"a", 2.0}, {"b", 1.0}};
  auto write = [&](CombineMethod method) {
    std::vector<std::pair<std::string, std::string>> files;
    nlohmann::json json =
        CombinedBundleJson(first_json, inputs, method, 0.4, {{"run_id", "r"}}, &files);
    files.emplace_back("bundle.json", json.dump());
    for (const auto& [name, content] : files) testing::WriteText(dir.File(name), content);
    return LoadBundle(dir.path());
  };
  size_t count = 0;
  std::vector<double> rows = EncodeRows(*first, &count);
  auto single = ParseModelText(shifted, "shifted");
  ASSERT_TRUE(single.ok());
  for (CombineMethod method :
       {CombineMethod::kMean, CombineMethod::kMax, CombineMethod::kWeighted}) {
    SCOPED_TRACE(std::string(CombineMethodName(method)));
    auto combined = write(method);
    ASSERT_TRUE(combined.ok()) << combined.status().ToString();
    EXPECT_EQ(combined->format_version, 3);
    EXPECT_TRUE(combined->combined());
    EXPECT_FALSE(combined->calibration.has_value());
    EXPECT_EQ(combined->threshold, 0.4);
    EXPECT_EQ(combined->MemoryBytes(), 2 * first->ensemble.MemoryBytes());
    for (size_t r = 0; r < count; ++r) {
      const double* row = rows.data() + r * 30;
      const double a = first->ensemble.PredictProbability(row);
      const double b = single->PredictProbability(row);
      ASSERT_NE(a, b);
      const double expected = method == CombineMethod::kMean  ? (a + b) / 2
                              : method == CombineMethod::kMax ? std::max(a, b)
                                                              : (3 * a + 1 * b) / 4;
      EXPECT_EQ(combined->PredictProbability(row), expected) << "row " << r;
    }
  }
  // A model file changed after the combination was written is refused.
  testing::WriteText(dir.File("model-1.json"), text);
  auto corrupted = LoadBundle(dir.path());
  ASSERT_FALSE(corrupted.ok());
  EXPECT_NE(corrupted.status().message().find("/combine/models/1/sha256: model-1.json does not "
                                              "match its recorded checksum"),
            std::string::npos)
      << corrupted.status().message();
  // Models that take other inputs cannot be combined.
  auto other = LoadBundle((kBundles / "v3").string());
  ASSERT_TRUE(other.ok());
  Status refused = CheckSameInputs(*first, *other, "fraud@3");
  EXPECT_EQ(refused.message(),
            "fraud@3 does not take the same inputs as the first model: 32 features, not 30; a "
            "combination scores one row with each");
  EXPECT_EQ(ParseCombineMethod("median").status().message(),
            "\"median\" is not a combination method; accepted: mean, max, weighted");
}

TEST(BundleTest, EncoderGivesExactlyWhatTheCsvReaderGaveTraining) {
  auto bundle = LoadBundle((kBundles / "v2").string());
  ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
  size_t count = 0;
  std::vector<double> encoded = EncodeRows(*bundle, &count);
  CsvOptions options;
  auto data = ReadCsvFile((kBundles / "rows.csv").string(), options, nullptr);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  ASSERT_EQ(data->rows(), count);
  std::vector<float> matrix = data->RowMajor();
  for (size_t i = 0; i < matrix.size(); ++i) {
    const double from_csv = matrix[i];
    if (std::isnan(from_csv)) {
      EXPECT_TRUE(std::isnan(encoded[i])) << i;
    } else {
      EXPECT_EQ(encoded[i], from_csv) << i;
    }
  }
}

TEST(BundleTest, CategoriesMissingValuesAndBadText) {
  InputSignature signature;
  signature.features = {{"amount", false, {}, {}},
                        {"merchant", true, {"shop", "fuel", "travel"}, {}},
                        {"mcc", true, {}, {}}};
  FeatureEncoder encoder(signature);
  bool ok = false;
  EXPECT_EQ(encoder.EncodeText(1, "fuel", &ok), 1.0);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(std::isnan(encoder.EncodeText(1, "casino", &ok))) << "unseen category: missing";
  EXPECT_TRUE(ok);
  EXPECT_EQ(encoder.EncodeText(2, "17", &ok), 17.0) << "code-valued categorical";
  EXPECT_EQ(encoder.EncodeText(0, "0.1", &ok), static_cast<double>(0.1f)) << "float32 signature";
  EXPECT_TRUE(std::isnan(encoder.EncodeText(0, "NA", &ok)));
  EXPECT_TRUE(ok);
  encoder.EncodeText(0, "12,5", &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(encoder.EncodeJson(1, "travel", &ok), 2.0);
  EXPECT_TRUE(std::isnan(encoder.EncodeJson(0, nullptr, &ok)));
  EXPECT_TRUE(ok);
  encoder.EncodeJson(0, nlohmann::json::array(), &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(encoder.Find("merchant"), 1);
  EXPECT_EQ(encoder.Find("nope"), -1);
}

TEST(BundleTest, MalformedBundlesAreErrorsNamingTheJsonPointer) {
  const std::string good = *ReadFile((kBundles / "v2/bundle.json").string());
  const std::string model = *ReadFile((kBundles / "v2/model.json").string());
  auto read = [&](const std::string& name) -> Result<std::string> {
    if (name == "model.json") return model;
    return Status::NotFound(name + ": no such file");
  };
  auto error_of = [&](nlohmann::json document) {
    auto bundle = ParseBundle(document.dump(), "b/bundle.json", read);
    return bundle.ok() ? std::string("loaded") : bundle.status().message();
  };
  const nlohmann::json base = nlohmann::json::parse(good);
  EXPECT_EQ(error_of(base), "loaded");

  nlohmann::json future = base;
  future["format_version"] = 99;
  EXPECT_NE(error_of(future).find("b/bundle.json: /format_version: 99 is not a bundle format"),
            std::string::npos)
      << error_of(future);
  nlohmann::json renamed = base;
  renamed["input"]["features"][3]["name"] = "V3x";
  EXPECT_NE(error_of(renamed).find("/input/features/3/name"), std::string::npos)
      << error_of(renamed);
  nlohmann::json bad_type = base;
  bad_type["input"]["features"][0]["type"] = "text";
  EXPECT_NE(error_of(bad_type).find("/input/features/0/type: \"text\" is not a feature type"),
            std::string::npos);
  nlohmann::json tampered = base;
  tampered["model_sha256"] = std::string(64, '0');
  EXPECT_NE(error_of(tampered).find("does not match its recorded checksum"), std::string::npos);
  nlohmann::json escape = base;
  escape["model_file"] = "../etc/passwd";
  EXPECT_NE(error_of(escape).find("/model_file: must be a file name inside the bundle"),
            std::string::npos);
  nlohmann::json no_model = base;
  no_model["model_file"] = "model.txt";
  no_model.erase("model_sha256");
  EXPECT_NE(error_of(no_model).find("model.txt: no such file"), std::string::npos);
  EXPECT_NE(ParseBundle("{\"format_version\": ", "b.json", read)
                .status()
                .message()
                .find("not valid JSON"),
            std::string::npos);
}

TEST(BundleTest, BareModelFilesDefineTheirInputColumns) {
  auto xgboost = LoadModel((kBundles / "v2/model.json").string());
  ASSERT_TRUE(xgboost.ok()) << xgboost.status().ToString();
  EXPECT_EQ(xgboost->format_version, 0);
  EXPECT_EQ(xgboost->input.features.size(), 30u);
  EXPECT_EQ(xgboost->input.dtype, "float32");
  EXPECT_FALSE(xgboost->threshold.has_value());

  auto lightgbm = LoadModel(
      (fs::path(FRAUDOPS_SOURCE_DIR) / "tests/data/lightgbm/model_categorical.txt").string());
  ASSERT_TRUE(lightgbm.ok()) << lightgbm.status().ToString();
  EXPECT_EQ(lightgbm->input.dtype, "float64");
  EXPECT_EQ(lightgbm->input.features[6].name, "c0");
  EXPECT_TRUE(lightgbm->input.features[6].categorical);

  auto missing = LoadModel("/nonexistent/model.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no such model file or bundle directory"),
            std::string::npos);
}

}  // namespace
}  // namespace fraudops

namespace fraudops {
namespace {

TEST(BaselineTest, HistogramsBinByQuantileCutsAndCountMissingApart) {
  std::vector<float> values;
  for (int i = 0; i < 100; ++i) values.push_back(static_cast<float>(i));
  values.push_back(std::nanf(""));
  nlohmann::json h = Histogram(values, 4);
  EXPECT_EQ(h["cuts"], nlohmann::json({25.0, 50.0, 75.0}));
  EXPECT_EQ(h["counts"], nlohmann::json({25, 25, 25, 25}));  // bin k: the number of cuts <= value
  EXPECT_EQ(h["missing"], 1);
  EXPECT_EQ(h["min"], 0.0);
  EXPECT_EQ(h["max"], 99.0);
  // Ties collapse cuts instead of making empty bins.
  nlohmann::json constant = Histogram(std::vector<float>(50, 3.0f), 10);
  EXPECT_EQ(constant["cuts"], nlohmann::json({3.0}));
  EXPECT_EQ(constant["counts"], nlohmann::json({0, 50}));

  Dataset data;
  data.features = {{"amount", ColumnType::kNumeric, {}, {}},
                   {"merchant", ColumnType::kCategorical, {"a", "b"}, {}}};
  data.columns = {{1, 2, 3, 4}, {0, 1, 1, std::nanf("")}};
  data.label = {0, 1, 0, 0};
  nlohmann::json baseline = MakeBaseline(data, std::vector<float>{0.1f, 0.9f, 0.2f, 0.3f}, 2);
  EXPECT_EQ(baseline["rows"], 4);
  EXPECT_EQ(baseline["features"][1]["counts"], nlohmann::json({1, 2}));
  EXPECT_EQ(baseline["features"][1]["missing"], 1);
  EXPECT_EQ(baseline["score"]["counts"], nlohmann::json({2, 2}));
  // Codes outside the categories (negative, past the last, infinite, huge) count as missing.
  const float inf = std::numeric_limits<float>::infinity();
  data.columns = {{1, 2, 3, 4, 5, 6, 7}, {1, -1, 2, inf, 1e30f, -inf, 0}};
  data.label.assign(7, 0);
  baseline = MakeBaseline(data, std::vector<float>(7, 0.5f), 2);
  EXPECT_EQ(baseline["features"][1]["counts"], nlohmann::json({1, 1}));
  EXPECT_EQ(baseline["features"][1]["missing"], 5);
}

}  // namespace
}  // namespace fraudops
