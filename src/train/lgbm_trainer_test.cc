// The lgbm trainer: the written model reloads with identical predictions, the model does not
// depend on the thread count, each parameter changes the model as LightGBM documents it, and
// NaN, zero-as-missing and categorical features are handled on generated data.
#include "train/lgbm_trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "../../tests/test_util.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "data/dataset_file.h"
#include "model/lightgbm_text.h"
#include "train/trainer_test_util.h"

namespace fraudops {
namespace {

/// Generated fraud-like data: f0 signal; f1 NaN in 10 % of rows, NaN meaning fraud; f2 zero in
/// 40 % of rows, zero meaning fraud; f3 categorical with 12 levels of different risk; f4 noise.
Dataset Generate(size_t rows, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_real_distribution<float> uniform(0, 1);
  Dataset d;
  d.features.resize(5);
  for (size_t c = 0; c < 5; ++c) d.features[c].name = "f" + std::to_string(c);
  d.features[3].type = ColumnType::kCategorical;
  for (int c = 0; c < 12; ++c) d.features[3].categories.push_back("c" + std::to_string(c));
  d.columns.assign(5, std::vector<float>(rows));
  d.label.resize(rows);
  const float category_effect[12] = {-1.5f, 1.5f, 0, 0.5f, -0.5f, 2, -2, 0, 1, -1, 0.2f, 0.8f};
  for (size_t r = 0; r < rows; ++r) {
    float f0 = normal(random), f1 = normal(random), f2 = normal(random), f4 = normal(random);
    bool nan1 = uniform(random) < 0.1f, zero2 = uniform(random) < 0.4f;
    int f3 = static_cast<int>(uniform(random) * 12) % 12;
    float logit = -1.0f + 1.2f * f0 + 0.5f * f1 * !nan1 + (nan1 ? 1.5f : 0) +
                  (zero2 ? 1.0f : 0.3f * f2) + category_effect[f3];
    d.columns[0][r] = f0;
    d.columns[1][r] = nan1 ? std::nanf("") : f1;
    d.columns[2][r] = zero2 ? 0.0f : f2;
    d.columns[3][r] = static_cast<float>(f3);
    d.columns[4][r] = f4;
    d.label[r] = uniform(random) < 1 / (1 + std::exp(-logit)) ? 1.0f : 0.0f;
  }
  return d;
}

struct LgbmFixture {
  LgbmFixture() : pool(2) {
    logger.set_level(LogLevel::kError);
    context.logger = &logger;
    context.pool = &pool;
    context.threads = 2;
    context.seed = 7;
  }
  Logger logger;
  ThreadPool pool;
  Context context;
};

using testing::Params;

/// One tree's `key=value` lines, values split on spaces.
using TreeLines = std::map<std::string, std::vector<std::string>>;

std::vector<TreeLines> ParseTrees(const std::string& text) {
  std::vector<TreeLines> trees;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line == "end of trees") break;
    if (StartsWith(line, "Tree=")) {
      trees.emplace_back();
      continue;
    }
    size_t eq = line.find('=');
    if (trees.empty() || eq == std::string::npos) continue;
    std::string values = line.substr(eq + 1);
    trees.back()[line.substr(0, eq)] =
        values.empty() ? std::vector<std::string>{} : Split(values, ' ');
  }
  return trees;
}

std::vector<double> Numbers(const std::vector<std::string>& values) {
  std::vector<double> out;
  for (const std::string& value : values) out.push_back(std::strtod(value.c_str(), nullptr));
  return out;
}

struct Trained {
  std::unique_ptr<TrainedModel> model;
  std::string text;
  std::vector<TreeLines> trees;
};

Trained TrainOrDie(const Dataset& train, HyperParameters params, const Context& context,
                   const Dataset* validation = nullptr) {
  LgbmTrainer trainer;
  auto model = trainer.Train({&train, validation, std::move(params)}, context);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return {};
  Trained out;
  out.text = *(*model)->Serialize();
  out.trees = ParseTrees(out.text);
  out.model = std::move(*model);
  return out;
}

/// The model text without the num_threads echo (the one line that may differ by threads).
std::string WithoutThreads(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!StartsWith(line, "[num_threads:")) out += line + "\n";
  }
  return out;
}

/// Leaf depths of one tree from its child arrays.
std::vector<int> LeafDepths(const TreeLines& tree) {
  int leaves = std::stoi(tree.at("num_leaves")[0]);
  std::vector<int> depth(static_cast<size_t>(leaves), 0);
  if (leaves == 1) return depth;
  std::vector<std::pair<int, int>> stack = {{0, 0}};
  while (!stack.empty()) {
    auto [node, d] = stack.back();
    stack.pop_back();
    for (const char* side : {"left_child", "right_child"}) {
      int child = std::stoi(tree.at(side)[static_cast<size_t>(node)]);
      if (child < 0)
        depth[static_cast<size_t>(~child)] = d + 1;
      else
        stack.push_back({child, d + 1});
    }
  }
  return depth;
}

