#include "train/xgboost_trainer.h"

#include <gtest/gtest.h>

#include <span>

#include "core/thread_pool.h"
#include "data/split.h"
#include "data/synth.h"
#include "eval/metrics.h"
#include "train/trainer_test_util.h"

namespace fraudops {
namespace {

struct XgbFixture {
  Dataset train, validation;
  Logger logger{LogLevel::kOff};
  ThreadPool pool{2};
  Context context;
  XgbFixture() {
    SynthOptions options;
    options.rows = 30000;
    options.fraud_rate = 0.01;
    Dataset data = std::move(GenerateTransactions(options, &pool)).value();
    auto split = *StratifiedSplit(data, {0.7, 0.15, 0.15}, 1);
    train = data.Take(split.train);
    validation = data.Take(split.validation);
    context.logger = &logger;
    context.pool = &pool;
    context.threads = 2;
  }
};

using testing::Params;

TEST(XgboostTrainerTest, PerRoundRankMetricsAreTheSameScoredHereOrByLibxgboost) {
  // With only auc and aucpr the validation scores are kept by the trainer (the rounds' trees
  // walked over the rows); with logloss too, libxgboost's cache gives them. Every round's
  // values, and so where early stopping ends, are the same.
  XgbFixture f;
  auto train = [&](nlohmann::json metrics) {
    TrainInput input{&f.train, &f.validation,
                     Params({{"num_round", 120},
                             {"early_stopping_rounds", 8},
                             {"eta", 0.3},
                             {"max_depth", 5},
                             {"eval_metric", std::move(metrics)}})};
    return XgboostTrainer().Train(input, f.context);
  };
  auto walked = train(nlohmann::json::array({"auc", "aucpr"}));
  auto library = train(nlohmann::json::array({"logloss", "auc", "aucpr"}));
  ASSERT_TRUE(walked.ok()) << walked.status().ToString();
  ASSERT_TRUE(library.ok()) << library.status().ToString();
  ASSERT_EQ((*walked)->rounds_trained, (*library)->rounds_trained);
  EXPECT_EQ((*walked)->best_round, (*library)->best_round);
  for (int round = 0; round < (*walked)->rounds_trained; ++round) {
    const auto& ours = (*walked)->history[static_cast<size_t>(round)].validation;
    const auto& theirs = (*library)->history[static_cast<size_t>(round)].validation;
    EXPECT_EQ(ours.at("auc"), theirs.at("auc")) << "round " << round;
    EXPECT_EQ(ours.at("aucpr"), theirs.at("aucpr")) << "round " << round;
  }
}

TEST(XgboostTrainerTest, TrainsRecordsRoundsAndStopsEarly) {
  XgbFixture f;
  TrainInput input{&f.train, &f.validation,
                   Params({{"num_round", 200},
                           {"early_stopping_rounds", 5},
                           {"eta", 0.3},
                           {"eval_metric", nlohmann::json::array({"logloss", "aucpr"})},
                           {"train_metrics_every", 1}})};
  auto model = XgboostTrainer().Train(input, f.context);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const TrainedModel& m = **model;
  EXPECT_LT(m.rounds_trained, 200);  // stopped early
  EXPECT_EQ(m.rounds_trained, static_cast<int>(m.history.size()));
  EXPECT_EQ(m.rounds_trained - 1 - m.best_round, 5);
  EXPECT_EQ(m.early_stopping_metric, "validation-aucpr");
  EXPECT_TRUE(m.history[0].train.count("logloss"));
  EXPECT_TRUE(m.history[0].validation.count("aucpr"));
  // scale_pos_weight from the class balance.
  EXPECT_NEAR(m.parameters["scale_pos_weight"].get<double>(), 99.0, 2.0);

  auto scores = m.PredictProbability(f.validation, f.context);
  ASSERT_TRUE(scores.ok());
  EXPECT_GT(ComputeMetrics(*scores, f.validation.label, 0.5).roc_auc, 0.9);

  auto json = m.Serialize();
  ASSERT_TRUE(json.ok());
  auto parsed = nlohmann::json::parse(*json);
  // The saved model keeps the trees up to the best round only.
  EXPECT_EQ(parsed["learner"]["gradient_booster"]["model"]["trees"].size(),
            static_cast<size_t>(m.best_round + 1));
  // The saved model names its features.
  EXPECT_EQ(parsed["learner"]["feature_names"][14], "V14");
  // Regression: importance was all zero when the booster had no feature names.
  auto importance = m.FeatureImportance();
  ASSERT_TRUE(importance.ok());
  ASSERT_EQ(importance->size(), 30u);
  EXPECT_EQ((*importance)[14].first, "V14");
  double total = 0, v14 = 0, largest = 0;
  for (const auto& [name, gain] : *importance) {
    total += gain;
    largest = std::max(largest, gain);
    if (name == "V14") v14 = gain;
  }
  EXPECT_GT(total, 0.0);
  EXPECT_GT(v14, 0.0);  // the most telling component in the synthetic frauds
}

TEST(XgboostTrainerTest, TrainMetricsEveryNRounds) {
  XgbFixture f;
  TrainInput input{&f.train, &f.validation,
                   Params({{"num_round", 12}, {"train_metrics_every", 5}, {"eval_metric", "auc"}})};
  auto model = XgboostTrainer().Train(input, f.context);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const auto& history = (*model)->history;
  ASSERT_EQ(history.size(), 12u);
  EXPECT_TRUE(history[4].train.count("auc"));
  EXPECT_FALSE(history[5].train.count("auc"));
  EXPECT_TRUE(history[11].train.count("auc"));  // the last round always
  for (const auto& round : history) EXPECT_TRUE(round.validation.count("auc"));
}

TEST(XgboostTrainerTest, UnknownAndOutOfRangeParametersAreClearErrors) {
  XgbFixture f;
  HyperParameters params = Params({{"num_round", 5}});
  params["max_dept"] = {6, "environment variable XGBOOST_MAX_DEPT"};
  auto unknown = XgboostTrainer().Train({&f.train, &f.validation, params}, f.context);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find(
                "environment variable XGBOOST_MAX_DEPT: xgboost parameter 'max_dept' is unknown "
                "(did you mean 'max_depth'?)"),
            std::string::npos)
      << unknown.status().message();

