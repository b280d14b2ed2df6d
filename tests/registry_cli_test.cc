// Integration tests of tracking, the registry and lineage through the real binary, against
// the real servers (PostgreSQL, MariaDB, s3rver) that scripts/test-servers.sh starts.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "cli_util.h"
#include "core/hash.h"
#include "server_util.h"
#include "store/metadata_store.h"

namespace fraudops {
namespace {

using testing::CommandResult;
using testing::Fraudops;
using testing::TempDir;
using testing::WriteSmallConfig;
using testing::WriteText;

using testing::Json;

void FlipOneByte(const std::string& path) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(10);
  char c = 0;
  file.get(c);
  file.seekp(10);
  file.put(static_cast<char>(c ^ 0x20));
}

TEST(RegistryCliTest, ARunIsTrackedRegisteredAndTraceable) {
  TempDir dir;
  WriteSmallConfig(dir);
  CommandResult run = Fraudops(dir, "run --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json result = Json(run);
  std::string id = result["execution_id"];
  EXPECT_EQ(result["registered"]["version"], 1);
  EXPECT_EQ(result["registered"]["approval"], "approved");
  EXPECT_EQ(result["steps"].back()["name"], "deploy");
  EXPECT_EQ(result["deployment"]["target"]["version"], 1);

  nlohmann::json runs = Json(Fraudops(dir, "runs list --json"));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["run_id"], id);
  EXPECT_EQ(runs[0]["status"], "succeeded");
  EXPECT_EQ(runs[0]["metrics"]["test.roc_auc"], result["metrics"]["test"]["roc_auc"]);

  nlohmann::json shown = Json(Fraudops(dir, "runs show " + id.substr(0, 20) + " --json"));
  EXPECT_EQ(shown["params"]["train.xgboost.eta"], "0.2");
  EXPECT_FALSE(shown["code_version"].get<std::string>().empty());
  std::set<std::string> artifact_names;
  for (const auto& artifact : shown["artifacts"]) {
    artifact_names.insert(artifact["name"]);
    EXPECT_EQ(artifact["sha256"].get<std::string>().size(), 64u);
  }
  for (const char* name : {"model/model.json", "model/bundle.json", "processed/train.fds",
                           "run.json", "logs/register.log"}) {
    EXPECT_TRUE(artifact_names.count(name)) << name;
  }

  // Lineage: version -> run -> execution -> data hashes -> source, and back.
  nlohmann::json lineage = Json(Fraudops(dir, "lineage fraud-detector@1 --json"));
  EXPECT_EQ(lineage["run"]["run_id"], id);
  std::string raw_hash;
  for (const auto& data : lineage["data"]) {
    if (data["role"] == "raw") {
      raw_hash = data["content_hash"];
      EXPECT_EQ(data["source"], "synthetic");
    }
  }
  ASSERT_EQ(raw_hash.size(), 64u);
  nlohmann::json reverse = Json(Fraudops(dir, "lineage --data " + raw_hash + " --json"));
  ASSERT_EQ(reverse["versions"].size(), 1u);
  EXPECT_EQ(reverse["versions"][0]["version"], 1);
  CommandResult human = Fraudops(dir, "lineage fraud-detector@latest");
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("source synthetic"), std::string::npos) << human.out;

  // A second run with another learning rate, compared side by side.
  CommandResult second = Fraudops(dir, "run --json", "XGBOOST_ETA=0.3");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  std::string id2 = Json(second)["execution_id"];
  nlohmann::json compared = Json(Fraudops(dir, "runs compare " + id + " " + id2 + " --json"));
  EXPECT_EQ(compared["params"]["train.xgboost.eta"], nlohmann::json({"0.2", "0.3"}));
  EXPECT_FALSE(compared["params"].contains("preprocess.synthetic_rows"));  // equal: not listed
  EXPECT_TRUE(compared["best"].contains("test.roc_auc"));
  CommandResult table = Fraudops(dir, "runs compare " + id + " " + id2);
  EXPECT_NE(table.out.find(" *"), std::string::npos) << table.out;
  EXPECT_EQ(Json(Fraudops(dir, "models list --json")).size(), 2u);
  EXPECT_EQ(Fraudops(dir, "runs show nope").exit_code, 3);
}