TEST(LgbmTrainerTest, WrittenModelReloadsWithIdenticalPredictions) {
  LgbmFixture f;
  Dataset data = Generate(6000, 1);
  for (const char* sampling : {"none", "bagging", "goss"}) {
    std::map<std::string, nlohmann::json> values = {
        {"num_iterations", 40}, {"num_leaves", 15}, {"learning_rate", 0.2}};
    if (std::string(sampling) == "bagging") {
      values["bagging_fraction"] = 0.7;
      values["bagging_freq"] = 2;
      values["feature_fraction"] = 0.8;
    }
    if (std::string(sampling) == "goss") values["data_sample_strategy"] = "goss";
    Trained t = TrainOrDie(data, Params(values), f.context);
    ASSERT_TRUE(t.model);
    const std::vector<double>* scores = LgbmTrainingScores(*t.model);
    ASSERT_NE(scores, nullptr);
    auto ensemble = LoadLightgbmText(t.text, "model.txt");
    ASSERT_TRUE(ensemble.ok()) << ensemble.status().ToString();
    std::vector<double> margins =
        ensemble->PredictMargins(std::span<const float>(data.RowMajor()), f.context);
    ASSERT_EQ(margins.size(), scores->size());
    size_t differ = 0;
    for (size_t r = 0; r < margins.size(); ++r) differ += margins[r] != (*scores)[r];
    EXPECT_EQ(differ, 0u) << sampling << ": the engine's margins differ from the trainer's scores";
    // Through the Trainer interface too, after a round trip of the text.
    auto loaded = LgbmTrainer().Load(t.text);
    ASSERT_TRUE(loaded.ok());
    auto probabilities = (*loaded)->PredictProbability(data, f.context);
    ASSERT_TRUE(probabilities.ok());
    EXPECT_FLOAT_EQ((*probabilities)[5], static_cast<float>(1 / (1 + std::exp(-(*scores)[5]))));
  }
}

TEST(LgbmTrainerTest, ExternalMemoryTrainsTheSameModelFromDatasetFiles) {
  LgbmFixture f;
  testing::TempDir dir;
  Dataset data = Generate(5000, 11), valid = Generate(1500, 12);
  ASSERT_TRUE(WriteDatasetFile(data, dir.File("train.fds")).ok());
  ASSERT_TRUE(WriteDatasetFile(valid, dir.File("valid.fds")).ok());
  auto train_file = DatasetFileReader::Open(dir.File("train.fds"));
  auto valid_file = DatasetFileReader::Open(dir.File("valid.fds"));
  ASSERT_TRUE(train_file.ok() && valid_file.ok());
  auto train_view = DatasetFileView::Make(**train_file, {});
  auto valid_view = DatasetFileView::Make(**valid_file, {});
  ASSERT_TRUE(train_view.ok() && valid_view.ok());
  ExternalMemory external{&*train_view, &*valid_view, dir.path(), 333};
  // Bagging and GOSS score their rows through the mapped bins; a sample for the bins that
  // spans the 333-row pieces; 16-bit bins.
  for (const char* variant : {"bagging", "goss", "wide"}) {
    SCOPED_TRACE(variant);
    std::map<std::string, nlohmann::json> values = {{"num_iterations", 25},
                                                    {"num_leaves", 15},
                                                    {"bin_construct_sample_cnt", 1200},
                                                    {"metric", "auc"},
                                                    {"early_stopping_round", 5}};
    if (std::string(variant) == "bagging")
      values.insert({{"bagging_fraction", 0.7}, {"bagging_freq", 1}});
    if (std::string(variant) == "goss")
      values.insert({{"data_sample_strategy", "goss"}, {"learning_rate", 0.3}});
    if (std::string(variant) == "wide") values.insert({{"max_bin", 400}});
    Trained memory = TrainOrDie(data, Params(values), f.context, &valid);
    TrainInput input;
    input.params = Params(values);
    input.external = &external;
    auto model = LgbmTrainer().Train(input, f.context);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    EXPECT_EQ(*(*model)->Serialize(), memory.text);
    EXPECT_EQ((*model)->history.size(), memory.model->history.size());
  }
  // The bins are written into the cache directory: one that cannot be written is an error
  // that names the file.
  ExternalMemory nowhere{&*train_view, nullptr, dir.File("missing/dir"), 1000};
  TrainInput input;
  input.params = Params({{"num_iterations", 2}});
  input.external = &nowhere;
  auto failed = LgbmTrainer().Train(input, f.context);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find(dir.File("missing/dir/train.bins")), std::string::npos)
      << failed.status().ToString();
}

TEST(LgbmTrainerTest, SameSeedSameModelForAnyThreadCount) {
  LgbmFixture f;
  Dataset data = Generate(20000, 2);
  for (const char* variant : {"plain", "sampled", "goss"}) {
    std::map<std::string, nlohmann::json> values = {{"num_iterations", 25}, {"num_leaves", 31}};
    if (std::string(variant) == "sampled") {
      values.insert({{"bagging_fraction", 0.6},
                     {"bagging_freq", 1},
                     {"feature_fraction", 0.6},
                     {"feature_fraction_bynode", 0.7},
                     {"bin_construct_sample_cnt", 5000}});
    }
    if (std::string(variant) == "goss")
      values.insert({{"data_sample_strategy", "goss"}, {"learning_rate", 0.25}});
    std::string first;
    for (int threads : {1, 2, 3, 8}) {
      values["num_threads"] = threads;
      Trained t = TrainOrDie(data, Params(values), f.context);
      if (threads == 1)
        first = WithoutThreads(t.text);
      else
        EXPECT_EQ(WithoutThreads(t.text), first) << variant << " with " << threads << " threads";
    }
    values["seed"] = 8;
    values["num_threads"] = 2;
    if (std::string(variant) != "plain") {
      EXPECT_NE(WithoutThreads(TrainOrDie(data, Params(values), f.context).text), first)
          << variant << ": another seed";
    }
  }
}

