// `fraudops serve` as users run it: the real binary on loopback, a workspace whose registry
// holds real bundles, and HTTP requests over real sockets. Routes and error codes, API keys
// and quotas, canary promotion and rollback, shadows, a hot swap under load, slow clients,
// data capture and a graceful drain.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "cli_util.h"
#include "core/hash.h"
#include "core/redis.h"
#include "core/strings.h"
#include "data/dataset_file.h"
#include "http_client.h"
#include "http_receiver.h"
#include "jwt_util.h"
#include "model/bundle.h"
#include "processes.h"
#include "serve/auth.h"
#include "serve/predict_request.h"
#include "server_util.h"
#include "store/metadata_store.h"
#include "store/schedule_store.h"
#include "store/serving_store.h"
#include "test_util.h"
#include "tls_client.h"

namespace fraudops::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;
const std::string kBundles = std::string(FRAUDOPS_SOURCE_DIR) + "/tests/data/bundles";

/// The transactions of tests/data/bundles/rows.csv as JSON objects (without the label).
std::vector<Json> Transactions() {
  std::ifstream in(kBundles + "/rows.csv");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  for (std::stringstream header(line); std::getline(header, line, ',');) names.push_back(line);
  std::vector<Json> rows;
  while (std::getline(in, line)) {
    Json row = Json::object();
    std::stringstream fields(line);
    std::string field;
    for (size_t i = 0; std::getline(fields, field, ','); ++i) {
      if (names[i] == "Class") continue;
      char* end = nullptr;
      const double value = std::strtod(field.c_str(), &end);
      row[names[i]] =
          field.empty() || *end != '\0' ? Json(nullptr) : Json(value);  // "" and NA: missing
    }
    rows.push_back(row);
  }
  return rows;
}

/// A workspace with a registry of real bundles and the server's configuration.
class ServeWorkspace {
 public:
  /// `metadata_url`: a shared registry (PostgreSQL); empty: the workspace's own SQLite.
  explicit ServeWorkspace(const std::string& metadata_url = "") : metadata_url_(metadata_url) {
    home_ = dir_.File("home");
    fs::create_directories(home_);
    auto opened = MetadataStore::Open(metadata_url, home_ + "/fraudops.db");
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
    RunRecord run;
    run.run_id = "run-1";
    run.experiment = "serve-test";
    run.start_time = UtcNow();
    run.code_version = "test";
    run.host = "host";
    run.user = "user";
    run.artifact_uri = dir_.path();
    EXPECT_TRUE(store_->CreateRun(run).ok());
  }

  /// Registers a copy of the golden v2 bundle; `base_score` != 0.5 shifts every score (a
  /// deliberately bad model).
  int64_t Register(const std::string& base_score = "5E-1", const std::string& policy = "",
                   bool approve = true) {
    const std::string bundle = dir_.File("bundles/" + std::to_string(++bundles_));
    fs::create_directories(bundle);
    for (const char* file : {"bundle.json", "baseline.json", "model.json"})
      fs::copy_file(kBundles + "/v2/" + file, bundle + "/" + file);
    if (base_score != "5E-1") {
      std::string model = ReadText(bundle + "/model.json");
      const std::string from = "\"base_score\":\"5E-1\"";
      model.replace(model.find(from), from.size(), "\"base_score\":\"" + base_score + "\"");
      WriteText(bundle + "/model.json", model);
      Json json = Json::parse(ReadText(bundle + "/bundle.json"));
      json["model_sha256"] = Sha256Hex(model);
      WriteText(bundle + "/bundle.json", json.dump(2));
    }
    return RegisterBundle(bundle, policy, approve);
  }

  /// Registers the bundle directory `bundle` as a version of "fraud" (approved unless not
  /// `approve`: pending).
  int64_t RegisterBundle(const std::string& bundle, const std::string& policy = "",
                         bool approve = true) {
    NewVersion version;
    version.model = "fraud";
    version.run_id = "run-1";
    version.algorithm = "xgboost";
    version.bundle_uri = bundle;
    version.approve = approve;
    version.policy = policy;
    auto created = store_->CreateVersion(version, "test");
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    if (created.ok()) bundle_dirs_[created->version] = bundle;
    return created.ok() ? created->version : 0;
  }

  /// Registers the combination (`method`) of two registered versions' bundles.
  int64_t RegisterCombination(int64_t a, int64_t b, CombineMethod method) {
    std::vector<ModelBundle> bundles;
    std::vector<CombinationInput> inputs(2);
    nlohmann::json first_json;
    for (int64_t v : {a, b}) {
      const std::string& dir = bundle_dirs_[v];
      auto loaded = LoadBundle(dir);
      EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
      bundles.push_back(std::move(*loaded));
      if (first_json.is_null()) first_json = Json::parse(ReadText(dir + "/bundle.json"));
    }
    for (size_t i = 0; i < 2; ++i) {
      inputs[i].bundle = &bundles[i];
      inputs[i].model_text = ReadText(bundle_dirs_[i ? b : a] + "/model.json");
    }
    std::vector<std::pair<std::string, std::string>> files;
    Json json = CombinedBundleJson(first_json, inputs, method, 0.5, {{"run_id", "run-1"}}, &files);
    files.emplace_back("bundle.json", json.dump());
    const std::string bundle = dir_.File("bundles/combined-" + std::to_string(++bundles_));
    fs::create_directories(bundle);
    for (const auto& [name, content] : files) WriteText(bundle + "/" + name, content);
    return RegisterBundle(bundle);
  }

  DeploymentRecord Deploy(int64_t version, const std::string& strategy,
                          DeploymentParams params = {}) {
    ServingStore serving(*store_);
    auto d = serving.Deploy("fraud", {"fraud", version}, strategy, params, "test");
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? *d : DeploymentRecord();
  }

  std::string CreateKey(const std::vector<std::string>& scopes, const std::string& plan = "",
                        const std::vector<std::string>& endpoints = {"*"}) {
    ServingStore serving(*store_);
    auto key = serving.CreateKey("test", scopes, endpoints, plan, "test");
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return key.ok() ? key->key : "";
  }

  void WriteConfig(const std::string& extra_api = "") {
    WriteText(dir_.File("config.yml"),
              "global:\n  home: " + home_ +
                  (metadata_url_.empty() ? "" : "\n  metadata_url: " + metadata_url_) +
                  "\napi:\n  poll_interval_ms: 50\n  capture_sample: 1\n  workers: 2\n"
                  "  max_body_bytes: 65536\n  max_rows: 50\n  header_timeout_ms: 700\n" +
                  extra_api);
  }

  const TempDir& dir() const { return dir_; }
  operator const TempDir&() const { return dir_; }  // NOLINT: ServerProcess takes either
  const std::string& home() const { return home_; }
  MetadataStore& store() { return *store_; }

 private:
  TempDir dir_;
  std::string metadata_url_;
  std::string home_;
  std::unique_ptr<MetadataStore> store_;
  int bundles_ = 0;
  std::map<int64_t, std::string> bundle_dirs_;  ///< each registered version's bundle
};

Json Body(const HttpReply& reply) { return Json::parse(reply.body, nullptr, false); }

TEST(ServeTest, EveryRouteAndErrorCode) {
  ServeWorkspace ws;
  const int64_t v1 = ws.Register();
  ws.Deploy(v1, "all_at_once");
  const std::string key = ws.CreateKey({"invoke", "feedback", "admin"});
  const std::string invoke_only = ws.CreateKey({"invoke"});
  const std::string other_endpoint = ws.CreateKey({"invoke"}, "", {"elsewhere"});
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  const Headers auth = {{"x-api-key", key}};
  const std::vector<Json> rows = Transactions();

  EXPECT_EQ(http.Request("GET", "/healthz").status, 200);
  HttpReply ready = http.Request("GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(Body(ready)["endpoints"]["fraud"]["production"], "fraud@1");
  HttpReply openapi = http.Request("GET", "/openapi.json");
  EXPECT_EQ(openapi.status, 200);
  EXPECT_TRUE(Body(openapi)["paths"].contains("/v1/endpoints/{endpoint}/predict"))
      << openapi.body.substr(0, 200);

  // One transaction, with reasons.
  HttpReply one =
      http.Request("POST", "/v1/endpoints/fraud/predict?explain=3", rows[0].dump(), auth);
  ASSERT_EQ(one.status, 200) << one.body;
  Json single = Body(one);
  EXPECT_EQ(single["model"], "fraud");
  EXPECT_EQ(single["version"], 1);
  EXPECT_EQ(single["variant"], "production");
  EXPECT_EQ(single["reasons"].size(), 3u);
  EXPECT_FALSE(single["request_id"].get<std::string>().empty());
  EXPECT_EQ(one.headers["x-request-id"], single["request_id"]);
  // Reason codes show a value as sent (-1.05), not as the float32 model holds it
  // (-1.0499999523162842).
  Json two_decimals = rows[0];
  for (auto& [name, value] : two_decimals.items()) {
    if (value.is_number_float()) value = std::round(value.get<double>() * 100) / 100;
  }
  HttpReply rounded =
      http.Request("POST", "/v1/endpoints/fraud/predict?explain=5", two_decimals.dump(), auth);
  ASSERT_EQ(rounded.status, 200) << rounded.body;
  const Json rounded_body = Body(rounded);
  ASSERT_EQ(rounded_body["reasons"].size(), 5u);
  for (const Json& reason : rounded_body["reasons"]) {
    EXPECT_EQ(reason["value"], two_decimals[reason["feature"].get<std::string>()]) << rounded.body;
  }
  const double score = single["score"].get<double>();
  EXPECT_GT(score, 0);
  EXPECT_LT(score, 1);
  // A batch gives the same score for the same row; CSV too.
  Json batch = {{"instances", {rows[0], rows[1], rows[2]}}};
  HttpReply many = http.Request("POST", "/v1/endpoints/fraud/predict", batch.dump(), auth);
  ASSERT_EQ(many.status, 200) << many.body;
  EXPECT_EQ(Body(many)["predictions"].size(), 3u);
  EXPECT_EQ(Body(many)["predictions"][0]["score"].get<double>(), score);
  std::string csv = ReadText(kBundles + "/rows.csv");
  std::string header = csv.substr(0, csv.find('\n'));
  std::string first =
      csv.substr(header.size() + 1, csv.find('\n', header.size() + 1) - header.size() - 1);
  header = header.substr(0, header.rfind(','));  // without Class
  first = first.substr(0, first.rfind(','));
  HttpReply from_csv =
      http.Request("POST", "/v1/endpoints/fraud/predict", header + "\n" + first + "\n",
                   {{"x-api-key", key}, {"content-type", "text/csv"}});
  ASSERT_EQ(from_csv.status, 200) << from_csv.body;
  EXPECT_EQ(Body(from_csv)["predictions"][0]["score"].get<double>(), score);

  // The Open Inference Protocol: metadata, readiness, a [N, F] tensor and per-feature tensors.
  HttpReply metadata = http.Request("GET", "/v2/models/fraud", "", auth);
  ASSERT_EQ(metadata.status, 200) << metadata.body;
  EXPECT_EQ(Body(metadata)["inputs"].size(), 30u);
  EXPECT_EQ(http.Request("GET", "/v2/models/fraud/ready", "", auth).status, 200);
  EXPECT_EQ(http.Request("GET", "/v2/health/live").status, 200);
  EXPECT_EQ(http.Request("GET", "/v2/health/ready").status, 200);
  EXPECT_EQ(http.Request("GET", "/v2").status, 200);
  Json tensor = Json::array();
  Json columns = Json::array();
  const Json model_metadata = Body(metadata);
  for (const auto& input : model_metadata["inputs"]) {
    tensor.push_back(rows[0][input["name"].get<std::string>()]);
    columns.push_back({{"name", input["name"]},
                       {"shape", {1}},
                       {"datatype", "FP64"},
                       {"data", {rows[0][input["name"].get<std::string>()]}}});
  }
  Json infer = {
      {"id", "x1"},
      {"inputs",
       {{{"name", "input-0"}, {"shape", {1, 30}}, {"datatype", "FP32"}, {"data", tensor}}}}};
  HttpReply inferred = http.Request("POST", "/v2/models/fraud/infer", infer.dump(), auth);
  ASSERT_EQ(inferred.status, 200) << inferred.body;
  EXPECT_EQ(Body(inferred)["id"], "x1");
  EXPECT_EQ(Body(inferred)["outputs"][0]["data"][0].get<double>(), score);
  HttpReply by_column = http.Request("POST", "/v2/models/fraud/versions/1/infer",
                                     Json({{"inputs", columns}}).dump(), auth);
  ASSERT_EQ(by_column.status, 200) << by_column.body;
  EXPECT_EQ(Body(by_column)["outputs"][0]["data"][0].get<double>(), score);
  EXPECT_EQ(http.Request("POST", "/v2/models/fraud/versions/9/infer", infer.dump(), auth).status,
            404);

  // Bad input: each with its status and what was wrong.
  HttpReply malformed = http.Request("POST", "/v1/endpoints/fraud/predict", "{\"V1\": 1,, }", auth);
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(Body(malformed)["error"]["details"]["offset"], 10) << malformed.body;
  EXPECT_EQ(Body(http.Request("POST", "/v2/models/fraud/infer", "[1", auth)).contains("error"),
            true);
  Json wrong = rows[0];
  wrong.erase("V14");
  wrong["V1"] = true;
  wrong["Amuont"] = 3;
  HttpReply invalid = http.Request("POST", "/v1/endpoints/fraud/predict", wrong.dump(), auth);
  ASSERT_EQ(invalid.status, 422) << invalid.body;
  Json details = Body(invalid)["error"]["details"];
  EXPECT_EQ(details["missing"][0]["feature"], "V14");
  EXPECT_EQ(details["extra"][0]["feature"], "Amuont");
  EXPECT_EQ(details["mistyped"][0]["feature"], "V1");
  EXPECT_NE(details["hints"]["Amuont"].get<std::string>().find("Amount"), std::string::npos);
  Json missing_values = rows[0];
  missing_values["V1"] = nullptr;
  missing_values["V2"] = "NaN";
  EXPECT_EQ(http.Request("POST", "/v1/endpoints/fraud/predict", missing_values.dump(), auth).status,
            200);
  Json too_many = {{"instances", Json::array()}};
  for (int i = 0; i < 51; ++i) too_many["instances"].push_back(rows[0]);
  EXPECT_EQ(http.Request("POST", "/v1/endpoints/fraud/predict", too_many.dump(), auth).status, 413);
  HttpReply too_large =
      http.Request("POST", "/v1/endpoints/fraud/predict", std::string(70000, ' '), auth);
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(http.Request("POST", "/v1/endpoints/nope/predict", rows[0].dump(), auth).status, 404);
  EXPECT_EQ(http.Request("GET", "/v1/nothing/here").status, 404);
  EXPECT_EQ(http.Request("GET", "/v1/endpoints/fraud/predict", "", auth).status, 405);
  EXPECT_EQ(
      http.Request("POST", "/v1/endpoints/fraud/predict?explain=99", rows[0].dump(), auth).status,
      400);

  // Keys: none, a wrong one, a missing scope, another endpoint.
  HttpReply anonymous = http.Request("POST", "/v1/endpoints/fraud/predict", rows[0].dump());
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(http.Request("POST", "/v1/endpoints/fraud/predict", rows[0].dump(),
                         {{"x-api-key", key + "x"}})
                .status,
            401);
  EXPECT_EQ(http.Request("POST", "/v1/endpoints/fraud/feedback", R"({"request_id":"a","label":1})",
                         {{"x-api-key", invoke_only}})
                .status,
            403);
  EXPECT_EQ(http.Request("GET", "/v1/admin/keys", "", {{"x-api-key", invoke_only}}).status, 403);
  EXPECT_EQ(http.Request("POST", "/v1/endpoints/fraud/predict", rows[0].dump(),
                         {{"x-api-key", other_endpoint}})
                .status,
            403);

  // Feedback is stored for monitoring.
  HttpReply feedback = http.Request(
      "POST", "/v1/endpoints/fraud/feedback",
      Json({{"labels",
             {{{"request_id", single["request_id"]}, {"label", 1}},
              {{"request_id", "r-2"}, {"label", false}, {"label_time", "2026-11-01T00:00:00Z"}}}}})
          .dump(),
      auth);
  ASSERT_EQ(feedback.status, 200) << feedback.body;
  EXPECT_EQ(
      http.Request("POST", "/v1/endpoints/fraud/feedback", R"({"request_id":"a","label":2})", auth)
          .status,
      400);

  // Admin routes.
  EXPECT_EQ(Body(http.Request("GET", "/v1/admin/endpoints", "", auth))["endpoints"][0]["name"],
            "fraud");
  EXPECT_EQ(http.Request("GET", "/v1/admin/endpoints/fraud/deployments", "", auth).status, 200);
  HttpReply unknown = http.Request("GET", "/v1/admin/endpoints/frawd", "", auth);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("no endpoint 'frawd' (did you mean 'fraud'?); the endpoints: fraud"),
            std::string::npos)
      << unknown.body;
  HttpReply plan =
      http.Request("POST", "/v1/admin/plans", R"({"name":"small","daily_quota":10})", auth);
  EXPECT_EQ(plan.status, 201) << plan.body;
  HttpReply created = http.Request("POST", "/v1/admin/keys",
                                   R"({"name":"svc","scopes":["invoke"],"plan":"small"})", auth);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string new_key = Body(created)["key"];
  EXPECT_TRUE(Eventually([&] {
    return http.Request("POST", "/v1/endpoints/fraud/predict", rows[0].dump(),
                        {{"x-api-key", new_key}})
               .status == 200;
  }));
  EXPECT_EQ(
      http.Request("DELETE", "/v1/admin/keys/" + Body(created)["id"].get<std::string>(), "", auth)
          .status,
      200);
  EXPECT_TRUE(Eventually([&] {
    return http.Request("POST", "/v1/endpoints/fraud/predict", rows[0].dump(),
                        {{"x-api-key", new_key}})
               .status == 401;
  }));
  Json audit = Body(http.Request("GET", "/v1/admin/audit", "", auth))["audit"];
  std::set<std::string> actions;
  for (const auto& entry : audit) actions.insert(entry["action"]);
  EXPECT_TRUE(actions.count("key_created") && actions.count("key_revoked") &&
              actions.count("plan_created"));

  // Metrics in Prometheus' text format.
  HttpReply metrics = http.Request("GET", "/metrics");
  EXPECT_EQ(metrics.headers["content-type"].rfind("text/plain; version=0.0.4", 0), 0u);
  for (const char* expected :
       {"fraudops_http_requests_total{route=\"/v1/endpoints/{endpoint}/"
        "predict\",code=\"200\",endpoint=\"fraud\",variant=\"production\"}",
        "fraudops_http_request_duration_seconds_bucket{", "fraudops_prediction_score_bucket{",
        "fraudops_model_info{endpoint=\"fraud\",variant=\"production\",model=\"fraud\",version="
        "\"1\"",
        "fraudops_rejected_requests_total{reason=\"invalid_features\"}",
        "fraudops_rejected_requests_total{reason=\"unauthorized\"}"}) {
    EXPECT_NE(metrics.body.find(expected), std::string::npos) << expected;
  }

  // A graceful stop flushes the capture files: one line per scored row, whole files only.
  EXPECT_EQ(server.Stop(), 0) << server.log();
  size_t captured = 0;
  for (const auto& file : fs::directory_iterator(ws.home() + "/capture/fraud")) {
    EXPECT_EQ(file.path().extension(), ".jsonl") << file.path();
    std::ifstream in(file.path());
    for (std::string line; std::getline(in, line); ++captured) {
      Json row = Json::parse(line);
      EXPECT_EQ(row["endpoint"], "fraud");
      EXPECT_EQ(row["features"].size(), 30u);
    }
  }
  EXPECT_GE(captured, 8u);
  ServingStore serving(ws.store());
  auto labels = serving.Feedback("fraud");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(labels->size(), 2u);
}