  auto range = XgboostTrainer().Train({&f.train, &f.validation, Params({{"eta", 2}})}, f.context);
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.status().message().find("'eta' = 2 is out of range; accepted: 0 to 1"),
            std::string::npos)
      << range.status().message();

  auto kind =
      XgboostTrainer().Train({&f.train, &f.validation, Params({{"max_depth", "deep"}})}, f.context);
  ASSERT_FALSE(kind.ok());
  EXPECT_NE(kind.status().message().find("must be an integer"), std::string::npos);

  auto alias = XgboostTrainer().Train(
      {&f.train, &f.validation, Params({{"eta", 0.1}, {"learning_rate", 0.2}})}, f.context);
  ASSERT_FALSE(alias.ok());
  EXPECT_NE(alias.status().message().find("give only one of them"), std::string::npos);
}

TEST(TrainerRegistryTest, ListsNamesAndSuggestsTheClosest) {
  TrainerRegistry registry;
  RegisterBuiltinTrainers(registry);
  EXPECT_EQ(registry.Names(), (std::vector<std::string>{"lgbm", "xgboost"}));
  auto unknown = registry.Find("xgbost");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("did you mean 'xgboost'"), std::string::npos);
}

TEST(TrainerRegistryTest, RowWeightsWeighEachRowsGradientInBothTrainers) {
  // Labels independent of the features (every 50th row is fraud): a model can only learn the
  // base rate, which weighing every fraud row 4 times raises from 2 % to 4/53 ≈ 7.5 %.
  XgbFixture f;
  for (Dataset* part : {&f.train, &f.validation}) {
    for (size_t r = 0; r < part->rows(); ++r) part->label[r] = r % 50 == 0 ? 1.0f : 0.0f;
  }
  TrainerRegistry registry;
  RegisterBuiltinTrainers(registry);
  for (const std::string& name : registry.Names()) {
    SCOPED_TRACE(name);
    const Trainer* trainer = *registry.Find(name);
    TrainInput input{&f.train, &f.validation,
                     Params({{"num_round", 60},
                             {"scale_pos_weight", 1.0},
                             {"max_depth", 2},
                             {"eta", 0.3},
                             {"seed", 7}})};
    auto scores = [&](std::span<const float> weights) {
      input.weights = weights;
      auto model = trainer->Train(input, f.context);
      EXPECT_TRUE(model.ok()) << model.status().ToString();
      if (!model.ok()) return std::vector<float>();
      return *(*model)->PredictProbability(f.validation, f.context);
    };
    auto mean = [](const std::vector<float>& values) {
      double sum = 0;
      for (float v : values) sum += v;
      return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
    };
    const std::vector<float> plain = scores({});
    const std::vector<float> ones(f.train.rows(), 1.0f);
    EXPECT_EQ(scores(ones), plain) << "weights of 1 change nothing";
    std::vector<float> heavier(f.train.rows());
    for (size_t r = 0; r < heavier.size(); ++r) heavier[r] = f.train.label[r] > 0.5f ? 4.0f : 1.0f;
    EXPECT_NEAR(mean(plain), 0.02, 0.006);
    EXPECT_NEAR(mean(scores(heavier)), 4.0 / 53, 0.015);
    std::vector<float> short_weights(3, 1.0f);
    input.weights = short_weights;
    EXPECT_FALSE(trainer->Train(input, f.context).ok()) << "one weight per row";
  }
}

