// The feature store through the real binary: groups applied and ingested, a point-in-time
// training set, the online store materialized, and a served model enriched by entity key —
// with the embedded store, with Redis, and through a Redis outage.

#include <gtest/gtest.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "features/feature_store.h"
#include "features/point_in_time.h"
#include "http_client.h"
#include "processes.h"
#include "server_util.h"
#include "store/artifact_store.h"
#include "store/metadata_store.h"

namespace fraudops::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kGroups = R"(feature_groups:
  - name: card_activity
    entities: [card_id]
    event_time: Time
    created_time: Time
    source: synthetic
    columns: {Amount: numeric}
    aggregates:
      - {name: tx_10m, function: count, window: 10m}
      - {name: tx_24h, function: count, window: 24h}
      - {name: amount_1h, function: sum, column: Amount, window: 1h}
)";

/// A workspace with a model trained on card velocity features, deployed on "fraud".
class FeatureWorkspace {
 public:
  explicit FeatureWorkspace(const std::string& features_config = "") {
    WriteSmallConfig(dir,
                     "  synthetic_cards: 1500\n  features: [card_activity]\n"
                     "deploy:\n  enabled: false\n"
                     "api:\n  capture_sample: 1\n  poll_interval_ms: 50\n" +
                         features_config + kGroups);
    for (const char* step :
         {"features apply", "features ingest card_activity", "features materialize", "run"}) {
      CommandResult r = Fraudops(dir, step);
      EXPECT_EQ(r.exit_code, 0) << step << "\n" << r.out << r.err;
    }
    CommandResult deployed =
        Fraudops(dir, "deploy fraud-detector@1 --endpoint fraud --strategy all_at_once");
    EXPECT_EQ(deployed.exit_code, 0) << deployed.err;
    CommandResult created = Fraudops(dir, "keys create --name t --scope invoke,features --json");
    key = Json::parse(created.out, nullptr, false).value("key", "");
    EXPECT_FALSE(key.empty()) << created.out << created.err;
  }
  void SetFeaturesConfig(const std::string& features_config) {
    std::string text = ReadText(dir.File("config.yml"));
    const size_t at = text.find("features:\n  online");
    if (at != std::string::npos) text.erase(at, text.find("feature_groups:") - at);
    text.insert(text.find("feature_groups:"), features_config);
    WriteText(dir.File("config.yml"), text);
  }
  /// A transaction: the model's own fields, the card and the moment.
  static Json Transaction(const std::string& card, double time) {
    Json row = {{"card_id", card}, {"Time", time}, {"Amount", 25.5}};
    for (int v = 1; v <= 28; ++v) row["V" + std::to_string(v)] = 0.1 * v;
    return row;
  }
  /// The captured rows, oldest first.
  std::vector<Json> Captured() const {
    std::vector<Json> rows;
    const std::string root = dir.File("fraudops-home/capture/fraud");
    if (!fs::exists(root)) return rows;
    std::vector<fs::path> files;
    for (const auto& file : fs::directory_iterator(root)) files.push_back(file.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      std::ifstream in(file);
      for (std::string line; std::getline(in, line);) rows.push_back(Json::parse(line));
    }
    return rows;
  }

  TempDir dir;
  std::string key;
};

/// What the offline store gives for `card` at `time` (seconds): the point-in-time join.
std::map<std::string, float> Offline(const TempDir& dir, const std::string& card, double time) {
  auto store = MetadataStore::Open("", dir.File("fraudops-home/fraudops.db"));
  auto artifacts = OpenArtifactStore("", dir.File("fraudops-home/artifacts"));
  EXPECT_TRUE(store.ok() && artifacts.ok());
  FeatureRegistry registry(**store, **artifacts);
  auto group = registry.Get("card_activity");
  auto table = registry.Load(*group);
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  const std::vector<std::string> features = group->FeatureNames();
  std::vector<std::string_view> keys = {card};
  std::vector<EventTime> times = {static_cast<EventTime>(time * 1e6)};
  auto joined = PointInTimeJoin(*group, *table, features, keys, times, nullptr);
  EXPECT_TRUE(joined.ok()) << joined.status().ToString();
  std::map<std::string, float> out;
  for (const JoinedColumn& column : *joined) out[column.schema.name] = column.values[0];
  return out;
}