TEST(ServeTest, QuotaOfNAllowsExactlyNEvenUnderConcurrencyAndTheRateLimitSaysWhenToRetry) {
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  ServingStore serving(ws.store());
  ASSERT_TRUE(serving.PutPlan({"quota7", 0, 0, 7, 0, ""}, false, "test").ok());
  ASSERT_TRUE(serving.PutPlan({"slow", 0.5, 2, 0, 0, ""}, false, "test").ok());
  const std::string quota_key = ws.CreateKey({"invoke"}, "quota7");
  const std::string rate_key = ws.CreateKey({"invoke"}, "slow");
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  const std::string body = Transactions()[0].dump();
  std::atomic<int> ok{0}, limited{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      HttpClient http(server.port());
      for (int i = 0; i < 5; ++i) {
        HttpReply reply =
            http.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", quota_key}});
        if (reply.status == 200)
          ++ok;
        else if (reply.status == 429 && !reply.headers["retry-after"].empty())
          ++limited;
        else
          ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 7);
  EXPECT_EQ(limited.load(), 13);
  EXPECT_EQ(other.load(), 0);
  HttpClient http(server.port());
  EXPECT_EQ(
      http.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", rate_key}}).status,
      200);
  EXPECT_EQ(
      http.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", rate_key}}).status,
      200);
  HttpReply refused =
      http.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", rate_key}});
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.headers["retry-after"], "2");
  EXPECT_EQ(Body(refused)["error"]["details"]["limit"], "rate");
  // The counts survive a restart: the quota stays used up.
  EXPECT_EQ(server.Stop(), 0);
  ServerProcess again(ws);
  HttpClient http2(again.port());
  EXPECT_EQ(
      http2.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", quota_key}}).status,
      429);
}