TEST(RegistryCliTest, TheModelCardOfADefaultRunNamesTheRunDataHashesMetricsAndTheApproval) {
  TempDir dir;
  WriteSmallConfig(dir,
                   "card:\n  owner: fraud-analytics\n"
                   "  limitations: [\"Card-present transactions only.\"]\n");
  CommandResult run = Fraudops(dir, "run --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const nlohmann::json result = Json(run);
  const std::string id = result["execution_id"];
  const std::string data_hash =
      nlohmann::json::parse(testing::ReadText(result["artifacts"]["raw_manifest"]))["content_hash"];
  // Stored with the bundle when the version was registered.
  const nlohmann::json stored =
      nlohmann::json::parse(testing::ReadText(result["artifacts"]["model_card"]));
  EXPECT_EQ(stored["format"], "fraudops-model-card/1");
  EXPECT_EQ(stored["model"]["name"], "fraud-detector");
  EXPECT_EQ(stored["model"]["version"], 1);
  EXPECT_EQ(stored["model"]["run_id"], id);
  EXPECT_EQ(stored["model"]["owner"], "fraud-analytics");
  EXPECT_EQ(stored["model"]["data_hash"], data_hash);
  EXPECT_EQ(stored["data"]["content_hash"], data_hash);
  std::set<std::string> roles;
  for (const auto& d : stored["data"]["datasets"]) {
    roles.insert(d["role"]);
    EXPECT_EQ(d["content_hash"].get<std::string>().size(), 64u);
  }
  EXPECT_EQ(roles, (std::set<std::string>{"raw", "train", "validation", "test"}));
  EXPECT_EQ(stored["evaluation"]["test"]["roc_auc"], result["metrics"]["test"]["roc_auc"]);
  const auto interval = stored["evaluation"]["intervals"]["roc_auc"];
  ASSERT_EQ(interval.size(), 2u);
  EXPECT_LE(interval[0].get<double>(), result["metrics"]["test"]["roc_auc"].get<double>());
  EXPECT_GE(interval[1].get<double>(), result["metrics"]["test"]["roc_auc"].get<double>());
  EXPECT_EQ(stored["governance"]["approval"], "approved");
  EXPECT_TRUE(stored["governance"]["approved_by_rule"].get<bool>());
  EXPECT_EQ(stored["limitations"][0], "Card-present transactions only.");
  EXPECT_NE(stored["limitations"].dump().find("synthetic data"), std::string::npos);
  EXPECT_EQ(stored["monitoring"]["drift"]["psi_threshold"], 0.2);

  // Built again: the deployment that followed registration is in it, and the same facts.
  const nlohmann::json now = Json(Fraudops(dir, "models card fraud-detector@1 --format json"));
  EXPECT_EQ(now["model"], stored["model"]);
  bool deployed = false;
  for (const auto& entry : now["governance"]["deployments"])
    deployed = deployed ||
               (entry["action"] == "deployed" && entry["details"]["endpoint"] == "fraud-detector");
  EXPECT_TRUE(deployed) << now["governance"].dump();
  const CommandResult markdown = Fraudops(dir, "models card fraud-detector@1");
  ASSERT_EQ(markdown.exit_code, 0) << markdown.err;
  for (const std::string& text :
       {std::string("# Model card: fraud-detector@1"), id, data_hash,
        std::string("Approval: **approved**"), std::string("| roc_auc |")}) {
    EXPECT_NE(markdown.out.find(text), std::string::npos) << text;
  }
  ASSERT_EQ(
      Fraudops(dir, "models card fraud-detector@latest --format html --output card.html").exit_code,
      0);
  const std::string html = testing::ReadText(dir.File("card.html"));
  EXPECT_NE(html.find("<h1>Model card: fraud-detector@1</h1>"), std::string::npos);
  EXPECT_NE(html.find("<strong>approved</strong>"), std::string::npos);
  EXPECT_NE(html.find("<td>roc_auc</td>"), std::string::npos);
  EXPECT_EQ(html.find("**"), std::string::npos);
  EXPECT_EQ(Fraudops(dir, "models card fraud-detector@7").exit_code, 3);
  EXPECT_NE(Fraudops(dir, "models card fraud-detector@1 --format pdf").exit_code, 0);
}

TEST(RegistryCliTest, LineageByDataAcceptsAUniquePrefixOrTheRawFilesSha256) {
  TempDir dir;
  WriteSmallConfig(dir);
  ASSERT_EQ(Fraudops(dir, "data synth --rows 20000 --fraud-rate 0.01 --output tx.csv").exit_code,
            0);
  ASSERT_EQ(Fraudops(dir, "run --data tx.csv").exit_code, 0);
  auto file_sha = Sha256File(dir.File("tx.csv"));  // what sha256sum says
  ASSERT_TRUE(file_sha.ok());
  std::string content_hash;
  const nlohmann::json lineage = Json(Fraudops(dir, "lineage fraud-detector@1 --json"));
  for (const auto& data : lineage["data"]) {
    if (data["role"] == "raw") content_hash = data["content_hash"];
  }
  ASSERT_EQ(content_hash.size(), 64u);
  for (const std::string& hash :
       {content_hash, content_hash.substr(0, 8), *file_sha, file_sha->substr(0, 10)}) {
    nlohmann::json found = Json(Fraudops(dir, "lineage --data " + hash + " --json"));
    ASSERT_EQ(found["versions"].size(), 1u) << hash;
    EXPECT_EQ(found["data_hash"], hash.size() == 64                  ? hash
                                  : content_hash.rfind(hash, 0) == 0 ? content_hash
                                                                     : *file_sha);
  }
  CommandResult short_prefix = Fraudops(dir, "lineage --data " + content_hash.substr(0, 4));
  EXPECT_EQ(short_prefix.exit_code, 2);
  EXPECT_NE(short_prefix.err.find("a prefix of at least 6 hex digits"), std::string::npos);
  CommandResult none = Fraudops(dir, "lineage --data 0000000000");
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_NE(none.out.find("no model version was trained from it"), std::string::npos);
}

TEST(RegistryCliTest, RunsAreNamedTaggedAnnotatedFilteredAndComparedByAlgorithm) {
  TempDir dir;
  WriteSmallConfig(dir);
  CommandResult first = Fraudops(
      dir, "run --json --name baseline --tag team=risk --tag ticket=FR-12 --note 'first try'");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string a = Json(first)["execution_id"];
  CommandResult second = Fraudops(dir, "run --json --algorithm lgbm --name lgbm-1 --tag team=ops");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const std::string b = Json(second)["execution_id"];
  EXPECT_EQ(Fraudops(dir, "run --tag fraudops.name=x").exit_code, 2);  // fraudops' own keys

  nlohmann::json shown = Json(Fraudops(dir, "runs show " + a + " --json"));
  EXPECT_EQ(shown["name"], "baseline");
  EXPECT_EQ(shown["note"], "first try");
  EXPECT_EQ(shown["tags"]["ticket"], "FR-12");
  // The list says name, algorithm, data source and duration.
  CommandResult table = Fraudops(dir, "runs list");
  EXPECT_NE(table.out.find("baseline"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("lgbm-1"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("synthetic"), std::string::npos) << table.out;
  EXPECT_TRUE(std::regex_search(table.out, std::regex(" [0-9]+\\.[0-9] s ")))
      << table.out;  // a duration, in seconds to a tenth
  auto listed = [&](const std::string& filter) {
    std::set<std::string> ids;
    const nlohmann::json runs = Json(Fraudops(dir, "runs list --json --filter '" + filter + "'"));
    for (const auto& run : runs) ids.insert(run["run_id"]);
    return ids;
  };
  EXPECT_EQ(listed("tags.team = risk"), (std::set<std::string>{a}));
  EXPECT_EQ(listed("params.train.algorithm = lgbm"), (std::set<std::string>{b}));
  EXPECT_EQ(listed("test.roc_auc > 0 and tags.team != risk"), (std::set<std::string>{b}));
  EXPECT_EQ(listed("test.roc_auc>=0"), (std::set<std::string>{a, b}));  // the old form
  CommandResult bad = Fraudops(dir, "runs list --filter 'test.roc_auc ~ 3'");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("is not FIELD OP VALUE"), std::string::npos) << bad.err;
  // Tags and notes later.
  ASSERT_EQ(Fraudops(dir, "runs tag " + b.substr(0, 30) + " reviewed=yes --delete team").exit_code,
            0);
  ASSERT_EQ(Fraudops(dir, "runs note " + b + " 'lgbm wins on recall'").exit_code, 0);
  nlohmann::json later = Json(Fraudops(dir, "runs show " + b + " --json"));
  EXPECT_EQ(later["tags"]["reviewed"], "yes");
  EXPECT_FALSE(later["tags"].contains("team"));
  EXPECT_EQ(later["note"], "lgbm wins on recall");
  // Compared: each trainer's parameters only for its own runs; "best" on quality metrics.
  nlohmann::json compared = Json(Fraudops(dir, "runs compare " + a + " " + b + " --json"));
  EXPECT_EQ(compared["params"]["train.xgboost.eta"], nlohmann::json({"0.2", "-"}));
  for (const auto& [name, values] : compared["params"].items()) {
    if (name.rfind("train.lgbm.", 0) == 0) {
      EXPECT_EQ(values[0], "-") << name;
    }
  }
  EXPECT_TRUE(compared["best"].contains("test.roc_auc"));
  for (const auto& [name, run] : compared["best"].items()) {
    EXPECT_EQ(name.find("rows"), std::string::npos) << name;
    EXPECT_EQ(name.find("threshold"), std::string::npos) << name;
  }
}

TEST(RegistryCliTest, ManualApprovalAliasesAndTheAuditTrail) {
  TempDir dir;
  WriteSmallConfig(dir, "register:\n  approval: manual\n");
  ASSERT_EQ(Fraudops(dir, "run").exit_code, 0);
  nlohmann::json version = Json(Fraudops(dir, "models show fraud-detector --json"));
  EXPECT_EQ(version["approval"], "pending");

  // Segregation of duties (register.distinct_approver, on for manual approval): whoever ran
  // the pipeline may not approve what it registered.
  CommandResult own = Fraudops(dir, "models approve fraud-detector@1 --reason 'mine'");
  EXPECT_EQ(own.exit_code, 2);
  EXPECT_NE(own.err.find("segregation of duties"), std::string::npos) << own.err;
  EXPECT_NE(own.err.find("may not approve it; another approver must"), std::string::npos);
  CommandResult approved =
      Fraudops(dir, "models approve fraud-detector@1 --alias champion --reason 'reviewed' --json",
               "USER=reviewer");
  ASSERT_EQ(approved.exit_code, 0) << approved.err;
  EXPECT_EQ(Json(approved)["aliases"], nlohmann::json({"champion"}));
  EXPECT_EQ(Json(Fraudops(dir, "models show fraud-detector@champion --json"))["version"], 1);

  CommandResult rejected =
      Fraudops(dir, "models reject fraud-detector@1 --reason 'uses a leaky feature' --json");
  ASSERT_EQ(rejected.exit_code, 0) << rejected.err;
  EXPECT_EQ(Json(rejected)["approval"], "rejected");
  EXPECT_EQ(Fraudops(dir, "models show fraud-detector@champion").exit_code, 3);
  CommandResult alias = Fraudops(dir, "models alias fraud-detector@1 champion");
  EXPECT_EQ(alias.exit_code, 2);
  EXPECT_NE(alias.err.find("was rejected"), std::string::npos) << alias.err;

  nlohmann::json audit = Json(Fraudops(dir, "models show fraud-detector@1 --json"))["audit"];
  std::vector<std::string> actions;
  for (const auto& entry : audit) actions.push_back(entry["action"]);
  EXPECT_EQ(actions, (std::vector<std::string>{"version_created", "approve_refused", "approved",
                                               "alias_set", "rejected"}));
  EXPECT_EQ(audit[2]["actor"].get<std::string>().rfind("reviewer@", 0), 0u) << audit[2];
  EXPECT_EQ(audit[4]["details"]["reason"], "uses a leaky feature");
  EXPECT_EQ(Fraudops(dir, "models archive fraud-detector@1 --reason old").exit_code, 0);
  EXPECT_TRUE(Json(Fraudops(dir, "models show fraud-detector@1 --json"))["archived"].get<bool>());
}

/// tests/data/bundles/rows.csv scored by `model` through `fraudops predict`: the output's
/// header and rows.
std::pair<std::string, std::vector<std::string>> PredictRows(const TempDir& dir,
                                                             const std::string& model) {
  const std::string rows = std::string(FRAUDOPS_SOURCE_DIR) + "/tests/data/bundles/rows.csv";
  CommandResult scored = Fraudops(
      dir, "predict --model " + model + " --input " + rows + " --output " + dir.File("out.csv"));
  EXPECT_EQ(scored.exit_code, 0) << scored.err;
  std::ifstream in(dir.File("out.csv"));
  std::string header;
  std::getline(in, header);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return {header, lines};
}

TEST(RegistryCliTest, ADecisionPolicyIsRegisteredWithTheVersionChangedAsANewVersionAndDiffed) {
  TempDir dir;
  WriteSmallConfig(dir, "register:\n  policy: policy.txt\n");
  // A malformed policy is refused at registration, before anything runs, with line:column.
  WriteText(dir.File("policy.txt"), "big: Amount > 1000 -> review\nhigh: score >= -> decline\n");
  CommandResult refused = Fraudops(dir, "run");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("register.policy: policy.txt:2:16: expected a field, a number"),
            std::string::npos)
      << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("fraudops-home/fraudops.db")));

  const std::string policy =
      "big: Amount > 1000 -> review\nhigh: score >= 0.5 -> decline\ndefault -> approve\n";
  WriteText(dir.File("policy.txt"), policy);
  CommandResult run = Fraudops(dir, "run");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json v1 = Json(Fraudops(dir, "models show fraud-detector@1 --json"));
  EXPECT_EQ(v1["policy"], policy);
  EXPECT_EQ(v1["policy_sha256"], Sha256Hex(policy));
  EXPECT_EQ(v1["audit"][0]["details"]["policy_sha256"], Sha256Hex(policy));
  CommandResult shown = Fraudops(dir, "models show fraud-detector@1");
  EXPECT_NE(shown.out.find("  | high: score >= 0.5 -> decline"), std::string::npos) << shown.out;

  // Batch scoring of NAME@VERSION applies the version's policy.
  auto decisions = [&](const std::string& model) { return PredictRows(dir, model); };
  auto [header, lines] = decisions("fraud-detector@1");
  EXPECT_EQ(header, "score,margin,label,decision,rule");
  ASSERT_EQ(lines.size(), 21u);
  std::set<std::string> rules;
  for (const std::string& line : lines) rules.insert(line.substr(line.rfind(',') + 1));
  EXPECT_TRUE(rules.count("default")) << header;

  // A new policy is a new version of the same model: pending, audited, diffed.
  WriteText(dir.File("stricter.txt"),
            "big: Amount > 100 -> review\nhigh: score >= 0.5 -> decline\ndefault -> approve\n");
  CommandResult changed = Fraudops(dir, "models policy fraud-detector@1 " +
                                            dir.File("stricter.txt") + " --reason 'lower' --json");
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  nlohmann::json v2 = Json(changed);
  EXPECT_EQ(v2["version"], 2);
  EXPECT_EQ(v2["approval"], "pending");
  EXPECT_EQ(v2["run_id"], v1["run_id"]);
  EXPECT_EQ(v2["bundle_uri"], v1["bundle_uri"]);
  nlohmann::json audit = Json(Fraudops(dir, "models show fraud-detector@2 --json"))["audit"];
  EXPECT_EQ(audit[0]["details"]["policy_from"], "fraud-detector@1");
  EXPECT_EQ(audit[0]["details"]["reason"], "lower");
  nlohmann::json compared =
      Json(Fraudops(dir, "models compare fraud-detector@1 fraud-detector@2 --json"));
  EXPECT_EQ(compared["policies"][1]["same_as_first"], false);
  EXPECT_EQ(compared["policies"][1]["diff"],
            nlohmann::json({"+ big: Amount > 100 -> review", "- big: Amount > 1000 -> review",
                            "  high: score >= 0.5 -> decline", "  default -> approve"}));
  EXPECT_EQ(compared["metrics"]["test.roc_auc"][0], compared["metrics"]["test.roc_auc"][1]);
  auto [header2, lines2] = decisions("fraud-detector@2");
  EXPECT_EQ(header2, header);
  EXPECT_NE(lines2, lines);  // amounts between 100 and 1000 are now reviewed

  // Refused: a malformed policy (nothing registered), the same policy again.
  WriteText(dir.File("bad.txt"), "x: country in [\"XX\" -> decline\ndefault -> approve\n");
  CommandResult bad = Fraudops(dir, "models policy fraud-detector@2 " + dir.File("bad.txt"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(dir.File("bad.txt") + ":1:"), std::string::npos) << bad.err;
  CommandResult same = Fraudops(dir, "models policy fraud-detector@1 " + dir.File("policy.txt"));
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_NE(same.err.find("already has this policy"), std::string::npos) << same.err;
  // --clear: a version without a policy scores without decisions.
  ASSERT_EQ(Fraudops(dir, "models policy fraud-detector@2 --clear").exit_code, 0);
  EXPECT_EQ(Json(Fraudops(dir, "models list --json")).size(), 3u);
  EXPECT_FALSE(Json(Fraudops(dir, "models show fraud-detector@3 --json")).contains("policy"));
  EXPECT_EQ(decisions("fraud-detector@3").first, "score,margin,label");
}

