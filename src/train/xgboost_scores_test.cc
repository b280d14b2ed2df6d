#include "train/xgboost_scores.h"

#include <gtest/gtest.h>
#include <xgboost/c_api.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "data/split.h"
#include "data/synth.h"
#include "train/xgboost_trainer.h"

namespace fraudops {
namespace {

TEST(XgbValidationScoresTest, TheSigmoidIsLibxgboostsBitForBit) {
  // Margins across the whole range, the exponent's cap (88.7) and tiny ones included.
  std::vector<float> margins = {0.0f,
                                -0.0f,
                                1e-30f,
                                -1e-30f,
                                1e-7f,
                                -1e-7f,
                                0.5f,
                                -0.5f,
                                16.6f,
                                -16.6f,
                                17.0f,
                                -17.5f,
                                40.0f,
                                -40.0f,
                                88.69f,
                                -88.69f,
                                88.7f,
                                -88.7f,
                                88.71f,
                                -88.71f,
                                -103.0f,
                                -200.0f,
                                200.0f,
                                std::numeric_limits<float>::max(),
                                std::numeric_limits<float>::lowest()};
  std::mt19937 random(3);
  std::normal_distribution<float> normal(0, 6);
  for (int i = 0; i < 20000; ++i) margins.push_back(normal(random));
  // A booster without trees scores a matrix by its base margins.
  std::vector<float> features(margins.size(), 0.0f), labels(margins.size(), 0.0f);
  labels[0] = 1;
  DMatrixHandle matrix = nullptr;
  ASSERT_EQ(XGDMatrixCreateFromMat(features.data(), margins.size(), 1, std::nanf(""), &matrix), 0);
  ASSERT_EQ(XGDMatrixSetFloatInfo(matrix, "label", labels.data(), labels.size()), 0);
  ASSERT_EQ(XGDMatrixSetFloatInfo(matrix, "base_margin", margins.data(), margins.size()), 0);
  BoosterHandle booster = nullptr;
  ASSERT_EQ(XGBoosterCreate(&matrix, 1, &booster), 0);
  XGBoosterSetParam(booster, "objective", "binary:logistic");
  XGBoosterSetParam(booster, "verbosity", "0");
  auto scores = CachedPredictions(booster, matrix, false);
  ASSERT_TRUE(scores.ok()) << scores.status().ToString();
  for (size_t i = 0; i < margins.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(LibxgboostSigmoid(margins[i])),
              std::bit_cast<uint32_t>((*scores)[i]))
        << "margin " << margins[i] << ": " << LibxgboostSigmoid(margins[i]) << " against "
        << (*scores)[i];
  }
  XGBoosterFree(booster);
  XGDMatrixFree(matrix);
}

struct Rows {
  Dataset train, validation;
  ThreadPool pool{2};
  explicit Rows(size_t cards = 0) {
    SynthOptions options;
    options.rows = 20000;
    options.fraud_rate = 0.02;
    options.cards = cards;
    Dataset data = std::move(GenerateTransactions(options, &pool)).value();
    // Missing values in every numeric column of both sets (a sixth of the rows, a different
    // sixth per column), so that splits learn default directions, both ways, and use them.
    for (size_t c = 0; c < data.num_features(); ++c) {
      if (data.features[c].type == ColumnType::kCategorical) continue;
      for (size_t r = c % 6; r < data.rows(); r += 6) data.columns[c][r] = std::nanf("");
    }
    auto split = *StratifiedSplit(data, {0.7, 0.15, 0.15}, 1);
    train = data.Take(split.train);
    validation = data.Take(split.validation);
  }
  size_t MissingInValidation() const {
    size_t missing = 0;
    for (const std::vector<float>& column : validation.columns) {
      for (float value : column) missing += std::isnan(value) ? 1 : 0;
    }
    return missing;
  }
};

/// Trains `rounds` rounds with `params` and checks, after every round, that the scores kept by
/// XgbValidationScores equal libxgboost's cached prediction bit for bit. Returns walked().
bool TrainAndCompare(const Rows& rows,
                     const std::vector<std::pair<const char*, const char*>>& params, int rounds,
                     int threads) {
  auto train = XgbMatrix::FromDataset(rows.train, 2);
  auto validation = XgbMatrix::FromDataset(rows.validation, 2);
  EXPECT_TRUE(train.ok() && validation.ok());
  void* matrices[] = {train->handle(), validation->handle()};
  BoosterHandle booster = nullptr;
  EXPECT_EQ(XGBoosterCreate(matrices, 2, &booster), 0);
  for (const auto& [name, value] : params) EXPECT_EQ(XGBoosterSetParam(booster, name, value), 0);
  XgbValidationScores kept(rows.validation);
  ThreadPool pool(threads);
  for (int round = 0; round < rounds; ++round) {
    EXPECT_EQ(XGBoosterUpdateOneIter(booster, round, train->handle()), 0);
    auto scores = kept.After(booster, validation->handle(), round, threads, &pool);
    EXPECT_TRUE(scores.ok()) << scores.status().ToString();
    if (!scores.ok()) break;
    const std::vector<float> ours(scores->begin(), scores->end());
    auto library = CachedPredictions(booster, validation->handle(), false);
    EXPECT_TRUE(library.ok());
    if (!library.ok()) break;
    size_t differing = 0;
    for (size_t r = 0; r < ours.size(); ++r) {
      differing +=
          std::bit_cast<uint32_t>(ours[r]) != std::bit_cast<uint32_t>((*library)[r]) ? 1 : 0;
    }
    EXPECT_EQ(differing, 0u) << "round " << round;
  }
  XGBoosterFree(booster);
  return kept.walked();
}

TEST(XgbValidationScoresTest, WalkedScoresAreLibxgboostsBitForBitEveryRound) {
  Rows rows;
  ASSERT_EQ(rows.validation.rows(), 3000u);
  ASSERT_GT(rows.MissingInValidation(), 9000u);
  // Deep trees, missing values, a base_score of its own, row and column sampling.
  EXPECT_TRUE(TrainAndCompare(rows,
                              {{"objective", "binary:logistic"},
                               {"tree_method", "hist"},
                               {"max_depth", "8"},
                               {"eta", "0.3"},
                               {"base_score", "0.3"},
                               {"subsample", "0.8"},
                               {"colsample_bytree", "0.7"},
                               {"seed", "4"},
                               {"nthread", "1"},
                               {"verbosity", "0"}},
                              40, 1));
  // Two trees a round (a boosted forest), walked by two threads.
  EXPECT_TRUE(TrainAndCompare(rows,
                              {{"objective", "binary:logistic"},
                               {"tree_method", "hist"},
                               {"max_depth", "4"},
                               {"num_parallel_tree", "2"},
                               {"subsample", "0.6"},
                               {"seed", "5"},
                               {"nthread", "2"},
                               {"verbosity", "0"}},
                              15, 2));
}

TEST(XgbValidationScoresTest, ACategoricalFeatureLeavesTheScoresToLibxgboost) {
  Rows rows(/*cards=*/40);
  ASSERT_EQ(rows.validation.features[rows.validation.FeatureIndex("card_id")].type,
            ColumnType::kCategorical);
  EXPECT_FALSE(TrainAndCompare(rows,
                               {{"objective", "binary:logistic"},
                                {"tree_method", "hist"},
                                {"max_depth", "4"},
                                {"nthread", "1"},
                                {"verbosity", "0"}},
                               8, 1));
}

}  // namespace
}  // namespace fraudops
