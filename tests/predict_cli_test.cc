// `fraudops predict` through the real binary: bare LightGBM and XGBoost models, a registered
// version, CSV and JSON Lines, reason codes, pass-through columns, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_util.h"

namespace fraudops::testing {
namespace {

namespace fs = std::filesystem;
const std::string kLightgbm = std::string(FRAUDOPS_SOURCE_DIR) + "/tests/data/lightgbm";
const std::string kBundles = std::string(FRAUDOPS_SOURCE_DIR) + "/tests/data/bundles";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  for (std::string field; std::getline(in, field, ',');) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

TEST(PredictCliTest, BareLightgbmModelGivesLightgbmsProbabilitiesWithReasonsAndKeptColumns) {
  TempDir dir;
  CommandResult result = Fraudops(
      dir, "predict --model " + kLightgbm + "/model_categorical.txt --input " + kLightgbm +
               "/categorical_test.csv --output out.csv --keep label,c1 --explain 2 --threads 2");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("scored 5000 rows"), std::string::npos) << result.err;
  std::vector<std::string> lines = Lines(ReadText(dir.File("out.csv")));
  std::vector<std::string> expected = Lines(ReadText(kLightgbm + "/expected_categorical_prob.txt"));
  ASSERT_EQ(lines.size(), expected.size() + 1);
  EXPECT_EQ(
      lines[0],
      "label,c1,score,margin,reason_1,reason_1_value,reason_1_contribution,reason_2,reason_2_value,"
      "reason_2_contribution");
  std::vector<std::string> input = Lines(ReadText(kLightgbm + "/categorical_test.csv"));
  for (size_t r = 0; r < expected.size(); ++r) {
    std::vector<std::string> fields = Fields(lines[r + 1]);
    ASSERT_EQ(fields.size(), 10u) << lines[r + 1];
    // Shortest round-trip text: parsing it gives LightGBM's exact double back.
    ASSERT_EQ(std::strtod(fields[2].c_str(), nullptr), std::strtod(expected[r].c_str(), nullptr))
        << "row " << r;
    std::vector<std::string> in = Fields(input[r + 1]);
    EXPECT_EQ(fields[0], in[0]);  // label, passed through
    EXPECT_EQ(fields[1], in[8]);  // c1
    EXPECT_FALSE(fields[4].empty());
    EXPECT_GE(std::abs(std::strtod(fields[6].c_str(), nullptr)),
              std::abs(std::strtod(fields[9].c_str(), nullptr)));
  }
  // No threshold in a bare model: no label column (and none was asked for).
  EXPECT_EQ(lines[0].find(",label,"), std::string::npos);
}

TEST(PredictCliTest, JsonLinesInAndOutWithNullAsMissing) {
  TempDir dir;
  WriteText(dir.File("in.jsonl"),
            "{\"id\": \"t1\", \"f0\": 0.5, \"f1\": -1, \"f2\": 1.2, \"f3\": 0, \"f4\": 2.0, "
            "\"f5\": 0, \"f6\": 0.1, "
            "\"f7\": 3, \"f8\": 1, \"f9\": 0}\n"
            "\n"
            "{\"id\": \"t2\", \"f0\": null, \"f1\": null, \"f2\": null, \"f3\": null, \"f4\": "
            "null, \"f5\": 0, "
            "\"f6\": 0.1, \"f7\": 3, \"f8\": 1, \"f9\": \"0.5\"}\n");
  CommandResult result =
      Fraudops(dir, "predict --model " + kLightgbm +
                        "/model_missing.txt --input in.jsonl --output "
                        "out.jsonl --keep id --threshold 0.5 --explain 1 --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> lines = Lines(ReadText(dir.File("out.jsonl")));
  ASSERT_EQ(lines.size(), 2u) << "the blank line is skipped";
  nlohmann::json first = nlohmann::json::parse(lines[0]), second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(first["id"], "t1");
  EXPECT_EQ(second["id"], "t2");
  EXPECT_GT(second["score"].get<double>(), 0.0);
  EXPECT_LT(second["score"].get<double>(), 1.0);
  EXPECT_NEAR(first["score"].get<double>(), 1 / (1 + std::exp(-first["margin"].get<double>())),
              1e-12);
  EXPECT_EQ(first["label"], first["score"].get<double>() >= 0.5 ? "1" : "0");
  ASSERT_EQ(first["reasons"].size(), 1u);
  EXPECT_TRUE(first["reasons"][0].contains("feature"));
  nlohmann::json summary = nlohmann::json::parse(Lines(result.err).back());
  EXPECT_EQ(summary["rows"], 2);
  // Standard output takes the input's format when none is given.
  CommandResult piped =
      Fraudops(dir, "predict --model " + kLightgbm +
                        "/model_missing.txt --input in.jsonl --output - --keep id");
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  std::vector<std::string> piped_lines = Lines(piped.out);
  ASSERT_EQ(piped_lines.size(), 2u) << piped.out;
  EXPECT_EQ(nlohmann::json::parse(piped_lines[1])["id"], "t2");
}

TEST(PredictCliTest, APolicyDecidesEachRowAndNamesTheRuleInCsvAndJsonLines) {
  TempDir dir;
  // The categorical set's columns: c1 as a "merchant" code, f0 as an amount.
  WriteText(dir.File("policy.txt"),
            "# batch decisions\n"
            "sure: score >= 0.9 -> decline\n"
            "odd_merchant: c1 in [21, 15] and score > 0.05 -> review\n"
            "big: f0 * 1000 > 1500 -> review\n"
            "default -> approve\n");
  CommandResult result =
      Fraudops(dir, "predict --model " + kLightgbm + "/model_categorical.txt --input " + kLightgbm +
                        "/categorical_test.csv --output out.csv --keep c1,f0 " +
                        "--policy policy.txt --threads 2");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> lines = Lines(ReadText(dir.File("out.csv")));
  ASSERT_EQ(Fields(lines[0]),
            (std::vector<std::string>{"c1", "f0", "score", "margin", "decision", "rule"}));
  std::map<std::string, int> fired;
  for (size_t r = 1; r < lines.size(); ++r) {
    std::vector<std::string> f = Fields(lines[r]);
    ASSERT_EQ(f.size(), 6u) << lines[r];
    const double c1 = std::strtod(f[0].c_str(), nullptr), f0 = std::strtod(f[1].c_str(), nullptr);
    const double score = std::strtod(f[2].c_str(), nullptr);
    // The rules, in order, by hand.
    std::string rule = "default", decision = "approve";
    if (score >= 0.9) {
      rule = "sure", decision = "decline";
    } else if ((c1 == 21 || c1 == 15) && score > 0.05) {
      rule = "odd_merchant", decision = "review";
    } else if (f0 * 1000 > 1500) {
      rule = "big", decision = "review";
    }
    EXPECT_EQ(f[5], rule) << lines[r];
    EXPECT_EQ(f[4], decision) << lines[r];
    ++fired[rule];
  }
  for (const char* rule : {"sure", "odd_merchant", "big", "default"})
    EXPECT_GT(fired[rule], 0) << rule;

  // JSON Lines: an absent member is missing, and a rule on it does not fire.
  WriteText(dir.File("in.jsonl"),
            "{\"f0\": 2.0, \"f1\": 0, \"f2\": 0, \"f3\": 0, \"f4\": 0, \"f5\": 0, \"c0\": 1, "
            "\"c1\": 3, \"c2\": 4}\n"
            "{\"f0\": null, \"f1\": 0, \"f2\": 0, \"f3\": 0, \"f4\": 0, \"f5\": 0, \"c0\": 1, "
            "\"c1\": 3, \"c2\": 4}\n");
  result =
      Fraudops(dir, "predict --model " + kLightgbm + "/model_categorical.txt --input in.jsonl " +
                        "--output out.jsonl --policy policy.txt");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> json_lines = Lines(ReadText(dir.File("out.jsonl")));
  ASSERT_EQ(json_lines.size(), 2u);
  const nlohmann::json big = nlohmann::json::parse(json_lines[0]),
                       unknown = nlohmann::json::parse(json_lines[1]);
  if (big["score"].get<double>() < 0.9) {
    EXPECT_EQ(big["rule"], "big");
  }
  if (unknown["score"].get<double>() < 0.9) {
    EXPECT_EQ(unknown["rule"], "default");
  }

  // A malformed policy, or one reading a column the input lacks, says so and writes nothing.
  WriteText(dir.File("bad.txt"), "sure: score >= -> decline\ndefault -> approve\n");
  result = Fraudops(dir, "predict --model " + kLightgbm + "/model_categorical.txt --input " +
                             kLightgbm + "/categorical_test.csv --output bad.csv --policy bad.txt");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("bad.txt:1:16: expected a field, a number, a string or '('"),
            std::string::npos)
      << result.err;
  WriteText(dir.File("country.txt"),
            "blocked: country in [\"XX\"] -> decline\ndefault -> approve\n");
  result =
      Fraudops(dir, "predict --model " + kLightgbm + "/model_categorical.txt --input " + kLightgbm +
                        "/categorical_test.csv --output bad.csv --policy country.txt");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("the decision policy reads 'country', which is not a column"),
            std::string::npos)
      << result.err;
  EXPECT_FALSE(fs::exists(dir.File("bad.csv")));
}