TEST(RegistryCliTest, ACombinationOfTwoModelsIsAVersionThatScoresTheirWeightedMean) {
  TempDir dir;
  WriteSmallConfig(dir);
  ASSERT_EQ(Fraudops(dir, "run").exit_code, 0);                   // fraud-detector@1: XGBoost
  ASSERT_EQ(Fraudops(dir, "run --algorithm lgbm").exit_code, 0);  // @2: LightGBM
  CommandResult combined =
      Fraudops(dir,
               "models combine fraud-detector --model fraud-detector@1 --model fraud-detector@2 "
               "--method weighted --weight 3 --weight 1 --json");
  ASSERT_EQ(combined.exit_code, 0) << combined.err;
  nlohmann::json v3 = Json(combined);
  EXPECT_EQ(v3["version"], 3);
  EXPECT_EQ(v3["approval"], "pending");
  EXPECT_EQ(v3["algorithm"], "xgboost+lgbm");
  EXPECT_EQ(v3["metrics"]["combination"]["models"][1]["model"], "fraud-detector@2");
  nlohmann::json v1 = Json(Fraudops(dir, "models show fraud-detector@1 --json"));
  nlohmann::json v2 = Json(Fraudops(dir, "models show fraud-detector@2 --json"));
  EXPECT_DOUBLE_EQ(v3["threshold"].get<double>(),
                   (3 * v1["threshold"].get<double>() + v2["threshold"].get<double>()) / 4);
  // Lineage: a tracked run of experiment "combine" wrote and stored its bundle.
  nlohmann::json lineage = Json(Fraudops(dir, "lineage fraud-detector@3 --json"));
  EXPECT_EQ(lineage["run"]["experiment"], "combine");
  EXPECT_EQ(lineage["run"]["status"], "succeeded");

  // Batch scoring: the combination's score is the weighted mean of its models' scores.
  const std::string rows = std::string(FRAUDOPS_SOURCE_DIR) + "/tests/data/bundles/rows.csv";
  auto scores = [&](const std::string& model) {
    std::vector<double> out;
    for (const std::string& line : PredictRows(dir, model).second)
      out.push_back(std::strtod(line.c_str(), nullptr));
    return out;
  };
  const std::vector<double> a = scores("fraud-detector@1"), b = scores("fraud-detector@2"),
                            c = scores("fraud-detector@3");
  ASSERT_EQ(a.size(), 21u);
  ASSERT_EQ(c.size(), a.size());
  for (size_t r = 0; r < a.size(); ++r) EXPECT_EQ(c[r], (3 * a[r] + 1 * b[r]) / 4) << r;
  EXPECT_NE(a, b);
  ASSERT_EQ(Fraudops(dir,
                     "models combine fraud-detector --model fraud-detector@1 "
                     "--model fraud-detector@2 --method max")
                .exit_code,
            0);
  const std::vector<double> highest = scores("fraud-detector@4");
  for (size_t r = 0; r < a.size(); ++r) EXPECT_EQ(highest[r], std::max(a[r], b[r])) << r;
  // A combination cannot explain, and is not combined again.
  CommandResult explain = Fraudops(dir, "predict --model fraud-detector@3 --input " + rows +
                                            " --output " + dir.File("x.csv") + " --explain 2");
  EXPECT_EQ(explain.exit_code, 2);
  EXPECT_NE(explain.err.find("cannot explain"), std::string::npos) << explain.err;
  CommandResult again = Fraudops(
      dir, "models combine fraud-detector --model fraud-detector@3 --model fraud-detector@1");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("fraud-detector@3 is a combination"), std::string::npos) << again.err;
  // Refused: weights that do not match the models, and models that take other inputs.
  CommandResult unweighted =
      Fraudops(dir,
               "models combine fraud-detector --model fraud-detector@1 --model "
               "fraud-detector@2 --method weighted --weight 1");
  EXPECT_EQ(unweighted.exit_code, 2);
  EXPECT_NE(unweighted.err.find("one --weight per --model (2)"), std::string::npos)
      << unweighted.err;
  WriteSmallConfig(dir, "  derived_features: [\"log_amount = log(Amount + 1)\"]\n");
  ASSERT_EQ(Fraudops(dir, "run").exit_code, 0);  // @5 takes a derived feature too
  CommandResult other = Fraudops(
      dir, "models combine fraud-detector --model fraud-detector@1 --model fraud-detector@5");
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("fraud-detector@5 does not take the same inputs as the first model: "
                           "30 features, not 29"),
            std::string::npos)
      << other.err;
  EXPECT_EQ(Json(Fraudops(dir, "models list fraud-detector --json")).size(), 5u);
}