TEST(ServeTest, QuotasAndRatesHoldExactlyAcrossReplicasSharingRedis) {
  FOPS_NEED_SERVER(redis, "FOPS_TEST_REDIS_URL");
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  ServingStore serving(ws.store());
  ASSERT_TRUE(serving.PutPlan({"quota9", 0, 0, 9, 0, ""}, false, "test").ok());
  ASSERT_TRUE(serving.PutPlan({"slow", 0.5, 3, 0, 0, ""}, false, "test").ok());
  const std::string quota_key = ws.CreateKey({"invoke"}, "quota9");
  const std::string rate_key = ws.CreateKey({"invoke"}, "slow");
  ws.WriteConfig("  quota_url: " + redis + "\n");
  ServerProcess a(ws, "a"), b(ws, "b");
  ASSERT_GT(a.port(), 0) << a.log();
  ASSERT_GT(b.port(), 0) << b.log();
  const std::string body = Transactions()[0].dump();
  std::atomic<int> ok{0}, limited{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {  // each client alternates between the replicas
    threads.emplace_back([&, t] {
      HttpClient to_a(a.port()), to_b(b.port());
      for (int i = 0; i < 5; ++i) {
        HttpClient& http = (t + i) % 2 ? to_a : to_b;
        HttpReply reply =
            http.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", quota_key}});
        if (reply.status == 200)
          ++ok;
        else if (reply.status == 429 && Body(reply)["error"]["details"]["limit"] == "daily_quota")
          ++limited;
        else
          ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 9);  // not 9 per replica
  EXPECT_EQ(limited.load(), 21);
  EXPECT_EQ(other.load(), 0);
  // One bucket for both: a burst of 3 is 3 requests in all.
  HttpClient to_a(a.port()), to_b(b.port());
  EXPECT_EQ(
      to_a.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", rate_key}}).status,
      200);
  EXPECT_EQ(
      to_b.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", rate_key}}).status,
      200);
  EXPECT_EQ(
      to_a.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", rate_key}}).status,
      200);
  HttpReply refused =
      to_b.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", rate_key}});
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.headers["retry-after"], "2");
  EXPECT_EQ(Body(refused)["error"]["details"]["limit"], "rate");
  // Each replica stores what it admitted: the metadata store's count is the total.
  EXPECT_EQ(a.Stop(), 0) << a.log();
  EXPECT_EQ(b.Stop(), 0) << b.log();
  auto [day, month] = KeyRing::Periods(std::chrono::system_clock::now());
  auto usage = serving.Usage({day});
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  std::string_view id, secret;
  ASSERT_TRUE(SplitApiKey(quota_key, &id, &secret));
  EXPECT_EQ((usage->at({std::string(id), day})), 9);
  // A quota store that cannot be reached stops the server at start, saying which and why.
  ws.WriteConfig("  quota_url: redis://127.0.0.1:1/0\n");
  CommandResult refused_start =
      RunCommand(std::string(FRAUDOPS_BINARY) + " serve --config " + ws.dir().File("config.yml") +
                     " --listen 127.0.0.1:0",
                 ws.dir().path());
  EXPECT_NE(refused_start.exit_code, 0);
  EXPECT_NE(refused_start.err.find("the quota store redis://127.0.0.1:1/0 cannot be used"),
            std::string::npos)
      << refused_start.err;
  ws.WriteConfig("  quota_url: http://127.0.0.1:1/0\n");
  refused_start =
      RunCommand(std::string(FRAUDOPS_BINARY) + " serve --config " + ws.dir().File("config.yml"),
                 ws.dir().path());
  EXPECT_EQ(refused_start.exit_code, 2);
  EXPECT_NE(refused_start.err.find("accepted: redis://"), std::string::npos) << refused_start.err;
}

TEST(ServeTest, ARedisOutageRefusesPlannedKeysWith503AndARestartedRedisIsSeededFromTheStore) {
  if (!RedisProcess::Installed()) {
    if (!Env("CI").empty())
      FAIL() << "redis-server is not installed under CI (scripts/install-deps.sh installs it)";
    GTEST_SKIP() << "redis-server is not installed";
  }
  RedisProcess redis;
  ASSERT_TRUE(redis.ready());
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  ServingStore serving(ws.store());
  ASSERT_TRUE(serving.PutPlan({"quota5", 0, 0, 5, 0, ""}, false, "test").ok());
  const std::string planned = ws.CreateKey({"invoke"}, "quota5");
  const std::string unplanned = ws.CreateKey({"invoke"});
  std::string_view planned_id, planned_secret;
  ASSERT_TRUE(SplitApiKey(planned, &planned_id, &planned_secret));
  ws.WriteConfig("  quota_url: redis://127.0.0.1:" + std::to_string(redis.port()) + "/0\n");
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  const std::string body = Transactions()[0].dump();
  auto predict = [&](const std::string& key) {
    return http.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", key}});
  };
  // The UTC days the counts may fall in (the test may cross midnight).
  auto days = [] {
    std::vector<std::string> periods;
    for (std::time_t t : {std::time(nullptr) - 60, std::time(nullptr)}) {
      std::tm utc{};
      gmtime_r(&t, &utc);
      char day[16];
      std::strftime(day, sizeof day, "d%Y-%m-%d", &utc);
      periods.push_back(day);
    }
    return periods;
  };
  // Some counter (of the planned key: the only one used) holds `count`.
  auto counted = [](const auto& counters, int64_t count) {
    for (const auto& [key_period, used] : counters) {
      if (used == count) return true;
    }
    return false;
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(predict(planned).status, 200) << i;
  // The counts reach the store (the server writes them every second).
  ASSERT_TRUE(Eventually([&] {
    auto usage = serving.Usage(days());
    return usage.ok() && counted(*usage, 3);
  })) << "the server never wrote the planned key's 3 requests to the store";
  redis.Kill();
  HttpReply refused = predict(planned);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.headers["retry-after"], "1");
  EXPECT_EQ(Body(refused)["error"]["code"], "quota_store_unavailable");
  EXPECT_EQ(predict(unplanned).status, 200);  // keys without a plan never need Redis
  // Redis comes back empty; the next key reload copies the store's count (3) into it.
  RedisProcess restarted(redis.port());
  ASSERT_TRUE(restarted.ready());
  ws.CreateKey({"invoke"});  // a key change: the server reloads keys within its poll interval
  auto seeded = RedisClient::Connect("redis://127.0.0.1:" + std::to_string(redis.port()) + "/0",
                                     "test", "the restarted Redis", {});
  ASSERT_TRUE(seeded.ok()) << seeded.status().ToString();
  ASSERT_TRUE(Eventually([&] {
    std::map<std::string, int64_t> counters;
    for (const std::string& day : days()) {
      auto value =
          (*seeded)->Command({"GET", "fraudops:quota:" + std::string(planned_id) + ":" + day});
      if (value.ok() && value->type == RedisValue::Type::kString)
        counters[day] = std::atoll(value->text.c_str());
    }
    return counted(counters, 3);
  })) << "the restarted Redis was never seeded with the store's count";
  EXPECT_EQ(predict(planned).status, 200);
  EXPECT_EQ(predict(planned).status, 200);
  HttpReply used_up = predict(planned);
  EXPECT_EQ(used_up.status, 429) << used_up.body;
  EXPECT_EQ(Body(used_up)["error"]["details"]["limit"], "daily_quota");
}

/// Sends predict requests from `threads` clients until `stop`; counts statuses and variants.
struct Load {
  Load(int port, std::string key, int threads) {
    const std::string body = Transactions()[0].dump();
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([this, port, key, body] {
        HttpClient http(port);
        while (!stop) {
          HttpReply reply =
              http.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", key}});
          std::lock_guard lock(mutex);
          if (reply.status != 200) {
            ++failed;
            last_failure = std::to_string(reply.status) + " " + reply.body;
            continue;
          }
          ++ok;
          Json j = Json::parse(reply.body);
          last_version = j["version"].get<int64_t>();
          versions.insert(last_version);
          variants.insert(j["variant"].get<std::string>());
        }
      });
    }
  }
  ~Load() { Stop(); }
  void Stop() {
    stop = true;
    for (auto& w : workers) {
      if (w.joinable()) w.join();
    }
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  std::mutex mutex;
  /// Whether a reply since the call named `version` (polled: replies keep coming).
  bool Serves(int64_t version) {
    std::lock_guard lock(mutex);
    return last_version == version;
  }
  int ok = 0, failed = 0;
  std::string last_failure;
  int64_t last_version = 0;
  std::set<int64_t> versions;
  std::set<std::string> variants;
};

/// A canary judged quickly: half the traffic, judged after 20 requests, no latency alarm.
DeploymentParams QuickCanary(double bake_seconds) {
  DeploymentParams params;
  params.canary_percent = 50;
  params.bake_seconds = bake_seconds;
  params.min_requests = 20;
  params.max_p99_ms = 0;
  return params;
}

/// Waits up to `seconds` until deployment `id` is no longer baking; its record then.
Result<DeploymentRecord> Decided(ServingStore& serving, const std::string& id, double seconds) {
  EXPECT_TRUE(Eventually(
      [&] { return serving.GetDeployment(id)->status != DeploymentStatus::kBaking; }, seconds))
      << id << " is still baking";
  return serving.GetDeployment(id);
}

TEST(ServeTest, CanaryWithoutAlarmIsPromotedAndABadCanaryIsRolledBack) {
  ServeWorkspace ws;
  const int64_t v1 = ws.Register();
  const int64_t v2 = ws.Register();
  const int64_t bad =
      ws.Register("9.9E-1");  // every score pushed up: the score distribution shifts
  ws.Deploy(v1, "all_at_once");
  const std::string key = ws.CreateKey({"invoke", "admin"});
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  ServingStore serving(ws.store());
  DeploymentParams params = QuickCanary(2);
  {
    Load load(server.port(), key, 2);
    DeploymentRecord canary = ws.Deploy(v2, "canary", params);
    ASSERT_EQ(canary.status, DeploymentStatus::kBaking);
    auto done = Decided(serving, canary.id, 20);
    EXPECT_EQ(done->status, DeploymentStatus::kPromoted) << done->reason;
    EXPECT_EQ((*serving.FindEndpoint("fraud"))->production.version, v2);
    load.Stop();
    EXPECT_EQ(load.failed, 0) << load.last_failure;
    EXPECT_TRUE(load.variants.count("canary")) << "the canary got no traffic";
  }
  {
    params.bake_seconds = 60;  // the alarm, not the clock, ends this one
    Load load(server.port(), key, 2);
    DeploymentRecord canary = ws.Deploy(bad, "canary", params);
    auto done = Decided(serving, canary.id, 30);
    EXPECT_EQ(done->status, DeploymentStatus::kRolledBack);
    EXPECT_NE(done->reason.find("score PSI"), std::string::npos) << done->reason;
    EXPECT_EQ((*serving.FindEndpoint("fraud"))->production.version, v2);
    EXPECT_TRUE((*serving.FindEndpoint("fraud"))->canary.empty());
    load.Stop();
    EXPECT_EQ(load.failed, 0) << load.last_failure;
  }
  // The history tells the story, newest first.
  auto history = serving.History("fraud", 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].status, DeploymentStatus::kRolledBack);
  EXPECT_EQ((*history)[1].status, DeploymentStatus::kPromoted);
  EXPECT_EQ((*history)[2].status, DeploymentStatus::kCompleted);
}

// The fraud team's policy over the golden bundle's rows: row 0 scores 0.053, row 3 0.518,
// row 18 0.947; `country` is not a feature, a member the policy reads beside them.
const char* kServePolicy = R"(big_amount: Amount > 1000 and score < 0.5 -> review
blocked:    country in ["XX"] -> decline
high:       score >= 0.9 -> decline
middle:     score >= 0.5 -> review
default -> approve
)";

TEST(ServeTest, ADecisionPolicyDecidesEveryRowAndAPolicyCanaryIsRolledBackOnItsDecisions) {
  ServeWorkspace ws;
  const int64_t v1 = ws.Register("5E-1", kServePolicy);
  // The same model, a policy that declines everything: a new version, judged as a canary.
  const int64_t strict =
      ws.Register("5E-1", "everything: score >= 0 -> decline\ndefault -> approve\n");
  ws.Deploy(v1, "all_at_once");
  const std::string key = ws.CreateKey({"invoke", "admin"});
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  const Headers auth = {{"x-api-key", key}};
  const std::vector<Json> rows = Transactions();
  auto decide = [&](Json row) {
    HttpReply reply = http.Request("POST", "/v1/endpoints/fraud/predict", row.dump(), auth);
    EXPECT_EQ(reply.status, 200) << reply.body;
    Json body = Body(reply);
    return body["decision"].get<std::string>() + "/" + body["rule"].get<std::string>();
  };
  // Every rule fires, in order; the default decides the rest.
  EXPECT_EQ(decide(rows[0]), "approve/default");
  Json big = rows[0];
  big["Amount"] = 5000;
  EXPECT_EQ(decide(big), "review/big_amount");
  Json blocked = rows[0];
  blocked["country"] = "XX";
  EXPECT_EQ(decide(blocked), "decline/blocked");
  blocked["country"] = "FR";
  EXPECT_EQ(decide(blocked), "approve/default");
  EXPECT_EQ(decide(rows[18]), "decline/high");
  EXPECT_EQ(decide(rows[3]), "review/middle");
  // A member that is neither a feature nor read by the policy is still refused.
  Json extra = rows[0];
  extra["merchant"] = "m1";
  EXPECT_EQ(http.Request("POST", "/v1/endpoints/fraud/predict", extra.dump(), auth).status, 422);
  // A batch decides per row; so do CSV and the Open Inference Protocol.
  Json batch = {{"instances", {big, rows[18], rows[0]}}};
  Json decided = Body(http.Request("POST", "/v1/endpoints/fraud/predict", batch.dump(), auth));
  ASSERT_EQ(decided["predictions"].size(), 3u) << decided.dump();
  EXPECT_EQ(decided["predictions"][0]["rule"], "big_amount");
  EXPECT_EQ(decided["predictions"][1]["rule"], "high");
  EXPECT_EQ(decided["predictions"][2]["rule"], "default");
  std::string csv = "country";
  std::string line = "XX";
  for (const auto& [name, value] : rows[0].items()) {
    csv += "," + name;
    line += "," + (value.is_null() ? std::string() : value.dump());
  }
  HttpReply from_csv = http.Request("POST", "/v1/endpoints/fraud/predict", csv + "\n" + line + "\n",
                                    {{"x-api-key", key}, {"content-type", "text/csv"}});
  ASSERT_EQ(from_csv.status, 200) << from_csv.body;
  EXPECT_EQ(Body(from_csv)["predictions"][0]["rule"], "blocked");
  Json inputs =
      Json::array({{{"name", "country"}, {"shape", {1}}, {"datatype", "BYTES"}, {"data", {"XX"}}}});
  for (const auto& [name, value] : rows[18].items())
    inputs.push_back({{"name", name}, {"shape", {1}}, {"datatype", "FP64"}, {"data", {value}}});
  HttpReply inferred =
      http.Request("POST", "/v2/models/fraud/infer", Json({{"inputs", inputs}}).dump(), auth);
  ASSERT_EQ(inferred.status, 200) << inferred.body;
  const Json outputs = Body(inferred)["outputs"];
  ASSERT_EQ(outputs.size(), 4u) << inferred.body;
  EXPECT_EQ(outputs[2]["name"], "decision");
  EXPECT_EQ(outputs[2]["data"][0], "decline");
  EXPECT_EQ(outputs[3]["data"][0], "blocked");  // the blocked rule comes before high
  EXPECT_EQ(Body(http.Request("GET", "/v2/models/fraud", "", auth))["outputs"].size(), 4u);

  // The stricter policy as a canary: the same scores, but its declines move far more than
  // max_decision_shift, so it is rolled back.
  ServingStore serving(ws.store());
  DeploymentParams params = QuickCanary(60);
  params.max_decision_shift = 0.1;
  {
    Load load(server.port(), key, 2);
    DeploymentRecord canary = ws.Deploy(strict, "canary", params);
    ASSERT_EQ(canary.status, DeploymentStatus::kBaking);
    auto done = Decided(serving, canary.id, 30);
    EXPECT_EQ(done->status, DeploymentStatus::kRolledBack);
    EXPECT_NE(done->reason.find("decisions moved 100 points"), std::string::npos) << done->reason;
    EXPECT_EQ((*serving.FindEndpoint("fraud"))->production.version, v1);
    load.Stop();
    EXPECT_EQ(load.failed, 0) << load.last_failure;
  }
  // Every captured row records its decision and rule.
  EXPECT_EQ(server.Stop(), 0) << server.log();
  size_t decided_rows = 0;
  for (const auto& file : fs::directory_iterator(ws.home() + "/capture/fraud")) {
    std::ifstream in(file.path());
    for (std::string text; std::getline(in, text);) {
      Json row = Json::parse(text);
      EXPECT_TRUE(row.contains("decision") && row.contains("rule")) << text;
      decided_rows += row.contains("decision");
    }
  }
  EXPECT_GE(decided_rows, 10u);
}

/// The first `rows` rows of `data`'s first `columns` columns as clients send them: JSON
/// instances (null for missing) and a CSV with a header (an empty field for missing).
void ClientRows(const Dataset& data, size_t columns, size_t rows, Json* instances,
                std::string* csv) {
  for (size_t f = 0; f < columns; ++f) *csv += (f ? "," : "") + data.features[f].name;
  *csv += "\n";
  for (size_t r = 0; r < rows; ++r) {
    Json row = Json::object();
    for (size_t f = 0; f < columns; ++f) {
      const double value = data.columns[f][r];
      row[data.features[f].name] = std::isnan(value) ? Json(nullptr) : Json(value);
      *csv += (f ? "," : "") + (std::isnan(value) ? std::string() : Json(value).dump());
    }
    *csv += "\n";
    instances->push_back(row);
  }
}

TEST(ServeTest, DerivedFeaturesGiveBitIdenticalModelInputsInTrainingBatchAndServing) {
  ServeWorkspace ws;
  const TempDir& dir = ws.dir();
  WriteText(dir.File("config.yml"),
            "global:\n  home: " + ws.home() +
                "\npreprocess:\n  synthetic_rows: 20000\n  synthetic_fraud_rate: 0.01\n"
                "  derived_features: [\"log_amount = log(Amount + 1)\", \"hour = hour(Time)\", "
                "\"ratio = Amount / (abs(V14) + 1)\", \"scaled = log_amount * 2\"]\n"
                "api:\n  poll_interval_ms: 50\n  capture_sample: 1\n  workers: 2\n"
                "  max_rows: 500\n");
  WriteText(dir.File("models/xgboost_default.json"),
            R"({"objective": "binary:logistic", "num_round": 30, "eta": 0.3, "max_depth": 4})");
  testing::CommandResult run = testing::Fraudops(dir, "run --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const Json result = Json::parse(run.out);
  // Training: the test split as the pipeline stored it, derived columns after the raw ones.
  auto test = ReadDatasetFile(result["artifacts"]["test_data"].get<std::string>());
  ASSERT_TRUE(test.ok()) << test.status().ToString();
  const size_t raw = 30, rows = 300;
  ASSERT_EQ(test->num_features(), raw + 4);
  EXPECT_EQ(test->features[raw].name, "log_amount");
  EXPECT_EQ(test->features[raw + 3].derived, "log_amount * 2");
  const int amount = test->FeatureIndex("Amount"), time = test->FeatureIndex("Time"),
            v14 = test->FeatureIndex("V14");
  for (size_t r = 0; r < rows; ++r) {  // the values are what the expressions say
    const double a = test->columns[amount][r], t = test->columns[time][r];
    EXPECT_EQ(test->columns[raw][r], static_cast<float>(std::log(a + 1)));
    EXPECT_EQ(test->columns[raw + 1][r], std::floor(std::fmod(t, 86400) / 3600));
    EXPECT_EQ(test->columns[raw + 2][r],
              static_cast<float>(a / (std::abs(double(test->columns[v14][r])) + 1)));
    EXPECT_EQ(test->columns[raw + 3][r], static_cast<float>(2.0 * test->columns[raw][r]));
  }
  // The raw fields of those rows, as clients send them.
  Json instances = Json::array();
  std::string csv;
  ClientRows(*test, raw, rows, &instances, &csv);
  WriteText(dir.File("rows.csv"), csv);

  const std::string key = ws.CreateKey({"invoke"});
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  const Headers auth = {{"x-api-key", key}};
  HttpReply scored = http.Request("POST", "/v1/endpoints/fraud-detector/predict",
                                  Json({{"instances", instances}}).dump(), auth);
  ASSERT_EQ(scored.status, 200) << scored.body;
  const Json predictions = Body(scored)["predictions"];
  ASSERT_EQ(predictions.size(), rows);
  // Clients send raw fields only: a derived one is refused with a hint; OIP lists the raw.
  Json with_derived = instances[0];
  with_derived["log_amount"] = 1.0;
  HttpReply refused =
      http.Request("POST", "/v1/endpoints/fraud-detector/predict", with_derived.dump(), auth);
  EXPECT_EQ(refused.status, 422);
  EXPECT_NE(refused.body.find("is derived (log(Amount + 1))"), std::string::npos) << refused.body;
  EXPECT_EQ(Body(http.Request("GET", "/v2/models/fraud-detector", "", auth))["inputs"].size(), raw);

  // Batch scoring of the same rows gives the very same scores.
  testing::CommandResult batch =
      testing::Fraudops(dir, "predict --model fraud-detector@1 --input rows.csv --output out.csv");
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  std::ifstream out(dir.File("out.csv"));
  std::string line;
  std::getline(out, line);
  for (size_t r = 0; r < rows && std::getline(out, line); ++r) {
    EXPECT_EQ(std::strtod(line.substr(0, line.find(',')).c_str(), nullptr),
              predictions[r]["score"].get<double>())
        << "row " << r;
  }
  // Serving: the capture records what the model saw, every feature bit-identical to training.
  EXPECT_EQ(server.Stop(), 0) << server.log();
  size_t compared = 0;
  for (const auto& file : fs::directory_iterator(ws.home() + "/capture/fraud-detector")) {
    std::ifstream in(file.path());
    for (std::string text; std::getline(in, text);) {
      const Json record = Json::parse(text);
      const std::string id = record["request_id"];
      const size_t dash = id.rfind('-');
      if (dash == std::string::npos || record["features"].size() != raw + 4) continue;
      const size_t r = std::strtoul(id.c_str() + dash + 1, nullptr, 10);
      if (r >= rows || !record["features"].contains("scaled")) continue;
      for (size_t f = 0; f < raw + 4; ++f) {
        const Json& value = record["features"][test->features[f].name];
        const float trained = test->columns[f][r];
        if (std::isnan(trained)) {
          EXPECT_TRUE(value.is_null()) << test->features[f].name;
        } else {
          EXPECT_EQ(static_cast<float>(value.get<double>()), trained)
              << test->features[f].name << " row " << r;
        }
      }
      ++compared;
    }
  }
  EXPECT_EQ(compared, rows);
}

TEST(ServeTest, CalibratedScoresAreTheSameFromServingBatchAndTheBundle) {
  // 20 rounds of eta 0.02 leave the probabilities near XGBoost's base score of 0.5, far above
  // the 1 % fraud rate (a known miscalibration); the
  // pipeline's isotonic calibration, fitted on validation, must lower the test rows' error,
  // and every reader of the bundle must send the scores through the same map.
  ServeWorkspace ws;
  const TempDir& dir = ws.dir();
  WriteText(dir.File("config.yml"),
            "global:\n  home: " + ws.home() +
                "\npreprocess:\n  synthetic_rows: 20000\n  synthetic_fraud_rate: 0.01\n"
                "evaluate:\n  calibration: isotonic\n  min_roc_auc: 0.5\n"
                "api:\n  poll_interval_ms: 50\n  workers: 2\n  max_rows: 500\n");
  WriteText(dir.File("models/xgboost_default.json"),
            R"({"objective": "binary:logistic", "num_round": 20, "eta": 0.02, "max_depth": 4,
                "base_score": 0.5})");
  testing::CommandResult run = testing::Fraudops(dir, "run --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const Json result = Json::parse(run.out);
  const Json metrics = result["metrics"];
  const double before =
      metrics["calibration"]["uncalibrated"]["test"]["expected_calibration_error"].get<double>();
  const double after = metrics["test"]["expected_calibration_error"].get<double>();
  EXPECT_EQ(metrics["calibration"]["method"], "isotonic");
  EXPECT_LT(after, before / 2) << metrics.dump();
  auto bundle = LoadBundle(result["artifacts"]["bundle"].get<std::string>());
  ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
  ASSERT_TRUE(bundle->calibration.has_value());
  EXPECT_EQ(bundle->format_version, 5);
  // The report draws both reliability curves and says what the model's own scores were.
  const std::string report = testing::ReadText(result["artifacts"]["report"]);
  EXPECT_NE(report.find("Reliability diagram (test)"), std::string::npos);
  EXPECT_NE(report.find("model's probability: "), std::string::npos) << "the uncalibrated curve";
  EXPECT_NE(report.find("Scores are calibrated (isotonic, fitted on 3000 validation rows)"),
            std::string::npos);

  auto test = ReadDatasetFile(result["artifacts"]["test_data"].get<std::string>());
  ASSERT_TRUE(test.ok()) << test.status().ToString();
  const size_t width = test->num_features(), rows = 400;
  Json instances = Json::array();
  std::string csv;
  ClientRows(*test, width, rows, &instances, &csv);
  std::vector<double> expected;
  size_t changed = 0;
  std::vector<double> encoded(width);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t f = 0; f < width; ++f) encoded[f] = test->columns[f][r];
    const double model = bundle->ensemble.PredictProbability(encoded.data());
    expected.push_back(bundle->calibration->Apply(model));
    changed += expected.back() != model;
  }
  EXPECT_GT(changed, rows / 2) << "the calibration changes the scores";
  WriteText(dir.File("rows.csv"), csv);

  const std::string key = ws.CreateKey({"invoke"});
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  HttpReply scored = http.Request("POST", "/v1/endpoints/fraud-detector/predict",
                                  Json({{"instances", instances}}).dump(), {{"x-api-key", key}});
  ASSERT_EQ(scored.status, 200) << scored.body;
  const Json predictions = Body(scored)["predictions"];
  ASSERT_EQ(predictions.size(), rows);
  testing::CommandResult batch =
      testing::Fraudops(dir, "predict --model fraud-detector@1 --input rows.csv --output out.csv");
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  std::ifstream out(dir.File("out.csv"));
  std::string line;
  std::getline(out, line);
  size_t compared = 0;
  for (size_t r = 0; r < rows && std::getline(out, line); ++r, ++compared) {
    const double served = predictions[r]["score"].get<double>();
    EXPECT_EQ(std::strtod(line.substr(0, line.find(',')).c_str(), nullptr), served) << r;
    EXPECT_EQ(served, expected[r]) << "row " << r;
    EXPECT_EQ(predictions[r]["label"].get<int>(), served >= *bundle->threshold ? 1 : 0) << r;
  }
  EXPECT_EQ(compared, rows);
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

TEST(ServeTest, ACombinedVersionAnswersTheMeanOfItsModelsScores) {
  ServeWorkspace ws;
  const int64_t a = ws.Register();
  const int64_t b = ws.Register("2E-1");  // the same trees from another base score
  const int64_t mean = ws.RegisterCombination(a, b, CombineMethod::kMean);
  ServingStore serving(ws.store());
  for (const auto& [endpoint, version] :
       std::vector<std::pair<std::string, int64_t>>{{"a", a}, {"b", b}, {"mean", mean}}) {
    ASSERT_TRUE(serving.Deploy(endpoint, {"fraud", version}, "all_at_once", {}, "test").ok());
  }
  const std::string key = ws.CreateKey({"invoke"});
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  const Headers auth = {{"x-api-key", key}};
  const std::vector<Json> rows = Transactions();
  auto score = [&](const std::string& endpoint, const Json& row) {
    HttpReply reply =
        http.Request("POST", "/v1/endpoints/" + endpoint + "/predict", row.dump(), auth);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return Body(reply)["score"].get<double>();
  };
  for (size_t r : {size_t{0}, size_t{3}, size_t{18}}) {
    const double first = score("a", rows[r]), second = score("b", rows[r]);
    EXPECT_NE(first, second);
    EXPECT_EQ(score("mean", rows[r]), (first + second) / 2) << "row " << r;
  }
  HttpReply explain =
      http.Request("POST", "/v1/endpoints/mean/predict?explain=2", rows[0].dump(), auth);
  EXPECT_EQ(explain.status, 501);
  EXPECT_NE(explain.body.find("a combination of models cannot explain"), std::string::npos)
      << explain.body;
}

TEST(ServeTest, TheAdminApiAndMultiModelEndpointsServeApprovedVersionsOnly) {
  ServeWorkspace ws;
  const int64_t approved = ws.Register();
  const int64_t pending = ws.Register("5E-1", "", /*approve=*/false);
  ws.Deploy(approved, "all_at_once");
  ServingStore serving(ws.store());
  MultiModelSpec spec;
  spec.default_target = "fraud@" + std::to_string(pending);
  Status refused = serving.SetMultiModel("multi", spec, "test");
  EXPECT_EQ(refused.code(), StatusCode::kConflict);
  EXPECT_NE(refused.message().find("fraud@2 is pending approval"), std::string::npos)
      << refused.message();
  spec.default_target = "fraud@" + std::to_string(approved);
  ASSERT_TRUE(serving.SetMultiModel("multi", spec, "test").ok());
  const std::string key = ws.CreateKey({"invoke", "admin"});
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  const Headers auth = {{"x-api-key", key}};
  for (const char* strategy : {"all_at_once", "canary", "shadow"}) {
    HttpReply deploy = http.Request(
        "POST", "/v1/admin/endpoints/fraud/deployments",
        Json({{"model", "fraud"}, {"version", pending}, {"strategy", strategy}}).dump(), auth);
    EXPECT_EQ(deploy.status, 409) << strategy << " " << deploy.body;
    EXPECT_NE(deploy.body.find("fraud@2 is pending approval"), std::string::npos) << deploy.body;
  }
  size_t refusals = 0;
  const Json audit = Body(http.Request("GET", "/v1/admin/audit", "", auth))["audit"];
  for (const auto& entry : audit) {
    if (entry["action"] != "deploy_refused") continue;
    ++refusals;
    EXPECT_EQ(entry["version"], pending);
    EXPECT_FALSE(entry["actor"].get<std::string>().empty());
  }
  EXPECT_EQ(refusals, 4u);  // the multi-model definition and three deployments
  // A multi-model request cannot reach a pending version by naming it.
  const std::string row = Transactions()[0].dump();
  HttpReply named = http.Request("POST", "/v1/endpoints/multi/predict", row,
                                 {{"x-api-key", key}, {"x-fraudops-target-model", "fraud@2"}});
  EXPECT_EQ(named.status, 404) << named.body;
  EXPECT_NE(named.body.find("pending approval"), std::string::npos) << named.body;
  EXPECT_EQ(http.Request("POST", "/v1/endpoints/multi/predict", row, auth).status, 200);
}

TEST(ServeTest, PeopleSignInAndEveryAdminRouteChecksTheirRolesWithDutiesSegregated) {
  ServeWorkspace ws;
  const int64_t v1 = ws.Register("5E-1", "", /*approve=*/false);  // run-1, authored by "user"
  const int64_t v2 = ws.Register("5E-1", "", /*approve=*/false);
  ServingStore serving(ws.store());
  const std::string password = "a passphrase nobody guesses";
  auto hash = HashPassword(password);
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE(serving.CreateUser("bob", {"approver"}, *hash, "admin@host").ok());
  ASSERT_TRUE(serving.CreateUser("user", {"approver"}, "", "admin@host").ok());
  ASSERT_TRUE(serving.CreateUser("alice", {"data_scientist"}, "", "admin@host").ok());
  ASSERT_TRUE(serving.CreateUser("carol", {"approver", "deployer"}, "", "admin@host").ok());
  auto token = [&](const std::string& user) {
    auto made = serving.CreateUserToken(user, "test", std::chrono::hours(1), "admin@host");
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    return Headers{{"authorization", "Bearer " + (made.ok() ? made->key : "")}};
  };
  // Tokens made before the server starts (a server picks up others' changes at its next poll).
  const Headers alice = token("alice"), author = token("user"), carol = token("carol");
  const char* issuer = "https://idp.bank.test";
  testing::TestSigningKey idp("ES256", "idp-1");
  WriteText(ws.dir().File("jwks.json"), Json({{"keys", {idp.Jwk()}}}).dump());
  ws.WriteConfig(std::string("  oidc_issuer: ") + issuer + "\n  oidc_audience: fraudops\n" +
                 "  oidc_jwks: " + ws.dir().File("jwks.json") +
                 "\n  oidc_role_map: [fraud-release=deployer]\n");
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  auto approve = [&](int64_t version, const Headers& who) {
    return http.Request("POST",
                        "/v1/admin/models/fraud/versions/" + std::to_string(version) + "/approve",
                        Json({{"reason", "reviewed the evaluation report"}}).dump(), who);
  };
  auto deploy = [&](int64_t version, const Headers& who) {
    return http.Request("POST", "/v1/admin/endpoints/fraud/deployments",
                        Json({{"model", "fraud"}, {"version", version}}).dump(), who);
  };

  // Sign in with a password for a personal access token; a wrong one is 401.
  HttpReply wrong =
      http.Request("POST", "/v1/login", Json({{"user", "bob"}, {"password", "guess"}}).dump());
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  HttpReply login =
      http.Request("POST", "/v1/login", Json({{"user", "bob"}, {"password", password}}).dump());
  ASSERT_EQ(login.status, 201) << login.body;
  const Headers bob = {{"authorization", "Bearer " + Body(login)["key"].get<std::string>()}};
  HttpReply whoami = http.Request("GET", "/v1/admin/whoami", "", bob);
  ASSERT_EQ(whoami.status, 200) << whoami.body;
  EXPECT_EQ(Body(whoami)["actor"], "user:bob");
  EXPECT_EQ(Body(whoami)["permissions"], Json({"read", "approve"}));

  // A data scientist may not approve: 403, and the refusal is on the record with its name.
  HttpReply refused = approve(v1, alice);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("user:alice may not approve"), std::string::npos) << refused.body;
  // The run's author may not approve its version, approver or not.
  refused = approve(v1, author);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("segregation of duties: user authored run run-1"), std::string::npos)
      << refused.body;
  HttpReply approved = approve(v1, bob);
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(Body(approved)["approval_by"], "user:bob");
  // An approver is not a deployer.
  refused = deploy(v1, bob);
  EXPECT_EQ(refused.status, 403) << refused.body;
  // Who approved a version by hand does not deploy it.
  ASSERT_EQ(approve(v2, carol).status, 200);
  refused = deploy(v2, carol);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_NE(refused.body.find("carol approved fraud@2 and may not also deploy it"),
            std::string::npos)
      << refused.body;

  // The identity provider's tokens: the mapped group deploys; expired or forged ones are 401.
  const Headers erin = {
      {"authorization",
       "Bearer " + idp.Sign(testing::TestClaims(issuer, "fraudops", "erin", {"fraud-release"}))}};
  HttpReply deployed = deploy(v1, erin);
  EXPECT_EQ(deployed.status, 201) << deployed.body;
  EXPECT_EQ(Body(deployed)["actor"], "oidc:erin");
  HttpReply expired = deploy(
      v1, {{"authorization", "Bearer " + idp.Sign(testing::TestClaims(issuer, "fraudops", "erin",
                                                                      {"fraud-release"}, -600))}});
  EXPECT_EQ(expired.status, 401) << expired.body;
  EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;
  testing::TestSigningKey forger("ES256", "idp-1");
  HttpReply forged = deploy(
      v1, {{"authorization", "Bearer " + forger.Sign(testing::TestClaims(issuer, "fraudops", "erin",
                                                                         {"fraud-release"}))}});
  EXPECT_EQ(forged.status, 401) << forged.body;

  // The audit log names every principal refused.
  std::map<std::string, std::set<std::string>> actors;  // action -> actors
  auto audit = ws.store().Audit("");
  ASSERT_TRUE(audit.ok());
  for (const AuditEntry& entry : *audit) actors[entry.action].insert(entry.actor);
  EXPECT_EQ(actors["access_refused"], (std::set<std::string>{"user:alice", "user:bob"}));
  EXPECT_EQ(actors["approve_refused"], std::set<std::string>{"user:user"});
  EXPECT_EQ(actors["deploy_refused"], std::set<std::string>{"user:carol"});
  EXPECT_EQ(actors["login_failed"], std::set<std::string>{"user:bob"});
  EXPECT_EQ(actors["login"], std::set<std::string>{"user:bob"});
  EXPECT_EQ(actors["deployed"], std::set<std::string>{"oidc:erin"});
  // The password is nowhere in the store's file, the audit log or the server's log.
  EXPECT_EQ(ReadText(ws.home() + "/fraudops.db").find(password), std::string::npos);
  EXPECT_EQ(server.log().find(password), std::string::npos);
  for (const AuditEntry& entry : *audit)
    EXPECT_EQ(entry.details.dump().find(password), std::string::npos);
}