TEST(PredictCliTest, RegisteredVersionBundleAndBareFileScoreAlike) {
  TempDir dir;
  WriteSmallConfig(dir);
  ASSERT_EQ(Fraudops(dir, "run").exit_code, 0);
  ASSERT_EQ(Fraudops(dir, "data synth --rows 3000 --seed 9 --output in.csv").exit_code, 0);
  CommandResult by_name =
      Fraudops(dir, "predict --model fraud-detector@1 --input in.csv --output a.csv --keep Time");
  ASSERT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_NE(by_name.err.find("fraud-detector@1"), std::string::npos) << by_name.err;
  ASSERT_EQ(Fraudops(dir, "models export fraud-detector@latest bundle").exit_code, 0);
  CommandResult by_bundle =
      Fraudops(dir, "predict --model bundle --input in.csv --output b.csv --keep Time");
  ASSERT_EQ(by_bundle.exit_code, 0) << by_bundle.err;
  EXPECT_EQ(ReadText(dir.File("a.csv")), ReadText(dir.File("b.csv")));
  std::vector<std::string> lines = Lines(ReadText(dir.File("a.csv")));
  ASSERT_EQ(lines.size(), 3001u);
  EXPECT_EQ(lines[0], "Time,score,margin,label") << "a bundle knows its threshold";
  // The bare model file: the same scores, no label.
  CommandResult bare =
      Fraudops(dir, "predict --model bundle/model.json --input in.csv --output c.csv");
  ASSERT_EQ(bare.exit_code, 0) << bare.err;
  std::vector<std::string> bare_lines = Lines(ReadText(dir.File("c.csv")));
  EXPECT_EQ(bare_lines[0], "score,margin");
  EXPECT_EQ(Fields(bare_lines[1])[0], Fields(lines[1])[1]);
}