/// Generate's rows with a sixth feature, "rare": 1 in 30 rows, 0 in the rest — splittable when
/// min_data_in_leaf is 30 or less, dropped by the pre-filter above.
Dataset WithRareFeature(size_t rows, uint64_t seed) {
  Dataset d = Generate(rows, seed);
  d.features.push_back(d.features[4]);
  d.features.back().name = "rare";
  d.columns.emplace_back(rows, 0.0f);
  for (size_t r = 0; r < 30; ++r) d.columns.back()[r * (rows / 30)] = 1.0f;
  return d;
}

TEST(LgbmTrainerTest, CachedBinsTrainTheModelsOfFreshBinsAndRefilterPerTraining) {
  LgbmFixture f;
  const Dataset train = WithRareFeature(6000, 21), valid = WithRareFeature(2000, 22);
  LgbmTrainer trainer;
  const std::unique_ptr<TrainCache> cache = trainer.MakeCache();
  ASSERT_NE(cache, nullptr);
  // A tuning study's trainings in a row: min_data_in_leaf moves the pre-filter over the same
  // bins, max_bin needs other bins, a repeated setting finds its bins kept.
  const std::vector<std::map<std::string, nlohmann::json>> trainings = {
      {{"min_data_in_leaf", 20}},
      {{"min_data_in_leaf", 50}},
      {{"min_data_in_leaf", 20}, {"max_bin", 15}},
      {{"min_data_in_leaf", 20}},
      {{"min_data_in_leaf", 50}, {"feature_pre_filter", false}},
  };
  const std::vector<bool> rare_dropped = {false, true, false, false, false};
  for (size_t i = 0; i < trainings.size(); ++i) {
    std::map<std::string, nlohmann::json> values = trainings[i];
    values.insert({{"num_iterations", 8}, {"metric", "auc"}, {"early_stopping_round", 3}});
    TrainInput input{&train, &valid, Params(values)};
    input.cache = cache.get();
    Result<std::unique_ptr<TrainedModel>> cached = trainer.Train(input, f.context);
    ASSERT_TRUE(cached.ok()) << cached.status().ToString();
    const std::string text = *(*cached)->Serialize();
    EXPECT_EQ(text, TrainOrDie(train, Params(values), f.context, &valid).text)
        << "training " << i << ": the cached bins give another model than fresh ones";
    const size_t from = text.find("feature_infos=") + 14;
    const std::vector<std::string> infos =
        Split(text.substr(from, text.find('\n', from) - from), ' ');
    ASSERT_EQ(infos.size(), 6u);
    EXPECT_EQ(infos[5] == "none", rare_dropped[i]) << "training " << i << ": " << infos[5];
  }
}

TEST(LgbmTrainerTest, HeaderAndSectionsFollowLightgbmTextFormatV4) {
  LgbmFixture f;
  Dataset data = Generate(3000, 3);
  Trained t = TrainOrDie(data, Params({{"num_iterations", 5}}), f.context);
  EXPECT_EQ(t.text.rfind("tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index="
                         "0\nmax_feature_idx=4\n"
                         "objective=binary sigmoid:1\nfeature_names=f0 f1 f2 f3 f4\n",
                         0),
            0u)
      << t.text.substr(0, 300);
  // tree_sizes are the byte sizes of the Tree= sections, as LightGBM checks them when loading.
  size_t sizes_at = t.text.find("tree_sizes=");
  std::vector<std::string> sizes =
      Split(t.text.substr(sizes_at + 11, t.text.find('\n', sizes_at) - sizes_at - 11), ' ');
  ASSERT_EQ(sizes.size(), 5u);
  size_t at = t.text.find("Tree=0\n");
  for (size_t i = 0; i < sizes.size(); ++i) {
    size_t next = t.text.find(
        i + 1 < sizes.size() ? "Tree=" + std::to_string(i + 1) + "\n" : "end of trees", at);
    EXPECT_EQ(next - at, std::stoul(sizes[i])) << "tree " << i;
    at = next;
  }
  EXPECT_NE(t.text.find("\nend of trees\n\nfeature_importances:\n"), std::string::npos);
  EXPECT_NE(t.text.find("\nparameters:\n[boosting: gbdt]\n[objective: binary]\n"),
            std::string::npos);
  // Then the categorical feature's names, as the Python package writes them.
  EXPECT_TRUE(t.text.ends_with(
      "\nend of parameters\n\npandas_categorical:[[\"c0\",\"c1\",\"c2\",\"c3\",\"c4\",\"c5\","
      "\"c6\",\"c7\",\"c8\",\"c9\",\"c10\",\"c11\"]]\n"))
      << t.text.substr(t.text.size() - 200);
  // The first tree carries the initial score (log-odds of the positive rate), shrinkage 1.
  EXPECT_EQ(t.trees[0].at("shrinkage")[0], "1");
  EXPECT_EQ(t.trees[1].at("shrinkage")[0], "0.1");
  double rate = static_cast<double>(data.CountPositives()) / static_cast<double>(data.rows());
  EXPECT_NEAR(std::stod(t.trees[0].at("internal_value")[0]), std::log(rate / (1 - rate)), 0.05);
  // feature_infos: numeric ranges; the categorical feature lists its categories by count.
  size_t infos = t.text.find("feature_infos=");
  std::vector<std::string> info =
      Split(t.text.substr(infos + 14, t.text.find('\n', infos) - infos - 14), ' ');
  ASSERT_EQ(info.size(), 5u);
  EXPECT_EQ(info[0].front(), '[');
  EXPECT_EQ(info[3].substr(0, 3), "-1:");
  EXPECT_EQ(Split(info[3], ':').size(), 13u);
  // Feature importances: split counts in descending order.
  auto gains = LightgbmFeatureGains(t.text);
  ASSERT_TRUE(gains.ok());
  EXPECT_EQ((*gains)[0].first, "f0");
  EXPECT_GT((*gains)[0].second, 0);
}

