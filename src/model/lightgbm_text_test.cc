// The LightGBM text loader against real LightGBM v4.6.0 outputs: every raw score,
// probability and leaf index bit for bit (tests/data/lightgbm/SOURCE.md), and its errors.
#include "model/lightgbm_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/thread_pool.h"

namespace fraudops {
namespace {

namespace fs = std::filesystem;

const fs::path kGolden = fs::path(FRAUDOPS_SOURCE_DIR) / "tests/data/lightgbm";

/// The reference folder in ../shared, or empty when this checkout has none.
fs::path SharedReference() {
  const char* shared = std::getenv("FOPS_SHARED_DIR");
  fs::path dir = shared ? fs::path(shared) : fs::path(FRAUDOPS_SOURCE_DIR) / "../shared";
  dir /= "reference/lightgbm";
  return fs::exists(dir / "model_numeric.txt") ? dir : fs::path();
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

/// Lines of a plain file, or of an .xz file through `xz -dc`.
std::vector<std::string> ReadLines(const fs::path& path) {
  std::vector<std::string> lines;
  if (path.extension() == ".xz") {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(
        popen(("xz -dc '" + path.string() + "'").c_str(), "r"), pclose);
    if (!pipe) return lines;
    std::string line;
    char buffer[1 << 16];
    while (fgets(buffer, sizeof buffer, pipe.get())) {
      line += buffer;
      if (!line.empty() && line.back() == '\n') {
        line.pop_back();
        lines.push_back(std::move(line));
        line.clear();
      }
    }
    if (!line.empty()) lines.push_back(line);
    return lines;
  }
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// Test rows as the LightGBM CLI maps them: CSV columns to the model's features by name,
/// empty fields NaN, parsed with strtod (SOURCE.md: every parser reads the same doubles).
std::vector<double> ReadRows(const fs::path& csv, const Ensemble& model, size_t* count) {
  std::vector<std::string> lines = ReadLines(csv);
  std::vector<std::string> header;
  std::stringstream names(lines.at(0));
  for (std::string name; std::getline(names, name, ',');) header.push_back(name);
  std::vector<int> column_of(model.num_features(), -1);
  for (size_t f = 0; f < model.num_features(); ++f) {
    for (size_t c = 0; c < header.size(); ++c) {
      if (header[c] == model.feature_names[f]) column_of[f] = static_cast<int>(c);
    }
    EXPECT_GE(column_of[f], 0) << model.feature_names[f];
  }
  std::vector<double> rows;
  *count = lines.size() - 1;
  rows.reserve(*count * model.num_features());
  std::vector<double> fields(header.size());
  for (size_t i = 1; i < lines.size(); ++i) {
    const char* p = lines[i].c_str();
    for (size_t c = 0; c < header.size(); ++c) {
      char* end = nullptr;
      fields[c] = (*p == ',' || *p == '\0') ? std::nan("") : std::strtod(p, &end);
      if (end != nullptr) p = end;
      if (*p == ',') ++p;
    }
    for (size_t f = 0; f < model.num_features(); ++f)
      rows.push_back(fields[static_cast<size_t>(column_of[f])]);
  }
  return rows;
}

std::vector<double> ReadDoubles(const fs::path& path) {
  std::vector<double> values;
  for (const std::string& line : ReadLines(path))
    values.push_back(std::strtod(line.c_str(), nullptr));
  return values;
}

/// Loads `model_<name>.txt` from `dir`, scores `<data>_test.csv` and requires LightGBM's raw
/// scores and probabilities (or predictions) exactly.
void ExpectBitwise(const fs::path& dir, const std::string& name, const std::string& data,
                   const std::string& output) {
  SCOPED_TRACE(name);
  auto model =
      LoadLightgbmText(ReadText(dir / ("model_" + name + ".txt")), "model_" + name + ".txt");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  fs::path csv = dir / (data + "_test.csv");
  if (!fs::exists(csv)) csv += ".xz";
  size_t count = 0;
  std::vector<double> rows = ReadRows(csv, *model, &count);
  std::vector<double> raw = ReadDoubles(dir / ("expected_" + name + "_raw.txt"));
  std::vector<double> probability = ReadDoubles(dir / ("expected_" + name + "_" + output + ".txt"));
  ASSERT_EQ(raw.size(), count);
  ASSERT_EQ(probability.size(), count);

  ThreadPool pool(2);
  Context context;
  context.pool = &pool;
  context.threads = 2;
  std::vector<double> batch = model->PredictMargins(rows, context);
  size_t raw_mismatches = 0, probability_mismatches = 0;
  for (size_t r = 0; r < count; ++r) {
    const double margin = model->PredictMargin(rows.data() + r * model->num_features());
    ASSERT_EQ(margin, batch[r]) << "row " << r << ": the batch and single-row paths differ";
    raw_mismatches += margin != raw[r];
    probability_mismatches += model->ApplyLink(margin) != probability[r];
    if (margin != raw[r] && raw_mismatches <= 3) {
      ADD_FAILURE() << "row " << r << ": raw " << margin << " vs LightGBM " << raw[r];
    }
  }
  EXPECT_EQ(raw_mismatches, 0u) << "of " << count << " rows";
  EXPECT_EQ(probability_mismatches, 0u) << "of " << count << " rows";
}

TEST(LightgbmTextTest, ReproducesLightgbmOnMissingValuesBitForBit) {
  ExpectBitwise(kGolden, "missing", "missing", "prob");
}

TEST(LightgbmTextTest, ReproducesLightgbmWithZeroAsMissingBitForBit) {
  ExpectBitwise(kGolden, "missing_zero", "missing", "prob");
}

TEST(LightgbmTextTest, ReproducesLightgbmOnCategoricalSplitsBitForBit) {
  ExpectBitwise(kGolden, "categorical", "categorical", "prob");
  auto model = LoadLightgbmText(ReadText(kGolden / "model_categorical.txt"), "m.txt");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(model->feature_is_categorical, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 1, 1, 1}));
  size_t categorical_nodes = 0;
  for (const TreeNode& node : model->nodes)
    categorical_nodes += (node.flags() & TreeNode::kCategorical) != 0;
  EXPECT_EQ(categorical_nodes, 750u) << "SOURCE.md: 120 + 630 categorical splits";
}

TEST(LightgbmTextTest, ReproducesLightgbmOnTheLargeNumericModelsAndLeafIndices) {
  fs::path dir = SharedReference();
  if (dir.empty())
    GTEST_SKIP()
        << "skipped: ../shared/reference/lightgbm is not in this checkout (set FOPS_SHARED_DIR)";
  ExpectBitwise(dir, "numeric", "numeric", "prob");
  ExpectBitwise(dir, "numeric_bagging", "numeric", "prob");
  ExpectBitwise(dir, "regression", "numeric", "pred");

  auto model = LoadLightgbmText(ReadText(dir / "model_numeric.txt"), "model_numeric.txt");
  ASSERT_TRUE(model.ok());
  size_t count = 0;
  std::vector<double> rows = ReadRows(dir / "numeric_test.csv.xz", *model, &count);
  std::vector<std::string> expected = ReadLines(dir / "expected_numeric_leaf.txt.xz");
  ASSERT_EQ(expected.size(), count);
  std::vector<int32_t> leaves(model->num_trees());
  size_t mismatches = 0;
  for (size_t r = 0; r < count; ++r) {
    model->PredictLeaves(rows.data() + r * model->num_features(), leaves.data());
    std::string line;
    for (size_t t = 0; t < leaves.size(); ++t) line += (t ? "\t" : "") + std::to_string(leaves[t]);
    mismatches += line != expected[r];
  }
  EXPECT_EQ(mismatches, 0u) << "rows whose leaf indices differ from LightGBM's";
}

TEST(LightgbmTextTest, MalformedModelsAreErrorsNamingTheLine) {
  const std::string good = ReadText(kGolden / "model_missing.txt");
  auto error_of = [](const std::string& text) {
    auto model = LoadLightgbmText(text, "m.txt");
    return model.ok() ? std::string("loaded") : model.status().message();
  };
  EXPECT_NE(error_of("{\"learner\": {}}").find("m.txt:1: not a LightGBM text model"),
            std::string::npos);
  const std::string cut_between_trees = good.substr(0, good.find("Tree=50"));
  EXPECT_NE(error_of(cut_between_trees).find("before \"end of trees\""), std::string::npos)
      << error_of(cut_between_trees);
  const std::string cut_in_a_line =
      good.substr(0, good.find("leaf_value=", good.find("Tree=50")) + 20);
  EXPECT_NE(error_of(cut_in_a_line).find("leaf_value has 1 values, expected 15"), std::string::npos)
      << error_of(cut_in_a_line);

  std::string bad_feature = good;
  bad_feature.replace(bad_feature.find("split_feature="), 15, "split_feature=99 ");
  const std::string message = error_of(bad_feature);
  EXPECT_NE(message.find("splits on feature 99"), std::string::npos) << message;
  EXPECT_EQ(message.rfind("m.txt:", 0), 0u) << message;

  std::string multiclass = good;
  multiclass.replace(multiclass.find("num_class=1"), 11, "num_class=3");
  EXPECT_NE(error_of(multiclass).find("m.txt:3: multi-class"), std::string::npos)
      << error_of(multiclass);

  std::string bad_number = good;
  bad_number.replace(bad_number.find("leaf_value=") + 11, 1, "x");
  EXPECT_NE(error_of(bad_number).find("is not a number"), std::string::npos)
      << error_of(bad_number);

  std::string bad_decision = good;
  bad_decision.replace(bad_decision.find("decision_type=") + 14, 1, "14");
  EXPECT_NE(error_of(bad_decision).find("decision_type 14"), std::string::npos)
      << error_of(bad_decision);
}

TEST(LightgbmTextTest, SingleLeafTreesAndObjectives) {
  const std::string model =
      "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=1\n"
      "objective=binary sigmoid:2\nfeature_names=a b\nfeature_infos=[0:1] none\ntree_sizes=1 1\n\n"
      "Tree=0\nnum_leaves=1\nnum_cat=0\nleaf_value=0.25\nis_linear=0\nshrinkage=1\n\n\n"
      "Tree=1\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold=0.5\ndecision_"
      "type=2\n"
      "left_child=-1\nright_child=-2\nleaf_value=-1 1\nleaf_count=3 "
      "4\ninternal_count=7\nis_linear=0\nshrinkage=1\n\n\n"
      "end of trees\n";
  auto ensemble = LoadLightgbmText(model, "m.txt");
  ASSERT_TRUE(ensemble.ok()) << ensemble.status().ToString();
  double low[2] = {0.5, 0}, high[2] = {0.75, 0}, missing[2] = {std::nan(""), 0};
  EXPECT_EQ(ensemble->PredictMargin(low), -0.75);  // 0.5 <= 0.5: left
  EXPECT_EQ(ensemble->PredictMargin(high), 1.25);
  EXPECT_EQ(ensemble->PredictMargin(missing), -0.75);  // MissingType None: NaN reads as 0
  EXPECT_DOUBLE_EQ(ensemble->PredictProbability(high), 1 / (1 + std::exp(-2 * 1.25)));
}

}  // namespace
}  // namespace fraudops
