// Integration tests: run the real fraudops binary as a user would.

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "cli_util.h"
#include "core/strings.h"

namespace fraudops {
namespace {

using testing::CommandResult;
using testing::Fraudops;
using testing::ReadText;
using testing::TempDir;
using testing::WriteSmallConfig;
using testing::WriteText;

TEST(CliTest, RunWithNoConfigurationPassesTheGateOnTheDefaultDataset) {
  // The default dataset (284,807 rows) and the default gate, as a new user runs it. The
  // synthetic data must be learnable about as well as the real set: ROC AUC 0.95..0.99,
  // PR AUC 0.6..0.9 on a stratified split.
  TempDir dir;
  CommandResult run = Fraudops(dir, "run --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto result = nlohmann::json::parse(run.out);
  EXPECT_EQ(result["status"], "succeeded");
  EXPECT_TRUE(result["gate"]["passed"].get<bool>());
  double roc = result["metrics"]["test"]["roc_auc"], pr = result["metrics"]["test"]["pr_auc"];
  EXPECT_GE(roc, 0.95);
  EXPECT_LE(roc, 0.99);
  EXPECT_GE(pr, 0.6);
  EXPECT_LE(pr, 0.9);
  EXPECT_EQ(result["metrics"]["test"]["rows"].get<int>() +
                result["metrics"]["validation"]["rows"].get<int>(),
            85442);  // 30 % of 284,807, rounded per class
  // The report opens in a browser with all five charts.
  std::string report = testing::ReadText(result["artifacts"]["report"]);
  EXPECT_EQ(std::count(report.begin(), report.end(), '<') > 100, true);
  size_t svgs = 0;
  for (size_t at = report.find("<svg"); at != std::string::npos; at = report.find("<svg", at + 1))
    ++svgs;
  EXPECT_EQ(svgs, 5u);
  for (const char* chart : {"ROC curve", "Precision-recall curve", "Score distribution",
                            "Reliability diagram", "Feature importance"}) {
    EXPECT_NE(report.find(chart), std::string::npos) << chart;
  }
}

TEST(CliTest, TheExplainStepExplainsEveryTestRowOfTheReferenceSizeModelExactly) {
  TempDir dir;
  CommandResult run = Fraudops(dir, "run --json", "FRAUDOPS_EXPLAIN_ENABLED=true");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto result = nlohmann::json::parse(run.out);
  EXPECT_EQ(result["steps"][6]["name"], "explain");
  EXPECT_EQ(result["steps"][6]["status"], "succeeded");
  const std::string base = result["artifact_dir"];
  const auto explained =
      nlohmann::json::parse(testing::ReadText(base + "/evaluation/explanations.json"));
  // Every test row; TreeSHAP's contributions plus the base value are the engine's margins.
  EXPECT_EQ(explained["rows"], result["metrics"]["test"]["rows"]);
  EXPECT_LT(explained["max_additivity_error"].get<double>(), 1e-6);
  ASSERT_EQ(explained["features"].size(), 29u);  // V1..V28 and Amount (Time is not a feature)
  EXPECT_GT(explained["features"][0]["mean_abs_shap"].get<double>(),
            explained["features"][28]["mean_abs_shap"].get<double>());
  EXPECT_EQ(explained["partial_dependence"].size(), 3u);
  const std::string report = testing::ReadText(base + "/evaluation/report.html");
  for (const char* chart : {"Mean |SHAP|", "SHAP summary", "Dependence: ", "Partial dependence: "})
    EXPECT_NE(report.find(chart), std::string::npos) << chart;
}

TEST(CliTest, RunJsonHasTheDocumentedShapeAndArtifacts) {
  TempDir dir;
  WriteSmallConfig(dir);
  CommandResult run = Fraudops(dir, "run --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto result = nlohmann::json::parse(run.out);
  std::string id = result["execution_id"];
  EXPECT_TRUE(std::regex_match(
      id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << id;
  std::vector<std::string> steps;
  for (const auto& step : result["steps"]) {
    steps.push_back(step["name"]);
    // No tune.enabled, explain.enabled or bias.facets: no tune, explain or bias step.
    const bool off = step["name"] == "tune" || step["name"] == "explain" || step["name"] == "bias";
    EXPECT_EQ(step["status"], off ? "skipped" : "succeeded") << step;
    EXPECT_TRUE(step["seconds"].is_number());
    EXPECT_TRUE(std::filesystem::exists(step["log"].get<std::string>())) << step;
  }
  EXPECT_EQ(steps,
            (std::vector<std::string>{"ingest", "validate", "split", "tune", "train", "evaluate",
                                      "explain", "bias", "gate", "register", "deploy"}));
  // The approved version was deployed to the configured endpoint.
  EXPECT_EQ(result["deployment"]["endpoint"], "fraud-detector") << result.dump();
  EXPECT_EQ(result["deployment"]["status"], "completed");
  for (const char* split : {"validation", "test"}) {
    for (const char* metric : {"roc_auc", "pr_auc", "log_loss", "brier", "ks",
                               "recall_at_fpr_0_1pct", "recall_at_fpr_1pct", "precision", "recall",
                               "f1", "threshold", "amount_weighted_recall", "confusion"}) {
      EXPECT_TRUE(result["metrics"][split].contains(metric)) << split << " " << metric;
    }
  }
  EXPECT_TRUE(result["gate"]["passed"].get<bool>());
  EXPECT_TRUE(result["gate"]["reasons"].is_array());
  std::string base = dir.File("fraudops-home/artifacts/fraud-detection/" + id);
  EXPECT_EQ(result["artifact_dir"], base);
  for (const char* file :
       {"raw/manifest.json", "processed/train.fds", "processed/validation.fds",
        "processed/test.fds", "processed/manifest.json", "model/model.json", "model/training.json",
        "evaluation/metrics.json", "evaluation/curves.json", "evaluation/report.html", "run.json",
        "config.json"}) {
    EXPECT_TRUE(std::filesystem::exists(base + "/" + file)) << file;
  }
  // No temporary files are left behind.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(base)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
  auto manifest = nlohmann::json::parse(testing::ReadText(base + "/raw/manifest.json"));
  EXPECT_EQ(manifest["rows"], 30000);
  EXPECT_EQ(manifest["content_hash"].get<std::string>().size(), 64u);

  // The human summary names steps, metrics, the verdict and the report.
  CommandResult table = Fraudops(dir, "run");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  for (const char* text : {"ingest", "ROC AUC", "PR AUC", "gate: PASSED", "report:"}) {
    EXPECT_NE(table.out.find(text), std::string::npos) << text << "\n" << table.out;
  }
}

/// Rows with an injected bias: the young are six times as often fraud, `x1` (a feature)
/// carries the label (by `signal`) and `x2` (a feature) the age.
std::string BiasedCsv(int rows, double signal = 0.7) {
  std::string csv = "age_band,region,x1,x2,Amount,Class\n";
  uint64_t state = 99;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  const char* regions[] = {"north", "south", "east"};
  for (int r = 0; r < rows; ++r) {
    const bool young = next() < 0.3;
    const int fraud = next() < (young ? 0.12 : 0.02);
    csv += std::string(young ? "18-25" : "26+") + "," + regions[r % 3] + "," +
           FormatDouble(next() + fraud * signal, 6) + "," + FormatDouble(next() + young * 0.5, 6) +
           "," + FormatDouble(10 + 100 * next(), 4) + "," + std::to_string(fraud) + "\n";
  }
  return csv;
}

TEST(CliTest, TheBiasStepMeasuresEachFacetAndItsRulesGateTheVersion) {
  TempDir dir;
  WriteSmallConfig(dir);
  testing::WriteText(dir.File("data.csv"), BiasedCsv(8000));
  const std::string base =
      "preprocess:\n  data_source: data.csv\nbias:\n"
      "  facets: [\"age_band=18-25\", \"Amount>60\"]\n"
      "  group_variable: region\n  bootstrap: 200\n";
  testing::WriteText(dir.File("config.yml"), base + "  max_metrics: {DI: 1.25}\n");
  CommandResult run = Fraudops(dir, "run --json");
  ASSERT_EQ(run.exit_code, 4) << run.err;  // the gate failed
  const auto result = nlohmann::json::parse(run.out);
  EXPECT_EQ(result["steps"][7]["name"], "bias");
  EXPECT_EQ(result["steps"][7]["status"], "succeeded");
  // The young are flagged more often: DI above 1.25 fails the gate, naming the facet.
  bool named = false;
  for (const auto& reason : result["gate"]["reasons"]) {
    named = named || reason.get<std::string>().find("bias gate: DI for facet 'age_band=18-25'") !=
                         std::string::npos;
  }
  EXPECT_TRUE(named) << result["gate"].dump();
  EXPECT_FALSE(result.contains("registered"));

  // evaluation/bias.json in the layout of Clarify's analysis.json.
  const std::string dir_of_run = result["artifact_dir"];
  const auto bias = nlohmann::json::parse(testing::ReadText(dir_of_run + "/evaluation/bias.json"));
  const auto& pre = bias["pre_training_bias_metrics"];
  EXPECT_EQ(pre["label"], "Class");
  EXPECT_EQ(pre["label_value_or_threshold"], "1");
  const auto& young = pre["facets"]["age_band"][0];
  EXPECT_EQ(young["value_or_threshold"], "18-25");
  std::map<std::string, nlohmann::json> metrics;
  for (const auto& m : young["metrics"]) metrics[m["name"]] = m;
  for (const char* name : {"CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL"}) {
    ASSERT_TRUE(metrics.count(name)) << name;
    EXPECT_TRUE(metrics[name]["value"].is_number()) << metrics[name].dump();
    EXPECT_EQ(metrics[name]["interval"].size(), 2u) << name;
  }
  EXPECT_LT(metrics["DPL"]["value"].get<double>(), 0);  // more fraud labels among the young
  // Pre-training metrics are of the training rows: 70 % of them.
  EXPECT_EQ(young["groups"]["d"]["rows"].get<int>() + young["groups"]["a"]["rows"].get<int>(),
            5600);
  const auto& after = bias["post_training_bias_metrics"]["facets"];
  ASSERT_EQ(after["Amount"][0]["value_or_threshold"], "60");
  std::vector<std::string> names;
  for (const auto& m : after["age_band"][0]["metrics"]) names.push_back(m["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"DPPL", "DI", "DCA", "DCR", "RD", "SD", "DAR", "DRR",
                                             "AD", "CDDPL", "TE", "GE", "FT"}));
  // The facet columns were set aside: not model features.
  const auto training =
      nlohmann::json::parse(testing::ReadText(dir_of_run + "/model/training.json"));
  for (const auto& feature : training["features"]) {
    EXPECT_NE(feature["name"], "age_band");
    EXPECT_NE(feature["name"], "region");
  }
  // The report shows them.
  const std::string report = testing::ReadText(dir_of_run + "/evaluation/report.html");
  EXPECT_NE(report.find("<h2>Bias</h2>"), std::string::npos);
  EXPECT_NE(report.find("Disparate Impact (DI)"), std::string::npos);

  // Without the rule the version is registered; kept as features, the columns are. The
  // explain step explains each facet's rows beside the rest's.
  testing::WriteText(dir.File("config.yml"),
                     base + "  keep_facets_as_features: true\nexplain:\n  enabled: true\n");
  CommandResult kept = Fraudops(dir, "run --json");
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  const auto second = nlohmann::json::parse(kept.out);
  EXPECT_TRUE(second.contains("registered")) << second.dump();
  const auto features = nlohmann::json::parse(testing::ReadText(
      second["artifact_dir"].get<std::string>() + "/model/training.json"))["features"];
  bool has_age = false;
  for (const auto& feature : features) has_age = has_age || feature["name"] == "age_band";
  EXPECT_TRUE(has_age);
  const auto explained = nlohmann::json::parse(testing::ReadText(
      second["artifact_dir"].get<std::string>() + "/evaluation/explanations.json"));
  ASSERT_EQ(explained["segments"].size(), 2u);
  const auto& young_rows = explained["segments"][0];
  EXPECT_EQ(young_rows["segment"], "age_band=18-25");
  EXPECT_EQ(young_rows["in"]["rows"].get<int>() + young_rows["out"]["rows"].get<int>(),
            explained["rows"].get<int>());
  EXPECT_GT(young_rows["in"]["rows"].get<int>(), 0);
  EXPECT_EQ(explained["segments"][1]["segment"], "Amount>60");
  EXPECT_NE(testing::ReadText(second["artifact_dir"].get<std::string>() + "/evaluation/report.html")
                .find("Segment age_band=18-25"),
            std::string::npos);

  // What cannot be measured is said before anything is trained... or at the bias step.
  testing::WriteText(
      dir.File("config.yml"),
      "preprocess:\n  data_source: data.csv\nbias:\n  facets: [\"age_band=18-52\"]\n");
  CommandResult typo = Fraudops(dir, "run");
  EXPECT_NE(typo.exit_code, 0);
  EXPECT_NE(typo.err.find("bias.facets[0] = 'age_band=18-52': column 'age_band' holds no value "
                          "'18-52' (did you mean '18-25'?)"),
            std::string::npos)
      << typo.err;
  testing::WriteText(dir.File("config.yml"),
                     "preprocess:\n  data_source: data.csv\nbias:\n  facets: [\"agee=1\"]\n");
  CommandResult column = Fraudops(dir, "run");
  EXPECT_NE(column.err.find("bias: column 'agee' is not a column of the data"), std::string::npos)
      << column.err;
  testing::WriteText(dir.File("config.yml"),
                     "preprocess:\n  data_source: data.csv\nbias:\n"
                     "  facets: [\"age_band=18-25\"]\n"
                     "  max_metrics: {DIx: 1.25}\n");
  CommandResult rule = Fraudops(dir, "run");
  EXPECT_EQ(rule.exit_code, 2);
  EXPECT_NE(rule.err.find("bias.max_metrics.DIx: 'DIx' is not a bias metric (did you mean 'DI'?)"),
            std::string::npos)
      << rule.err;
  // The rule's name and a facet's form need no data: found before the first step.
  EXPECT_EQ(rule.err.find("\"component\":\"ingest\""), std::string::npos) << rule.err;
  testing::WriteText(dir.File("config.yml"), "preprocess:\n  data_source: data.csv\n");
  CommandResult facet = Fraudops(dir, "run", "FRAUDOPS_BIAS_FACETS='[\"age_band>1x\"]'");
  EXPECT_EQ(facet.exit_code, 2);
  EXPECT_NE(facet.err.find("bias.facets[0] = 'age_band>1x': '1x' is not a number"),
            std::string::npos)
      << facet.err;
  EXPECT_EQ(facet.err.find("\"component\":\"ingest\""), std::string::npos) << facet.err;
}

TEST(CliTest, ReweighingMovesDisparateImpactTowardOneAndReportsTheQualityItCosts) {
  // The young are six times as often fraud, x2 (a feature) carries the age and x1 only weakly
  // the label: the model leans on x2 and flags the young far more often (DI about 38).
  // Reweighing makes the label independent of the age group in training: x2 tells nothing,
  // DI falls (to about 3.4), and ROC AUC with it (0.76 to 0.66).
  TempDir dir;
  WriteSmallConfig(dir);
  testing::WriteText(dir.File("data.csv"), BiasedCsv(20000, 0.2));
  testing::WriteText(dir.File("config.yml"),
                     "preprocess:\n  data_source: data.csv\nevaluate:\n  min_roc_auc: 0.5\n"
                     "register:\n  champion_gate: false\n"
                     "bias:\n  facets: [\"age_band=18-25\"]\n  bootstrap: 100\n"
                     "  mitigation: reweighing\n");
  CommandResult run = Fraudops(dir, "run --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto result = nlohmann::json::parse(run.out);
  const std::string base = result["artifact_dir"];
  const auto mitigation =
      nlohmann::json::parse(testing::ReadText(base + "/evaluation/mitigation.json"));
  EXPECT_EQ(mitigation["method"], "reweighing");
  // Kamiran–Calders: young frauds weigh less than 1, old frauds more, by n(g)·n(y)/(N·n(g,y)).
  std::map<std::pair<std::string, int>, double> weight;
  size_t rows = 0;
  for (const auto& w : mitigation["weights"]) {
    weight[{w["group"]["age_band=18-25"], w["label"]}] = w["weight"];
    rows += w["rows"].get<size_t>();
  }
  EXPECT_EQ(rows, 14000u);  // the training rows
  const auto weight_of = [&](const char* group, int label) { return weight[{group, label}]; };
  EXPECT_LT(weight_of("in", 1), 0.7);
  EXPECT_GT(weight_of("out", 1), 1.2);
  EXPECT_GT(weight_of("in", 0), 0.9);
  auto di = [](const nlohmann::json& metrics) {
    for (const auto& m : metrics) {
      if (m["name"] == "DI") return m["value"].get<double>();
    }
    return std::nan("");
  };
  const auto& facet = mitigation["post_training_bias_metrics"][0];
  EXPECT_EQ(facet["facet"], "age_band=18-25");
  const double before = di(facet["before"]), after = di(facet["after"]);
  EXPECT_GT(before, 2) << "the injected bias shows";
  EXPECT_LT(std::fabs(after - 1), 0.75 * std::fabs(before - 1))
      << "DI moves toward 1: " << before << " -> " << after;
  // The quality of both on the same test rows; after is the registered model's.
  EXPECT_EQ(mitigation["quality"]["after"]["roc_auc"], result["metrics"]["test"]["roc_auc"]);
  EXPECT_TRUE(mitigation["quality"]["before"]["roc_auc"].is_number());
  EXPECT_EQ(di(nlohmann::json::parse(testing::ReadText(
                base + "/evaluation/bias.json"))["post_training_bias_metrics"]["facets"]["age_band"]
                                                [0]["metrics"]),
            after);
  const std::string report = testing::ReadText(base + "/evaluation/report.html");
  EXPECT_NE(report.find("Bias mitigation (reweighing): before and after"), std::string::npos);

  // Refused before anything runs: mitigation without a facet.
  testing::WriteText(dir.File("config.yml"),
                     "preprocess:\n  data_source: data.csv\nbias:\n  mitigation: reweighing\n");
  CommandResult refused = Fraudops(dir, "run");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("give at least one facet"), std::string::npos) << refused.err;
}

TEST(CliTest, SameDataFromCsvGivesTheSameHashAsSynthesized) {
  TempDir dir;
  WriteSmallConfig(dir);
  ASSERT_EQ(Fraudops(dir, "data synth --rows 30000 --fraud-rate 0.01 --output tx.csv").exit_code,
            0);
  auto from_csv = nlohmann::json::parse(Fraudops(dir, "run --json --data tx.csv").out);
  auto synthesized = nlohmann::json::parse(Fraudops(dir, "run --json").out);
  auto hash = [&](const nlohmann::json& run) {
    return nlohmann::json::parse(
        testing::ReadText(run["artifacts"]["raw_manifest"]))["content_hash"];
  };
  EXPECT_EQ(hash(from_csv), hash(synthesized));
  EXPECT_EQ(from_csv["metrics"]["test"]["roc_auc"], synthesized["metrics"]["test"]["roc_auc"]);
}

TEST(CliTest, SqliteSourceRecordsTheSameDataHashAsTheCsv) {
  TempDir dir;
  WriteSmallConfig(dir);
  ASSERT_EQ(Fraudops(dir, "data synth --rows 30000 --fraud-rate 0.01 --output tx.csv").exit_code,
            0);
  // sqlite3's CSV import stores every value as text: numbers must still read as numbers.
  auto imported = testing::RunCommand(
      "cd " + dir.path() + " && sqlite3 bank.db '.import --csv tx.csv transactions'", dir.path());
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  auto from_db = nlohmann::json::parse(Fraudops(dir, "run --json --data sqlite:bank.db").out);
  auto from_csv = nlohmann::json::parse(Fraudops(dir, "run --json --data tx.csv").out);
  ASSERT_EQ(from_db["status"], "succeeded") << from_db.dump();
  auto hash = [&](const nlohmann::json& run) {
    return nlohmann::json::parse(
        testing::ReadText(run["artifacts"]["raw_manifest"]))["content_hash"];
  };
  EXPECT_EQ(hash(from_db), hash(from_csv));
  EXPECT_EQ(from_db["metrics"]["test"]["roc_auc"], from_csv["metrics"]["test"]["roc_auc"]);

  CommandResult missing =
      Fraudops(dir, "run --data sqlite:bank.db", "FRAUDOPS_PREPROCESS_SQL_TABLE=payments");
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("cannot read table 'payments'"), std::string::npos) << missing.err;
}

TEST(CliTest, ValidationNamesAnIdColumnALeakTheTimeColumnAndAQuestionMarkColumn) {
  TempDir dir;
  WriteSmallConfig(dir);
  ASSERT_EQ(Fraudops(dir, "data synth --rows 20000 --fraud-rate 0.01 --output tx.csv").exit_code,
            0);
  // The synthetic transactions with four columns a bank export might carry.
  std::vector<std::string> lines = Split(ReadText(dir.File("tx.csv")), '\n');
  std::string planted = "txn_id,chargeback_flag,merchant_age," + lines[0] + "\n";
  for (size_t r = 1; r < lines.size(); ++r) {
    if (lines[r].empty()) continue;
    const bool fraud = lines[r].substr(lines[r].rfind(',') + 1) == "\"1\"" ||
                       lines[r].substr(lines[r].rfind(',') + 1) == "1";
    const std::string age = r % 11 == 0 ? "?" : std::to_string(r % 40);
    planted += std::to_string(r * 7919 % 1000003) + "," + (fraud ? "1" : "0") + "," + age + "," +
               lines[r] + "\n";
  }
  WriteText(dir.File("planted.csv"), planted);
  CommandResult leaked = Fraudops(dir, "run --data planted.csv");
  EXPECT_EQ(leaked.exit_code, 3);
  EXPECT_NE(leaked.err.find("column 'chargeback_flag' alone separates the label"),
            std::string::npos)
      << leaked.err;
  WriteSmallConfig(dir, "  drop_columns: [chargeback_flag]\n");
  CommandResult run = Fraudops(dir, "run --json --data planted.csv");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("column 'txn_id' is not used as a feature: unique whole numbers"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("column 'Time' is not used as a feature: the time column"),
            std::string::npos);
  EXPECT_NE(run.err.find("column 'merchant_age' holds numbers but for '?'"), std::string::npos);
  const nlohmann::json result = nlohmann::json::parse(run.out);
  const nlohmann::json bundle =
      nlohmann::json::parse(ReadText(result["artifacts"]["bundle"].get<std::string>()));
  EXPECT_EQ(bundle["input"]["ignored"], nlohmann::json({"txn_id", "Time"}));
  for (const auto& feature : bundle["input"]["features"]) {
    EXPECT_NE(feature["name"], "txn_id");
    EXPECT_NE(feature["name"], "Time");
  }
  EXPECT_NE(ReadText(result["artifacts"]["report"].get<std::string>()).find("Data validation"),
            std::string::npos);
  // Whole records, the ignored columns included, still score in batch.
  CommandResult scored = Fraudops(dir, "predict --model fraudops-home/artifacts/fraud-detection/" +
                                           result["execution_id"].get<std::string>() +
                                           "/model --input planted.csv --output "
                                           "scores.csv");
  EXPECT_EQ(scored.exit_code, 0) << scored.err;
}

TEST(CliTest, TimeSplitTrainsOnThePast) {
  TempDir dir;
  WriteSmallConfig(dir, "  split_method: time\n");
  CommandResult run = Fraudops(dir, "run --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto result = nlohmann::json::parse(run.out);
  auto manifest =
      nlohmann::json::parse(testing::ReadText(result["artifacts"]["processed_manifest"]));
  EXPECT_EQ(manifest["method"], "time");
  EXPECT_EQ(manifest["time_column"], "Time");
  EXPECT_EQ(manifest["splits"]["train"]["rows"], 21000);
}

TEST(CliTest, GateFailureExitsFourNamingMetricValueAndThreshold) {
  TempDir dir;
  WriteSmallConfig(dir, "evaluate:\n  min_roc_auc: 0.9999999\n");
  CommandResult run = Fraudops(dir, "run");
  EXPECT_EQ(run.exit_code, 4) << run.err;
  EXPECT_NE(run.out.find("gate: FAILED"), std::string::npos) << run.out;
  // The step table says so too (the gate ran and said no), and the log says it once.
  EXPECT_TRUE(std::regex_search(run.out, std::regex(R"(\n  gate +rejected +\d)"))) << run.out;
  EXPECT_TRUE(std::regex_search(run.out, std::regex(R"(\n  register +skipped)"))) << run.out;
  size_t mentions = 0;
  for (size_t at = run.err.find("(evaluate.min_roc_auc)"); at != std::string::npos;
       at = run.err.find("(evaluate.min_roc_auc)", at + 1))
    ++mentions;
  EXPECT_EQ(mentions, 1u) << run.err;
  EXPECT_TRUE(std::regex_search(
      run.out, std::regex(R"(test roc_auc 0\.\d+ < 0\.9999999 \(evaluate\.min_roc_auc\))")))
      << run.out;
}

TEST(CliTest, TheScheduleSaysWhichRunItStartedAndWhyItDidNotSucceed) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("incoming"));
  WriteSmallConfig(dir, "evaluate:\n  min_roc_auc: 0.9999999\nschedule:\n  watch: ['" +
                            dir.File("incoming") + "']\n");
  CommandResult first = Fraudops(dir, "schedule --once");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out, "no trigger fired\n");  // the first look records what is there
  WriteText(dir.File("incoming/2026-12-06.csv"), "Amount\n1\n");
  CommandResult fired = Fraudops(dir, "schedule --once");
  ASSERT_EQ(fired.exit_code, 0) << fired.err;  // a gate that says no is not a failure to run
  const nlohmann::json runs = Json(Fraudops(dir, "runs list --json"));
  ASSERT_EQ(runs.size(), 1u);
  const std::string id = runs[0]["run_id"].get<std::string>().substr(0, 13);
  for (const std::string& out : {fired.out, Fraudops(dir, "schedule history").out}) {
    EXPECT_TRUE(
        std::regex_search(out, std::regex(" data +gate_failed +" + id + " +- +new data in ")))
        << out;
    EXPECT_TRUE(std::regex_search(
        out,
        std::regex(R"(\n    why: test roc_auc 0\.\d+ < 0\.9999999 \(evaluate\.min_roc_auc\)\n)")))
        << out;
  }
}

TEST(CliTest, ARunUsesTheCoresItMayUseAndSaysHowMany) {
  TempDir dir;
  WriteSmallConfig(dir);
  // Pinned to one CPU (as taskset or a container's cpuset would), it starts one thread per
  // core it may use: one, whatever the machine has.
  CommandResult run = testing::RunCommand(
      "cd " + dir.path() + " && taskset -c 0 " + testing::Binary() + " run --json", dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string id = nlohmann::json::parse(run.out)["execution_id"];
  nlohmann::json shown = nlohmann::json::parse(Fraudops(dir, "runs show " + id + " --json").out);
  EXPECT_EQ(shown["tags"]["threads"], "1");
  // `global.threads` still says exactly how many.
  CommandResult two = Fraudops(dir, "run --json", "FRAUDOPS_GLOBAL_THREADS=3");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  const std::string id2 = nlohmann::json::parse(two.out)["execution_id"];
  EXPECT_EQ(
      nlohmann::json::parse(Fraudops(dir, "runs show " + id2 + " --json").out)["tags"]["threads"],
      "3");
}

TEST(CliTest, ConfigurationErrorsExitTwo) {
  TempDir dir;
  WriteSmallConfig(dir, "evaluate:\n  min_roc_acu: 0.9\n");
  CommandResult run = Fraudops(dir, "run");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find(
                "config.yml:5:3: unknown key 'evaluate.min_roc_acu' (did you mean 'min_roc_auc'?)"),
            std::string::npos)
      << run.err;

  TempDir other;
  WriteSmallConfig(other);
  CommandResult env = Fraudops(other, "run", "XGBOOST_MAX_DEPHT=3");
  EXPECT_EQ(env.exit_code, 2);
  EXPECT_NE(env.err.find("XGBOOST_MAX_DEPHT: xgboost parameter 'max_depht' is unknown (did you "
                         "mean 'max_depth'?)"),
            std::string::npos)
      << env.err;
  // Found before the first step: no data read, no run recorded, no artifact written.
  EXPECT_EQ(env.err.find("\"component\":\"ingest\""), std::string::npos) << env.err;
  EXPECT_FALSE(std::filesystem::exists(other.File("fraudops-home"))) << env.err;
  WriteText(other.File("models/xgboost_default.json"), R"({"eta": 2, "num_round": 5})");
  CommandResult bounds = Fraudops(other, "run");
  EXPECT_EQ(bounds.exit_code, 2);
  EXPECT_NE(bounds.err.find("xgboost_default.json"), std::string::npos) << bounds.err;
  EXPECT_NE(bounds.err.find("eta"), std::string::npos) << bounds.err;
  EXPECT_EQ(bounds.err.find("\"component\":\"ingest\""), std::string::npos) << bounds.err;
  EXPECT_FALSE(std::filesystem::exists(other.File("fraudops-home"))) << bounds.err;

  CommandResult usage = Fraudops(other, "run --no-such-flag");
  EXPECT_EQ(usage.exit_code, 2);
}

TEST(CliTest, TrainingAlgorithmLgbmRunsThePipelineEndToEnd) {
  TempDir dir;
  WriteSmallConfig(dir);
  CommandResult run = Fraudops(dir, "run --json", "TRAINING_ALGORITHM=lgbm LGBM_NUM_ITERATIONS=60");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto result = nlohmann::json::parse(run.out);
  EXPECT_EQ(result["status"], "succeeded");
  EXPECT_GE(result["metrics"]["test"]["roc_auc"].get<double>(), 0.9);
  // The model is LightGBM's text format, and the training record says which algorithm.
  std::string model = testing::ReadText(result["artifacts"]["model"].get<std::string>());
  EXPECT_EQ(model.rfind("tree\nversion=v4\n", 0), 0u) << model.substr(0, 40);
  auto training =
      nlohmann::json::parse(testing::ReadText(result["artifacts"]["training"].get<std::string>()));
  EXPECT_EQ(training["algorithm"], "lgbm");
  EXPECT_LE(training["rounds_trained"].get<int>(), 60);
  EXPECT_EQ(result["registered"]["version"], 1);
}

TEST(CliTest, DataErrorsExitThreeWithFileLineAndColumn) {
  TempDir dir;
  WriteSmallConfig(dir);
  std::string bad = "\"Time\",\"V1\",\"Class\"\n";
  for (int i = 0; i < 40; ++i)
    bad +=
        std::to_string(i) + "," + (i == 30 ? "abc" : "1.5") + ",\"" + (i % 4 ? "0" : "1") + "\"\n";
  WriteText(dir.File("bad.csv"), bad);
  CommandResult run = Fraudops(dir, "run --data bad.csv");
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_NE(run.err.find("bad.csv:32: column 2 ('V1'): 'abc' is not a number"), std::string::npos)
      << run.err;

  CommandResult missing = Fraudops(dir, "run --data nowhere.csv");
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("cannot open data file 'nowhere.csv'"), std::string::npos)
      << missing.err;