TEST(PredictCliTest, ReasonCodesShowAFloat32ModelsValuesAsSent) {
  // The bundle holds features as float32: -1.05 is scored as -1.0499999523162842, and its
  // reason codes said so. They show what was sent.
  TempDir dir;
  std::vector<std::string> rows = Lines(ReadText(kBundles + "/rows.csv"));
  std::vector<std::string> names = Fields(rows[0]), values = Fields(rows[1]);
  names.pop_back();  // Class
  std::map<std::string, double> sent;
  std::string csv_header, csv_row;
  nlohmann::json object;
  for (size_t i = 0; i < names.size(); ++i) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", std::strtod(values[i].c_str(), nullptr));
    sent[names[i]] = std::strtod(text, nullptr);
    object[names[i]] = sent[names[i]];
    csv_header += (i ? "," : "") + names[i];
    csv_row += (i ? "," : "") + std::string(text);
  }
  WriteText(dir.File("in.jsonl"), object.dump() + "\n");
  WriteText(dir.File("in.csv"), csv_header + "\n" + csv_row + "\n");
  const std::string model = "predict --model " + kBundles + "/v2 --explain 5";
  CommandResult jsonl = Fraudops(dir, model + " --input in.jsonl --output out.jsonl");
  ASSERT_EQ(jsonl.exit_code, 0) << jsonl.err;
  nlohmann::json scored = nlohmann::json::parse(Lines(ReadText(dir.File("out.jsonl")))[0]);
  ASSERT_EQ(scored["reasons"].size(), 5u) << scored.dump();
  for (const nlohmann::json& reason : scored["reasons"]) {
    EXPECT_EQ(reason["value"].get<double>(), sent.at(reason["feature"].get<std::string>()))
        << reason.dump();
  }
  CommandResult csv = Fraudops(dir, model + " --input in.csv --output out.csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  std::vector<std::string> out = Lines(ReadText(dir.File("out.csv")));
  ASSERT_EQ(out.size(), 2u);
  std::vector<std::string> header = Fields(out[0]), fields = Fields(out[1]);
  for (size_t k = 1; k <= 5; ++k) {
    const std::string n = std::to_string(k);
    const size_t name = std::find(header.begin(), header.end(), "reason_" + n) - header.begin();
    ASSERT_LT(name + 1, fields.size()) << out[0];
    EXPECT_EQ(std::strtod(fields[name + 1].c_str(), nullptr), sent.at(fields[name]))
        << "reason " << n << ": " << fields[name + 1];
  }
}