TEST(LgbmTrainerTest, NanGoesToTheSideItsRowsBelongTo) {
  LgbmFixture f;
  Dataset data = Generate(20000, 4);
  Trained t = TrainOrDie(data, Params({{"num_iterations", 30}, {"num_leaves", 7}}), f.context);
  // f1's splits carry missing type NaN (decision_type bits 2-3 = 2).
  int nan_splits = 0;
  for (const TreeLines& tree : t.trees) {
    const auto& features = tree.at("split_feature");
    for (size_t i = 0; i < features.size(); ++i) {
      int type = std::stoi(tree.at("decision_type")[i]);
      if (features[i] == "1") {
        EXPECT_EQ((type >> 2) & 3, 2) << "f1 split without NaN handling";
        ++nan_splits;
      }
      if (features[i] == "0") {
        EXPECT_EQ((type >> 2) & 3, 0) << "f0 has no NaN";
      }
    }
  }
  EXPECT_GT(nan_splits, 0);
  // NaN in f1 means fraud: a row with NaN scores higher than the same row with any value.
  auto ensemble = LoadLightgbmText(t.text, "model.txt");
  ASSERT_TRUE(ensemble.ok());
  for (double value : {-2.0, 0.0, 1.0}) {
    double with_nan[] = {0.5, std::nan(""), 1.0, 2.0, 0.0};
    double with_value[] = {0.5, value, 1.0, 2.0, 0.0};
    EXPECT_GT(ensemble->PredictMargin(with_nan), ensemble->PredictMargin(with_value) + 0.3)
        << value;
  }
  // use_missing=false: NaN is zero, no split has a missing type.
  Trained plain =
      TrainOrDie(data, Params({{"num_iterations", 10}, {"use_missing", false}}), f.context);
  for (const TreeLines& tree : plain.trees) {
    for (const std::string& type : tree.at("decision_type"))
      EXPECT_EQ((std::stoi(type) >> 2) & 3, 0);
  }
}

TEST(LgbmTrainerTest, ZeroAsMissingSendsZerosAndNanToTheLearnedSide) {
  LgbmFixture f;
  Dataset data = Generate(20000, 5);
  Trained t = TrainOrDie(
      data, Params({{"num_iterations", 30}, {"num_leaves", 7}, {"zero_as_missing", true}}),
      f.context);
  int zero_splits = 0;
  for (const TreeLines& tree : t.trees) {
    const auto& features = tree.at("split_feature");
    for (size_t i = 0; i < features.size(); ++i) {
      int type = std::stoi(tree.at("decision_type")[i]);
      if ((type & 1) == 0 && features[i] == "2") {
        EXPECT_EQ((type >> 2) & 3, 1) << "f2 split without zero handling";
        ++zero_splits;
      }
    }
  }
  EXPECT_GT(zero_splits, 0);
  auto ensemble = LoadLightgbmText(t.text, "model.txt");
  ASSERT_TRUE(ensemble.ok());
  // Zero in f2 means fraud; NaN in f2 is read as zero, so it scores the same.
  double zero[] = {0.5, 0.5, 0.0, 2.0, 0.0}, nan[] = {0.5, 0.5, std::nan(""), 2.0, 0.0};
  double value[] = {0.5, 0.5, 0.01, 2.0, 0.0};
  double z = ensemble->PredictMargin(zero);
  EXPECT_EQ(z, ensemble->PredictMargin(nan));
  EXPECT_GT(z, ensemble->PredictMargin(value) + 0.3);
}

