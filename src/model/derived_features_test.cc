#include "model/derived_features.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fraudops {
namespace {

const std::vector<std::string> kColumns = {"Time", "Amount", "merchant", "log_amount",
                                           "hour", "night",  "ratio"};
const std::vector<bool> kCategorical = {false, false, true};

TEST(DerivedFeaturesTest, ParsesNameEqualsExpression) {
  auto parsed = ParseDerivedFeature(" log_amount =  log(Amount + 1) ", "d[0]");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->name, "log_amount");
  EXPECT_EQ(parsed->expression, "log(Amount + 1)");
  for (const char* bad : {"log(Amount)", "= log(Amount)", "x =", "2x = Amount", "a b = Amount"}) {
    auto refused = ParseDerivedFeature(bad, "d[0]");
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().message().rfind("d[0]: \"", 0), 0u) << refused.status().message();
  }
}

TEST(DerivedFeaturesTest, ComputesEachInOrderRoundedToFloat32AndMissingAsNaN) {
  auto deriver = FeatureDeriver::Create(kColumns, kCategorical,
                                        {{"log_amount", "log(Amount + 1)"},
                                         {"hour", "hour(Time)"},
                                         {"night", "hour < 6 or hour >= 22"},
                                         {"ratio", "Amount / (log_amount - 1)"}},
                                        true, "test");
  ASSERT_TRUE(deriver.ok()) << deriver.status().ToString();
  EXPECT_EQ(deriver->inputs(), 3u);
  std::vector<double> row = {90061, 149.62, 1, 0, 0, 0, 0};  // 1 day, 1 h, 1 min, 1 s
  deriver->Derive(row.data());
  EXPECT_EQ(row[3], static_cast<double>(static_cast<float>(std::log(150.62))));
  EXPECT_EQ(row[4], 1);
  EXPECT_EQ(row[5], 1);  // true is 1
  EXPECT_EQ(row[6], static_cast<double>(static_cast<float>(149.62 / (row[3] - 1))));
  // A missing input, and a result that is missing (log of a non-positive, x / 0), are NaN.
  row = {std::nan(""), -1, 0, 0, 0, 0, 0};
  deriver->Derive(row.data());
  EXPECT_TRUE(std::isnan(row[3]));
  EXPECT_TRUE(std::isnan(row[4]));
  EXPECT_EQ(row[5], 0);  // a comparison with a missing value is false, as in policies
}

TEST(DerivedFeaturesTest, RefusesWhatCannotBeComputedTheSameEverywhere) {
  struct Case {
    std::vector<DerivedFeature> derived;
    const char* error;
  };
  const Case cases[] = {
      {{{"log_amount", "log(Amont + 1)"}},
       "test: derived feature 'log_amount' reads 'Amont', which is not a feature"},
      {{{"log_amount", "hour"}, {"hour", "hour(Time)"}},
       "test: derived feature 'log_amount' reads 'hour', which is derived after it"},
      {{{"log_amount", "merchant * 2"}},
       "test: derived feature 'log_amount' reads 'merchant', a categorical feature"},
      {{{"log_amount", "log(Amount +"}}, "test: derived feature 'log_amount':1:13: expected"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> columns = {"Time", "Amount", "merchant"};
    for (const DerivedFeature& d : c.derived) columns.push_back(d.name);
    auto refused = FeatureDeriver::Create(columns, kCategorical, c.derived, true, "test");
    ASSERT_FALSE(refused.ok()) << c.error;
    EXPECT_EQ(refused.status().message().rfind(c.error, 0), 0u) << refused.status().message();
  }
}

TEST(DerivedFeaturesTest, TimeFunctionsReadEpochSecondsAndIsoTimestamps) {
  auto parsed = PolicyExpression::Parse("hour(t) * 10 + weekday(t)", "e");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto at = [&](PolicyValue t) {
    PolicyValue values[] = {t};
    return parsed->Evaluate(values);
  };
  // 2026-12-02T05:16:43Z, a Wednesday (2).
  EXPECT_EQ(at(PolicyValue::Number(1796188603)).number, 52);
  EXPECT_EQ(at(PolicyValue::String("2026-12-02T05:16:43Z")).number, 52);
  EXPECT_EQ(at(PolicyValue::String("2026-12-06 23:00:00")).number, 236);  // a Sunday
  EXPECT_EQ(at(PolicyValue::Number(-1)).number, 232);  // 1969-12-31T23:59:59, a Wednesday
  EXPECT_EQ(at(PolicyValue::String("yesterday")).kind, PolicyValue::Kind::kMissing);
  EXPECT_EQ(at(PolicyValue()).kind, PolicyValue::Kind::kMissing);
  auto other = PolicyExpression::Parse("min(a, b) + max(a, b) + floor(a) + sqrt(b)", "e");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  PolicyValue values[] = {PolicyValue::Number(2.5), PolicyValue::Number(16)};
  EXPECT_EQ(other->Evaluate(values).number, 2.5 + 16 + 2 + 4);
  values[1] = PolicyValue::Number(-1);  // sqrt of a negative is missing
  EXPECT_EQ(other->Evaluate(values).kind, PolicyValue::Kind::kMissing);
  EXPECT_FALSE(PolicyExpression::Parse("a +", "e").ok());
  EXPECT_FALSE(PolicyExpression::Parse("a b", "e").ok());
}

}  // namespace
}  // namespace fraudops
