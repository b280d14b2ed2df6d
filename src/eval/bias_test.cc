#include "eval/bias.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "../../tests/test_util.h"

namespace fraudops {
namespace {

/// Rows as the metrics take them.
struct Rows {
  std::vector<int8_t> facet;
  std::vector<uint8_t> label, predicted;
  std::vector<int32_t> group;
  std::vector<std::vector<float>> features;
  void Add(int f, int y, int p, int times = 1, int g = 0) {
    for (int i = 0; i < times; ++i) {
      facet.push_back(static_cast<int8_t>(f));
      label.push_back(static_cast<uint8_t>(y));
      predicted.push_back(static_cast<uint8_t>(p));
      group.push_back(g);
    }
  }
  BiasInput Input(bool grouped = true) const {
    BiasInput in;
    in.facet = facet;
    in.label = label;
    in.predicted = predicted;
    if (grouped) in.group = group;
    for (const std::vector<float>& column : features) in.features.push_back(column);
    return in;
  }
};

std::map<std::string, BiasMetric> ByName(const BiasReport& report) {
  std::map<std::string, BiasMetric> out;
  for (const auto* list : {&report.pre_training, &report.post_training}) {
    for (const BiasMetric& m : *list) out[m.name] = m;
  }
  return out;
}

double ValueOf(const std::map<std::string, BiasMetric>& metrics, const std::string& name) {
  const auto it = metrics.find(name);
  if (it == metrics.end() || !it->second.value) {
    ADD_FAILURE() << name << " has no value"
                  << (it == metrics.end() ? "" : ": " + it->second.error);
    return std::nan("");
  }
  return *it->second.value;
}

TEST(BiasTest, AHandWorkedTableGivesEachMetricsDefinition) {
  // The rest (a): 10 rows, 4 positive labels, 5 predicted positive (TP 3, FN 1, FP 2, TN 4).
  // The facet (d): 5 rows, 1 positive label, 1 predicted positive (TP 1, TN 4).
  Rows rows;
  rows.Add(0, 1, 1, 3);
  rows.Add(0, 1, 0, 1);
  rows.Add(0, 0, 1, 2);
  rows.Add(0, 0, 0, 4);
  rows.Add(1, 1, 1, 1);
  rows.Add(1, 0, 0, 4);
  const BiasReport report = ComputeBias(rows.Input(), {.bootstrap = 0});
  const auto m = ByName(report);
  EXPECT_EQ(report.a.rows, 10);
  EXPECT_EQ(report.d.rows, 5);
  EXPECT_EQ(report.a.label_positives, 4);
  EXPECT_EQ(report.d.predicted_positives, 1);
  const double e = 1e-12;
  EXPECT_NEAR(ValueOf(m, "CI"), (10.0 - 5) / 15, e);
  EXPECT_NEAR(ValueOf(m, "DPL"), 0.4 - 0.2, e);
  // Label distributions: a (0.6, 0.4), d (0.8, 0.2).
  EXPECT_NEAR(ValueOf(m, "KL"), 0.6 * std::log(0.6 / 0.8) + 0.4 * std::log(0.4 / 0.2), e);
  EXPECT_NEAR(ValueOf(m, "JS"),
              0.5 * (0.6 * std::log(0.6 / 0.7) + 0.4 * std::log(0.4 / 0.3) +
                     0.8 * std::log(0.8 / 0.7) + 0.2 * std::log(0.2 / 0.3)),
              e);
  EXPECT_NEAR(ValueOf(m, "LP"), std::sqrt(0.2 * 0.2 * 2), e);
  EXPECT_NEAR(ValueOf(m, "TVD"), 0.2, e);
  EXPECT_NEAR(ValueOf(m, "KS"), 0.2, e);
  // One group: d's share of the negative labels (4 of 10) minus of the positive (1 of 5).
  EXPECT_NEAR(ValueOf(m, "CDDL"), 0.4 - 0.2, e);
  EXPECT_NEAR(ValueOf(m, "DPPL"), 0.5 - 0.2, e);
  EXPECT_NEAR(ValueOf(m, "DI"), 0.2 / 0.5, e);
  EXPECT_NEAR(ValueOf(m, "DCA"), 4.0 / 5 - 1.0 / 1, e);  // labels / predictions, positive
  EXPECT_NEAR(ValueOf(m, "DCR"), 4.0 / 4 - 6.0 / 5, e);  // the same, negative; d − a
  EXPECT_NEAR(ValueOf(m, "RD"), 3.0 / 4 - 1.0 / 1, e);
  EXPECT_NEAR(ValueOf(m, "SD"), 4.0 / 4 - 4.0 / 6, e);
  EXPECT_NEAR(ValueOf(m, "DAR"), 3.0 / 5 - 1.0 / 1, e);
  EXPECT_NEAR(ValueOf(m, "DRR"), 4.0 / 4 - 4.0 / 5, e);
  EXPECT_NEAR(ValueOf(m, "AD"), 7.0 / 10 - 5.0 / 5, e);
  EXPECT_NEAR(ValueOf(m, "TE"), 0 - 1.0 / 2, e);  // d: FN/FP = 0/0, which is 0
  // d's predicted positives: 1 of 5; d's share of predicted negatives 4 of 9, positives 1 of 6.
  EXPECT_NEAR(ValueOf(m, "CDDPL"), 4.0 / 9 - 1.0 / 6, e);
  // Benefits ŷ − y + 1: one 0, twelve 1, two 2; mean 16/15.
  const double mean = 16.0 / 15;
  EXPECT_NEAR(ValueOf(m, "GE"),
              (-1 + 12 * (1 / (mean * mean) - 1) + 2 * (4 / (mean * mean) - 1)) / (15 * 2), e);
  EXPECT_FALSE(m.at("FT").value);  // no features given
  EXPECT_EQ(m.at("FT").error, "needs the rows' features");
  // Too few rows to conclude: said, for each group.
  ASSERT_EQ(report.warnings.size(), 2u);
  EXPECT_NE(report.warnings[0].find("the facet (d) has 5 rows, fewer than 30"), std::string::npos);
}

TEST(BiasTest, DivisionsByZeroAndEmptyGroupsAreReportedAsClarifyDoes) {
  Rows rows;
  rows.Add(0, 1, 0, 4);  // a: nothing predicted positive
  rows.Add(0, 0, 0, 6);
  rows.Add(1, 1, 1, 2);
  rows.Add(1, 0, 0, 2);
  rows.Add(-1, 1, 1, 3);  // left out (the facet's value missing)
  const BiasReport report = ComputeBias(rows.Input(false), {.bootstrap = 0});
  EXPECT_EQ(report.left_out, 3);
  const auto m = ByName(report);
  EXPECT_TRUE(std::isinf(ValueOf(m, "DI")));  // 0.5 / 0
  EXPECT_GT(ValueOf(m, "DI"), 0);
  EXPECT_EQ(BiasMetricJson(m.at("DI"))["value"], "inf");
  EXPECT_EQ(m.at("CDDL").error, "needs a group variable");
  EXPECT_EQ(BiasMetricJson(m.at("CDDL"))["value"], nullptr);

  Rows only_a;
  only_a.Add(0, 1, 1, 3);
  only_a.Add(0, 0, 0, 3);
  const auto empty = ByName(ComputeBias(only_a.Input(), {.bootstrap = 0}));
  EXPECT_EQ(empty.at("CI").error, "the facet (d) has no rows");
  EXPECT_EQ(empty.at("DPPL").error, "the facet (d) has no rows");
  EXPECT_TRUE(empty.at("GE").value);  // of all rows, whatever the facet

  Rows disjoint;  // a all positive, d all negative: no label value in common
  disjoint.Add(0, 1, 1, 3);
  disjoint.Add(1, 0, 0, 3);
  const auto none = ByName(ComputeBias(disjoint.Input(), {.bootstrap = 0}));
  EXPECT_EQ(none.at("KL").error, "the two groups hold no label value in common");
  EXPECT_TRUE(none.at("CI").value);
}

/// Generated rows with an injected bias: the facet d has twice the fraud rate, and the model
/// flags d rows more readily (a shifted score).
Rows Biased(size_t n, uint64_t seed) {
  Rows rows;
  rows.features.assign(2, {});
  uint64_t state = seed;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  for (size_t r = 0; r < n; ++r) {
    const int f = next() < 0.3;
    const int g = static_cast<int>(next() * 3);
    const int y = next() < (f ? 0.2 : 0.1);
    // Features on a grid of 1/1024: exact in float and in the reference's doubles.
    const float x1 = static_cast<float>(std::floor((next() + y * 0.8) * 1024) / 1024);
    const float x2 = static_cast<float>(std::floor((next() + f * 0.5) * 1024) / 1024);
    const double score = 0.6 * y + 0.3 * next() + (f ? 0.15 : 0.0);
    rows.Add(f, y, score > 0.5, 1, g);
    rows.features[0].push_back(x1);
    rows.features[1].push_back(x2);
  }
  return rows;
}

TEST(BiasTest, EveryMetricEqualsAnIndependentNumpyReference) {
  const Rows rows = Biased(3000, 7);
  testing::TempDir dir;
  const std::string csv = dir.File("rows.csv");
  {
    std::ofstream out(csv);
    out << "facet,label,predicted,group,x1,x2\n";
    char line[128];
    for (size_t r = 0; r < rows.facet.size(); ++r) {
      std::snprintf(line, sizeof line, "%d,%d,%d,%d,%.10f,%.10f\n", rows.facet[r], rows.label[r],
                    rows.predicted[r], rows.group[r], rows.features[0][r], rows.features[1][r]);
      out << line;
    }
  }
  const std::string command =
      "/usr/bin/python3 " + std::string(FRAUDOPS_SOURCE_DIR) + "/tests/bias_reference.py " + csv;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  for (size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    output.append(buffer, got);
  ASSERT_EQ(::pclose(pipe), 0) << output;
  const nlohmann::json reference = nlohmann::json::parse(output);

  const BiasReport report = ComputeBias(rows.Input(), {.bootstrap = 0});
  const auto metrics = ByName(report);
  ASSERT_EQ(metrics.size(), reference.size());
  for (const auto& [name, expected] : reference.items()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(metrics.count(name));
    EXPECT_NEAR(ValueOf(metrics, name), expected.get<double>(), 1e-12);
  }
  // The injected bias shows: d is flagged more (DPPL < 0, DI > 1) and has more fraud.
  EXPECT_LT(ValueOf(metrics, "DPL"), -0.05);
  EXPECT_GT(ValueOf(metrics, "DI"), 1.2);
  EXPECT_GT(ValueOf(metrics, "FT"), 0.0);  // the model flags d rows a's neighbours were not
}

TEST(BiasTest, BootstrapIntervalsAreDeterministicAndHoldTheValue) {
  const Rows rows = Biased(4000, 11);
  const BiasOptions options{.bootstrap = 400, .seed = 5};
  const BiasReport first = ComputeBias(rows.Input(), options);
  const BiasReport second = ComputeBias(rows.Input(), options);
  const auto m = ByName(first), again = ByName(second);
  for (const auto& [name, metric] : m) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(metric.value) << metric.error;
    ASSERT_TRUE(metric.interval);
    EXPECT_EQ(metric.interval, again.at(name).interval);
    EXPECT_LE(metric.interval->first, *metric.value + 1e-12);
    EXPECT_GE(metric.interval->second, *metric.value - 1e-12);
  }
  // More rows, a narrower interval: CI's width shrinks about as 1/sqrt(n).
  const auto wide = ByName(ComputeBias(Biased(1000, 11).Input(), options)).at("CI").interval;
  const auto narrow = m.at("CI").interval;
  EXPECT_GT(wide->second - wide->first, 1.5 * (narrow->second - narrow->first));
  // A different seed, different resamples.
  const BiasReport other = ComputeBias(rows.Input(), {.bootstrap = 400, .seed = 6});
  EXPECT_NE(ByName(other).at("DPPL").interval, m.at("DPPL").interval);
  EXPECT_EQ(BiasMetricJson(m.at("CI"))["interval"].size(), 2u);
}

TEST(BiasTest, TheFlipTestRunsOnAnEvenSampleOfEachGroup) {
  const Rows rows = Biased(3000, 3);
  const BiasReport report = ComputeBias(rows.Input(), {.bootstrap = 0, .flip_test_rows = 400});
  EXPECT_EQ(report.flip_test_rows_a, 400);
  EXPECT_EQ(report.flip_test_rows_d, 400);
  bool said = false;
  for (const std::string& w : report.warnings)
    said = said || w.find("FT compares 400 rows of d with 400 rows of a") != std::string::npos;
  EXPECT_TRUE(said);
  EXPECT_TRUE(ByName(report).at("FT").value);
}

}  // namespace
}  // namespace fraudops