TEST(ServeTest, InSharedModeTheCommandLineActsThroughTheServerAsTheSignedInUser) {
  FOPS_NEED_SERVER(postgres, "FOPS_TEST_POSTGRES_URL");
  ScratchDatabase db(postgres);
  ASSERT_TRUE(db.error().empty()) << db.error();
  ServeWorkspace ws(db.url());
  const int64_t v1 = ws.Register("5E-1", "", /*approve=*/false);
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  const TempDir& dir = ws.dir();
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  WriteText(dir.File("admin.pw"), "admin passphrase 1\n");
  WriteText(dir.File("bob.pw"), "bob passphrase 12\n");
  // Each person's own credentials file, as on their own machine.
  auto as = [&](const std::string& who, const std::string& arguments) {
    return Fraudops(dir, arguments + " --config config.yml",
                    "FRAUDOPS_CREDENTIALS=" + dir.File(who + ".json"));
  };
  const std::string target = "fraud@" + std::to_string(v1);

  // Nobody signed in: the governed commands say how to.
  CommandResult anonymous = as("nobody", "models approve " + target + " --reason ok");
  EXPECT_EQ(anonymous.exit_code, 2);
  EXPECT_NE(anonymous.err.find("fraudops login"), std::string::npos) << anonymous.err;
  // The first user of a shared registry is its admin, added directly; then everyone signs in.
  EXPECT_EQ(as("admin", "users add bob --role approver").exit_code, 2);  // not admin: refused
  CommandResult first = as("admin", "users add admin --role admin --password-stdin < admin.pw");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  CommandResult login =
      Fraudops(dir, "login --url " + url + " --user admin --password-stdin < admin.pw",
               "FRAUDOPS_CREDENTIALS=" + dir.File("admin.json"));
  ASSERT_EQ(login.exit_code, 0) << login.err;
  EXPECT_EQ(fs::status(dir.File("admin.json")).permissions() & fs::perms::group_all,
            fs::perms::none);
  EXPECT_EQ(fs::status(dir.File("admin.json")).permissions() & fs::perms::others_all,
            fs::perms::none);
  CommandResult added = as("admin", "users add bob --role approver --password-stdin < bob.pw");
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_EQ(added.out.substr(0, 4), "NAME") << added.out;  // the user, under the list's header
  EXPECT_NE(added.out.find("\nbob "), std::string::npos) << added.out;
  ASSERT_EQ(as("admin", "users add carol --role deployer").exit_code, 0);
  CommandResult carol_token = as("admin", "users token carol --name ci --days 1");
  ASSERT_EQ(carol_token.exit_code, 0) << carol_token.err;
  const std::string carol = std::string(Trim(carol_token.out));

  // The admin is not an approver: the server refuses, whatever the command line claims.
  CommandResult refused = as("admin", "models approve " + target + " --reason ok");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("user:admin may not approve"), std::string::npos) << refused.err;
  ASSERT_EQ(Fraudops(dir, "login --url " + url + " --user bob --password-stdin < bob.pw",
                     "FRAUDOPS_CREDENTIALS=" + dir.File("bob.json"))
                .exit_code,
            0);
  CommandResult approved = as("bob", "models approve " + target + " --reason 'read the report'");
  ASSERT_EQ(approved.exit_code, 0) << approved.err;
  EXPECT_EQ(ws.store().GetVersion("fraud", std::to_string(v1))->approval_by, "user:bob");
  EXPECT_EQ(as("bob", "deploy " + target + " --strategy all_at_once").exit_code, 2);
  // A token in the environment (CI) is used as it is.
  CommandResult deployed = Fraudops(
      dir, "deploy " + target + " --endpoint fraud --strategy all_at_once --config config.yml",
      "FRAUDOPS_URL=" + url + " FRAUDOPS_TOKEN=" + carol +
          " FRAUDOPS_CREDENTIALS=" + dir.File("none.json"));
  ASSERT_EQ(deployed.exit_code, 0) << deployed.err;
  auto history = ServingStore(ws.store()).History("fraud", 1);
  ASSERT_TRUE(history.ok() && !history->empty());
  EXPECT_EQ((*history)[0].actor, "user:carol");
  CommandResult whoami = as("bob", "whoami");
  EXPECT_NE(whoami.out.find("user:bob (approver) at " + url), std::string::npos) << whoami.out;
  // Passwords were read from standard input, never stored or logged in clear.
  EXPECT_EQ(server.log().find("passphrase"), std::string::npos);
  EXPECT_EQ(ReadText(dir.File("admin.json")).find("passphrase"), std::string::npos);
}

TEST(ServeTest, ShadowGetsACopyOfTheTrafficAndAComparisonReport) {
  ServeWorkspace ws;
  const int64_t v1 = ws.Register();
  const int64_t v2 = ws.Register();
  const int64_t shifted = ws.Register("7E-1");
  ws.Deploy(v1, "all_at_once");
  ws.Deploy(v2, "shadow");
  ws.Deploy(shifted, "shadow");
  const std::string key = ws.CreateKey({"invoke", "admin"});
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  const std::vector<Json> rows = Transactions();
  for (size_t i = 0; i < 40; ++i) {
    HttpReply reply = http.Request("POST", "/v1/endpoints/fraud/predict",
                                   rows[i % rows.size()].dump(), {{"x-api-key", key}});
    ASSERT_EQ(reply.status, 200);
    EXPECT_EQ(Body(reply)["variant"], "production");  // shadows never answer
  }
  Json report = Body(http.Request("GET", "/v1/admin/endpoints/fraud/shadows?flush", "",
                                  {{"x-api-key", key}}))["shadows"];
  ASSERT_EQ(report.size(), 2u) << report.dump();
  for (const auto& shadow : report) {
    EXPECT_EQ(shadow["rows"], 40);
    if (shadow["shadow"] == "fraud@" + std::to_string(v2)) {
      EXPECT_EQ(shadow["decision_agreement"], 1.0);  // the same model
      EXPECT_EQ(shadow["max_abs_score_difference"], 0.0);
    } else {
      EXPECT_GT(shadow["mean_score_difference"].get<double>(), 0.0);
    }
    EXPECT_TRUE(shadow.contains("shadow_latency_ms"));
  }
}