TEST(FeatureStoreServeTest, AServedModelIsEnrichedByEntityKeyFromTheEmbeddedStoreAndRedis) {
  FeatureWorkspace ws;
  const double after_the_data = 172800 + 10;  // every event of the built-in data is earlier
  const std::string busy = "card-000042";
  std::map<std::string, float> offline = Offline(ws.dir, busy, after_the_data);
  ASSERT_FALSE(offline.empty());
  EXPECT_GT(offline["card_activity__tx_24h"], 0);  // the card has history

  double embedded_score = 0;
  {
    ServerProcess server(ws.dir);
    ASSERT_GT(server.port(), 0) << server.log();
    HttpClient http(server.port());
    const std::vector<std::pair<std::string, std::string>> auth = {{"x-api-key", ws.key}};
    // The online store holds what the offline store gives at the same moment.
    HttpReply read = http.Request(
        "GET", "/v1/features/card_activity/" + busy + "?at=" + std::to_string(after_the_data), "",
        auth);
    ASSERT_EQ(read.status, 200) << read.body;
    Json features = Json::parse(read.body)["features"];
    for (const char* name : {"tx_10m", "tx_24h", "amount_1h", "Amount"}) {
      EXPECT_EQ(static_cast<float>(features[name].get<double>()),
                offline[std::string("card_activity__") + name])
          << name;
    }
    // Stored as float32, the card's latest amount reads as that float's shortest text (as it
    // was ingested), not as the float's double (443.8500061035156).
    char amount[32];
    const float stored = offline["card_activity__Amount"];
    *std::to_chars(amount, amount + sizeof amount, stored).ptr = 0;
    EXPECT_EQ(features["Amount"].get<double>(), std::strtod(amount, nullptr)) << read.body;
    // Scoring sends the key and the moment, not the features; the capture records what was
    // used, as the offline join gives it.
    HttpReply scored =
        http.Request("POST", "/v1/endpoints/fraud/predict",
                     FeatureWorkspace::Transaction(busy, after_the_data).dump(), auth);
    ASSERT_EQ(scored.status, 200) << scored.body;
    embedded_score = Json::parse(scored.body)["score"].get<double>();
    HttpReply sent_feature = http.Request(
        "POST", "/v1/endpoints/fraud/predict",
        [&] {
          Json row = FeatureWorkspace::Transaction(busy, after_the_data);
          row["card_activity__tx_10m"] = 0;
          return row.dump();
        }(),
        auth);
    EXPECT_EQ(sent_feature.status, 422);
    EXPECT_NE(sent_feature.body.find("comes from the feature store"), std::string::npos);
    HttpReply bad_time = http.Request(
        "POST", "/v1/endpoints/fraud/predict",
        [&] {
          Json row = FeatureWorkspace::Transaction(busy, 0);
          row["Time"] = "yesterday";
          return row.dump();
        }(),
        auth);
    EXPECT_EQ(bad_time.status, 400) << bad_time.body;
    HttpReply metrics = http.Request("GET", "/metrics");
    EXPECT_NE(metrics.body.find("fraudops_feature_freshness_seconds{group=\"card_activity\"}"),
              std::string::npos);
    EXPECT_EQ(server.Stop(), 0) << server.log();
  }
  std::vector<Json> captured = ws.Captured();
  ASSERT_FALSE(captured.empty());
  const Json& used = captured.front()["features"];
  for (const auto& [name, value] : offline) {
    ASSERT_TRUE(used.contains(name)) << used.dump();
    EXPECT_EQ(static_cast<float>(used[name].get<double>()), value) << name;
  }

  // Batch scoring reads the same features from the offline store, as of each row's time.
  {
    const Json row = FeatureWorkspace::Transaction(busy, after_the_data);
    std::string header, values;
    for (const auto& [name, value] : row.items()) {
      header += (header.empty() ? "" : ",") + name;
      values += (values.empty() ? "" : ",") +
                (value.is_string() ? value.get<std::string>() : value.dump());
    }
    WriteText(ws.dir.File("batch.csv"), header + "\n" + values + "\n");
    CommandResult batch =
        Fraudops(ws.dir, "predict --model fraud-detector@1 --input batch.csv --output out.csv");
    ASSERT_EQ(batch.exit_code, 0) << batch.err;
    const std::string out = ReadText(ws.dir.File("out.csv"));
    const std::string line = out.substr(out.find('\n') + 1);
    EXPECT_EQ(std::stod(line.substr(0, line.find(','))), embedded_score) << out;
  }

  // The same with Redis as the online store.
  FOPS_NEED_SERVER(redis, "FOPS_TEST_REDIS_URL");
  ws.SetFeaturesConfig("features:\n  online_url: " + redis + "\n");
  CommandResult materialized = Fraudops(ws.dir, "features materialize");
  ASSERT_EQ(materialized.exit_code, 0) << materialized.err;
  EXPECT_NE(materialized.out.find("redis "), std::string::npos) << materialized.out;
  ServerProcess server(ws.dir);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  HttpReply scored = http.Request("POST", "/v1/endpoints/fraud/predict",
                                  FeatureWorkspace::Transaction(busy, after_the_data).dump(),
                                  {{"x-api-key", ws.key}});
  ASSERT_EQ(scored.status, 200) << scored.body;
  EXPECT_EQ(Json::parse(scored.body)["score"].get<double>(), embedded_score);
}