TEST(LgbmTrainerTest, CategoricalSplitsGroupCategoriesByRisk) {
  LgbmFixture f;
  Dataset data = Generate(30000, 6);
  Trained t = TrainOrDie(
      data, Params({{"num_iterations", 40}, {"num_leaves", 7}, {"min_data_per_group", 50}}),
      f.context);
  int categorical_splits = 0;
  for (const TreeLines& tree : t.trees) {
    const auto& features = tree.at("split_feature");
    for (size_t i = 0; i < features.size(); ++i) {
      int type = std::stoi(tree.at("decision_type")[i]);
      if (features[i] == "3") {
        EXPECT_EQ(type & 1, 1) << "f3 is categorical";
        ++categorical_splits;
      } else {
        EXPECT_EQ(type & 1, 0);
      }
    }
    EXPECT_EQ(tree.count("cat_threshold") == 1, std::stoi(tree.at("num_cat")[0]) > 0);
  }
  EXPECT_GT(categorical_splits, 0);
  // The model ranks the categories as their effects do: c5 (+2) above c1 (+1.5) above c0 (-1.5), c6
  // (-2) lowest.
  auto ensemble = LoadLightgbmText(t.text, "model.txt");
  ASSERT_TRUE(ensemble.ok());
  auto score = [&](float category) {
    double row[] = {0.0, 0.0, 0.5, category, 0.0};
    return ensemble->PredictMargin(row);
  };
  EXPECT_GT(score(5), score(1) - 0.3);
  EXPECT_GT(score(1), score(0) + 1.5);
  EXPECT_GT(score(0), score(6) - 0.3);
  // An unseen category or NaN goes right, like the rare ones: a finite score.
  EXPECT_TRUE(std::isfinite(score(99)));
  EXPECT_TRUE(std::isfinite(score(std::nanf(""))));
  // max_cat_to_onehot above the bin count: every split holds exactly one category.
  Trained onehot =
      TrainOrDie(data, Params({{"num_iterations", 10}, {"max_cat_to_onehot", 20}}), f.context);
  for (const TreeLines& tree : onehot.trees) {
    if (!tree.count("cat_threshold")) continue;
    for (const std::string& word : tree.at("cat_threshold")) {
      if (word != "0") {
        EXPECT_EQ(__builtin_popcount(static_cast<unsigned>(std::stoul(word))), 1);
      }
    }
  }
  // max_cat_threshold bounds the categories on the left.
  Trained narrow = TrainOrDie(
      data, Params({{"num_iterations", 10}, {"max_cat_threshold", 2}, {"min_data_per_group", 10}}),
      f.context);
  for (const TreeLines& tree : narrow.trees) {
    if (!tree.count("cat_threshold")) continue;
    std::vector<std::string> bounds = tree.at("cat_boundaries");
    for (size_t c = 0; c + 1 < bounds.size(); ++c) {
      int bits = 0;
      for (int w = std::stoi(bounds[c]); w < std::stoi(bounds[c + 1]); ++w) {
        bits += __builtin_popcount(
            static_cast<unsigned>(std::stoul(tree.at("cat_threshold")[static_cast<size_t>(w)])));
      }
      EXPECT_LE(bits, 2);
    }
  }
  // categorical_feature makes an integer numeric column categorical.
  Dataset numeric_codes = Generate(8000, 7);
  numeric_codes.features[3].type = ColumnType::kNumeric;
  numeric_codes.features[3].categories.clear();
  Trained by_param =
      TrainOrDie(numeric_codes,
                 Params({{"num_iterations", 10}, {"categorical_feature", "name:f3"}}), f.context);
  EXPECT_NE(by_param.text.find("[categorical_feature: 3]"), std::string::npos);
  Trained by_index = TrainOrDie(
      numeric_codes, Params({{"num_iterations", 10}, {"categorical_feature", "3"}}), f.context);
  EXPECT_EQ(by_param.trees.size(), by_index.trees.size());
  EXPECT_EQ(by_param.trees[3].at("threshold"), by_index.trees[3].at("threshold"));
}

// ---------------------------------------------------------------------------------------------
// The parameter sweep: each parameter moves the model the way LightGBM's documentation says.

TEST(LgbmParameterSweep, NumLeavesMaxDepthAndNumIterationsBoundTheTrees) {
  LgbmFixture f;
  Dataset data = Generate(20000, 10);
  for (int leaves : {2, 7, 31}) {
    Trained t =
        TrainOrDie(data, Params({{"num_iterations", 8}, {"num_leaves", leaves}}), f.context);
    ASSERT_EQ(t.trees.size(), 8u);
    for (const TreeLines& tree : t.trees) EXPECT_EQ(std::stoi(tree.at("num_leaves")[0]), leaves);
  }
  for (int depth : {1, 3}) {
    Trained t = TrainOrDie(
        data, Params({{"num_iterations", 8}, {"num_leaves", 31}, {"max_depth", depth}}), f.context);
    for (const TreeLines& tree : t.trees) {
      EXPECT_LE(std::stoi(tree.at("num_leaves")[0]), 1 << depth);
      for (int d : LeafDepths(tree)) EXPECT_LE(d, depth);
    }
  }
}