  // Too few frauds for three splits.
  WriteText(dir.File("few.csv"), "a,Class\n1,1\n2,0\n3,0\n4,0\n5,0\n6,0\n");
  CommandResult few = Fraudops(dir, "run --data few.csv");
  EXPECT_EQ(few.exit_code, 3);
  EXPECT_NE(few.err.find("no positive (fraud) row"), std::string::npos) << few.err;
}

TEST(CliTest, InitWritesAWorkspaceThatRunsAndNeverOverwrites) {
  TempDir dir;
  CommandResult init = Fraudops(dir, "init ws");
  ASSERT_EQ(init.exit_code, 0) << init.err;
  for (const char* file : {"ws/config.yml", "ws/.env.example", "ws/models/xgboost_default.json",
                           "ws/models/lgbm_default.json"}) {
    EXPECT_TRUE(std::filesystem::exists(dir.File(file))) << file;
  }
  std::string config = testing::ReadText(dir.File("ws/config.yml"));
  EXPECT_NE(config.find("# env: FRAUDOPS_EVALUATE_MIN_ROC_AUC"), std::string::npos);
  CommandResult again = Fraudops(dir, "init ws");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos);
}

TEST(CliTest, DataInspectShowsSchemaAndHash) {
  TempDir dir;
  WriteText(dir.File("t.csv"), "amount;merchant;Class\n1.5;shop;0\n2;air;1\n");
  CommandResult inspect = Fraudops(dir, "data inspect t.csv --json");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  auto out = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(out["rows"], 2);
  EXPECT_EQ(out["schema"]["features"][1]["type"], "categorical");
}

}  // namespace
}  // namespace fraudops