TEST(RegistryCliTest, OnlyApprovedVersionsAreDeployedAndAServingVersionIsNotRetiredSilently) {
  TempDir dir;
  WriteSmallConfig(dir, "register:\n  approval: manual\n");
  auto actions = [&](const std::string& model) {
    const nlohmann::json shown = Json(Fraudops(dir, "models show " + model + " --json"));
    std::vector<std::string> out;
    for (const auto& entry : shown["audit"]) out.push_back(entry["action"]);
    return out;
  };
  auto production = [&] {
    return Json(Fraudops(dir, "deploy status --json"))[0]["production"]["version"];
  };
  // The pipeline's own deploy step leaves a pending version alone.
  CommandResult run = Fraudops(dir, "run --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(Json(run).contains("deployment")) << run.out;
  // Deploying a pending version is refused by name, however it is asked for; and audited.
  for (const char* strategy : {"all_at_once", "canary", "shadow", "ab"}) {
    CommandResult refused =
        Fraudops(dir, std::string("deploy fraud-detector@1 --strategy ") + strategy);
    EXPECT_EQ(refused.exit_code, 2) << strategy;
    EXPECT_NE(refused.err.find("fraud-detector@1 is pending approval; only approved versions are "
                               "deployed (fraudops models approve fraud-detector@1)"),
              std::string::npos)
        << refused.err;
  }
  EXPECT_EQ(actions("fraud-detector@1"),
            (std::vector<std::string>{"version_created", "deploy_refused", "deploy_refused",
                                      "deploy_refused", "deploy_refused"}));
  ASSERT_EQ(Fraudops(dir, "models approve fraud-detector@1 --reason ok", "USER=reviewer").exit_code,
            0);
  // The approver may not deploy it; someone else does.
  CommandResult own = Fraudops(dir, "deploy fraud-detector@1", "USER=reviewer");
  EXPECT_EQ(own.exit_code, 2);
  EXPECT_NE(own.err.find("reviewer approved fraud-detector@1 and may not also deploy it"),
            std::string::npos)
      << own.err;
  ASSERT_EQ(Fraudops(dir, "deploy fraud-detector@1").exit_code, 0);
  EXPECT_EQ(production(), 1);

  // With register.shadow_pending a pending version may shadow production, and nothing else.
  WriteSmallConfig(dir, "register:\n  approval: manual\n  shadow_pending: true\n");
  ASSERT_EQ(Fraudops(dir, "run").exit_code, 0);  // @2, pending
  EXPECT_EQ(Fraudops(dir, "deploy fraud-detector@2 --strategy canary").exit_code, 2);
  CommandResult shadow = Fraudops(dir, "deploy fraud-detector@2 --strategy shadow");
  ASSERT_EQ(shadow.exit_code, 0) << shadow.err;

  // A version that serves is neither rejected nor archived, unless taken out of service.
  CommandResult serving = Fraudops(dir, "models reject fraud-detector@1 --reason late");
  EXPECT_EQ(serving.exit_code, 2);
  EXPECT_NE(serving.err.find("cannot reject fraud-detector@1: it serves at endpoint "
                             "fraud-detector (production)"),
            std::string::npos)
      << serving.err;
  EXPECT_EQ(Fraudops(dir, "models archive fraud-detector@2").exit_code, 2);
  CommandResult retired =
      Fraudops(dir, "models reject fraud-detector@2 --reason 'worse in shadow' --rollback");
  ASSERT_EQ(retired.exit_code, 0) << retired.err;
  EXPECT_TRUE(Json(Fraudops(dir, "deploy status --json"))[0]["shadows"].empty());
  EXPECT_EQ(Json(Fraudops(dir, "models show fraud-detector@2 --json"))["approval"], "rejected");
  std::vector<std::string> two = actions("fraud-detector@2");
  EXPECT_EQ(std::count(two.begin(), two.end(), "archive_refused"), 1);

  // --rollback on production: back to the version before, then archived.
  ASSERT_EQ(Fraudops(dir, "run").exit_code, 0);  // @3
  ASSERT_EQ(Fraudops(dir, "models approve fraud-detector@3 --reason ok", "USER=reviewer").exit_code,
            0);
  ASSERT_EQ(Fraudops(dir, "deploy fraud-detector@3 --strategy all_at_once").exit_code, 0);
  EXPECT_EQ(production(), 3);
  CommandResult archived = Fraudops(dir, "models archive fraud-detector@3 --rollback");
  ASSERT_EQ(archived.exit_code, 0) << archived.err;
  EXPECT_EQ(production(), 1);
  EXPECT_TRUE(Json(Fraudops(dir, "models show fraud-detector@3 --json"))["archived"].get<bool>());
  // A rollback never brings back a version that was rejected meanwhile.
  ASSERT_EQ(Fraudops(dir, "run").exit_code, 0);  // @4
  ASSERT_EQ(Fraudops(dir, "models approve fraud-detector@4 --reason ok", "USER=reviewer").exit_code,
            0);
  ASSERT_EQ(Fraudops(dir, "deploy fraud-detector@4 --strategy all_at_once").exit_code, 0);
  ASSERT_EQ(Fraudops(dir, "models reject fraud-detector@1 --reason 'found a leak'").exit_code, 0);
  CommandResult back = Fraudops(dir, "deploy rollback");
  EXPECT_EQ(back.exit_code, 2);
  EXPECT_NE(back.err.find("cannot roll 'fraud-detector' back to fraud-detector@1: "
                          "fraud-detector@1 was rejected (found a leak)"),
            std::string::npos)
      << back.err;
  EXPECT_EQ(production(), 4);
  std::vector<std::string> one = actions("fraud-detector@1");
  EXPECT_EQ(one.back(), "rollback_refused");
}

TEST(RegistryCliTest, TheChampionGateIsOnByDefaultAndComparesWithProductionOnTheSameTestRows) {
  TempDir dir;
  WriteSmallConfig(dir);  // the defaults: champion gate on, canary deployments
  CommandResult first = Fraudops(dir, "run --json");
  ASSERT_EQ(first.exit_code, 0) << first.err;  // nothing in production: it passes, deploys at once
  EXPECT_NE(Json(first)["gate"]["checks"].dump().find("the first passes"), std::string::npos);
  EXPECT_EQ(Json(first)["deployment"]["strategy"], "canary");
  EXPECT_EQ(Json(first)["deployment"]["status"], "completed");

  // Must beat production by 0.5 ROC AUC: impossible.
  CommandResult second = Fraudops(dir, "run --json", "FRAUDOPS_REGISTER_CHAMPION_MARGIN=-0.5");
  EXPECT_EQ(second.exit_code, 4) << second.err;
  nlohmann::json result = Json(second);
  EXPECT_EQ(result["status"], "gate_failed");
  const std::string reason = result["gate"]["reasons"][0].get<std::string>();
  EXPECT_NE(reason.find("vs champion fraud-detector@1"), std::string::npos) << reason;
  EXPECT_NE(reason.find("worse than the champion by more than the margin"), std::string::npos);
  // Listed with the checks (what the summary prints), and logged as the failure.
  EXPECT_NE(result["gate"]["checks"].dump().find("worse than the champion"), std::string::npos)
      << result["gate"];
  EXPECT_NE(second.err.find("\"level\":\"warn\",\"component\":\"gate\",\"msg\":\"failed: "),
            std::string::npos)
      << second.err;
  EXPECT_FALSE(result.contains("registered"));
  EXPECT_EQ(result["steps"].back()["status"], "skipped");
  EXPECT_EQ(Json(Fraudops(dir, "models list --json")).size(), 1u);

  // The same data and seed: as good as production, within the default margin. It goes out
  // as a canary beside production, not in its place.
  CommandResult third = Fraudops(dir, "run --json");
  ASSERT_EQ(third.exit_code, 0) << third.err;
  // Compared with the run before, the same data raises no validation warning.
  EXPECT_EQ(third.err.find("since the previous run"), std::string::npos) << third.err;
  EXPECT_EQ(Json(third)["metrics"].dump().find("warnings"), std::string::npos);
  EXPECT_EQ(Json(third)["registered"]["version"], 2);
  EXPECT_EQ(Json(third)["metrics"]["champion"]["version"], 1);
  EXPECT_EQ(Json(third)["deployment"]["status"], "baking");
  nlohmann::json endpoint = Json(Fraudops(dir, "deploy status --json"))[0];
  EXPECT_EQ(endpoint["production"]["version"], 1) << endpoint;
  EXPECT_EQ(endpoint["canary"]["version"], 2) << endpoint;

  // A bias facet on Amount takes it out of the new model's features; production, which uses
  // it, is still scored with it (it was refused as "cannot score this run's test split").
  CommandResult facet = Fraudops(dir, "run --json", "FRAUDOPS_BIAS_FACETS='Amount>100'");
  const nlohmann::json facet_gate = Json(facet)["gate"];
  EXPECT_NE(facet_gate.dump().find("vs champion fraud-detector@1"), std::string::npos)
      << facet_gate << facet.err;
  EXPECT_EQ(facet_gate.dump().find("cannot score"), std::string::npos) << facet_gate;
}

TEST(RegistryCliTest, PromotionToProductionIsRefusedNamingTheUnmetConditionThenAllowed) {
  TempDir dir;
  WriteSmallConfig(dir,
                   "deploy:\n  endpoint_name: fraud-staging\npromote:\n  production: [approved, "
                   "champion_passed, 'served:staging:2s']\n");
  CommandResult run = Fraudops(dir, "run --json", "FRAUDOPS_DEPLOY_ENABLED=false");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(Fraudops(dir, "deploy environment fraud-staging staging").exit_code, 0);
  ASSERT_EQ(Fraudops(dir, "deploy environment fraud-detector production").exit_code, 0);
  CommandResult unknown = Fraudops(dir, "deploy environment fraud-detector qa");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("accepted: dev, staging, production"), std::string::npos);

  // Never served on staging: promotion and a plain deployment to production are refused.
  CommandResult refused = Fraudops(dir, "promote fraud-detector@1 --to production");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("promotion of fraud-detector@1 to production (endpoint "
                             "fraud-detector) refused; unmet: served:staging:2s (never served on "
                             "a staging endpoint"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.out.find("met   champion_passed"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("UNMET served:staging:2s"), std::string::npos) << refused.out;
  CommandResult plain = Fraudops(dir, "deploy fraud-detector@1 --endpoint fraud-detector");
  EXPECT_EQ(plain.exit_code, 2);
  EXPECT_NE(plain.err.find("unmet: served:staging:2s"), std::string::npos) << plain.err;

  // Staging takes it at once; production once it served staging for two seconds.
  CommandResult staged = Fraudops(dir, "promote fraud-detector@1 --to staging");
  ASSERT_EQ(staged.exit_code, 0) << staged.err;
  EXPECT_NE(staged.out.find("on endpoint fraud-staging"), std::string::npos) << staged.out;
  CommandResult promoted;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {  // polls the policy through the command until it holds
    promoted = Fraudops(dir, "promote fraud-detector@1 --to production --json");
  } while (promoted.exit_code != 0 && std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(promoted.exit_code, 0) << promoted.err;
  EXPECT_EQ(Json(promoted)["endpoint"], "fraud-detector");
  EXPECT_TRUE(Json(promoted)["check"]["allowed"].get<bool>());
  const nlohmann::json shown = Json(Fraudops(dir, "models show fraud-detector@1 --json"));
  std::vector<std::string> audited;
  for (const auto& entry : shown["audit"]) audited.push_back(entry["action"]);
  EXPECT_GE(std::count(audited.begin(), audited.end(), "promotion_refused"), 2);
}

TEST(RegistryCliTest, ACorruptedArtifactIsRefusedAtLoad) {
  TempDir dir;
  WriteSmallConfig(dir, "register:\n  aliases: [champion]\n");
  CommandResult run = Fraudops(dir, "run --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(Fraudops(dir, "models export fraud-detector@champion out").exit_code, 0);
  FlipOneByte(Json(run)["artifacts"]["model"]);
  CommandResult exported = Fraudops(dir, "models export fraud-detector@champion out2");
  EXPECT_EQ(exported.exit_code, 3);
  EXPECT_NE(exported.err.find("failed its checksum"), std::string::npos) << exported.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("out2/model.json")));
  // The champion gate reads the champion the same way.
  CommandResult gated = Fraudops(dir, "run", "FRAUDOPS_REGISTER_CHAMPION_GATE=true");
  EXPECT_EQ(gated.exit_code, 3);
  EXPECT_NE(gated.err.find("failed its checksum"), std::string::npos) << gated.err;
}

TEST(RegistryCliTest, TwoConcurrentRunsAgainstOnePostgresRegistryCreateTwoVersions) {
  FOPS_NEED_SERVER(admin, "FOPS_TEST_POSTGRES_URL");
  testing::ScratchDatabase database(admin);
  ASSERT_TRUE(database.error().empty()) << database.error();
  TempDir dir;
  WriteSmallConfig(dir, "global:\n  metadata_url: " + database.url() + "\n");
  std::string command = "cd " + dir.path() + " && (" + testing::Binary() +
                        " run --json > a.json 2> a.err & " + testing::Binary() +
                        " run --json > b.json 2> b.err & wait)";
  ASSERT_EQ(std::system(command.c_str()), 0);
  std::set<std::string> runs;
  std::set<int> versions;
  for (const char* name : {"a.json", "b.json"}) {
    auto result = nlohmann::json::parse(testing::ReadText(dir.File(name)), nullptr, false);
    ASSERT_FALSE(result.is_discarded())
        << testing::ReadText(dir.File(name == std::string("a.json") ? "a.err" : "b.err"));
    EXPECT_EQ(result["status"], "succeeded") << result.dump();
    runs.insert(result["execution_id"].get<std::string>());
    versions.insert(result["registered"]["version"].get<int>());
  }
  EXPECT_EQ(runs.size(), 2u);
  EXPECT_EQ(versions, (std::set<int>{1, 2}));
  nlohmann::json listed = Json(Fraudops(dir, "models list --json"));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_NE(listed[0]["run_id"], listed[1]["run_id"]);
  EXPECT_EQ(Json(Fraudops(dir, "runs list --json")).size(), 2u);
  // The password is not in any run record.
  nlohmann::json shown = Json(Fraudops(dir, "runs show " + *runs.begin() + " --json"));
  EXPECT_EQ(shown.dump().find(":fraudops@"), std::string::npos);
}

/// Whether `pid` runs (a zombie, killed but not yet reaped by its new parent, does not).
bool Alive(pid_t pid) {
  std::string stat = testing::ReadText("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

/// Starts `fraudops run` in the background paused at a fault point, kills it with SIGKILL
/// there, and returns once it is gone.
void KillAtFaultPoint(const TempDir& dir, const std::string& point) {
  std::string marker = dir.File("marker-" + point);
  CommandResult started =
      testing::RunCommand("(cd " + dir.path() + " && exec env FRAUDOPS_FAULT_PAUSE=" + point +
                              " FRAUDOPS_FAULT_MARKER=" + marker + " " + testing::Binary() +
                              " run > killed.out 2> killed.err) & echo $!",
                          dir.path());
  pid_t pid = static_cast<pid_t>(std::stol(started.out));
  for (int i = 0; i < 1200 && !std::filesystem::exists(marker); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(std::filesystem::exists(marker)) << testing::ReadText(dir.File("killed.err"));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  for (int i = 0; i < 100 && Alive(pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_FALSE(Alive(pid)) << "the killed run is still there";
}

/// Every registered version's model files are present and match their checksums.
void ExpectConsistentRegistry(const TempDir& dir) {
  nlohmann::json versions = Json(Fraudops(dir, "models list --json"));
  for (const auto& version : versions) {
    std::string ref = "fraud-detector@" + std::to_string(version["version"].get<int>());
    CommandResult exported = Fraudops(
        dir, "models export " + ref + " export-" + std::to_string(version["version"].get<int>()));
    EXPECT_EQ(exported.exit_code, 0) << ref << ": " << exported.err;
  }
}

TEST(RegistryCliTest, SigkillDuringRegisterLeavesAConsistentStore) {
  for (const std::string point : {"register.after_publish", "register.before_commit"}) {
    SCOPED_TRACE(point);
    TempDir dir;
    WriteSmallConfig(dir);
    KillAtFaultPoint(dir, point);
    // Killed before the commit: no version, and nothing points at a partial artifact.
    EXPECT_TRUE(Json(Fraudops(dir, "models list --json")).empty());
    ExpectConsistentRegistry(dir);
    nlohmann::json runs = Json(Fraudops(dir, "runs list --json"));
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0]["status"], "running");  // it never ended; the record says so
    // The next run succeeds and registers version 1.
    CommandResult next = Fraudops(dir, "run --json");
    ASSERT_EQ(next.exit_code, 0) << next.err;
    EXPECT_EQ(Json(next)["registered"]["version"], 1);
    ExpectConsistentRegistry(dir);
  }
}

TEST(RegistryCliTest, SigkillInTheRegisterTransactionOnPostgres) {
  FOPS_NEED_SERVER(admin, "FOPS_TEST_POSTGRES_URL");
  testing::ScratchDatabase database(admin);
  ASSERT_TRUE(database.error().empty()) << database.error();
  TempDir dir;
  WriteSmallConfig(dir, "global:\n  metadata_url: " + database.url() + "\n");
  KillAtFaultPoint(dir, "register.before_commit");
  EXPECT_TRUE(Json(Fraudops(dir, "models list --json")).empty());
  CommandResult next = Fraudops(dir, "run --json");  // the server rolled the transaction back
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(Json(next)["registered"]["version"], 1);
  ExpectConsistentRegistry(dir);
}

TEST(RegistryCliTest, FiveSourcesGiveTheSameDataHashAndTheSameModel) {
  FOPS_NEED_SERVER(postgres_admin, "FOPS_TEST_POSTGRES_URL");
  FOPS_NEED_SERVER(mysql_admin, "FOPS_TEST_MYSQL_URL");
  FOPS_NEED_SERVER(s3_endpoint, "FOPS_TEST_S3_ENDPOINT");
  testing::ScratchDatabase postgres(postgres_admin);
  testing::ScratchDatabase mysql(mysql_admin);
  ASSERT_TRUE(postgres.error().empty() && mysql.error().empty())
      << postgres.error() << mysql.error();
  TempDir dir;
  WriteSmallConfig(dir);
  ASSERT_EQ(Fraudops(dir, "data synth --rows 20000 --fraud-rate 0.01 --output tx.csv").exit_code,
            0);
  std::string header = testing::ReadText(dir.File("tx.csv")).substr(0, 400);
  header = header.substr(0, header.find('\n'));
  std::string columns;  // Time, V1..V28, Amount as DOUBLE PRECISION; Class as INTEGER
  for (const std::string& name : Split(header, ',')) {
    std::string clean = std::string(Trim(name));
    if (clean.front() == '"') clean = clean.substr(1, clean.size() - 2);
    columns += (columns.empty() ? "" : ", ") + ("\"" + clean + "\" ") +
               (clean == "Class" ? "INTEGER" : "DOUBLE PRECISION");
  }
  // Load the same file into each server with its own client.
  std::string load_sqlite = "sqlite3 " + dir.File("tx.db") + " \"CREATE TABLE transactions (" +
                            columns + ");\" \".mode csv\" \".import --skip 1 " +
                            dir.File("tx.csv") + " transactions\"";
  ASSERT_EQ(std::system(load_sqlite.c_str()), 0);
  auto pg = OpenPostgres(postgres.url());
  ASSERT_TRUE(pg.ok());
  ASSERT_TRUE((*pg)->Exec("CREATE TABLE transactions (" + columns + ")").ok());
  std::string load_pg = "psql '" + postgres.url() + "' -q -c \"\\copy transactions FROM '" +
                        dir.File("tx.csv") + "' CSV HEADER\"";
  ASSERT_EQ(std::system(load_pg.c_str()), 0);
  auto my = OpenMysql(mysql.url());
  ASSERT_TRUE(my.ok());
  std::string my_columns = columns;
  for (char& c : my_columns)
    if (c == '"') c = '`';
  ASSERT_TRUE((*my)->Exec("CREATE TABLE transactions (" + my_columns + ")").ok());
  std::string mysql_url = mysql.url();  // mysql://fraudops:fraudops@127.0.0.1:PORT/DB
  std::string host_port = mysql_url.substr(mysql_url.find('@') + 1);
  std::string database_name = host_port.substr(host_port.find('/') + 1);
  host_port = host_port.substr(0, host_port.find('/'));
  std::string load_mysql = "mariadb --no-defaults --local-infile=1 -h " +
                           host_port.substr(0, host_port.find(':')) + " -P " +
                           host_port.substr(host_port.find(':') + 1) + " -ufraudops -pfraudops " +
                           database_name + " -e \"LOAD DATA LOCAL INFILE '" + dir.File("tx.csv") +
                           "' INTO TABLE transactions FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED "
                           "BY '\\\"' IGNORE 1 LINES\"";
  ASSERT_EQ(std::system(load_mysql.c_str()), 0);
  std::string bucket = "src" + testing::RandomSuffix();
  S3Client s3(testing::TestS3Settings(s3_endpoint));
  ASSERT_TRUE(s3.CreateBucket(bucket).ok());
  ASSERT_TRUE(
      s3.Put(S3Location{bucket, "raw/transactions.csv"}, testing::ReadText(dir.File("tx.csv")))
          .ok());

  std::string aws = testing::TestS3Environment(s3_endpoint);
  const std::pair<std::string, std::string> sources[] = {
      {"tx.csv", ""},
      {"sqlite:tx.db", ""},
      {postgres.url(), ""},
      {mysql.url(), ""},
      // …and the S3 run also keeps its artifacts in S3.
      {"s3://" + bucket + "/raw/transactions.csv",
       aws + " FRAUDOPS_ARTIFACT_URL=s3://" + bucket + "/artifacts"},
  };
  std::set<std::string> hashes, models;
  for (const auto& [source, env] : sources) {
    CommandResult run = Fraudops(dir, "run --json --data '" + source + "'", env);
    ASSERT_EQ(run.exit_code, 0) << source << ": " << run.err;
    nlohmann::json result = Json(run);
    std::string id = result["execution_id"];
    nlohmann::json lineage =
        Json(Fraudops(dir,
                      "lineage fraud-detector@" +
                          std::to_string(result["registered"]["version"].get<int>()) + " --json",
                      env));
    for (const auto& data : lineage["data"]) {
      if (data["role"] == "raw") hashes.insert(data["content_hash"].get<std::string>());
    }
    for (const auto& artifact : lineage["artifacts"]) {
      if (artifact["name"] == "model/model.json")
        models.insert(artifact["sha256"].get<std::string>());
    }
  }
  // The reference project's names for the S3 object: S3_BUCKET and S3_RAW_DATA_KEY.
  CommandResult named =
      Fraudops(dir, "data inspect s3 --json",
               aws + " S3_BUCKET=" + bucket + " S3_RAW_DATA_KEY=raw/transactions.csv");
  ASSERT_EQ(named.exit_code, 0) << named.err;
  hashes.insert(Json(named)["content_hash"].get<std::string>());
  // A table streamed into a dataset file (chunk by chunk) trains the same model too.
  CommandResult imported =
      Fraudops(dir, "data import '" + mysql.url() + "' --output tx.fds --chunk-rows 3000 --json");
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_EQ(Json(imported)["rows"], 20000);
  hashes.insert(Json(imported)["content_hash"].get<std::string>());
  CommandResult from_file = Fraudops(dir, "run --json --data tx.fds");
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  models.insert(Sha256Hex(testing::ReadText(Json(from_file)["artifacts"]["model"])));
  EXPECT_EQ(hashes.size(), 1u);
  EXPECT_EQ(models.size(), 1u);
  // No log, record or printed line holds a database password.
  CommandResult inspected = Fraudops(dir, "data inspect '" + postgres.url() + "'");
  EXPECT_EQ(inspected.out.find(":fraudops@"), std::string::npos) << inspected.out;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(dir.File("fraudops-home"))) {
    if (!entry.is_regular_file() || entry.path().extension() == ".fds" ||
        entry.path().extension() == ".db")
      continue;
    EXPECT_EQ(testing::ReadText(entry.path().string()).find(":fraudops@"), std::string::npos)
        << entry.path();
  }
  // The S3-stored version exports from S3 with its checksums verified.
  CommandResult exported = Fraudops(dir, "models export fraud-detector@5 from-s3",
                                    aws + " FRAUDOPS_ARTIFACT_URL=s3://" + bucket + "/artifacts");
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(Sha256Hex(testing::ReadText(dir.File("from-s3/model.json"))), *models.begin());
}

TEST(RegistryCliTest, BadServersAndSourcesAreClearErrorsAndRegisterNothing) {
  FOPS_NEED_SERVER(postgres_admin, "FOPS_TEST_POSTGRES_URL");
  FOPS_NEED_SERVER(s3_endpoint, "FOPS_TEST_S3_ENDPOINT");
  testing::ScratchDatabase postgres(postgres_admin);
  TempDir dir;
  WriteSmallConfig(dir);
  std::string wrong = postgres.url();
  wrong.replace(wrong.find(":fraudops@"), 10, ":wrong-secret@");
  CommandResult refused = Fraudops(dir, "run", "FRAUDOPS_METADATA_URL=" + wrong);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("password authentication failed"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("wrong-secret"), std::string::npos) << "the password leaked";
  // No run began: no run id, no table of skipped steps, no artifacts path.
  EXPECT_NE(refused.out.find("fraudops run: not started (pipeline fraud-detection)"),
            std::string::npos)
      << refused.out;
  EXPECT_EQ(refused.out.find("artifacts:"), std::string::npos) << refused.out;

  CommandResult missing_table = Fraudops(dir, "run --data '" + postgres.url() + "'");
  EXPECT_EQ(missing_table.exit_code, 3);
  EXPECT_NE(missing_table.err.find("cannot read table 'transactions'"), std::string::npos)
      << missing_table.err;

  std::string aws = testing::TestS3Environment(s3_endpoint);
  CommandResult no_bucket = Fraudops(dir, "run --data s3://no-such-bucket-x/raw.csv", aws);
  EXPECT_EQ(no_bucket.exit_code, 3);
  EXPECT_NE(no_bucket.err.find("NoSuchBucket"), std::string::npos) << no_bucket.err;

  auto started = std::chrono::steady_clock::now();
  CommandResult unreachable = Fraudops(dir, "run --data postgresql://u:p@10.255.255.1:5432/db");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
            30.0);
  EXPECT_EQ(unreachable.exit_code, 3);
  EXPECT_NE(unreachable.err.find("postgresql://u:***@10.255.255.1"), std::string::npos)
      << unreachable.err;

  CommandResult no_artifact_bucket =
      Fraudops(dir, "run", aws + " FRAUDOPS_ARTIFACT_URL=s3://no-such-bucket-y/a");
  EXPECT_NE(no_artifact_bucket.exit_code, 0);
  EXPECT_NE(no_artifact_bucket.err.find("global.artifact_url"), std::string::npos)
      << no_artifact_bucket.err;

  // Nothing was registered by any of them.
  EXPECT_TRUE(Json(Fraudops(dir, "models list --json")).empty());
}

// Retention and archival (docs/operations.md): what a registered version needs is kept, what
// nothing needs is deleted or archived, dry runs change nothing, and every change is audited.
TEST(ArtifactsCliTest, GcDeletesWhatNothingNeedsAndArchiveMovesWhatNothingServes) {
  TempDir dir;
  WriteSmallConfig(dir);
  ASSERT_EQ(Fraudops(dir, "run --json").exit_code, 0);  // fraud-detector@1, deployed
  // Two runs that fail the gate: registered as nothing.
  WriteText(dir.File("strict.yml"),
            testing::ReadText(dir.File("config.yml")) + "evaluate:\n  min_roc_auc: 0.99999\n");
  std::vector<std::string> failed;
  for (int i = 0; i < 2; ++i) {
    CommandResult run = Fraudops(dir, "run --json --config strict.yml");
    ASSERT_EQ(run.exit_code, 4) << run.err;
    failed.push_back(Json(run)["execution_id"]);
  }
  auto files_of = [&](const std::string& run_id) {
    return Json(Fraudops(dir, "runs show " + run_id + " --json"))["artifacts"];
  };
  ASSERT_FALSE(files_of(failed[0]).empty());
  const std::string one_file = files_of(failed[0])[0]["uri"];
  ASSERT_TRUE(std::filesystem::exists(one_file));

  // A dry run lists, keeps the registered run with its reason, and touches nothing.
  CommandResult dry = Fraudops(dir, "artifacts gc --keep-days 0 --json");
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  nlohmann::json plan = Json(dry);
  EXPECT_FALSE(plan["applied"].get<bool>());
  ASSERT_EQ(plan["runs"].size(), 2u) << plan.dump();
  ASSERT_EQ(plan["kept"].size(), 1u);
  EXPECT_EQ(plan["kept"][0]["why"], "fraud-detector@1 is registered");
  EXPECT_TRUE(std::filesystem::exists(one_file));
  // Runs younger than the retention are not touched.
  EXPECT_TRUE(Json(Fraudops(dir, "artifacts gc --keep-days 30 --json"))["runs"].empty());

  // Archive the first failed run (nothing serves it) under archive/, then gc the second.
  CommandResult archived = Fraudops(dir, "artifacts archive --older-than-days 0 --apply --json");
  ASSERT_EQ(archived.exit_code, 0) << archived.err;
  EXPECT_EQ(Json(archived)["runs"].size(), 2u);
  EXPECT_EQ(Json(archived)["kept"][0]["why"], "fraud-detector@1 is served");
  EXPECT_FALSE(std::filesystem::exists(one_file));
  for (const nlohmann::json& a : files_of(failed[0])) {
    EXPECT_NE(a["uri"].get<std::string>().find("/artifacts/archive/"), std::string::npos);
    EXPECT_TRUE(std::filesystem::exists(a["uri"].get<std::string>()));
  }
  // The run says where its files went.
  EXPECT_NE(
      Fraudops(dir, "runs show " + failed[0]).out.find("archived under the archive/ prefix by "),
      std::string::npos);
  // The served version still loads and scores.
  ASSERT_EQ(Fraudops(dir, "data synth --rows 200 --output tx.csv").exit_code, 0);
  CommandResult scored =
      Fraudops(dir, "predict --model fraud-detector@1 --input tx.csv --output p.csv");
  EXPECT_EQ(scored.exit_code, 0) << scored.err;

  CommandResult collected = Fraudops(dir, "artifacts gc --keep-days 0 --apply --json");
  ASSERT_EQ(collected.exit_code, 0) << collected.err;
  EXPECT_EQ(Json(collected)["runs"].size(), 2u);
  EXPECT_TRUE(files_of(failed[0]).empty());
  EXPECT_TRUE(files_of(failed[1]).empty());
  const std::string shown = Fraudops(dir, "runs show " + failed[1]).out;
  EXPECT_NE(shown.find("artifacts\n  deleted by "), std::string::npos) << shown;
  EXPECT_NE(shown.find(" (artifacts gc)"), std::string::npos) << shown;
  EXPECT_FALSE(
      files_of(Json(Fraudops(dir, "models show fraud-detector@1 --json"))["run_id"]).empty());
  // Nothing left to do; the audit log says what was done and by whom.
  EXPECT_TRUE(Json(Fraudops(dir, "artifacts gc --keep-days 0 --json"))["runs"].empty());
  auto store = MetadataStore::Open("", dir.File("fraudops-home/fraudops.db"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::map<std::string, int> actions;
  auto audit = (*store)->Audit("");
  ASSERT_TRUE(audit.ok());
  for (const AuditEntry& e : *audit) ++actions[e.action];
  EXPECT_EQ(actions["artifacts_archived"], 2);
  EXPECT_EQ(actions["artifacts_deleted"], 2);
  // Storage classes are S3's.
  CommandResult local_class =
      Fraudops(dir, "artifacts archive --older-than-days 0 --storage-class DEEP_ARCHIVE");
  EXPECT_EQ(local_class.exit_code, 2);
  EXPECT_NE(local_class.err.find("storage classes are S3's"), std::string::npos) << local_class.err;
  EXPECT_EQ(Fraudops(dir, "artifacts archive --storage-class TAPE").exit_code, 2);
}

TEST(ArtifactsCliTest, ArchiveSetsTheS3StorageClassOfWhatNothingServes) {
  FOPS_NEED_SERVER(s3_endpoint, "FOPS_TEST_S3_ENDPOINT");
  const std::string bucket = "arch" + testing::RandomSuffix();
  S3Client s3(testing::TestS3Settings(s3_endpoint));
  ASSERT_TRUE(s3.CreateBucket(bucket).ok());
  const std::string env = testing::TestS3Environment(s3_endpoint) + " FRAUDOPS_ARTIFACT_URL=s3://" +
                          bucket + "/artifacts";
  TempDir dir;
  WriteSmallConfig(dir, "artifacts:\n  sse: AES256\n");
  ASSERT_EQ(Fraudops(dir, "run --json", env).exit_code, 0);
  WriteText(dir.File("strict.yml"),
            testing::ReadText(dir.File("config.yml")) + "evaluate:\n  min_roc_auc: 0.99999\n");
  CommandResult failed = Fraudops(dir, "run --json --config strict.yml", env);
  ASSERT_EQ(failed.exit_code, 4) << failed.err;
  const std::string run_id = Json(failed)["execution_id"];
  CommandResult archived = Fraudops(
      dir, "artifacts archive --older-than-days 0 --storage-class DEEP_ARCHIVE --apply --json",
      env);
  ASSERT_EQ(archived.exit_code, 0) << archived.err;
  ASSERT_EQ(Json(archived)["runs"].size(), 1u);
  // DEEP_ARCHIVE must be restored before reading: the approved version's run is kept.
  EXPECT_NE(Json(archived)["kept"][0]["why"].get<std::string>().find("is served"),
            std::string::npos);
  const nlohmann::json files =
      Json(Fraudops(dir, "runs show " + run_id + " --json", env))["artifacts"];
  ASSERT_FALSE(files.empty());
  for (const nlohmann::json& a : files) {
    auto where = ParseS3Uri(a["uri"].get<std::string>());
    ASSERT_TRUE(where.ok());
    auto head = s3.Head(*where);
    ASSERT_TRUE(head.ok()) << head.status().ToString();
    EXPECT_EQ(head->storage_class, "DEEP_ARCHIVE") << a["uri"];
  }
}

TEST(PlansCliTest, APlanSaysTheTermsInForce) {
  TempDir dir;
  WriteSmallConfig(dir);
  ASSERT_TRUE(MetadataStore::Open("", dir.File("fraudops-home/fraudops.db")).ok());
  // No burst given: the bucket holds a second's worth of the rate (what the server applies).
  CommandResult gold = Fraudops(dir, "plans create gold --rate 10");
  ASSERT_EQ(gold.exit_code, 0) << gold.err;
  EXPECT_NE(gold.out.find("plan gold: rate 10/s, burst 10, daily quota none, monthly quota none"),
            std::string::npos)
      << gold.out;
  CommandResult fifty = Fraudops(dir, "plans create fifty --daily-quota 50");
  EXPECT_NE(fifty.out.find("rate unlimited, burst -, daily quota 50"), std::string::npos)
      << fifty.out;
  CommandResult list = Fraudops(dir, "plans list");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(std::regex_search(list.out, std::regex("gold +10/s +10 +none +none"))) << list.out;
  EXPECT_TRUE(std::regex_search(list.out, std::regex("fifty +unlimited +- +50 +none"))) << list.out;
  // A mistyped plan: the closest one and the plans.
  CommandResult key = Fraudops(dir, "keys create --name partner --plan gld");
  EXPECT_NE(key.exit_code, 0);
  EXPECT_NE(key.err.find("no usage plan 'gld' (did you mean 'gold'?); the plans: fifty, gold"),
            std::string::npos)
      << key.err;
  // The key's name may be given as plans' and users' are, alone.
  CommandResult named = Fraudops(dir, "keys create partner --plan gold --json");
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_EQ(Json(named)["name"], "partner");
}

}  // namespace
}  // namespace fraudops