TEST(LgbmParameterSweep, MinDataAndMinHessianInLeafAreRespected) {
  LgbmFixture f;
  Dataset data = Generate(20000, 11);
  for (int min_data : {5, 200, 2000}) {
    Trained t = TrainOrDie(
        data, Params({{"num_iterations", 6}, {"num_leaves", 63}, {"min_data_in_leaf", min_data}}),
        f.context);
    for (const TreeLines& tree : t.trees) {
      for (const std::string& count : tree.at("leaf_count"))
        EXPECT_GE(std::stol(count), min_data * 9 / 10);
    }
  }
  for (double min_hessian : {1.0, 20.0}) {
    Trained t = TrainOrDie(data,
                           Params({{"num_iterations", 6},
                                   {"num_leaves", 63},
                                   {"min_data_in_leaf", 1},
                                   {"min_sum_hessian_in_leaf", min_hessian}}),
                           f.context);
    for (const TreeLines& tree : t.trees) {
      for (double weight : Numbers(tree.at("leaf_weight"))) EXPECT_GE(weight, min_hessian * 0.999);
    }
  }
}

TEST(LgbmParameterSweep, LeafOutputsFollowTheRegularizedNewtonStep) {
  // With one split per tree, each leaf's value is -sign(G)·max(|G|-l1, 0)/(H+l2)·rate (clamped
  // to max_delta_step), with G and H the leaf's gradient and hessian sums at the initial score.
  LgbmFixture f;
  Dataset data = Generate(5000, 12);
  const double rate = static_cast<double>(data.CountPositives()) / static_cast<double>(data.rows());
  const double p = rate, init = std::log(rate / (1 - rate));
  for (auto [l1, l2, max_step] : std::vector<std::tuple<double, double, double>>{
           {0, 0, 0}, {0, 50, 0}, {30, 0, 0}, {0, 0, 0.05}}) {
    Trained t = TrainOrDie(data,
                           Params({{"num_iterations", 1},
                                   {"num_leaves", 2},
                                   {"learning_rate", 0.5},
                                   {"lambda_l1", l1},
                                   {"lambda_l2", l2},
                                   {"max_delta_step", max_step}}),
                           f.context);
    auto ensemble = LoadLightgbmText(t.text, "model.txt");
    ASSERT_TRUE(ensemble.ok());
    double g[2] = {0, 0}, h[2] = {0, 0};
    for (size_t r = 0; r < data.rows(); ++r) {
      double row[5];
      for (size_t c = 0; c < 5; ++c) row[c] = data.columns[c][r];
      int32_t leaf = 0;
      ensemble->PredictLeaves(row, &leaf);
      g[leaf] += p - data.label[r];
      h[leaf] += p * (1 - p);
    }
    std::vector<double> values = Numbers(t.trees[0].at("leaf_value"));
    for (int leaf = 0; leaf < 2; ++leaf) {
      double shrunk = std::copysign(std::max(0.0, std::fabs(g[leaf]) - l1), g[leaf]);
      double step = -shrunk / (h[leaf] + l2);
      if (max_step > 0) step = std::clamp(step, -max_step, max_step);
      EXPECT_NEAR(values[static_cast<size_t>(leaf)], init + 0.5 * step, 1e-4)
          << l1 << " " << l2 << " " << max_step;
    }
  }
}

TEST(LgbmParameterSweep, LearningRateScalesTheFirstTree) {
  LgbmFixture f;
  Dataset data = Generate(5000, 13);
  Trained fast =
      TrainOrDie(data, Params({{"num_iterations", 1}, {"learning_rate", 0.4}}), f.context);
  Trained slow =
      TrainOrDie(data, Params({{"num_iterations", 1}, {"learning_rate", 0.1}}), f.context);
  const double rate = static_cast<double>(data.CountPositives()) / static_cast<double>(data.rows());
  const double init = std::log(rate / (1 - rate));
  std::vector<double> a = Numbers(fast.trees[0].at("leaf_value")),
                      b = Numbers(slow.trees[0].at("leaf_value"));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i] - init, 4 * (b[i] - init), 1e-9);
}

TEST(LgbmParameterSweep, MinGainToSplitPrunesWeakSplits) {
  LgbmFixture f;
  Dataset data = Generate(10000, 14);
  std::vector<size_t> leaves;
  for (double gain : {0.0, 10.0, 100.0}) {
    Trained t = TrainOrDie(
        data, Params({{"num_iterations", 5}, {"num_leaves", 63}, {"min_gain_to_split", gain}}),
        f.context);
    leaves.push_back(0);
    for (const TreeLines& tree : t.trees) {
      leaves.back() += static_cast<size_t>(std::stoi(tree.at("num_leaves")[0]));
      for (double split_gain : Numbers(tree.at("split_gain"))) EXPECT_GT(split_gain, 0);
    }
  }
  EXPECT_LE(leaves[1], leaves[0]);
  EXPECT_LT(leaves[2], leaves[1]);
  // So large nothing splits: LightGBM keeps one constant tree with the initial score and stops.
  Trained none =
      TrainOrDie(data, Params({{"num_iterations", 5}, {"min_gain_to_split", 1e9}}), f.context);
  ASSERT_EQ(none.trees.size(), 1u);
  EXPECT_EQ(none.trees[0].at("num_leaves")[0], "1");
}