TEST(PredictCliTest, BadInputIsAClearErrorAndLeavesNoOutput) {
  TempDir dir;
  const std::string model = " --model " + kBundles + "/v2";
  std::string rows = ReadText(kBundles + "/rows.csv");
  std::vector<std::string> lines = Lines(rows);

  WriteText(dir.File("bad.csv"), lines[0] + "\n" + lines[1] + "\n" +
                                     lines[2].replace(lines[2].find(','), 1, ",abc") + "\n");
  CommandResult bad = Fraudops(dir, "predict" + model + " --input bad.csv --output out.csv");
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  EXPECT_NE(bad.err.find("bad.csv:3: column 2 (V1): \"abc"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir.File("out.csv")));

  std::string header = lines[0];
  header.replace(header.find("V4,"), 3, "V4x,");
  WriteText(dir.File("renamed.csv"), header + "\n" + lines[1] + "\n");
  CommandResult renamed =
      Fraudops(dir, "predict" + model + " --input renamed.csv --output out.csv");
  EXPECT_EQ(renamed.exit_code, 3);
  EXPECT_NE(
      renamed.err.find("renamed.csv:1: the header lacks 1 feature column(s) the model needs: V4"),
      std::string::npos)
      << renamed.err;

  WriteText(dir.File("ragged.csv"), lines[0] + "\n" + lines[1] + ",extra\n");
  CommandResult ragged = Fraudops(dir, "predict" + model + " --input ragged.csv --output out.csv");
  EXPECT_EQ(ragged.exit_code, 3);
  EXPECT_NE(ragged.err.find("ragged.csv:2: has 32 fields, the header 31"), std::string::npos)
      << ragged.err;

  CommandResult keep = Fraudops(
      dir, "predict" + model + " --input " + kBundles + "/rows.csv --output out.csv --keep Amont");
  EXPECT_EQ(keep.exit_code, 2);
  EXPECT_NE(keep.err.find("did you mean 'Amount'"), std::string::npos) << keep.err;

  WriteText(dir.File("absent.jsonl"), "{\"Time\": 1}\n");
  CommandResult absent =
      Fraudops(dir, "predict" + model + " --input absent.jsonl --output out.jsonl");
  EXPECT_EQ(absent.exit_code, 3);
  EXPECT_NE(absent.err.find("absent.jsonl:1: /V1 is missing"), std::string::npos) << absent.err;

  CommandResult nothing =
      Fraudops(dir, "predict --model missing/model.json --input x.csv --output out.csv");
  EXPECT_EQ(nothing.exit_code, 3);
  EXPECT_NE(nothing.err.find("no such model file or bundle directory"), std::string::npos)
      << nothing.err;
  CommandResult format =
      Fraudops(dir, "predict" + model + " --input " + kBundles + "/rows.csv --output out.parquet");
  EXPECT_EQ(format.exit_code, 2);
  EXPECT_NE(format.err.find("--output-format csv|jsonl"), std::string::npos) << format.err;
  EXPECT_FALSE(fs::exists(dir.File("out.csv")));
  EXPECT_FALSE(fs::exists(dir.File("out.jsonl")));
}

}  // namespace
}  // namespace fraudops::testing
