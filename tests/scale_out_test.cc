// Replicas behind a real load balancer (docs/operations.md): three `fraudops serve` processes
// behind HAProxy with the shipped deploy/haproxy/haproxy.cfg, sharing a PostgreSQL metadata
// store (a private cluster the test restarts), S3 artifacts (the S3-API test server) and Redis
// quotas (a private redis-server the test restarts), under continuous load.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli_util.h"
#include "core/s3.h"
#include "core/strings.h"
#include "processes.h"
#include "server_util.h"

namespace fraudops {
namespace {

using testing::ChildProcess;
using testing::Eventually;
using testing::HttpClient;
using testing::HttpReply;
using testing::PostgresProcess;
using testing::RedisProcess;
using testing::ServerProcess;
using testing::TempDir;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

constexpr int kReplicas = 3;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

/// One transaction with every feature of the built-in data.
std::string Transaction() {
  Json row = {{"Time", 40000}, {"Amount", 12.5}};
  for (int i = 1; i <= 28; ++i) row["V" + std::to_string(i)] = 0.1 * (i % 5) - 0.2;
  return row.dump();
}

/// Requests sent by a few client threads through the balancer until stopped, each outcome
/// kept with its time.
class Load {
 public:
  struct Outcome {
    Clock::time_point at;
    int status;
    std::string body;
  };
  /// `keys`: one client thread per key.
  Load(int port, const std::vector<std::string>& keys) {
    for (const std::string& key : keys) {
      threads_.emplace_back([this, port, key] {
        HttpClient http(port);
        const std::string body = Transaction();
        while (!stop_.load()) {
          HttpReply reply = http.Request("POST", "/v1/endpoints/fraud-detector/predict", body,
                                         {{"x-api-key", key}});
          {
            std::lock_guard<std::mutex> lock(mutex_);
            outcomes_[key].push_back(
                {Clock::now(), reply.status, reply.status == 200 ? "" : reply.body});
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a steady, modest load
        }
      });
    }
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  /// The outcomes of `key`'s client so far.
  std::vector<Outcome> Of(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    return outcomes_[key];
  }
  /// The failed requests (status other than 200) of every client.
  std::vector<Outcome> Failures() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Outcome> failed;
    for (const auto& [key, outcomes] : outcomes_) {
      for (const Outcome& o : outcomes) {
        if (o.status != 200) failed.push_back(o);
      }
    }
    return failed;
  }
  size_t Total() {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t total = 0;
    for (const auto& [key, outcomes] : outcomes_) total += outcomes.size();
    return total;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<std::string, std::vector<Outcome>> outcomes_;
  std::vector<std::thread> threads_;
};

std::string Describe(const std::vector<Load::Outcome>& failures) {
  std::string text;
  for (const auto& f : failures) text += std::to_string(f.status) + " " + f.body + "\n";
  return text;
}

/// The cluster: PostgreSQL, Redis, an S3 bucket, two registered versions, three replicas and
/// HAProxy in front of them.
class ScaleOutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s3_endpoint_ = testing::Env("FOPS_TEST_S3_ENDPOINT");
    const bool ci = !testing::Env("CI").empty();
    if (s3_endpoint_.empty()) {
      if (ci) FAIL() << "FOPS_TEST_S3_ENDPOINT is not set under CI";
      GTEST_SKIP() << "FOPS_TEST_S3_ENDPOINT is not set: run the tests through scripts/test.sh";
    }
    for (const char* tool : {"haproxy", "redis-server"}) {
      if (std::system(("command -v " + std::string(tool) + " >/dev/null 2>&1").c_str()) != 0) {
        if (ci) FAIL() << tool << " is not installed under CI";
        GTEST_SKIP() << tool << " is not installed (scripts/install-deps.sh test)";
      }
    }
    if (!PostgresProcess::Installed()) GTEST_SKIP() << "PostgreSQL 15 is not installed";
    postgres_ = std::make_unique<PostgresProcess>();
    ASSERT_TRUE(postgres_->ready()) << postgres_->log();
    redis_ = std::make_unique<RedisProcess>();
    ASSERT_TRUE(redis_->ready());
    const std::string bucket = "scale" + testing::RandomSuffix();
    S3Client s3(testing::TestS3Settings(s3_endpoint_));
    ASSERT_TRUE(s3.CreateBucket(bucket).ok());
    // The replicas inherit the S3 credentials from this process.
    ::setenv("AWS_ENDPOINT_URL", s3_endpoint_.c_str(), 1);
    ::setenv("AWS_ACCESS_KEY_ID", testing::Env("FOPS_TEST_S3_ACCESS_KEY").c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", testing::Env("FOPS_TEST_S3_SECRET_KEY").c_str(), 1);
    ::setenv("AWS_REGION", "us-east-1", 1);
    env_ = testing::TestS3Environment(s3_endpoint_) +
           " FRAUDOPS_CREDENTIALS=" + dir_.File("credentials.json");
    testing::WriteSmallConfig(
        dir_, "global:\n  metadata_url: " + postgres_->Url() + "\n  artifact_url: s3://" + bucket +
                  "/artifacts\ndeploy:\n  enabled: false\napi:\n  workers: 1\n"
                  "  drain_delay_ms: 1500\n  drain_timeout_ms: 5000\n  poll_interval_ms: " +
                  std::to_string(PollIntervalMs()) +
                  "\n  quota_url: redis://127.0.0.1:" + std::to_string(redis_->port()) + "/0\n");
    // Two versions in the shared registry, its first user (added directly), then the replicas.
    for (int run = 0; run < 2; ++run) {
      auto ran = Fraudops("run --json");
      ASSERT_EQ(ran.exit_code, 0) << ran.err;
    }
    auto added = Fraudops("users add ops --role admin --role deployer --password-stdin",
                          "printf 'correct horse battery' |");
    ASSERT_EQ(added.exit_code, 0) << added.err;
    for (int i = 0; i < kReplicas; ++i) ports_.push_back(testing::FreePort());
    for (int i = 0; i < kReplicas; ++i) StartReplica(i);
    // Sign in through a replica (the balancer sends nothing to replicas that are not ready),
    // then keys and the first deployment through the admin API.
    auto login = Fraudops("login --url http://127.0.0.1:" + std::to_string(ports_[0]) +
                              " --user ops --password-stdin",
                          "printf 'correct horse battery' |");
    ASSERT_EQ(login.exit_code, 0) << login.err;
    key_ = CreateKey("--name load");
    ASSERT_FALSE(key_.empty());
    ASSERT_EQ(Fraudops("deploy fraud-detector@1 --strategy all_at_once").exit_code, 0);
    const int lb = testing::FreePort();
    lb_stats_ = testing::FreePort();
    lb_port_ = lb;
    std::vector<std::pair<std::string, std::string>> env = {
        {"FRAUDOPS_LB_LISTEN", "127.0.0.1:" + std::to_string(lb)},
        {"FRAUDOPS_LB_STATS", "127.0.0.1:" + std::to_string(lb_stats_)}};
    for (int i = 0; i < kReplicas; ++i) {
      env.emplace_back("FRAUDOPS_REPLICA_" + std::to_string(i + 1),
                       "127.0.0.1:" + std::to_string(ports_[i]));
    }
    haproxy_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"haproxy", "-db", "-f",
                                 std::string(FRAUDOPS_SOURCE_DIR) + "/deploy/haproxy/haproxy.cfg"},
        env, dir_.File("haproxy.log"));
    for (int i = 0; i < kReplicas; ++i) {
      ASSERT_TRUE(Eventually([&] { return BalancerStatus(i) == "UP"; }, 30))
          << "replica " << i + 1 << ": " << BalancerStatus(i) << "\n"
          << haproxy_->log();
    }
  }

