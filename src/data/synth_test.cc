#include "data/synth.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "../../tests/test_util.h"
#include "core/thread_pool.h"
#include "data/csv_reader.h"

namespace fraudops {
namespace {

TEST(SynthTest, HasTheReferenceSchemaAndIsDeterministicForAnyThreadCount) {
  SynthOptions options;
  options.rows = 20000;
  options.seed = 7;
  ThreadPool one(1), three(3);
  auto a = GenerateTransactions(options, &one);
  auto b = GenerateTransactions(options, &three);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->ContentHash(), b->ContentHash());
  ASSERT_EQ(a->num_features(), 30u);
  EXPECT_EQ(a->features.front().name, "Time");
  EXPECT_EQ(a->features[14].name, "V14");
  EXPECT_EQ(a->features.back().name, "Amount");
  EXPECT_EQ(a->CountPositives(), 35u);  // round(20000 * 0.001727)
  options.seed = 8;
  EXPECT_NE(GenerateTransactions(options, &one)->ContentHash(), a->ContentHash());
}

TEST(SynthTest, FollowsThePublishedShape) {
  ThreadPool pool(2);
  SynthOptions options;
  options.rows = 200000;
  auto d = GenerateTransactions(options, &pool);
  ASSERT_TRUE(d.ok());
  auto stats = [&](size_t column, double* mean, double* std) {
    double sum = 0, squares = 0;
    for (float v : d->columns[column]) {
      sum += v;
      squares += static_cast<double>(v) * v;
    }
    double n = static_cast<double>(d->rows());
    *mean = sum / n;
    *std = std::sqrt(squares / n - *mean * *mean);
  };
  double mean, std;
  stats(1, &mean, &std);  // V1: published std 1.9587
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(std, 1.96, 0.2);
  stats(28, &mean, &std);  // V28: published std 0.330
  EXPECT_NEAR(std, 0.33, 0.05);
  float time_min = 1e9f, time_max = 0, amount_min = 1e9f;
  for (float t : d->columns[0]) time_min = std::min(time_min, t), time_max = std::max(time_max, t);
  for (float a : d->columns[29]) amount_min = std::min(amount_min, a);
  EXPECT_GE(time_min, 0.0f);
  EXPECT_LT(time_max, 172800.0f);
  EXPECT_GE(amount_min, 0.0f);
  // Sorted by time, like the reference file.
  EXPECT_TRUE(std::is_sorted(d->columns[0].begin(), d->columns[0].end()));
  // Frauds sit far out in V14, as in the real data.
  double fraud_v14 = 0, normal_v14 = 0;
  size_t frauds = 0;
  for (size_t r = 0; r < d->rows(); ++r) {
    if (d->label[r] > 0.5f)
      fraud_v14 += d->columns[14][r], ++frauds;
    else
      normal_v14 += d->columns[14][r];
  }
  EXPECT_LT(fraud_v14 / static_cast<double>(frauds), -3.0);
  EXPECT_NEAR(normal_v14 / static_cast<double>(d->rows() - frauds), 0.0, 0.05);
}

TEST(SynthTest, CsvHasTheReferenceTextFormAndReadsBackToTheSameData) {
  testing::TempDir dir;
  SynthOptions options;
  options.rows = 5000;
  ThreadPool pool(2);
  ASSERT_TRUE(WriteSyntheticCsv(options, dir.File("t.csv"), &pool).ok());
  std::string text = testing::ReadText(dir.File("t.csv"));
  EXPECT_EQ(text.substr(0, 20), "\"Time\",\"V1\",\"V2\",\"V3");
  EXPECT_NE(text.find("\"Amount\",\"Class\"\n"), std::string::npos);
  EXPECT_NE(text.find(",\"0\"\n"), std::string::npos);
  EXPECT_EQ(text.find("\r"), std::string::npos);

  auto read = ReadCsvFile(dir.File("t.csv"), {}, &pool);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  auto generated = GenerateTransactions(options, &pool);
  EXPECT_EQ(read->ContentHash(), generated->ContentHash());
}

}  // namespace
}  // namespace fraudops

namespace fraudops {
namespace {

TEST(SynthTest, CardsAddACardColumnWithFraudBurstsAndLeaveTheDefaultAlone) {
  ThreadPool pool(2);
  SynthOptions options;
  options.rows = 50000;
  options.fraud_rate = 0.01;
  auto plain = GenerateTransactions(options, &pool);
  options.cards = 2000;
  auto carded = GenerateTransactions(options, &pool);
  ASSERT_TRUE(plain.ok() && carded.ok());
  ASSERT_EQ(carded->num_features(), plain->num_features() + 1);
  EXPECT_EQ(carded->features.back().name, "card_id");
  for (size_t c = 0; c < plain->num_features(); ++c)
    EXPECT_EQ(carded->columns[c], plain->columns[c]) << c;  // the same transactions
  // Frauds share cards in bursts: far fewer distinct cards than frauds.
  std::set<float> fraud_cards;
  size_t frauds = 0;
  for (size_t r = 0; r < carded->rows(); ++r) {
    if (carded->label[r] == 1) {
      ++frauds;
      fraud_cards.insert(carded->columns.back()[r]);
    }
  }
  EXPECT_LT(fraud_cards.size() * 2, frauds);
  // The CSV reads back to the same dataset.
  testing::TempDir dir;
  ASSERT_TRUE(WriteSyntheticCsv(options, dir.File("cards.csv"), &pool).ok());
  auto read = ReadCsvFile(dir.File("cards.csv"), {}, &pool);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->ContentHash(), carded->ContentHash());
}

}  // namespace
}  // namespace fraudops