TEST(FeatureStoreServeTest, ARedisOutageAnswers503OrScoresWithMissingFeaturesAsConfigured) {
  if (!RedisProcess::Installed()) {
    if (!Env("CI").empty()) FAIL() << "redis-server is not installed under CI";
    GTEST_SKIP() << "redis-server is not installed";
  }
  RedisProcess redis;
  ASSERT_TRUE(redis.ready());
  const std::string url = "redis://127.0.0.1:" + std::to_string(redis.port()) + "/0";
  FeatureWorkspace ws("features:\n  online_url: " + url + "\n  online_timeout_ms: 200\n");
  const Json row = FeatureWorkspace::Transaction("card-000042", 172810);
  {
    ServerProcess server(ws.dir);
    ASSERT_GT(server.port(), 0) << server.log();
    HttpClient http(server.port());
    const std::vector<std::pair<std::string, std::string>> auth = {{"x-api-key", ws.key}};
    EXPECT_EQ(http.Request("POST", "/v1/endpoints/fraud/predict", row.dump(), auth).status, 200);
    redis.Kill();
    HttpReply refused = http.Request("POST", "/v1/endpoints/fraud/predict", row.dump(), auth);
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_NE(refused.body.find("feature_store_unavailable"), std::string::npos);
    EXPECT_EQ(refused.headers["retry-after"], "1");
    EXPECT_NE(http.Request("GET", "/metrics").body.find("fraudops_feature_store_errors_total 1"),
              std::string::npos);
    EXPECT_EQ(server.Stop(), 0) << server.log();
  }
  // Configured to score anyway: the store's features are missing, and the capture says so.
  ws.SetFeaturesConfig("features:\n  online_url: " + url +
                       "\n  online_timeout_ms: 200\n  on_store_error: missing\n");
  ServerProcess server(ws.dir);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  HttpReply scored =
      http.Request("POST", "/v1/endpoints/fraud/predict", row.dump(), {{"x-api-key", ws.key}});
  EXPECT_EQ(scored.status, 200) << scored.body;
  EXPECT_EQ(server.Stop(), 0) << server.log();
  std::vector<Json> captured = ws.Captured();
  ASSERT_FALSE(captured.empty());
  EXPECT_TRUE(captured.back()["features"]["card_activity__tx_24h"].is_null())
      << captured.back().dump();
}

}  // namespace
}  // namespace fraudops::testing