  void TearDown() override {
    load_.reset();
    haproxy_.reset();
    replicas_.clear();
  }

  virtual int PollIntervalMs() const { return 10000; }

  /// `prefix`: shell words before the command (a pipe into it, variables).
  testing::CommandResult Fraudops(const std::string& arguments, const std::string& prefix = "") {
    if (prefix.empty()) return testing::Fraudops(dir_, arguments, env_);
    return testing::RunCommand("cd " + dir_.path() + " && " + prefix + " env " + env_ + " " +
                                   testing::Binary() + " " + arguments,
                               dir_.path());
  }

  std::string CreateKey(const std::string& arguments) {
    auto created = Fraudops("keys create --json " + arguments);
    EXPECT_EQ(created.exit_code, 0) << created.err;
    Json json = Json::parse(created.out, nullptr, false);
    return json.is_object() ? json.value("key", "") : "";
  }

  void StartReplica(int i) {
    replicas_.resize(kReplicas);
    replicas_[i].reset();
    replicas_[i] = std::make_unique<ServerProcess>(dir_, "replica" + std::to_string(i + 1),
                                                   "config.yml", ports_[i]);
    ASSERT_EQ(replicas_[i]->port(), ports_[i]) << replicas_[i]->log();
  }

  /// HAProxy's view of replica `i` (UP, DOWN, "UP 1/2", …) from its statistics CSV.
  std::string BalancerStatus(int i) {
    // (chunked: curl reads it)
    auto stats = testing::RunCommand(
        "curl -sf 'http://127.0.0.1:" + std::to_string(lb_stats_) + "/stats;csv'", dir_.path());
    std::vector<std::string> lines = Split(stats.out, '\n');
    if (stats.exit_code != 0 || lines.empty() || lines[0].size() < 2) return "no statistics";
    std::vector<std::string> header = Split(lines[0].substr(2), ',');  // "# pxname,svname,…"
    size_t status_column = 0;
    for (size_t c = 0; c < header.size(); ++c) {
      if (header[c] == "status") status_column = c;
    }
    const std::string server = "replica" + std::to_string(i + 1);
    for (const std::string& line : lines) {
      std::vector<std::string> cells = Split(line, ',');
      if (cells.size() > status_column && cells[0] == "fraudops_serve" && cells[1] == server)
        return cells[status_column];
    }
    return "not listed";
  }