TEST(LgbmParameterSweep, BinningParametersBoundTheThresholds) {
  LgbmFixture f;
  Dataset data = Generate(20000, 15);
  auto distinct_f0_thresholds = [&](int max_bin, int min_data_in_bin) {
    Trained t = TrainOrDie(data,
                           Params({{"num_iterations", 30},
                                   {"num_leaves", 31},
                                   {"max_bin", max_bin},
                                   {"min_data_in_bin", min_data_in_bin}}),
                           f.context);
    std::set<std::string> thresholds;
    for (const TreeLines& tree : t.trees) {
      for (size_t i = 0; i < tree.at("split_feature").size(); ++i) {
        if (tree.at("split_feature")[i] == "0") thresholds.insert(tree.at("threshold")[i]);
      }
    }
    return thresholds.size();
  };
  EXPECT_LE(distinct_f0_thresholds(4, 3), 3u);
  EXPECT_LE(distinct_f0_thresholds(16, 3), 15u);
  EXPECT_GT(distinct_f0_thresholds(255, 3), 15u);
  // min_data_in_bin = 5,000 leaves at most 20,000 / 5,000 = 4 bins.
  EXPECT_LE(distinct_f0_thresholds(255, 5000), 3u);
}

TEST(LgbmParameterSweep, FeatureFractionLimitsTheFeaturesOfEachTree) {
  LgbmFixture f;
  Dataset data = Generate(10000, 16);
  Trained t = TrainOrDie(
      data, Params({{"num_iterations", 20}, {"num_leaves", 31}, {"feature_fraction", 0.4}}),
      f.context);
  std::set<std::set<std::string>> subsets;
  for (const TreeLines& tree : t.trees) {
    std::set<std::string> used(tree.at("split_feature").begin(), tree.at("split_feature").end());
    EXPECT_LE(used.size(), 2u);  // round(5 × 0.4)
    subsets.insert(used);
  }
  EXPECT_GT(subsets.size(), 2u);  // drawn anew per tree
  Trained all = TrainOrDie(data, Params({{"num_iterations", 3}, {"num_leaves", 31}}), f.context);
  Trained bynode = TrainOrDie(
      data, Params({{"num_iterations", 3}, {"num_leaves", 31}, {"feature_fraction_bynode", 0.4}}),
      f.context);
  EXPECT_NE(all.trees[0].at("split_feature"), bynode.trees[0].at("split_feature"));
  // By node, a tree still uses more features than one node may.
  std::set<std::string> used(bynode.trees[0].at("split_feature").begin(),
                             bynode.trees[0].at("split_feature").end());
  EXPECT_GT(used.size(), 2u);
}

TEST(LgbmParameterSweep, BaggingAndGossChooseTheRowsOfEachTree) {
  LgbmFixture f;
  Dataset data = Generate(20000, 17);
  auto root_counts = [&](const Trained& t) {
    std::vector<long> counts;
    for (const TreeLines& tree : t.trees) counts.push_back(std::stol(tree.at("internal_count")[0]));
    return counts;
  };
  Trained bagged = TrainOrDie(
      data, Params({{"num_iterations", 6}, {"bagging_fraction", 0.5}, {"bagging_freq", 3}}),
      f.context);
  std::vector<long> counts = root_counts(bagged);
  for (long count : counts) EXPECT_NEAR(count, 10000, 400);
  EXPECT_EQ(counts[0], counts[2]);  // one bag for three iterations
  EXPECT_NE(counts[2], counts[3]);
  Trained unbagged =
      TrainOrDie(data, Params({{"num_iterations", 2}, {"bagging_fraction", 0.5}}), f.context);
  EXPECT_EQ(root_counts(unbagged)[0], 20000);  // bagging_freq 0: no bagging
  // Balanced bagging: all positives, a tenth of the negatives.
  Trained balanced = TrainOrDie(data,
                                Params({{"num_iterations", 1},
                                        {"pos_bagging_fraction", 1.0},
                                        {"neg_bagging_fraction", 0.1},
                                        {"bagging_freq", 1}}),
                                f.context);
  double positives = static_cast<double>(data.CountPositives());
  EXPECT_NEAR(root_counts(balanced)[0], positives + 0.1 * (20000 - positives), 300);
  // GOSS: all rows for the first 1/learning_rate iterations, then top_rate + other_rate of them.
  Trained goss = TrainOrDie(data,
                            Params({{"num_iterations", 6},
                                    {"learning_rate", 0.25},
                                    {"data_sample_strategy", "goss"},
                                    {"top_rate", 0.2},
                                    {"other_rate", 0.1}}),
                            f.context);
  counts = root_counts(goss);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(counts[static_cast<size_t>(i)], 20000);
  for (int i = 4; i < 6; ++i) EXPECT_NEAR(counts[static_cast<size_t>(i)], 6000, 50);
}

TEST(LgbmParameterSweep, ClassWeightsRaiseThePositiveScores) {
  LgbmFixture f;
  Dataset data = Generate(10000, 18);
  auto mean_score = [&](HyperParameters params) {
    Trained t = TrainOrDie(data, std::move(params), f.context);
    const std::vector<double>* scores = LgbmTrainingScores(*t.model);
    double sum = 0;
    for (double s : *scores) sum += s;
    return sum / static_cast<double>(scores->size());
  };
  double plain = mean_score(Params({{"num_iterations", 20}}));
  double weighted = mean_score(Params({{"num_iterations", 20}, {"scale_pos_weight", 4.0}}));
  double unbalanced = mean_score(Params({{"num_iterations", 20}, {"is_unbalance", true}}));
  EXPECT_GT(weighted, plain + 0.3);
  EXPECT_GT(unbalanced, plain + 0.1);
}