TEST(ServeTest, AbVariantsSplitByWeightStickyByCardAcrossReplicasAndTheWinnerIsAudited) {
  ServeWorkspace ws;
  const int64_t v1 = ws.Register();
  const int64_t v2 = ws.Register("4E-1");
  ws.Deploy(v1, "all_at_once");
  DeploymentParams random;
  random.ab_weight = 30;
  ws.Deploy(v2, "ab", random);
  const std::string key = ws.CreateKey({"invoke", "admin"});
  ws.WriteConfig();
  ServerProcess a(ws, "a"), b(ws, "b");
  ASSERT_GT(a.port(), 0) << a.log();
  ASSERT_GT(b.port(), 0) << b.log();
  HttpClient http_a(a.port()), http_b(b.port());
  const Headers auth = {{"x-api-key", key}};
  const Json tx = Transactions()[0];
  const std::string predict = "/v1/endpoints/fraud/predict";

  // Weights 70/30 at random: over 10,000 requests v2's share is within 3 standard deviations.
  const int n = 10000;
  int to_v2 = 0;
  for (int i = 0; i < n; ++i) {
    HttpReply reply = http_a.Request("POST", predict, tx.dump(), auth);
    ASSERT_EQ(reply.status, 200) << reply.body;
    const std::string variant = Body(reply)["variant"];
    EXPECT_EQ(reply.headers["x-fraudops-variant"], variant);
    EXPECT_EQ(Body(reply)["version"], variant == "v2" ? v2 : v1);
    to_v2 += variant == "v2";
  }
  const double sigma = std::sqrt(n * 0.3 * 0.7);
  EXPECT_LE(std::abs(to_v2 - 0.3 * n), 3 * sigma) << to_v2 << " of " << n;
  // A header picks the variant; an unknown one is refused with the list.
  EXPECT_EQ(Body(http_a.Request("POST", predict, tx.dump(),
                                {{"x-api-key", key}, {"x-fraudops-variant", "v1"}}))["variant"],
            "v1");
  HttpReply unknown = http_a.Request("POST", predict, tx.dump(),
                                     {{"x-api-key", key}, {"x-fraudops-variant", "v9"}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(Body(unknown)["error"]["message"].get<std::string>().find("v1, v2"), std::string::npos)
      << unknown.body;
  // The live statistics count what each variant answered.
  Json status = Body(http_a.Request("GET", "/v1/admin/endpoints/fraud/ab", "", auth));
  EXPECT_EQ(status["live"]["v2"]["requests"], to_v2) << status.dump();
  EXPECT_TRUE(status["report"].is_object()) << status.dump();

  // Concluding keeps the winner alone, in the history and the audit log with its evidence.
  HttpReply concluded =
      http_a.Request("POST", "/v1/admin/endpoints/fraud/ab/conclude",
                     Json({{"winner", "v1"}, {"reason", "v2 alerts no better"}}).dump(), auth);
  ASSERT_EQ(concluded.status, 201) << concluded.body;
  EXPECT_EQ(Body(concluded)["strategy"], "ab_conclusion");
  auto audit = ws.store().Audit("fraud");
  ASSERT_TRUE(audit.ok());
  const AuditEntry* entry = nullptr;
  for (const AuditEntry& e : *audit) {
    if (e.action == "ab_concluded") entry = &e;
  }
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->version, v1);
  EXPECT_EQ(entry->details["winner"], "v1");
  EXPECT_EQ(entry->details["reason"], "v2 alerts no better");
  EXPECT_EQ(entry->details["evidence"]["live"]["v2"]["requests"], to_v2);
  EXPECT_TRUE(Eventually([&] {
    return Body(http_b.Request("POST", predict, tx.dump(), auth))["variant"] == "production";
  }));

  // Sticky by card: a new test assigned by card_id; each card meets one variant, the same
  // in both server processes (and the field is not a feature).
  DeploymentParams sticky;
  sticky.ab_weight = 50;
  sticky.ab_assignment_field = "card_id";
  ws.Deploy(v2, "ab", sticky);
  auto variant_of = [&](HttpClient& http, const std::string& card) {
    Json body = tx;
    body["card_id"] = card;
    HttpReply reply = http.Request("POST", predict, body.dump(), auth);
    // Until the servers see the test, card_id is no feature of the model (422).
    return reply.status == 200 ? Body(reply)["variant"].get<std::string>()
                               : "status " + std::to_string(reply.status);
  };
  auto in_test = [](const std::string& variant) { return variant == "v1" || variant == "v2"; };
  ASSERT_TRUE(Eventually([&] {
    return in_test(variant_of(http_a, "card-0")) && in_test(variant_of(http_b, "card-0"));
  }));
  std::map<std::string, int> cards_by_variant;
  for (int card = 0; card < 200; ++card) {
    const std::string id = "card-" + std::to_string(card);
    const std::string first = variant_of(http_a, id);
    EXPECT_TRUE(in_test(first)) << first;
    EXPECT_EQ(variant_of(http_a, id), first) << id;
    EXPECT_EQ(variant_of(http_b, id), first) << id;
    ++cards_by_variant[first];
  }
  EXPECT_GT(cards_by_variant["v1"], 50);
  EXPECT_GT(cards_by_variant["v2"], 50);

  // New weights without a redeploy: all of the traffic to v2.
  HttpReply weighted = http_a.Request("PUT", "/v1/admin/endpoints/fraud/ab/weights",
                                      Json({{"weights", {{"v2", 100}, {"v1", 0}}}}).dump(), auth);
  ASSERT_EQ(weighted.status, 200) << weighted.body;
  ASSERT_TRUE(Eventually([&] {
    return variant_of(http_b, "card-1") == "v2" && variant_of(http_b, "card-2") == "v2";
  }));
  for (int card = 0; card < 50; ++card)
    EXPECT_EQ(variant_of(http_b, "card-" + std::to_string(card)), "v2");
  HttpReply bad_sum = http_a.Request("PUT", "/v1/admin/endpoints/fraud/ab/weights",
                                     Json({{"weights", {{"v2", 60}, {"v1", 60}}}}).dump(), auth);
  EXPECT_EQ(bad_sum.status, 400);
  EXPECT_NE(bad_sum.body.find("sum to 100"), std::string::npos) << bad_sum.body;
}

/// The value of a metric line "NAME VALUE" in a /metrics text (-1 when absent).
double MetricValue(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::atof(text.c_str() + at + name.size() + 2);
}

TEST(ServeTest,
     MultiModelEndpointLoadsOnUseEvictsToStayInTheBudgetAndLoadsOnceForConcurrentRequests) {
  ServeWorkspace ws;
  // 50 versions, each with its own base score, so each answers the same transaction differently.
  std::vector<int64_t> versions;
  for (int i = 0; i < 50; ++i) versions.push_back(ws.Register(FormatDouble(0.2 + 0.01 * i)));
  // What each version answers, computed here from its bundle, and what one costs in memory.
  const Json tx = Transactions()[0];
  std::map<int64_t, double> expected;
  size_t model_bytes = 0;
  for (int i = 0; i < 50; ++i) {
    auto bundle = LoadBundle(ws.dir().File("bundles/" + std::to_string(i + 1)));
    ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
    const FeatureEncoder encoder(bundle->input);
    std::string body = tx.dump();
    ParsedRows rows;
    RequestError error;
    ASSERT_TRUE(ParsePredictBody(body, "application/json", encoder, 1, &rows, &error))
        << error.message;
    expected[versions[i]] = bundle->ensemble.PredictProbability(rows.values.data());
    model_bytes = std::max(model_bytes, bundle->ensemble.MemoryBytes());
  }
  const size_t budget = 10 * model_bytes + model_bytes / 2;  // room for ten
  MultiModelSpec spec;
  spec.routing_field = "segment";
  spec.routes = {{"eu", "fraud@3"}};
  ServingStore serving(ws.store());
  ASSERT_TRUE(serving.SetMultiModel("multi", spec, "test").ok());
  const std::string key = ws.CreateKey({"invoke"});
  ws.WriteConfig("  model_cache_bytes: " + std::to_string(budget) + "\n");
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  const std::string predict = "/v1/endpoints/multi/predict";
  auto metric = [&](const std::string& name) {
    return MetricValue(http.Request("GET", "/metrics").body, name);
  };

  for (int64_t version : versions) {
    HttpReply reply = http.Request(
        "POST", predict, tx.dump(),
        {{"x-api-key", key}, {"x-fraudops-target-model", "fraud@" + std::to_string(version)}});
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(Body(reply)["version"], version);
    EXPECT_EQ(Body(reply)["score"].get<double>(), expected[version]) << version;
    EXPECT_LE(metric("fraudops_model_cache_bytes"), static_cast<double>(budget));
  }
  EXPECT_EQ(metric("fraudops_model_cache_models"), 10);
  EXPECT_EQ(metric("fraudops_model_cache_loads_total"), 50);
  EXPECT_EQ(metric("fraudops_model_cache_evictions_total"), 40);
  // The last ten are cached: hits, no loads.
  for (size_t i = 40; i < 50; ++i) {
    EXPECT_EQ(http.Request("POST", predict, tx.dump(),
                           {{"x-api-key", key},
                            {"x-fraudops-target-model", "fraud@" + std::to_string(versions[i])}})
                  .status,
              200);
  }
  EXPECT_EQ(metric("fraudops_model_cache_loads_total"), 50);
  EXPECT_EQ(metric("fraudops_model_cache_hits_total"), 10);

  // Sixteen concurrent first requests for an evicted model: one load.
  std::vector<std::thread> clients;
  std::atomic<int> ready{0}, ok{0};
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&] {
      HttpClient mine(server.port());
      ready.fetch_add(1);
      while (ready.load() < 16) std::this_thread::yield();
      HttpReply reply = mine.Request("POST", predict, tx.dump(),
                                     {{"x-api-key", key}, {"x-fraudops-target-model", "fraud@1"}});
      if (reply.status == 200 && Body(reply)["score"].get<double>() == expected[1]) ok.fetch_add(1);
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(metric("fraudops_model_cache_loads_total"), 51);

  // A route by the request's segment (not a feature); what cannot be served says why.
  Json routed = tx;
  routed["segment"] = "eu";
  HttpReply by_route = http.Request("POST", predict, routed.dump(), {{"x-api-key", key}});
  ASSERT_EQ(by_route.status, 200) << by_route.body;
  EXPECT_EQ(Body(by_route)["version"], 3);
  HttpReply unknown = http.Request("POST", predict, tx.dump(),
                                   {{"x-api-key", key}, {"x-fraudops-target-model", "fraud@999"}});
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  HttpReply unnamed = http.Request("POST", predict, tx.dump(), {{"x-api-key", key}});
  EXPECT_EQ(unnamed.status, 400) << unnamed.body;
  EXPECT_NE(unnamed.body.find("x-fraudops-target-model"), std::string::npos) << unnamed.body;
  Json elsewhere = tx;
  elsewhere["segment"] = "mars";
  EXPECT_EQ(http.Request("POST", predict, elsewhere.dump(), {{"x-api-key", key}}).status, 400);
  EXPECT_LE(metric("fraudops_model_cache_bytes"), static_cast<double>(budget));
}

TEST(ServeTest, HotSwapUnderLoadFailsNoRequestAndRollbackRestoresTheVersionBefore) {
  ServeWorkspace ws;
  const int64_t v1 = ws.Register();
  const int64_t v2 = ws.Register("6E-1");
  ws.Deploy(v1, "all_at_once");
  const std::string key = ws.CreateKey({"invoke"});
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  ServingStore serving(ws.store());
  Load load(server.port(), key, 3);
  // Each swap under load: the next deployment only once the replies name this one.
  ASSERT_TRUE(Eventually([&] { return load.Serves(v1); }, 30)) << load.last_failure;
  for (int i = 0; i < 6; ++i) {
    const int64_t next = i % 2 == 0 ? v2 : v1;
    ws.Deploy(next, "all_at_once");
    ASSERT_TRUE(Eventually([&] { return load.Serves(next); }, 30)) << "v" << next;
  }
  auto rolled = serving.Rollback("fraud", "test", "test");  // production was v1: back to v2
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(rolled->target.version, v2);
  ASSERT_TRUE(Eventually([&] { return load.Serves(v2); }, 30));
  load.Stop();
  EXPECT_EQ(load.failed, 0) << load.last_failure;
  EXPECT_GT(load.ok, 50);
  EXPECT_EQ(load.versions, (std::set<int64_t>{v1, v2}));
}

TEST(ServeTest, PipelinedSplitContinueHttp10AndOversizedHeadersOnTheWire) {
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  // Two requests in one write: two answers, in order.
  HttpClient pipelined(server.port());
  ASSERT_TRUE(pipelined.Connect());
  ASSERT_TRUE(pipelined.SendAll(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(pipelined.ReadReply(5000).status, 200);
  EXPECT_EQ(pipelined.ReadReply(5000).status, 404);
  // A request that arrives in pieces: the header split mid-line, the body sent later.
  HttpClient split(server.port());
  ASSERT_TRUE(split.Connect());
  ASSERT_TRUE(split.SendAll("POST /v1/endpoints/fraud/pre"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(split.SendAll("dict HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{\"Ti"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(split.SendAll("me\": 1}"));
  EXPECT_EQ(split.ReadReply(5000).status, 401);  // read whole, then refused for want of a key
  // Expect: 100-continue gets its interim answer before the body is sent.
  HttpClient careful(server.port());
  ASSERT_TRUE(careful.Connect());
  ASSERT_TRUE(careful.SendAll(
      "POST /v1/endpoints/fraud/predict HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: 2\r\n\r\n"));
  EXPECT_EQ(careful.ReadReply(5000).status, 100);
  ASSERT_TRUE(careful.SendAll("{}"));
  EXPECT_EQ(careful.ReadReply(5000).status, 401);
  // HTTP/1.0: keep-alive only when asked for, and said so.
  HttpClient old(server.port());
  ASSERT_TRUE(old.Connect());
  ASSERT_TRUE(old.SendAll("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  HttpReply kept = old.ReadReply(5000);
  EXPECT_EQ(kept.status, 200);
  EXPECT_EQ(kept.headers["connection"], "keep-alive");
  ASSERT_TRUE(old.SendAll("GET /healthz HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(old.ReadReply(5000).status, 200);
  EXPECT_TRUE(old.WaitForClose(5000));
  // Headers over the limit: 431 and the connection closed.
  HttpClient oversized(server.port());
  ASSERT_TRUE(oversized.Connect());
  ASSERT_TRUE(oversized.SendAll(
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"));
  HttpReply refused = oversized.ReadReply(5000);
  EXPECT_EQ(refused.status, 431);
  EXPECT_EQ(refused.headers["connection"], "close");
  EXPECT_NE(refused.body.find("headers are larger"), std::string::npos) << refused.body;
}

TEST(ServeTest, ASecondServerOnAPortAlreadyServedRefusesToStart) {
  // The workers share their port (SO_REUSEPORT); another `serve` on the same port must not
  // join them and take part of the traffic unseen, but stop, saying the port is in use.
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  // --port: the port on api.listen's host (by default 127.0.0.1).
  const CommandResult second =
      RunCommand("timeout 30 " + std::string(FRAUDOPS_BINARY) + " serve --config " +
                     ws.dir().File("config.yml") + " --port " + std::to_string(server.port()),
                 ws.dir().path());
  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.exit_code, 124) << "the second server started";
  EXPECT_NE(second.err.find("cannot listen on 127.0.0.1:" + std::to_string(server.port()) +
                            ": Address already in use"),
            std::string::npos)
      << second.err;
  HttpClient client(server.port());
  ASSERT_TRUE(client.Connect());
  ASSERT_TRUE(client.SendAll("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(client.ReadReply(5000).status, 200);
}

TEST(ServeTest, ASlowClientIsCutOffWhileOthersAreServedAndSigtermDrains) {
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  ws.WriteConfig();  // header_timeout_ms: 700
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient slow(server.port());
  ASSERT_TRUE(slow.Connect());
  ASSERT_TRUE(slow.SendAll(
      "POST /v1/endpoints/fraud/predict HTTP/1.1\r\nHost: x\r\n"));  // and never the rest
  HttpClient fast(server.port());
  EXPECT_EQ(fast.Request("GET", "/healthz").status, 200);
  auto sent = std::chrono::steady_clock::now();
  EXPECT_TRUE(slow.WaitForClose(5000));  // cut off at the header deadline
  EXPECT_GE(std::chrono::steady_clock::now() - sent, std::chrono::milliseconds(500));
  // Garbage is a 400, not a crash.
  HttpClient garbage(server.port());
  ASSERT_TRUE(garbage.Connect());
  ASSERT_TRUE(garbage.SendAll("NOT HTTP AT ALL\r\n\r\n"));
  EXPECT_EQ(garbage.ReadReply(5000).status, 400);
  // An idle keep-alive connection does not hold up a drain.
  HttpClient idle(server.port());
  EXPECT_EQ(idle.Request("GET", "/healthz").status, 200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.Stop(), 0) << server.log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace fraudops::testing

namespace fraudops::testing {
namespace {

// The periodic monitor in serve (monitor.serve_interval) reads what the server captured and
// publishes drift gauges on /metrics; the capture files the server writes are the ones the
// monitor reads.
TEST(ServeTest, ThePeriodicMonitorPublishesDriftGaugesFromTheServersOwnCapture) {
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  const std::string key = ws.CreateKey({"invoke"});
  ws.WriteConfig("  capture_rotate_seconds: 1\nmonitor:\n  serve_interval: 1s\n  min_rows: 1\n");
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  Load load(server.port(), key, 1);
  HttpClient http(server.port());
  std::string metrics;
  EXPECT_TRUE(Eventually(
      [&] {
        metrics = http.Request("GET", "/metrics").body;
        const std::string rows = "fraudops_drift_rows{endpoint=\"fraud\"} ";
        size_t at = metrics.find(rows);
        return at != std::string::npos && std::atof(metrics.c_str() + at + rows.size()) > 0;
      },
      30))
      << metrics << server.log();
  load.Stop();
  EXPECT_EQ(load.failed, 0) << load.last_failure;
  EXPECT_NE(metrics.find("# TYPE fraudops_drift_psi gauge"), std::string::npos);
  EXPECT_NE(metrics.find("fraudops_drift_psi{endpoint=\"fraud\",feature=\"$score\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("fraudops_drift_psi_threshold{endpoint=\"fraud\""), std::string::npos);
  // One transaction sent again and again is all in one bin of every feature: drift, logged.
  EXPECT_NE(server.log().find("\"component\":\"alert\""), std::string::npos) << server.log();
  EXPECT_TRUE(fs::exists(ws.home() + "/monitoring/fraud"));

  // The Grafana dashboards (deploy/grafana) query only metrics this server exports.
  std::set<std::string> exported;
  for (const std::string& line : Split(metrics, '\n')) {
    if (StartsWith(line, "# TYPE ")) {
      const std::vector<std::string> words = Split(line, ' ');
      exported.insert(words[2]);
      if (words.size() > 3 && words[3] == "histogram") {
        for (const char* suffix : {"_bucket", "_sum", "_count"}) exported.insert(words[2] + suffix);
      }
    }
  }
  size_t queries = 0;
  for (const char* file :
       {"fraudops-serving.json", "fraudops-models.json", "fraudops-pipelines.json"}) {
    const Json dashboard = Json::parse(
        ReadText(std::string(FRAUDOPS_SOURCE_DIR) + "/deploy/grafana/" + file), nullptr, false);
    ASSERT_TRUE(dashboard.is_object()) << file << " is not JSON";
    EXPECT_FALSE(dashboard["panels"].empty()) << file;
    Json panels = dashboard["panels"];
    for (const Json& variable : dashboard["templating"]["list"]) {  // label_values(METRIC, …)
      if (variable.contains("definition")) {
        panels.push_back({{"title", "variable " + variable["name"].get<std::string>()},
                          {"targets", {{{"expr", variable["definition"]}}}}});
      }
    }
    for (const Json& panel : panels) {
      for (const Json& target : panel["targets"]) {
        const std::string expr = target.value("expr", "");
        ++queries;
        bool names_one = false;
        for (size_t at = expr.find("fraudops_"); at != std::string::npos;
             at = expr.find("fraudops_", at + 1)) {
          size_t end = at;
          while (end < expr.size() &&
                 (std::isalnum(static_cast<unsigned char>(expr[end])) || expr[end] == '_')) {
            ++end;
          }
          names_one = true;
          EXPECT_TRUE(exported.count(expr.substr(at, end - at)))
              << file << ", panel '" << panel["title"].get<std::string>()
              << "': " << expr.substr(at, end - at) << " is not exported";
          at = end;
        }
        EXPECT_TRUE(names_one) << file << ": " << expr;
      }
    }
  }
  EXPECT_GT(queries, 25u);
}

// With schedule.in_serve the server runs the scheduler too: new data in a watched directory
// starts a pipeline run inside the serving process, recorded in the schedule history.
TEST(ServeTest, TheInProcessSchedulerRunsThePipelineWhenWatchedDataArrives) {
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  const std::string watched = ws.dir().File("incoming");
  fs::create_directories(watched);
  ws.WriteConfig(
      "preprocess:\n  synthetic_rows: 5000\n  synthetic_fraud_rate: 0.02\nevaluate:\n  "
      "min_roc_auc: 0.5\nschedule:\n  in_serve: true\n  watch: ['" +
      watched + "']\n  poll: 1s\n  cooldown: 1s\n");
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  ScheduleStore schedule(ws.store());
  // The first look records the directory; a file arriving after it starts a run.
  ASSERT_TRUE(Eventually(
      [&] { return schedule.GetState("fraud-detection", "data:" + watched)->has_value(); }, 30))
      << server.log();
  WriteText(watched + "/2026-11-23.csv", "a,b\n1,2\n");
  ASSERT_TRUE(Eventually(
      [&] {
        auto history = schedule.History("fraud-detection", 5);
        return history.ok() && !history->empty() && history->front().status != RunStatus::kRunning;
      },
      120))
      << server.log();
  ScheduleRunRecord run = schedule.History("fraud-detection", 5)->front();
  EXPECT_EQ(run.trigger, "data");
  EXPECT_EQ(run.status, RunStatus::kSucceeded) << run.error << server.log();
  EXPECT_FALSE(run.execution_id.empty());
  EXPECT_EQ(run.deployment, "");  // no deploy.auto: the version waits for approval
  // The server kept serving its endpoint meanwhile.
  HttpClient http(server.port());
  EXPECT_EQ(http.Request("GET", "/healthz").status, 200);
}

// ---------------------------------------------------------------------------------------
// TLS (docs/operations.md, "TLS").

/// A CA and, signed by it, certificates for the server (two, for rotation) and a client,
/// made with the openssl command.
struct Certificates {
  explicit Certificates(const TempDir& dir) : dir_(dir) {
    auto run = [&](const std::string& command) {
      auto result = RunCommand("cd " + dir.path() + " && " + command, dir.path());
      EXPECT_EQ(result.exit_code, 0) << command << "\n" << ReadText(dir.File("stderr.txt"));
    };
    const std::string key = "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
    run(key + "-x509 -days 2 -subj /CN=test-ca -keyout ca.key -out ca.crt 2>/dev/null");
    run(key + "-x509 -days 2 -subj /CN=rogue -keyout rogue.key -out rogue.crt 2>/dev/null");
    WriteText(dir.File("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    WriteText(dir.File("client.ext"), "extendedKeyUsage=clientAuth\n");
    for (const std::string name : {"server", "server2", "client"}) {
      const std::string ext = name == "client" ? "client.ext" : "server.ext";
      run(key + "-subj /CN=" + name + " -keyout " + name + ".key -out " + name +
          ".csr 2>/dev/null");
      run("openssl x509 -req -days 2 -in " + name +
          ".csr -CA ca.crt -CAkey ca.key -CAcreateserial "
          "-extfile " +
          ext + " -out " + name + ".crt 2>/dev/null");
    }
  }
  std::string File(const std::string& name) const { return dir_.File(name); }
  const TempDir& dir_;
};

/// What each HTTPS test starts from: a workspace serving a deployed model, a key that may
/// score, and the certificates in the workspace's folder.
struct TlsWorkspace {
  TlsWorkspace() : key(DeployAndCreateKey(ws)), certs(ws.dir()) {}
  static std::string DeployAndCreateKey(ServeWorkspace& ws) {
    ws.Deploy(ws.Register(), "all_at_once");
    return ws.CreateKey({"invoke"});
  }
  ServeWorkspace ws;
  std::string key;
  Certificates certs;
};

TEST(ServeTlsTest, Tls13ScoringTls12AcceptedTls11RefusedAndTheCertificateReloadedOnSighup) {
  TlsWorkspace tls;
  ServeWorkspace& ws = tls.ws;
  const std::string& key = tls.key;
  const Certificates& certs = tls.certs;
  std::filesystem::copy_file(certs.File("server.crt"), ws.dir().File("live.crt"));
  std::filesystem::copy_file(certs.File("server.key"), ws.dir().File("live.key"));
  ws.WriteConfig("  tls_cert_file: " + ws.dir().File("live.crt") +
                 "\n  tls_key_file: " + ws.dir().File("live.key") + "\n");
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  const std::string body = Transactions()[0].dump();

  TlsClient tls13(server.port(), {.ca_file = certs.File("ca.crt"), .min_version = TLS1_3_VERSION});
  ASSERT_TRUE(tls13.Connect()) << tls13.error();
  EXPECT_EQ(tls13.protocol(), "TLSv1.3");
  EXPECT_EQ(tls13.peer_common_name(), "server");
  HttpReply scored =
      tls13.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", key}});
  ASSERT_EQ(scored.status, 200) << scored.body;
  EXPECT_TRUE(Json::parse(scored.body).contains("score"));

  TlsClient tls12(server.port(), {.ca_file = certs.File("ca.crt"), .max_version = TLS1_2_VERSION});
  ASSERT_TRUE(tls12.Connect()) << tls12.error();
  EXPECT_EQ(tls12.protocol(), "TLSv1.2");
  EXPECT_EQ(tls12.Request("GET", "/healthz").status, 200);

  TlsClient tls11(server.port(), {.ca_file = certs.File("ca.crt"),
                                  .min_version = TLS1_VERSION,
                                  .max_version = TLS1_1_VERSION,
                                  .allow_legacy = true});
  EXPECT_FALSE(tls11.Connect());
  EXPECT_NE(tls11.error().find("protocol version"), std::string::npos) << tls11.error();
  // Plain HTTP to the HTTPS port gets no answer; both refusals are counted.
  HttpClient plain(server.port());
  EXPECT_EQ(plain.Request("GET", "/healthz").status, 0);
  const std::string metrics = tls12.Request("GET", "/metrics").body;
  const size_t counter = metrics.find("\nfraudops_tls_handshake_failures_total ");
  ASSERT_NE(counter, std::string::npos);
  // The TLS 1.1 attempt and the plain client's (which connects twice: it retries once).
  EXPECT_EQ(std::atoi(metrics.c_str() + counter + 39), 3) << metrics.substr(counter, 60);

  // Rotation: new files, SIGHUP; the open connection goes on, new ones get the new certificate.
  std::filesystem::copy_file(certs.File("server2.crt"), ws.dir().File("live.crt"),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(certs.File("server2.key"), ws.dir().File("live.key"),
                             std::filesystem::copy_options::overwrite_existing);
  server.Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] {
    return server.log().find("TLS certificate reloaded") != std::string::npos;
  })) << server.log();
  EXPECT_EQ(tls13.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", key}}).status,
            200);
  TlsClient after(server.port(), {.ca_file = certs.File("ca.crt")});
  ASSERT_TRUE(after.Connect()) << after.error();
  EXPECT_EQ(after.peer_common_name(), "server2");
  // A broken file on reload keeps the certificate that works.
  WriteText(ws.dir().File("live.key"), "not a key\n");
  server.Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] {
    return server.log().find("keeping the certificate loaded") != std::string::npos;
  })) << server.log();
  TlsClient still(server.port(), {.ca_file = certs.File("ca.crt")});
  ASSERT_TRUE(still.Connect()) << still.error();
  EXPECT_EQ(still.peer_common_name(), "server2");
}

TEST(ServeTlsTest, MutualTlsRefusesAClientWithoutACertificate) {
  TlsWorkspace tls;
  ServeWorkspace& ws = tls.ws;
  const std::string& key = tls.key;
  const Certificates& certs = tls.certs;
  ws.WriteConfig("  tls_cert_file: " + certs.File("server.crt") +
                 "\n  tls_key_file: " + certs.File("server.key") +
                 "\n  tls_client_ca_file: " + certs.File("ca.crt") + "\n");
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  const std::string body = Transactions()[0].dump();
  // Without a certificate: refused (in TLS 1.3 the server's alert comes after the client's
  // side of the handshake, so the first request gets no answer).
  TlsClient anonymous(server.port(), {.ca_file = certs.File("ca.crt")});
  if (anonymous.Connect()) {
    EXPECT_EQ(anonymous.Request("GET", "/healthz").status, 0);
  }
  TlsClient with_cert(server.port(), {.ca_file = certs.File("ca.crt"),
                                      .cert_file = certs.File("client.crt"),
                                      .key_file = certs.File("client.key")});
  ASSERT_TRUE(with_cert.Connect()) << with_cert.error();
  EXPECT_EQ(
      with_cert.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", key}}).status,
      200);
  // A certificate from another CA is refused too.
  TlsClient stranger(server.port(), {.ca_file = certs.File("ca.crt"),
                                     .cert_file = certs.File("rogue.crt"),
                                     .key_file = certs.File("rogue.key")});
  if (stranger.Connect()) {
    EXPECT_EQ(stranger.Request("GET", "/healthz").status, 0);
  }
}

TEST(ServeTlsTest, ABodyOfManyRecordsAndPipelinedRequestsOnOneConnection) {
  TlsWorkspace tls;
  ServeWorkspace& ws = tls.ws;
  const std::string& key = tls.key;
  const Certificates& certs = tls.certs;
  ws.WriteConfig("  tls_cert_file: " + certs.File("server.crt") +
                 "\n  tls_key_file: " + certs.File("server.key") + "\n");
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  TlsClient client(server.port(), {.ca_file = certs.File("ca.crt")});
  ASSERT_TRUE(client.Connect()) << client.error();
  // A batch whose body spans several TLS records (16 KB of plaintext each at most): scored
  // as each row alone is.
  const std::vector<Json> rows = Transactions();
  const std::vector<std::pair<std::string, std::string>> auth = {{"x-api-key", key}};
  const size_t distinct = std::min<size_t>(rows.size(), 50);
  Json batch = {{"instances", Json::array()}};
  for (size_t i = 0; i < 50; ++i) batch["instances"].push_back(rows[i % distinct]);
  const std::string body = batch.dump();
  ASSERT_GT(body.size(), 2 * 16384u);
  HttpReply scored = client.Request("POST", "/v1/endpoints/fraud/predict", body, auth);
  ASSERT_EQ(scored.status, 200) << scored.body;
  const Json predictions = Json::parse(scored.body)["predictions"];
  ASSERT_EQ(predictions.size(), 50u);
  HttpReply alone = client.Request("POST", "/v1/endpoints/fraud/predict", rows[1].dump(), auth);
  ASSERT_EQ(alone.status, 200) << alone.body;
  EXPECT_EQ(predictions[1]["score"], Json::parse(alone.body)["score"]);
  // Pipelined: requests written at once (several in a record, records in one read), answered
  // in order, and the connection goes on after them.
  std::string requests;
  for (size_t i = 0; i < 200; ++i) {
    requests += TlsClient::FormatRequest("POST", "/v1/endpoints/fraud/predict",
                                         rows[i % distinct].dump(), auth);
  }
  ASSERT_TRUE(client.Write(requests));
  for (size_t i = 0; i < 200; ++i) {
    HttpReply reply = client.ReadReply();
    ASSERT_EQ(reply.status, 200) << "response " << i << ": " << reply.body;
    EXPECT_EQ(Json::parse(reply.body)["score"], predictions[i % distinct]["score"])
        << "response " << i;
  }
  HttpReply after = client.Request("GET", "/healthz");
  EXPECT_EQ(after.status, 200);
}

TEST(ServeTlsTest, OutboundHttpsVerifiesTheServerAgainstTheSystemStoreOrGlobalCaFile) {
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  Certificates certs(ws.dir());
  ws.WriteConfig("  tls_cert_file: " + certs.File("server.crt") +
                 "\n  tls_key_file: " + certs.File("server.key") + "\n");
  const std::string config = " --config " + ws.dir().File("config.yml");
  const std::string credentials = "FRAUDOPS_CREDENTIALS=" + ws.dir().File("credentials.json");
  auto added = RunCommand("printf 'correct horse battery' | " + Binary() +
                              " users add ops --role admin --password-stdin" + config,
                          ws.dir().path());
  ASSERT_EQ(added.exit_code, 0) << added.err;
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  const std::string login = "printf 'correct horse battery' | env " + credentials + " %s " +
                            Binary() +
                            " login --url https://127.0.0.1:" + std::to_string(server.port()) +
                            " --user ops --password-stdin";
  auto run = [&](const std::string& env) {
    std::string command = login;
    command.replace(command.find("%s"), 2, env);
    return RunCommand(command, ws.dir().path());
  };
  // The test CA is in no system store: refused, saying why.
  auto untrusted = run("");
  EXPECT_NE(untrusted.exit_code, 0);
  EXPECT_NE(ReadText(ws.dir().File("stderr.txt")).find("certificate"), std::string::npos)
      << ReadText(ws.dir().File("stderr.txt"));
  // With global.ca_file naming it: signed in over HTTPS.
  auto trusted = run("FRAUDOPS_GLOBAL_CA_FILE=" + certs.File("ca.crt"));
  EXPECT_EQ(trusted.exit_code, 0) << ReadText(ws.dir().File("stderr.txt"));
  EXPECT_TRUE(fs::exists(ws.dir().File("credentials.json")));
}

TEST(ServeTlsTest, TlsSettingsAreCheckedAtStart) {
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  ws.WriteConfig("  tls_cert_file: " + ws.dir().File("missing.crt") + "\n");
  auto half = Fraudops(ws.dir(), "serve --config " + ws.dir().File("config.yml"));
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_NE(half.err.find("api.tls_cert_file and api.tls_key_file go together"), std::string::npos)
      << half.err;
  WriteText(ws.dir().File("bad.crt"), "-----BEGIN CERTIFICATE-----\nnot base64\n");
  WriteText(ws.dir().File("bad.key"), "nothing\n");
  ws.WriteConfig("  tls_cert_file: " + ws.dir().File("bad.crt") +
                 "\n  tls_key_file: " + ws.dir().File("bad.key") + "\n");
  auto bad = Fraudops(ws.dir(), "serve --config " + ws.dir().File("config.yml"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("api.tls_cert_file: " + ws.dir().File("bad.crt") +
                         ": not a usable PEM certificate chain"),
            std::string::npos)
      << bad.err;
}

// ---------------------------------------------------------------------------------------
// Tracing (docs/operations.md, "Tracing").

TEST(ServeTracingTest, ACallersTraceContinuesThroughTheServerAndItsSpansReachTheCollector) {
  HttpReceiver receiver;
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  const std::string key = ws.CreateKey({"invoke"});
  ws.WriteConfig("tracing:\n  otlp_url: http://127.0.0.1:" + std::to_string(receiver.port()) +
                 "/v1/traces\n  flush_ms: 50\n  sample_ratio: 0\n  protocol: http/json\n");
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  const std::string body = Transactions()[0].dump();
  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  HttpReply scored = http.Request("POST", "/v1/endpoints/fraud/predict", body,
                                  {{"x-api-key", key},
                                   {"traceparent", "00-" + trace + "-b7ad6b7169203331-01"},
                                   {"tracestate", "bank=t61rcWkgMzE"}});
  ASSERT_EQ(scored.status, 200) << scored.body;
  // The response continues the caller's trace with the server's own span, sampled.
  const std::string answered = scored.headers["traceparent"];
  ASSERT_EQ(answered.size(), 55u) << answered;
  EXPECT_EQ(answered.substr(0, 36), "00-" + trace + "-");
  EXPECT_NE(answered.substr(36, 16), "b7ad6b7169203331");
  EXPECT_EQ(answered.substr(52), "-01");
  EXPECT_EQ(scored.headers["tracestate"], "bank=t61rcWkgMzE");
  // A caller's "not sampled" is followed (parent-based), and sample_ratio 0 records no new
  // trace: neither reaches the collector.
  const std::string quiet = "1bf7651916cd43dd8448eb211c80319c";
  HttpReply unsampled =
      http.Request("POST", "/v1/endpoints/fraud/predict", body,
                   {{"x-api-key", key}, {"traceparent", "00-" + quiet + "-b7ad6b7169203331-00"}});
  EXPECT_EQ(unsampled.headers["traceparent"].substr(52), "-00");
  HttpReply fresh = http.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", key}});
  const std::string fresh_trace = fresh.headers["traceparent"].substr(3, 32);
  EXPECT_EQ(fresh.headers["traceparent"].substr(52), "-00");
  // A malformed traceparent starts a new trace.
  HttpReply malformed = http.Request("POST", "/v1/endpoints/fraud/predict", body,
                                     {{"x-api-key", key}, {"traceparent", "00-xyz-01"}});
  EXPECT_EQ(malformed.headers["traceparent"].size(), 55u);

  // The spans, as the OTLP specification's JSON encoding gives them.
  Json spans = Json::array();
  ASSERT_TRUE(Eventually([&] {
    spans = Json::array();
    for (const std::string& text : receiver.bodies()) {
      Json request = Json::parse(text, nullptr, false);
      if (!request.is_object()) continue;
      for (const Json& resource : request["resourceSpans"]) {
        bool named = false;
        for (const Json& a : resource["resource"]["attributes"])
          named |= a["key"] == "service.name" && a["value"]["stringValue"] == "fraudops";
        EXPECT_TRUE(named) << resource.dump();
        for (const Json& scope : resource["scopeSpans"]) {
          EXPECT_EQ(scope["scope"]["name"], "fraudops");
          for (const Json& span : scope["spans"]) spans.push_back(span);
        }
      }
    }
    return spans.size() >= 5;
  })) << spans.dump();
  for (const std::string& line : receiver.request_lines())
    EXPECT_EQ(line, "POST /v1/traces HTTP/1.1");
  std::map<std::string, Json> by_name;
  for (const Json& span : spans) {
    EXPECT_EQ(span["traceId"], trace) << "only the sampled trace is exported";
    EXPECT_EQ(span["spanId"].get<std::string>().size(), 16u);
    const std::string start = span["startTimeUnixNano"], end = span["endTimeUnixNano"];
    EXPECT_LE(std::stoull(start), std::stoull(end));
    EXPECT_GT(std::stoull(start), 1700000000000000000ull);
    EXPECT_EQ(span.value("status", Json::object()).value("code", 0), 0);  // unset: left out
    by_name[span["name"]] = span;
  }
  ASSERT_TRUE(by_name.count("POST /v1/endpoints/{endpoint}/predict")) << spans.dump();
  const Json& root = by_name["POST /v1/endpoints/{endpoint}/predict"];
  EXPECT_EQ(root["kind"], 2);  // SERVER
  EXPECT_EQ(root["parentSpanId"], "b7ad6b7169203331");
  EXPECT_EQ(root["spanId"], answered.substr(36, 16));
  std::map<std::string, std::string> attributes;
  for (const Json& a : root["attributes"])
    attributes[a["key"]] = a["value"].value("stringValue", a["value"].value("intValue", ""));
  EXPECT_EQ(attributes["http.route"], "/v1/endpoints/{endpoint}/predict");
  EXPECT_EQ(attributes["http.response.status_code"], "200");  // an int: "intValue":"200"
  for (const Json& a : root["attributes"])
    if (a["key"] == "http.response.status_code") {
      EXPECT_EQ(a["value"]["intValue"], "200");
    }
  EXPECT_EQ(attributes["fraudops.model"], "fraud@1");
  // The steps in order inside the server span (their times from two sources: the span clock
  // and the readings the server's metrics take — the same to within the span clock's
  // documented microsecond, given 20 here as the span clock's own test does).
  auto time = [](const Json& span, const char* field) {
    return static_cast<int64_t>(std::stoull(span[field].get<std::string>()));
  };
  const int64_t slack = 20'000;
  int64_t previous_end = time(root, "startTimeUnixNano");
  for (const char* step : {"auth", "parse", "score", "capture"}) {
    ASSERT_TRUE(by_name.count(step)) << step << ": " << spans.dump();
    EXPECT_EQ(by_name[step]["parentSpanId"], root["spanId"]) << step;
    EXPECT_EQ(by_name[step]["kind"], 1) << step;
    EXPECT_GE(time(by_name[step], "startTimeUnixNano") + slack, previous_end) << step;
    previous_end = time(by_name[step], "endTimeUnixNano");
  }
  EXPECT_LE(previous_end, time(root, "endTimeUnixNano") + slack);
  // The capture record carries the trace id.
  ASSERT_TRUE(Eventually([&] {
    std::string all;
    if (fs::exists(ws.home() + "/capture/fraud")) {
      for (const auto& entry : fs::recursive_directory_iterator(ws.home() + "/capture/fraud"))
        if (entry.is_regular_file()) all += ReadText(entry.path().string());
    }
    return all.find("\"trace_id\":\"" + trace + "\"") != std::string::npos &&
           all.find("\"trace_id\":\"" + fresh_trace + "\"") != std::string::npos;
  }));
}

TEST(ServeTracingTest, SpansCanBeSentAsOtlpProtobuf) {
  HttpReceiver receiver;
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  const std::string key = ws.CreateKey({"invoke"});
  ws.WriteConfig("tracing:\n  otlp_url: http://127.0.0.1:" + std::to_string(receiver.port()) +
                 "/v1/traces\n  flush_ms: 50\n  protocol: http/protobuf\n");
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  HttpReply scored =
      http.Request("POST", "/v1/endpoints/fraud/predict", Transactions()[0].dump(),
                   {{"x-api-key", key},
                    {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}});
  ASSERT_EQ(scored.status, 200) << scored.body;
  ASSERT_TRUE(Eventually([&] { return !receiver.bodies().empty(); }));
  EXPECT_NE(receiver.heads()[0].find("content-type: application/x-protobuf"), std::string::npos)
      << receiver.heads()[0];
  // The trace id as 16 raw bytes (field 1 of each span: tag 0x0a, length 16), the route.
  const std::string body = receiver.bodies()[0];
  const std::string trace_field =
      std::string("\x0a\x10", 2) +
      "\x0a\xf7\x65\x19\x16\xcd\x43\xdd\x84\x48\xeb\x21\x1c\x80\x31\x9c";
  EXPECT_NE(body.find(trace_field), std::string::npos);
  EXPECT_NE(body.find("POST /v1/endpoints/{endpoint}/predict"), std::string::npos);
  EXPECT_EQ(body.find("traceId"), std::string::npos);  // not JSON
}

TEST(ServeTracingTest, ACollectorThatIsDownCostsRequestsNothingAndItsSpansAreCounted) {
  ServeWorkspace ws;
  ws.Deploy(ws.Register(), "all_at_once");
  const std::string key = ws.CreateKey({"invoke"});
  const int closed = FreePort();  // nothing listens there
  ws.WriteConfig("tracing:\n  otlp_url: http://127.0.0.1:" + std::to_string(closed) +
                 "/v1/traces\n  flush_ms: 20\n  queue_spans: 100\n");
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());
  const std::string body = Transactions()[0].dump();
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(
        http.Request("POST", "/v1/endpoints/fraud/predict", body, {{"x-api-key", key}}).status,
        200);
  }
  std::string metrics;
  ASSERT_TRUE(Eventually([&] {
    metrics = http.Request("GET", "/metrics").body;
    return metrics.find("fraudops_trace_export_failures_total 0") == std::string::npos &&
           metrics.find("fraudops_trace_export_failures_total") != std::string::npos;
  })) << metrics;
  const std::string dropped = "fraudops_trace_spans_total{outcome=\"dropped\"} ";
  const size_t at = metrics.find(dropped);
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(std::atoi(metrics.c_str() + at + dropped.size()), 0);
  EXPECT_NE(server.log().find("spans not exported; dropped"), std::string::npos);
}

}  // namespace
}  // namespace fraudops::testing

namespace fraudops::testing {
namespace {

/// `text` percent-encoded for a query parameter.
std::string PercentEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

/// A monitoring report as `fraudops monitor run` writes it (the fields the routes read).
void WriteMonitoringReport(const std::string& home, const std::string& time, double psi,
                           double auc) {
  const std::string dir = home + "/monitoring/fraud/" + time;
  fs::create_directories(dir);
  WriteText(dir + "/report.json",
            Json({{"endpoint", "fraud"},
                  {"model", "fraud@1"},
                  {"time", time},
                  {"drift",
                   {{"violations", psi > 0.2 ? Json({"V14"}) : Json::array()},
                    {"columns", {{{"name", "V14"}, {"psi", psi}, {"ks", 0.1}}}}}},
                  {"quality", {{"metrics", {{"roc_auc", auc}}}}},
                  {"alerts", psi > 0.2 ? Json({{{"kind", "drift"}}}) : Json::array()}})
                .dump());
}

TEST(ServeTest, TheWorkspaceApiListsFiltersAndPagesRunsAndLogsANotebooksRun) {
  ServeWorkspace ws;
  const int64_t v1 = ws.Register();
  ws.Deploy(v1, "all_at_once");
  ServingStore serving(ws.store());
  for (const auto& [name, roles] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{{"alice", {"data_scientist"}},
                                                                     {"erin", {"data_scientist"}},
                                                                     {"victor", {"viewer"}},
                                                                     {"carol", {"approver"}}}) {
    ASSERT_TRUE(serving.CreateUser(name, roles, "", "admin@host").ok());
  }
  auto token = [&](const std::string& user) {
    auto made = serving.CreateUserToken(user, "test", std::chrono::hours(1), "admin@host");
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    return Headers{{"authorization", "Bearer " + (made.ok() ? made->key : "")}};
  };
  const Headers alice = token("alice"), erin = token("erin"), victor = token("victor"),
                carol = token("carol");
  WriteMonitoringReport(ws.home(), "2026-12-01T10-00-00Z", 0.05, 0.97);
  WriteMonitoringReport(ws.home(), "2026-12-02T10-00-00Z", 0.31, 0.93);
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());

  // A notebook's run: created, parameters, a curve of 200 steps, a file, finished.
  HttpReply created = http.Request(
      "POST", "/v1/runs",
      Json({{"experiment", "notebooks"}, {"name", "eta sweep"}, {"params", {{"eta", 0.1}}}}).dump(),
      alice);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string run = Body(created)["run_id"];
  EXPECT_EQ(Body(created)["user"], "alice");
  EXPECT_EQ(Body(created)["name"], "eta sweep");
  const std::string base = "/v1/runs/" + run;
  EXPECT_EQ(http.Request("POST", base + "/params", R"({"params": {"depth": 6}})", alice).status,
            200);
  HttpReply changed = http.Request("POST", base + "/params", R"({"params": {"eta": 0.2}})", alice);
  EXPECT_EQ(changed.status, 409) << changed.body;  // a parameter keeps its first value
  for (int step = 0; step < 200; ++step) {
    const double auc = 0.8 + 0.1 * step / 200.0 + (step == 77 ? 0.05 : 0.0);  // one spike
    HttpReply logged =
        http.Request("POST", base + "/metrics",
                     Json({{"metrics", {{"valid.auc", auc}}}, {"step", step}}).dump(), alice);
    ASSERT_EQ(logged.status, 200) << logged.body;
  }
  EXPECT_EQ(http.Request("POST", base + "/metrics", R"({"metrics": {"x": "high"}})", alice).status,
            400);
  const std::string file = std::string("plot\0bytes\n", 11);
  HttpReply uploaded = http.Request("PUT", base + "/artifact?path=plots/curve.bin", file, alice);
  ASSERT_EQ(uploaded.status, 201) << uploaded.body;
  EXPECT_EQ(Body(uploaded)["sha256"], Sha256Hex(file));
  EXPECT_EQ(http.Request("PUT", base + "/artifact?path=../escape", file, alice).status, 400);
  // Only the run's author logs to it; a viewer logs nothing.
  HttpReply other = http.Request("POST", base + "/tags", R"({"tags": {"team": "x"}})", erin);
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_EQ(http.Request("POST", "/v1/runs", R"({"experiment": "notebooks"})", victor).status, 403);
  EXPECT_EQ(http.Request("POST", base + "/tags", R"({"tags": {"team": "risk"}})", alice).status,
            200);
  HttpReply finished = http.Request("POST", base + "/finish", "{}", alice);
  ASSERT_EQ(finished.status, 200) << finished.body;
  EXPECT_EQ(Body(finished)["status"], "succeeded");
  EXPECT_EQ(http.Request("POST", base + "/tags", R"({"tags": {"late": "1"}})", alice).status, 409);

  // Read back (a viewer reads): the run, its curve downsampled with the spike kept, the file.
  HttpReply shown = http.Request("GET", base, "", victor);
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(Body(shown)["params"]["depth"], "6");
  EXPECT_EQ(Body(shown)["tags"]["team"], "risk");
  EXPECT_NEAR(Body(shown)["metrics"]["valid.auc"].get<double>(), 0.8 + 0.1 * 199 / 200.0, 1e-12);
  HttpReply curve = http.Request("GET", base + "/metrics/valid.auc?max_points=20", "", victor);
  ASSERT_EQ(curve.status, 200) << curve.body;
  const Json points = Body(curve);
  EXPECT_EQ(points["points"], 200);
  ASSERT_LE(points["steps"].size(), 20u);
  EXPECT_EQ(points["steps"].front(), 0);
  EXPECT_EQ(points["steps"].back(), 199);
  EXPECT_NE(std::find(points["steps"].begin(), points["steps"].end(), Json(77)),
            points["steps"].end());
  HttpReply full = http.Request("GET", base + "/metrics/valid.auc", "", victor);
  EXPECT_EQ(Body(full)["steps"].size(), 200u);
  HttpReply download = http.Request("GET", base + "/artifact?path=plots/curve.bin", "", victor);
  ASSERT_EQ(download.status, 200) << download.body;
  EXPECT_EQ(download.body, file);
  EXPECT_EQ(download.headers["x-fraudops-sha256"], Sha256Hex(file));
  EXPECT_EQ(http.Request("GET", base + "/artifact?path=nothing", "", victor).status, 404);

  // Five more runs with a metric: filtered, sorted both ways, paged, with the total.
  std::vector<std::string> runs;
  for (int i = 0; i < 5; ++i) {
    HttpReply made = http.Request(
        "POST", "/v1/runs",
        Json({{"experiment", "sweep"}, {"params", {{"eta", 0.05 * (i + 1)}}}}).dump(), alice);
    ASSERT_EQ(made.status, 201) << made.body;
    runs.push_back(Body(made)["run_id"]);
    ASSERT_EQ(http.Request("POST", "/v1/runs/" + runs.back() + "/metrics",
                           Json({{"metrics", {{"test.pr_auc", 0.5 + 0.1 * i}}}}).dump(), alice)
                  .status,
              200);
  }
  HttpReply page = http.Request(
      "GET",
      "/v1/runs?experiment=sweep&order_by=test.pr_auc&order=asc&limit=2&offset=1&metrics="
      "test.pr_auc",
      "", victor);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(Body(page)["total"], 5);
  ASSERT_EQ(Body(page)["runs"].size(), 2u);
  EXPECT_EQ(Body(page)["runs"][0]["run_id"], runs[1]);
  EXPECT_EQ(Body(page)["runs"][1]["run_id"], runs[2]);
  EXPECT_NEAR(Body(page)["runs"][1]["metrics"]["test.pr_auc"].get<double>(), 0.7, 1e-12);
  HttpReply filtered = http.Request(
      "GET", "/v1/runs?filter=" + PercentEncode("test.pr_auc >= 0.75 and params.eta != 0.2"), "",
      victor);
  ASSERT_EQ(filtered.status, 200) << filtered.body;
  EXPECT_EQ(Body(filtered)["total"], 1);  // runs 3 (eta 0.2) and 4 pass the metric
  EXPECT_EQ(Body(filtered)["runs"][0]["run_id"], runs[4]);
  HttpReply newest = http.Request("GET", "/v1/runs?limit=1", "", victor);
  EXPECT_EQ(Body(newest)["runs"][0]["run_id"], runs[4]);
  EXPECT_EQ(Body(newest)["total"], 7);  // with run-1 and the notebook's run
  EXPECT_EQ(Body(http.Request("GET", "/v1/runs?limit=abc", "", victor))["error"]["code"],
            "invalid_query");
  EXPECT_EQ(Body(http.Request("GET", "/v1/runs?filter=auc%20~%201", "", victor))["error"]["code"],
            "invalid_filter");
  // A tuning study's trials: listed by default, left out (and counted) or alone on request.
  RunRecord study;
  study.run_id = "study-run";
  study.experiment = "sweep-tuning";
  study.start_time = UtcNow();
  study.tags = {{kRunKindTag, "study"}};
  ASSERT_TRUE(ws.store().CreateRun(study).ok());
  for (const char* id : {"trial-0", "trial-1"}) {
    RunRecord trial = study;
    trial.run_id = id;
    trial.tags = {{kRunKindTag, kTrialRunKind}, {"fraudops.parent_run", study.run_id}};
    ASSERT_TRUE(ws.store().CreateRun(trial).ok());
  }
  EXPECT_EQ(Body(http.Request("GET", "/v1/runs", "", victor))["total"], 10);
  const Json without = Body(http.Request("GET", "/v1/runs?trials=exclude", "", victor));
  EXPECT_EQ(without["total"], 8) << without.dump();
  EXPECT_EQ(without["hidden_trials"], 2) << without.dump();
  const Json only = Body(http.Request("GET", "/v1/runs?trials=only&limit=1", "", victor));
  EXPECT_EQ(only["total"], 2) << only.dump();
  EXPECT_EQ(only["runs"][0]["run_id"], "trial-1") << only.dump();
  EXPECT_FALSE(only.contains("hidden_trials"));
  HttpReply wrong = http.Request("GET", "/v1/runs?trials=hide", "", victor);
  EXPECT_EQ(wrong.status, 400);
  EXPECT_NE(Body(wrong)["error"]["message"].get<std::string>().find("include, exclude or only"),
            std::string::npos)
      << wrong.body;
  HttpReply compared =
      http.Request("GET", "/v1/runs/compare?runs=" + runs[0] + "," + runs[4], "", victor);
  ASSERT_EQ(compared.status, 200) << compared.body;
  EXPECT_EQ(Body(compared)["params"]["eta"].size(), 2u);
  EXPECT_EQ(Body(compared)["best"]["test.pr_auc"], runs[4]);
  HttpReply experiments = http.Request("GET", "/v1/experiments", "", victor);
  ASSERT_EQ(experiments.status, 200) << experiments.body;
  // notebooks, serve-test, sweep, sweep-tuning
  const Json experiment_list = Body(experiments)["experiments"];
  EXPECT_EQ(experiment_list.size(), 4u);
  for (const Json& e : experiment_list) {
    EXPECT_EQ(e["trials"], e["name"] == "sweep-tuning" ? 2 : 0) << e.dump();
    if (e["name"] == "sweep-tuning") {
      EXPECT_EQ(e["runs"], 3) << e.dump();
    }
  }

  // Models, versions, lineage to the endpoint; aliases take an approver.
  HttpReply models = http.Request("GET", "/v1/models", "", victor);
  ASSERT_EQ(models.status, 200) << models.body;
  EXPECT_EQ(Body(models)["models"][0]["name"], "fraud");
  HttpReply lineage = http.Request("GET", "/v1/models/fraud/versions/1/lineage", "", victor);
  ASSERT_EQ(lineage.status, 200) << lineage.body;
  const Json edges = Body(lineage)["graph"]["edges"];
  EXPECT_NE(
      std::find(edges.begin(), edges.end(),
                Json({{"from", "version:fraud@1"}, {"to", "endpoint:fraud"}, {"kind", "serves"}})),
      edges.end())
      << edges.dump();
  EXPECT_EQ(
      http.Request("PUT", "/v1/models/fraud/aliases/champion", R"({"version": 1})", alice).status,
      403);
  HttpReply aliased =
      http.Request("PUT", "/v1/models/fraud/aliases/champion", R"({"version": 1})", carol);
  ASSERT_EQ(aliased.status, 200) << aliased.body;
  EXPECT_EQ(Body(aliased)["aliases"], Json({"champion"}));
  HttpReply version = http.Request("GET", "/v1/models/fraud/versions/@champion", "", victor);
  ASSERT_EQ(version.status, 200) << version.body;
  EXPECT_FALSE(Body(version)["audit"].empty());
  HttpReply serving_archive =
      http.Request("POST", "/v1/models/fraud/versions/1/archive", R"({"reason": "old"})", carol);
  EXPECT_EQ(serving_archive.status, 409) << serving_archive.body;  // it serves
  // A version that does not serve: rejected by an approver over the admin API (a reason is
  // required; rolling back with the rejection needs the deploy permission), then archived.
  const std::string pending = std::to_string(ws.Register("5E-1", "", /*approve=*/false));
  const std::string reject = "/v1/admin/models/fraud/versions/" + pending + "/reject";
  EXPECT_EQ(http.Request("POST", reject, "{}", carol).status, 400);
  EXPECT_EQ(http.Request("POST", reject, R"({"reason": "x", "roll_back": true})", carol).status,
            403);
  EXPECT_EQ(http.Request("POST", reject, R"({"reason": "x"})", alice).status, 403);
  HttpReply rejected = http.Request("POST", reject, R"({"reason": "leaks the label"})", carol);
  ASSERT_EQ(rejected.status, 200) << rejected.body;
  EXPECT_EQ(Body(rejected)["approval"], "rejected");
  EXPECT_EQ(Body(rejected)["approval_reason"], "leaks the label");
  HttpReply archived = http.Request("POST", "/v1/models/fraud/versions/" + pending + "/archive",
                                    R"({"reason": "superseded"})", carol);
  ASSERT_EQ(archived.status, 200) << archived.body;
  EXPECT_EQ(Body(archived)["archived"], true);
  EXPECT_EQ(Body(archived)["approval"], "rejected");

  // Monitoring reports and their series, schedule history.
  HttpReply reports = http.Request("GET", "/v1/monitoring/fraud/reports", "", victor);
  ASSERT_EQ(reports.status, 200) << reports.body;
  EXPECT_EQ(Body(reports)["reports"][0]["time"], "2026-12-02T10-00-00Z");  // newest first
  EXPECT_EQ(Body(reports)["reports"][0]["alerts"], 1);
  HttpReply series = http.Request("GET", "/v1/monitoring/fraud/series", "", victor);
  ASSERT_EQ(series.status, 200) << series.body;
  EXPECT_EQ(Body(series)["psi"]["V14"], Json({0.05, 0.31}));
  EXPECT_EQ(Body(series)["quality"]["roc_auc"], Json({0.97, 0.93}));
  EXPECT_EQ(
      http.Request("GET", "/v1/monitoring/fraud/reports/2026-12-01T10-00-00Z", "", victor).status,
      200);
  EXPECT_EQ(http.Request("GET", "/v1/monitoring/fraud/reports/..", "", victor).status, 404);
  HttpReply history = http.Request("GET", "/v1/schedules/fraud-detection/history", "", victor);
  ASSERT_EQ(history.status, 200) << history.body;
  EXPECT_TRUE(Body(history)["runs"].empty());
  // Without credentials nothing is read.
  EXPECT_EQ(http.Request("GET", "/v1/runs").status, 401);
}

TEST(ServeTest, ThePythonClientScoresLogsRunsAndMapsErrorsAgainstALiveServer) {
  ServeWorkspace ws;
  const int64_t v1 = ws.Register();
  ws.Deploy(v1, "all_at_once");
  ServingStore serving(ws.store());
  ASSERT_TRUE(serving.CreateUser("nora", {"data_scientist"}, "", "admin@host").ok());
  auto token = serving.CreateUserToken("nora", "notebook", std::chrono::hours(1), "admin@host");
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  ASSERT_TRUE(serving.PutPlan({"one-a-second", 1, 1, 0, 0, ""}, false, "test").ok());
  const std::string key = ws.CreateKey({"invoke", "feedback"});
  const std::string limited = ws.CreateKey({"invoke"}, "one-a-second");
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  const std::string out = ws.dir().File("run_id.txt");
  const std::string env = "FRAUDOPS_TEST_URL=http://127.0.0.1:" + std::to_string(server.port()) +
                          " FRAUDOPS_TEST_TOKEN=" + token->key + " FRAUDOPS_TEST_API_KEY=" + key +
                          " FRAUDOPS_TEST_LIMITED_KEY=" + limited +
                          " FRAUDOPS_TEST_ROWS=" + kBundles + "/rows.csv FRAUDOPS_TEST_OUT=" + out +
                          " FRAUDOPS_TEST_BUNDLE=" + kBundles + "/v2";
  // Debian's python3 (with python3-pandas), as a data scientist's notebook would have it.
  CommandResult tests = RunCommand(env + " /usr/bin/python3 " + std::string(FRAUDOPS_SOURCE_DIR) +
                                       "/clients/python/tests/test_client.py -v",
                                   ws.dir().path());
  EXPECT_EQ(tests.exit_code, 0) << tests.out << tests.err;
  EXPECT_NE(tests.err.find("Ran 8 tests"), std::string::npos) << tests.err;
  EXPECT_EQ(tests.err.find("skipped"), std::string::npos) << tests.err;  // pandas is there
  // The notebook's run is in the workspace beside the pipeline's, as the CLI lists it.
  const std::string run = ReadText(out);
  ASSERT_FALSE(run.empty()) << tests.err;
  CommandResult listed =
      Fraudops(ws.dir(), "runs list --json --experiment notebooks --config config.yml");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(run), std::string::npos) << listed.out;
}

/// The session cookie's value from a Set-Cookie header ("" when none).
std::string SessionFrom(const HttpReply& reply) {
  auto it = reply.headers.find("set-cookie");
  if (it == reply.headers.end()) return "";
  const std::string& cookie = it->second;
  const size_t from = cookie.find("fops_session=") + 13, to = cookie.find(';', from);
  return cookie.substr(from, to - from);
}

TEST(ServeTest, TheConsoleIsServedUnderItsPolicyAndItsSessionsNeedTheirCsrfTokenAndRole) {
  ServeWorkspace ws;
  const int64_t v1 = ws.Register("5E-1", "", /*approve=*/false);  // run-1, authored by "user"
  ServingStore serving(ws.store());
  const std::string password = "a passphrase nobody guesses";
  auto hash = HashPassword(password);
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE(serving.CreateUser("carol", {"approver"}, *hash, "admin@host").ok());
  ASSERT_TRUE(serving.CreateUser("victor", {"viewer"}, *hash, "admin@host").ok());
  const std::string service_key = ws.CreateKey({"invoke", "admin"});
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  HttpClient http(server.port());

  // The console's files, each under the policy: no inline script, no other origin, no frames.
  HttpReply page = http.Request("GET", "/ui");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("/ui/app.js"), std::string::npos);
  EXPECT_EQ(page.body.find("<script>"), std::string::npos);  // no inline script
  const std::string policy = page.headers["content-security-policy"];
  EXPECT_NE(policy.find("script-src 'self'"), std::string::npos) << policy;
  EXPECT_EQ(policy.find("unsafe-inline"), std::string::npos) << policy;
  EXPECT_NE(policy.find("frame-ancestors 'none'"), std::string::npos) << policy;
  EXPECT_EQ(page.headers["x-content-type-options"], "nosniff");
  HttpReply script = http.Request("GET", "/ui/app.js", "", {{"accept-encoding", "gzip"}});
  ASSERT_EQ(script.status, 200);
  EXPECT_EQ(script.headers["content-encoding"], "gzip");
  EXPECT_EQ(
      http.Request("GET", "/ui/app.js", "", {{"if-none-match", script.headers["etag"]}}).status,
      304);
  EXPECT_EQ(http.Request("GET", "/ui/../fraudops.db").status, 404);

  // Sign in: an HttpOnly, SameSite=Strict cookie and the session's CSRF token.
  EXPECT_EQ(
      http.Request("POST", "/v1/sessions", Json({{"user", "carol"}, {"password", "guess"}}).dump())
          .status,
      401);
  HttpReply signed_in = http.Request("POST", "/v1/sessions",
                                     Json({{"user", "carol"}, {"password", password}}).dump());
  ASSERT_EQ(signed_in.status, 201) << signed_in.body;
  const std::string cookie_header = signed_in.headers["set-cookie"];
  EXPECT_NE(cookie_header.find("HttpOnly"), std::string::npos) << cookie_header;
  EXPECT_NE(cookie_header.find("SameSite=Strict"), std::string::npos) << cookie_header;
  const std::string carol = SessionFrom(signed_in), csrf = Body(signed_in)["csrf_token"];
  ASSERT_FALSE(carol.empty());
  const Headers carol_cookie = {{"cookie", "fops_session=" + carol}};
  HttpReply current = http.Request("GET", "/v1/sessions/current", "", carol_cookie);
  ASSERT_EQ(current.status, 200) << current.body;
  EXPECT_EQ(Body(current)["csrf_token"], csrf);
  EXPECT_EQ(Body(current)["permissions"], Json({"read", "approve"}));
  EXPECT_EQ(http.Request("GET", "/v1/runs", "", carol_cookie).status, 200);  // reads need none

  // A change with the cookie but without the token (what another site's form would send),
  // or with another session's token, is refused; with its own it is made.
  const std::string approve = "/v1/admin/models/fraud/versions/" + std::to_string(v1) + "/approve";
  const std::string reason = Json({{"reason", "reviewed"}}).dump();
  HttpReply forged = http.Request("POST", approve, reason, carol_cookie);
  EXPECT_EQ(forged.status, 403) << forged.body;
  EXPECT_EQ(Body(forged)["error"]["code"], "csrf_failed");
  HttpReply victor_in = http.Request("POST", "/v1/sessions",
                                     Json({{"user", "victor"}, {"password", password}}).dump());
  ASSERT_EQ(victor_in.status, 201) << victor_in.body;
  const std::string victor = SessionFrom(victor_in);
  Headers crossed = carol_cookie;
  crossed.emplace_back("x-csrf-token", Body(victor_in)["csrf_token"].get<std::string>());
  EXPECT_EQ(http.Request("POST", approve, reason, crossed).status, 403);
  // A viewer with a valid token still lacks the role.
  const Headers victor_session = {{"cookie", "fops_session=" + victor},
                                  {"x-csrf-token", Body(victor_in)["csrf_token"]}};
  HttpReply viewer = http.Request("POST", approve, reason, victor_session);
  EXPECT_EQ(viewer.status, 403) << viewer.body;
  EXPECT_EQ(Body(viewer)["error"]["details"]["permission"], "approve");
  Headers carol_session = carol_cookie;
  carol_session.emplace_back("x-csrf-token", csrf);
  HttpReply approved = http.Request("POST", approve, reason, carol_session);
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(Body(approved)["approval_by"], "user:carol");

  // No secret in what the console reads: no password hash, no key's secret or salt.
  const std::string key_secret = service_key.substr(service_key.rfind('_') + 1);
  for (const char* route : {"/v1/runs", "/v1/runs/run-1", "/v1/models", "/v1/admin/endpoints",
                            "/v1/admin/audit", "/v1/sessions/current", "/v1/experiments",
                            "/v1/models/fraud/versions/1", "/v1/models/fraud/versions/1/lineage"}) {
    HttpReply reply = http.Request("GET", route, "", carol_cookie);
    EXPECT_EQ(reply.status, 200) << route << ": " << reply.body;
    EXPECT_EQ(reply.body.find("$argon2"), std::string::npos) << route;
    EXPECT_EQ(reply.body.find(key_secret), std::string::npos) << route;
    EXPECT_EQ(reply.body.find(carol), std::string::npos) << route;  // the session's token
    EXPECT_EQ(reply.body.find("\"salt\""), std::string::npos) << route;
  }

  // The schedule the console shows: this workspace's pipeline, no cron configured.
  HttpReply schedules = http.Request("GET", "/v1/schedules", "", carol_cookie);
  ASSERT_EQ(schedules.status, 200) << schedules.body;
  EXPECT_EQ(Body(schedules)["schedules"][0]["pipeline"], "fraud-detection");
  EXPECT_TRUE(Body(schedules)["schedules"][0]["next"].empty());

  // `fraudops ui` serves the console for the workspace too (without the background jobs).
  ServerProcess ui(ws, "ui", "config.yml", 0, "ui");
  ASSERT_GT(ui.port(), 0) << ui.log();
  EXPECT_EQ(HttpClient(ui.port()).Request("GET", "/ui").status, 200);
  EXPECT_EQ(HttpClient(ui.port()).Request("GET", "/v1/runs", "", carol_cookie).status, 200);
  EXPECT_NE(ui.log().find("fraudops ui: the console is at http://127.0.0.1:"), std::string::npos)
      << ui.log();

  // Signing out ends the session: its token no longer works, the cookie is cleared.
  HttpReply out = http.Request("DELETE", "/v1/sessions/current", "", carol_session);
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_NE(out.headers["set-cookie"].find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(http.Request("GET", "/v1/runs", "", carol_cookie).status, 401);
}

/// A run as a notebook or the pipeline would leave it: a name, a parameter, a test metric, a
/// learning curve and, with `report`, an HTML report among its artifacts.
void AddRun(ServeWorkspace& ws, const std::string& id, const std::string& name, double eta,
            double pr_auc, bool report, const std::map<std::string, std::string>& tags = {}) {
  RunRecord run;
  run.run_id = id;
  run.experiment = "console-test";
  run.start_time = UtcNow();
  run.end_time = UtcNow();
  run.status = RunStatus::kSucceeded;
  run.code_version = "test";
  run.host = "host";
  run.user = "user";
  run.artifact_uri = ws.home() + "/artifacts/" + id;
  run.params = {{"train.xgboost.eta", Json(eta).dump()}, {"seed", "7"}};
  run.tags = tags;
  run.tags[kRunNameTag] = name;
  ASSERT_TRUE(ws.store().CreateRun(run).ok());
  ASSERT_TRUE(ws.store().LogMetrics(id, {{"test.pr_auc", pr_auc}, {"test.roc_auc", 0.95}}).ok());
  std::vector<std::pair<int64_t, double>> curve;
  for (int64_t round = 0; round < 1000; ++round)
    curve.emplace_back(round, 0.9 - 0.4 * std::exp(-round / (100.0 * eta * 10)));
  ASSERT_TRUE(ws.store().LogMetricHistory(id, "validation.aucpr", curve).ok());
  for (auto& [round, value] : curve) value += 0.05;
  ASSERT_TRUE(ws.store().LogMetricHistory(id, "train.aucpr", curve).ok());
  if (!report) return;
  const std::string file = run.artifact_uri + "/evaluation/report.html";
  fs::create_directories(fs::path(file).parent_path());
  const std::string html = "<!doctype html><html lang=en><title>report</title><h1>Evaluation of " +
                           name + "</h1><script>document.title = 'ran'</script></html>";
  WriteText(file, html);
  ASSERT_TRUE(ws.store()
                  .LogArtifacts(id, {{"evaluation/report.html", file,
                                      static_cast<int64_t>(html.size()), Sha256Hex(html)}})
                  .ok());
}

TEST(ServeTest, TheConsoleInABrowserFindsComparesApprovesDeploysAndRollsBack) {
  const std::string browser_dir = std::string(FRAUDOPS_SOURCE_DIR) + "/tests/browser";
  if (!fs::exists("/usr/bin/chromium") ||
      !fs::exists(browser_dir + "/node_modules/playwright-core")) {
    if (!Env("CI").empty()) FAIL() << "Chromium or tests/browser's packages are missing under CI";
    GTEST_SKIP() << "needs /usr/bin/chromium and scripts/npm-ci.sh tests/browser (scripts/test.sh)";
  }
  ServeWorkspace ws;
  const int64_t v1 = ws.Register();
  ws.Deploy(v1, "all_at_once");
  ws.Register("5E-1", "", /*approve=*/false);  // v2, of run-1 by "user": pending
  ServingStore serving(ws.store());
  const std::string password = "a passphrase nobody guesses";
  auto hash = HashPassword(password);
  ASSERT_TRUE(hash.ok());
  ASSERT_TRUE(serving.CreateUser("user", {"approver", "data_scientist"}, *hash, "admin@host").ok());
  ASSERT_TRUE(serving.CreateUser("carol", {"approver"}, *hash, "admin@host").ok());
  ASSERT_TRUE(serving.CreateUser("dave", {"deployer"}, *hash, "admin@host").ok());
  WriteMonitoringReport(ws.home(), "2026-12-01T10-00-00Z", 0.05, 0.97);
  WriteMonitoringReport(ws.home(), "2026-12-02T10-00-00Z", 0.31, 0.93);
  AddRun(ws, "run-needle", "needle", 0.1, 0.9, true);
  // A tuning study's run and one of its trials (left out of the runs table unless asked for).
  const std::string study = "fraud-detection-01a24aa1-2b43-77e5-bb86";
  RunRecord study_run;
  study_run.run_id = "run-study";
  study_run.experiment = "console-test-tuning";
  study_run.start_time = UtcNow();
  study_run.tags = {{kRunNameTag, study}, {kRunKindTag, "study"}, {"fraudops.study", study}};
  ASSERT_TRUE(ws.store().CreateRun(study_run).ok());
  AddRun(ws, "run-hay", study + " #12", 0.3, 0.8, false,
         {{kRunKindTag, kTrialRunKind},
          {"fraudops.parent_run", "run-study"},
          {"fraudops.study", study}});
  const std::string key = ws.CreateKey({"invoke"});
  ws.WriteConfig();
  ServerProcess server(ws);
  ASSERT_GT(server.port(), 0) << server.log();
  Json rows = Json::array();
  for (const Json& row : Transactions()) rows.push_back(row);
  WriteText(ws.dir().File("rows.json"), rows.dump());
  const std::string shots = (fs::current_path() / "console-screenshots").string();
  const std::string env = "FOPS_URL=http://127.0.0.1:" + std::to_string(server.port()) +
                          " FOPS_PASSWORD='" + password + "' FOPS_API_KEY=" + key +
                          " FOPS_SCREENSHOTS=" + shots + " FOPS_ROWS=\"$(cat " +
                          ws.dir().File("rows.json") + ")\"";
  CommandResult run =
      RunCommand(env + " node " + browser_dir + "/console_test.mjs", ws.dir().path());
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err << "\nscreenshots: " << shots;
  std::printf("%s", run.out.c_str());
}
}  // namespace
}  // namespace fraudops::testing