  /// Replica `i`'s /readyz body.
  Json Readiness(int i) {
    HttpClient http(ports_[i]);
    return Json::parse(http.Request("GET", "/readyz").body, nullptr, false);
  }

  double Metric(int i, const std::string& line_start) {
    HttpClient http(ports_[i]);
    for (const std::string& line : Split(http.Request("GET", "/metrics").body, '\n')) {
      if (StartsWith(line, line_start + " "))
        return std::atof(line.substr(line_start.size()).c_str());
    }
    return -1;
  }

  /// Deploys `version` through the balancer; the milliseconds until every replica served it,
  /// counted from the command's exit.
  double DeployAndTime(int version) {
    const std::string target = "fraud-detector@" + std::to_string(version);
    auto deployed =
        Fraudops("deploy " + target + " --strategy all_at_once --endpoint fraud-detector",
                 "FRAUDOPS_URL=http://127.0.0.1:" + std::to_string(lb_port_));
    EXPECT_EQ(deployed.exit_code, 0) << deployed.err;
    const auto exited = Clock::now();
    std::vector<bool> serving(kReplicas, false);
    while (MillisecondsSince(exited) < 30000) {
      bool all = true;
      for (int i = 0; i < kReplicas; ++i) {
        if (!serving[i]) {
          Json ready = Readiness(i);
          serving[i] = ready.is_object() &&
                       ready["endpoints"]["fraud-detector"]["production"] == Json(target);
        }
        all = all && serving[i];
      }
      if (all) return MillisecondsSince(exited);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return 1e9;
  }

  TempDir dir_;
  std::string s3_endpoint_, env_, key_;
  std::unique_ptr<PostgresProcess> postgres_;
  std::unique_ptr<RedisProcess> redis_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<ServerProcess>> replicas_;
  std::unique_ptr<ChildProcess> haproxy_;
  int lb_port_ = 0, lb_stats_ = 0;
  std::unique_ptr<Load> load_;
};

TEST_F(ScaleOutTest, RollingRestartFailsNothingAKillOnlyInFlightAndDeploymentsReachAllAtOnce) {
  // A rolling restart under load: each replica SIGTERMed (not ready, still serving while
  // HAProxy takes it out, then drained) and started again in turn.
  load_ = std::make_unique<Load>(lb_port_, std::vector<std::string>{key_, key_, key_});
  ASSERT_TRUE(Eventually([&] { return load_->Total() > 50; }));
  for (int i = 0; i < kReplicas; ++i) {
    EXPECT_EQ(replicas_[i]->Stop(), 0) << replicas_[i]->log();
    StartReplica(i);
    ASSERT_TRUE(Eventually([&] { return BalancerStatus(i) == "UP"; }, 30)) << BalancerStatus(i);
  }
  const size_t during_restarts = load_->Total();
  EXPECT_TRUE(load_->Failures().empty()) << Describe(load_->Failures());
  EXPECT_GT(during_restarts, 300u);

  // A replica killed outright: only what it was answering may fail, nothing once HAProxy
  // has noticed.
  const auto killed = Clock::now();
  replicas_[1]->Kill();
  ASSERT_TRUE(Eventually([&] { return StartsWith(BalancerStatus(1), "DOWN"); }, 30));
  const auto noticed = Clock::now();
  const size_t at_notice = load_->Total();
  ASSERT_TRUE(Eventually([&] { return load_->Total() > at_notice + 200; }));
  std::vector<Load::Outcome> failed = load_->Failures();
  EXPECT_LE(failed.size(), 3u) << "at most the 3 clients' requests in flight: " << Describe(failed);
  for (const auto& f : failed) {
    EXPECT_LT(f.at, noticed) << "a request failed after HAProxy took the replica out";
    EXPECT_GE(f.at, killed);
  }
  std::printf("[ measured ] SIGKILL: %zu requests failed (in flight); HAProxy noticed in %.0f ms\n",
              failed.size(), std::chrono::duration<double, std::milli>(noticed - killed).count());
  StartReplica(1);
  ASSERT_TRUE(Eventually([&] { return BalancerStatus(1) == "UP"; }, 30));

  // Deployments by the CLI reach every replica through LISTEN/NOTIFY: api.poll_interval_ms
  // is 10 s here, so anything well under it came by notification.
  for (int version : {2, 1, 2}) {
    const double ms = DeployAndTime(version);
    std::printf(
        "[ measured ] fraud-detector@%d served by all %d replicas %.1f ms after the "
        "deploy command exited\n",
        version, kReplicas, ms);
    EXPECT_LT(ms, 3000) << "not propagated by notification";
  }
  for (int i = 0; i < kReplicas; ++i) {
    EXPECT_GT(Metric(i, "fraudops_change_notifications_total"), 0) << "replica " << i + 1;
  }
  load_->Stop();
  failed = load_->Failures();
  EXPECT_LE(failed.size(), 3u) << Describe(failed);  // no failure since the kill's

  // Quotas stay exact across the three: a daily quota of 50 admits 50 requests in all.
  ASSERT_EQ(Fraudops("plans create fifty --daily-quota 50").exit_code, 0);
  const std::string quota_key = CreateKey("--name quota --plan fifty");
  // Every replica knows the new key before the count starts (it arrives by notification,
  // later on a loaded machine): a route the key has no scope for answers 403 once the key is
  // known, 401 before, and spends none of its quota.
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_TRUE(Eventually(
        [&] {
          return HttpClient(ports_[i])
                     .Request("GET", "/v1/features/none/none", "", {{"x-api-key", quota_key}})
                     .status == 403;
        },
        30))
        << "replica " << i + 1 << " never learned the new key";
  }
  std::mutex statuses_mutex;
  std::map<int, int> statuses;  // status → requests answered with it
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      HttpClient http(lb_port_);
      for (int n = 0; n < 20; ++n) {
        HttpReply reply = http.Request("POST", "/v1/endpoints/fraud-detector/predict",
                                       Transaction(), {{"x-api-key", quota_key}});
        std::lock_guard<std::mutex> lock(statuses_mutex);
        ++statuses[reply.status];
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(statuses, (std::map<int, int>{{200, 50}, {429, 30}}));

  // The shipped nginx configuration, its addresses replaced: it balances, and a replica that
  // refuses connections is skipped.
  std::string conf =
      testing::ReadText(std::string(FRAUDOPS_SOURCE_DIR) + "/deploy/nginx/fraudops.conf");
  const int nginx_port = testing::FreePort();
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = conf.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    conf.replace(at, from.size(), to);
  };
  replace("listen 8080;", "listen 127.0.0.1:" + std::to_string(nginx_port) + ";");
  for (int i = 0; i < kReplicas; ++i) {
    replace("127.0.0.1:808" + std::to_string(i + 1), "127.0.0.1:" + std::to_string(ports_[i]));
  }
  testing::WriteText(dir_.File("nginx/fraudops.conf"), conf);
  testing::WriteText(dir_.File("nginx/nginx.conf"),
                     "daemon off;\npid " + dir_.File("nginx/nginx.pid") + ";\nerror_log " +
                         dir_.File("nginx/error.log") +
                         ";\nevents {}\nhttp {\n  access_log off;\n" + "  client_body_temp_path " +
                         dir_.File("nginx") + ";\n  proxy_temp_path " + dir_.File("nginx") +
                         ";\n  include " + dir_.File("nginx/fraudops.conf") + ";\n}\n");
  ChildProcess nginx({"nginx", "-c", dir_.File("nginx/nginx.conf"), "-p", dir_.File("nginx")}, {},
                     dir_.File("nginx.log"));
  ASSERT_TRUE(Eventually([&] { return HttpClient(nginx_port).Connect(); })) << nginx.log();
  HttpClient through_nginx(nginx_port);
  replicas_[2]->Kill();
  int nginx_ok = 0;
  for (int n = 0; n < 60; ++n) {
    HttpReply reply = through_nginx.Request("POST", "/v1/endpoints/fraud-detector/predict",
                                            Transaction(), {{"x-api-key", key_}});
    nginx_ok += reply.status == 200;
  }
  EXPECT_EQ(nginx_ok, 60) << testing::ReadText(dir_.File("nginx/error.log"));
}

/// The restarts of PostgreSQL and Redis, with the controller polling often so the test sees
/// the metadata store's state change quickly.
class StoreRestartTest : public ScaleOutTest {
 protected:
  int PollIntervalMs() const override { return 200; }
};

TEST_F(StoreRestartTest, PostgresAndRedisRestartsFailNoRequestThatDoesNotNeedThem) {
  ASSERT_EQ(Fraudops("plans create big --daily-quota 1000000").exit_code, 0);
  const std::string plan_key = CreateKey("--name planned --plan big");
  ASSERT_FALSE(plan_key.empty());
  load_ = std::make_unique<Load>(lb_port_, std::vector<std::string>{key_, key_, plan_key});
  ASSERT_TRUE(Eventually([&] { return load_->Of(plan_key).size() > 20; }));

  // PostgreSQL restarts: the replicas keep scoring with what they hold, report it on /readyz
  // and /metrics, and reconnect.
  ASSERT_TRUE(postgres_->Stop());
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_TRUE(Eventually([&] {
      Json ready = Readiness(i);
      return ready.is_object() && ready["degraded"] == true &&
             ready["dependencies"]["metadata_store"]["up"] == false;
    })) << Readiness(i).dump();
    EXPECT_EQ(Metric(i, "fraudops_dependency_up{dependency=\"metadata_store\"}"), 0);
  }
  HttpClient direct(ports_[0]);
  EXPECT_EQ(direct.Request("GET", "/readyz").status, 200);  // degraded, still ready
  const size_t during_outage = load_->Total();
  ASSERT_TRUE(Eventually([&] { return load_->Total() > during_outage + 100; }));
  ASSERT_TRUE(postgres_->Start()) << postgres_->log();
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_TRUE(Eventually([&] {
      Json ready = Readiness(i);
      return ready.is_object() && ready["degraded"] == false;
    })) << Readiness(i).dump();
  }
  EXPECT_TRUE(load_->Failures().empty()) << Describe(load_->Failures());
  // The change feed listens again: a deployment after the restart is announced to all.
  std::vector<double> before(kReplicas);
  for (int i = 0; i < kReplicas; ++i) before[i] = Metric(i, "fraudops_change_notifications_total");
  EXPECT_LT(DeployAndTime(2), 3000);
  for (int i = 0; i < kReplicas; ++i) {
    EXPECT_GT(Metric(i, "fraudops_change_notifications_total"), before[i]) << "replica " << i + 1;
  }

  // Redis restarts (without persistence): keys without a plan never notice; a key with a plan
  // gets 503 quota_store_unavailable while Redis is away (a quota that cannot be checked is
  // not granted), then is admitted again.
  const auto outage = Clock::now();
  redis_->Kill();
  ASSERT_TRUE(Eventually([&] {
    std::vector<Load::Outcome> planned = load_->Of(plan_key);
    return !planned.empty() && planned.back().status == 503;
  }));
  redis_->Start();
  ASSERT_TRUE(redis_->ready());
  const auto back = Clock::now();
  ASSERT_TRUE(Eventually([&] {
    std::vector<Load::Outcome> planned = load_->Of(plan_key);
    return !planned.empty() && planned.back().status == 200;
  }));
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_TRUE(Eventually([&] { return Readiness(i)["degraded"] == false; }))
        << Readiness(i).dump();
  }
  load_->Stop();
  for (const auto& f : load_->Failures()) {
    EXPECT_NE(f.body.find("quota_store_unavailable"), std::string::npos) << f.status << f.body;
    EXPECT_EQ(f.status, 503);
    EXPECT_GE(f.at, outage);
  }
  for (const auto& o : load_->Of(key_)) EXPECT_EQ(o.status, 200) << o.body;
  size_t refused_after = 0;
  for (const auto& o : load_->Of(plan_key)) {
    if (o.status != 200 && o.at > back + std::chrono::seconds(2)) ++refused_after;
  }
  EXPECT_EQ(refused_after, 0u);
}

}  // namespace
}  // namespace fraudops
