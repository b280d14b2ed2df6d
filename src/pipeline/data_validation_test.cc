// Data validation on generated data: each defect planted in the synthetic transactions is found
// and named, and the clean data raises nothing but the time column's exclusion.
#include "pipeline/data_validation.h"

#include <gtest/gtest.h>

#include <cmath>

#include "data/synth.h"

namespace fraudops {
namespace {

Dataset Transactions(size_t rows = 5000) {
  SynthOptions options;
  options.rows = rows;
  options.seed = 7;
  options.fraud_rate = 0.02;
  auto data = GenerateTransactions(options, nullptr);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  return std::move(*data);
}

void AddColumn(Dataset& data, const std::string& name, std::vector<float> values,
               ColumnType type = ColumnType::kNumeric, std::vector<std::string> categories = {}) {
  data.features.push_back({name, type, std::move(categories), ""});
  data.columns.push_back(std::move(values));
}

DataValidationOptions Defaults() {
  DataValidationOptions options;
  options.time_column = "Time";
  return options;
}

bool Mentions(const std::vector<std::string>& lines, const std::string& text) {
  for (const std::string& line : lines) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(DataValidationTest, TheCleanSyntheticDataLosesOnlyItsTimeColumnAndRaisesNothingElse) {
  const Dataset data = Transactions();
  DataValidation v = ValidateData(data, Defaults());
  ASSERT_EQ(v.excluded.size(), 1u);
  EXPECT_EQ(v.excluded[0].name, "Time");
  EXPECT_FALSE(v.excluded[0].inferred);  // the configuration's time column: no warning
  EXPECT_TRUE(v.warnings.empty()) << v.ToJson().dump(2);
  EXPECT_TRUE(v.errors.empty()) << v.ToJson().dump(2);
  EXPECT_EQ(v.duplicate_rows, 0u);
  // Listed in preprocess.feature_columns, the time column stays.
  DataValidationOptions keep = Defaults();
  keep.feature_columns = data.FeatureNames();
  EXPECT_TRUE(ValidateData(data, keep).excluded.empty());
}

TEST(DataValidationTest, AnIdColumnACounterALeakedLabelAndAQuestionMarkColumnAreEachNamed) {
  Dataset data = Transactions();
  const size_t rows = data.rows();
  std::vector<float> id(rows), counter(rows), leak(rows), marked(rows);
  std::vector<std::string> categories;  // a number column with "?" for missing, read as text
  for (int v = 0; v < 73; ++v) categories.push_back(std::to_string(v * 10));
  categories.push_back("?");
  for (size_t r = 0; r < rows; ++r) {
    id[r] = static_cast<float>((r * 7919) % rows);                 // unique whole numbers, shuffled
    counter[r] = static_cast<float>(1000 + r / 2);                 // monotonic with the row number
    leak[r] = data.label[r] * 100.0f + static_cast<float>(r % 3);  // the label, thinly disguised
    marked[r] = static_cast<float>(r % 17 == 0 ? 73 : r % 73);
  }
  AddColumn(data, "transaction_id", id);
  AddColumn(data, "sequence", counter);
  AddColumn(data, "chargeback_amount", leak);
  AddColumn(data, "merchant_age", marked, ColumnType::kCategorical, categories);
  DataValidation v = ValidateData(data, Defaults());
  std::vector<std::string> excluded;
  for (const ExcludedColumn& e : v.excluded) excluded.push_back(e.name);
  EXPECT_EQ(excluded, (std::vector<std::string>{"Time", "transaction_id", "sequence"}));
  EXPECT_TRUE(Mentions(v.warnings,
                       "column 'transaction_id' is not used as a feature: unique "
                       "whole numbers per row"));
  EXPECT_TRUE(Mentions(v.warnings, "column 'sequence' is not used as a feature: monotonic"));
  // Guesses are warned about; the configured time column is not.
  EXPECT_FALSE(Mentions(v.warnings, "column 'Time'")) << v.ToJson().dump(2);
  EXPECT_EQ(v.ToJson()["excluded"][1]["inferred"], true);
  EXPECT_EQ(v.ToJson()["excluded"][0]["inferred"], false);
  ASSERT_EQ(v.errors.size(), 1u) << v.ToJson().dump(2);
  EXPECT_TRUE(
      Mentions(v.errors, "column 'chargeback_amount' alone separates the label (ROC AUC 1"));
  EXPECT_TRUE(Mentions(v.warnings, "column 'merchant_age' holds numbers but for '?'"));
  EXPECT_TRUE(Mentions(v.warnings, "preprocess.missing_values: ['?']"));
}

TEST(DataValidationTest, TextIdsConstantsMostlyMissingAndDuplicatesAreReported) {
  Dataset data = Transactions(2000);
  const size_t rows = data.rows();
  std::vector<float> codes(rows), constant(rows, 3.0f), sparse(rows, NAN);
  std::vector<std::string> names;
  for (size_t r = 0; r < rows; ++r) {
    codes[r] = static_cast<float>(r);
    names.push_back("card-" + std::to_string(r * 31 % 100003));
    if (r % 50 == 0) sparse[r] = 1.0f;
  }
  AddColumn(data, "card_token", codes, ColumnType::kCategorical, names);
  AddColumn(data, "currency_version", constant);
  AddColumn(data, "device_score", sparse);
  for (size_t c = 0; c < data.num_features(); ++c) data.columns[c][1] = data.columns[c][0];
  data.label[1] = data.label[0];  // row 1 repeats row 0
  DataValidation v = ValidateData(data, Defaults());
  EXPECT_TRUE(Mentions(v.warnings, "column 'card_token' is not used as a feature: unique per row"));
  EXPECT_TRUE(Mentions(v.warnings, "column 'currency_version' is constant"));
  EXPECT_TRUE(Mentions(v.warnings, "column 'device_score' is mostly missing (98 %"));
  EXPECT_EQ(v.duplicate_rows, 1u);
  EXPECT_TRUE(Mentions(v.warnings, "1 rows (0.05 %) repeat an earlier row exactly"));
  // A column a derived feature reads is kept, with a warning.
  data.features.push_back({"hour", ColumnType::kNumeric, {}, "hour(Time)"});
  data.columns.push_back(std::vector<float>(rows, 1.0f));
  DataValidation derived = ValidateData(data, Defaults());
  for (const ExcludedColumn& e : derived.excluded) EXPECT_NE(e.name, "Time");
  EXPECT_TRUE(Mentions(derived.warnings, "column 'Time' looks like an identifier"));
}

TEST(DataValidationTest, SchemaCategoriesAndLabelRateAreComparedWithThePreviousRun) {
  Dataset before = Transactions(2000);
  AddColumn(before, "channel", std::vector<float>(before.rows(), 0.0f), ColumnType::kCategorical,
            {"web", "pos"});
  nlohmann::json previous = ValidateData(before, Defaults()).ToJson();
  previous["rows"] = 2000;
  previous["positives"] = 40;
  // The same data: nothing to say.
  EXPECT_TRUE(CompareWithPreviousRun(previous, previous, 2.0, "run-1").empty());
  Dataset after = Transactions(2000);
  AddColumn(after, "channel", std::vector<float>(after.rows(), 0.0f), ColumnType::kCategorical,
            {"web", "app"});
  AddColumn(after, "device", std::vector<float>(after.rows(), 1.0f));
  after.features[1].type = ColumnType::kCategorical;  // V1 changed type
  after.features[1].categories = {"a", "b"};
  nlohmann::json current = ValidateData(after, Defaults()).ToJson();
  current["rows"] = 2000;
  current["positives"] = 200;
  const std::vector<std::string> found = CompareWithPreviousRun(current, previous, 2.0, "run-1");
  EXPECT_TRUE(Mentions(found,
                       "column 'V1' is categorical now, numeric since the previous run "
                       "(run-1)"));
  EXPECT_TRUE(Mentions(found,
                       "column 'channel' has categories new since the previous run "
                       "(run-1): 'app'"));
  EXPECT_TRUE(Mentions(found,
                       "column 'channel' lost categories since the previous run (run-1): "
                       "'pos'"));
  EXPECT_TRUE(Mentions(found, "columns new since the previous run (run-1): 'device'"));
  EXPECT_TRUE(Mentions(found, "the label rate is 10 %, 2 % since the previous run"));
}

TEST(DataValidationTest, CategoriesOfValidationAndTestRowsThatTrainingNeverHadAreNamed) {
  auto part = [](std::vector<float> codes) {
    Dataset d;
    d.features.push_back({"merchant", ColumnType::kCategorical, {"shop", "fuel", "travel"}, ""});
    d.columns.push_back(std::move(codes));
    d.label.assign(d.columns[0].size(), 0.0f);
    return d;
  };
  const Dataset train = part({0, 1, 0, 1}), validation = part({0, 2}), test = part({2, 1, NAN});
  const std::vector<std::string> found = CategoriesUnseenInTraining(train, validation, test);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NE(found[0].find("column 'merchant': 2 validation and test rows hold categories no "
                          "training row has ('travel')"),
            std::string::npos)
      << found[0];
  EXPECT_TRUE(CategoriesUnseenInTraining(train, train, train).empty());
}

TEST(DataValidationTest, SingleFeatureAucIsTheMannWhitneyStatisticWithTies) {
  EXPECT_DOUBLE_EQ(SingleFeatureAuc({1, 2, 3, 4}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(SingleFeatureAuc({4, 3, 2, 1}, {0, 0, 1, 1}), 0.0);
  EXPECT_DOUBLE_EQ(SingleFeatureAuc({1, 1, 1, 1}, {0, 1, 0, 1}), 0.5);
  EXPECT_DOUBLE_EQ(SingleFeatureAuc({1, 2, 2, 3}, {0, 0, 1, 1}), 0.875);
  EXPECT_DOUBLE_EQ(SingleFeatureAuc({NAN, 2, 3}, {0, 1, 1}), 1.0);  // missing ranks lowest
  EXPECT_DOUBLE_EQ(SingleFeatureAuc({1, 2}, {1, 1}), 0.5);
}

}  // namespace
}  // namespace fraudops