TEST(XgboostTrainerTest, ACacheKeepsTheMatricesAndChangesNoModel) {
  // Tuning trains many models on the same rows through one cache: each must be the model
  // trained without it.
  XgbFixture f;
  XgboostTrainer trainer;
  std::unique_ptr<TrainCache> cache = trainer.MakeCache();
  ASSERT_NE(cache, nullptr);
  for (double eta : {0.3, 0.1}) {
    TrainInput input{&f.train, &f.validation,
                     Params({{"num_round", 20}, {"eta", eta}, {"max_depth", 3}, {"seed", 5}})};
    auto plain = trainer.Train(input, f.context);
    input.cache = cache.get();
    auto cached = trainer.Train(input, f.context);
    ASSERT_TRUE(plain.ok() && cached.ok());
    EXPECT_EQ(*(*cached)->Serialize(), *(*plain)->Serialize()) << eta;
  }
  // With row weights (tuning's sample of the negatives) the same holds.
  std::vector<float> weights(f.train.rows());
  for (size_t r = 0; r < weights.size(); ++r) weights[r] = f.train.label[r] > 0.5f ? 1.0f : 3.0f;
  TrainInput input{&f.train, &f.validation,
                   Params({{"num_round", 20}, {"max_depth", 3}, {"seed", 5}})};
  input.weights = weights;
  auto plain = trainer.Train(input, f.context);
  input.cache = cache.get();
  auto cached = trainer.Train(input, f.context);
  ASSERT_TRUE(plain.ok() && cached.ok());
  EXPECT_EQ(*(*cached)->Serialize(), *(*plain)->Serialize());
  auto* matrices = dynamic_cast<XgbTrainCache*>(cache.get());
  ASSERT_NE(matrices, nullptr);
  // One matrix per dataset and weights, built once.
  EXPECT_EQ(*matrices->Matrix(f.train, {}, 2), *matrices->Matrix(f.train, {}, 2));
  EXPECT_EQ(*matrices->Matrix(f.train, weights, 2), *matrices->Matrix(f.train, weights, 2));
  EXPECT_NE(*matrices->Matrix(f.train, weights, 2), *matrices->Matrix(f.train, {}, 2));
}

TEST(XgboostTrainerTest, ThreadsLentBetweenRoundsChangeNoModel) {
  // The tuner lends a running trial idle cores (round_threads): the model is the one trained
  // with its first threads throughout, and with the most throughout.
  XgbFixture f;
  XgboostTrainer trainer;
  const HyperParameters params = Params({{"num_round", 30},
                                         {"eta", 0.2},
                                         {"max_depth", 5},
                                         {"subsample", 0.8},
                                         {"colsample_bytree", 0.7},
                                         {"seed", 5}});
  std::vector<std::vector<float>> scores;
  int asked = 0;
  for (int threads : {1, 3, 0}) {  // 0: one thread, three from round 10 on
    TrainInput input{&f.train, &f.validation, params};
    Context context = f.context;
    context.threads = threads == 0 ? 1 : threads;
    if (threads == 0) {
      input.round_threads = [&] { return ++asked >= 10 ? 3 : 1; };
    }
    auto model = trainer.Train(input, context);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    auto predicted = (*model)->PredictProbability(f.validation, context);
    ASSERT_TRUE(predicted.ok());
    scores.push_back(std::move(*predicted));
  }
  EXPECT_EQ(asked, 29);  // before every round but the first
  EXPECT_EQ(scores[1], scores[0]);
  EXPECT_EQ(scores[2], scores[0]);
}

TEST(XgboostTrainerTest, ScalePosWeightCountsRowWeights) {
  // Negatives weighing 3 each stand for three times as many: scale_pos_weight triples.
  XgbFixture f;
  XgboostTrainer trainer;
  TrainInput input{&f.train, &f.validation, Params({{"num_round", 2}, {"max_depth", 2}})};
  auto plain = trainer.Train(input, f.context);
  std::vector<float> weights(f.train.rows());
  for (size_t r = 0; r < weights.size(); ++r) weights[r] = f.train.label[r] > 0.5f ? 1.0f : 3.0f;
  input.weights = weights;
  auto weighted = trainer.Train(input, f.context);
  ASSERT_TRUE(plain.ok() && weighted.ok());
  const double negatives = static_cast<double>(f.train.rows() - f.train.CountPositives());
  EXPECT_DOUBLE_EQ((*plain)->parameters["scale_pos_weight"].get<double>(),
                   negatives / static_cast<double>(f.train.CountPositives()));
  EXPECT_NEAR((*weighted)->parameters["scale_pos_weight"].get<double>(),
              3 * negatives / static_cast<double>(f.train.CountPositives()), 1e-9);
}

}  // namespace
}  // namespace fraudops