TEST(LgbmParameterSweep, EarlyStoppingKeepsTheBestIteration) {
  LgbmFixture f;
  Dataset train = Generate(4000, 19), validation = Generate(4000, 20);
  Trained t = TrainOrDie(train,
                         Params({{"num_iterations", 400},
                                 {"learning_rate", 0.5},
                                 {"num_leaves", 63},
                                 {"min_data_in_leaf", 2},
                                 {"early_stopping_round", 5},
                                 {"metric", "binary_logloss"}}),
                         f.context, &validation);
  const TrainedModel& m = *t.model;
  ASSERT_LT(m.rounds_trained, 400);
  EXPECT_EQ(m.rounds_trained, m.best_round + 1 + 5);
  EXPECT_EQ(t.trees.size(), static_cast<size_t>(m.best_round + 1));
  double best = m.history[static_cast<size_t>(m.best_round)].validation.at("binary_logloss");
  for (const RoundMetrics& round : m.history)
    EXPECT_GE(round.validation.at("binary_logloss"), best);
  EXPECT_EQ(m.early_stopping_metric, "validation-binary_logloss");
  // Without validation data early stopping is an error that says what is missing.
  auto refused =
      LgbmTrainer().Train({&train, nullptr, Params({{"early_stopping_round", 5}})}, f.context);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("needs validation data"), std::string::npos);
}

TEST(LgbmParameterSweep, RegressionFitsTheMean) {
  LgbmFixture f;
  Dataset data = Generate(5000, 21);
  for (size_t r = 0; r < data.rows(); ++r) data.label[r] = 3.0f * data.columns[0][r] + 10.0f;
  Trained t = TrainOrDie(
      data, Params({{"objective", "regression"}, {"num_iterations", 50}, {"metric", "rmse"}}),
      f.context);
  EXPECT_NE(t.text.find("objective=regression\n"), std::string::npos);
  const std::vector<double>* scores = LgbmTrainingScores(*t.model);
  double squared = 0;
  for (size_t r = 0; r < data.rows(); ++r)
    squared += ((*scores)[r] - data.label[r]) * ((*scores)[r] - data.label[r]);
  EXPECT_LT(std::sqrt(squared / static_cast<double>(data.rows())), 0.3);
}

TEST(LgbmParamsTest, NamesAliasesAndErrors) {
  LgbmFixture f;
  Dataset data = Generate(2000, 22);
  LgbmTrainer trainer;
  auto unknown = trainer.Train({&data, nullptr, Params({{"num_leafs", 8}})}, f.context);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find(
                "lgbm parameter 'num_leafs' is unknown (did you mean 'num_lea"),
            std::string::npos)
      << unknown.status().message();
  auto twice =
      trainer.Train({&data, nullptr, Params({{"eta", 0.1}, {"learning_rate", 0.2}})}, f.context);
  ASSERT_FALSE(twice.ok());
  auto range = trainer.Train({&data, nullptr, Params({{"bagging_fraction", 1.5}})}, f.context);
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.status().message().find("out of range"), std::string::npos);
  auto column =
      trainer.Train({&data, nullptr, Params({{"categorical_feature", "name:f9"}})}, f.context);
  ASSERT_FALSE(column.ok());
  EXPECT_NE(column.status().message().find("no feature named 'f9'"), std::string::npos);
  auto both = trainer.Train(
      {&data, nullptr, Params({{"is_unbalance", true}, {"scale_pos_weight", 3.0}})}, f.context);
  ASSERT_FALSE(both.ok());
  // Aliases from LightGBM's documentation land on the canonical names.
  Trained aliased = TrainOrDie(data,
                               Params({{"n_estimators", 3},
                                       {"num_leaf", 4},
                                       {"shrinkage_rate", 0.3},
                                       {"min_child_samples", 30},
                                       {"reg_lambda", 1.0},
                                       {"subsample", 1.0}}),
                               f.context);
  EXPECT_EQ(aliased.trees.size(), 3u);
  EXPECT_EQ(aliased.trees[1].at("shrinkage")[0], "0.3");
  EXPECT_NE(aliased.text.find("[num_leaves: 4]"), std::string::npos);
  EXPECT_NE(aliased.text.find("[min_data_in_leaf: 30]"), std::string::npos);
  // seed derives LightGBM's other seeds the way LightGBM does (seed=7: bagging_seed 17422, …).
  EXPECT_NE(aliased.text.find("[seed: 7]"), std::string::npos);
  EXPECT_NE(aliased.text.find("[bagging_seed: 17422]"), std::string::npos);
  EXPECT_NE(aliased.text.find("[feature_fraction_seed: 7040]"), std::string::npos);
  EXPECT_NE(aliased.text.find("[data_random_seed: 61]"), std::string::npos);
}

TEST(LgbmParamsTest, BinaryNeedsZeroOneLabels) {
  LgbmFixture f;
  Dataset data = Generate(100, 23);
  data.label[42] = 2;
  auto refused = LgbmTrainer().Train({&data, nullptr, {}}, f.context);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("row 43 has 2"), std::string::npos)
      << refused.status().message();
}

}  // namespace
}  // namespace fraudops
