// Streams through the real binary and a real Redis: a `stream score` consumer killed after
// writing its outputs but before acknowledging them, another taking over — no transaction lost,
// none written twice, over 50,000 — and a poison entry dead-lettered with its reason; `stream
// ingest` keeping the online store current.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli_util.h"
#include "core/redis.h"
#include "features/online_store.h"
#include "processes.h"
#include "server_util.h"

namespace fraudops::testing {
namespace {

using Json = nlohmann::json;

/// `fraudops ARGS…` in `dir`, as a child process with extra environment variables.
class Child {
 public:
  Child(const TempDir& dir, std::vector<std::string> args,
        std::vector<std::pair<std::string, std::string>> env, const std::string& log)
      : log_(dir.File(log)) {
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::chdir(dir.path().c_str()) != 0) ::_exit(126);
      for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
      int out = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(out, 1);
      ::dup2(out, 2);
      std::vector<char*> argv = {const_cast<char*>(FRAUDOPS_BINARY)};
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(FRAUDOPS_BINARY, argv.data());
      ::_exit(127);
    }
  }
  ~Child() { Stop(SIGKILL); }
  int Stop(int signal) {
    if (pid_ <= 0) return code_;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return code_;
  }
  std::string log() const { return ReadText(log_); }

 private:
  std::string log_;
  pid_t pid_ = 0;
  int code_ = -1;
};

int64_t Length(RedisClient& redis, const std::string& stream) {
  auto reply = redis.Command({"XLEN", stream});
  return reply.ok() ? reply->integer : -1;
}

/// A transaction of the built-in data's columns.
Json Transaction() {
  Json row = {{"Time", 406}, {"Amount", 12.5}};
  for (int v = 1; v <= 28; ++v) row["V" + std::to_string(v)] = 0.01 * v;
  return row;
}

TEST(StreamTest, AKilledConsumerLosesNothingAndWritesNothingTwiceAndPoisonIsDeadLettered) {
  FOPS_NEED_SERVER(url, "FOPS_TEST_REDIS_URL");
  TempDir dir;
  const std::string prefix = "test:stream:" + std::to_string(::getpid()) + ":";
  WriteSmallConfig(dir, "deploy:\n  enabled: false\nstream:\n  url: " + url + "\n  input: " +
                            prefix + "in\n  output: " + prefix + "out\n  dead_letter: " + prefix +
                            "dlq\n  claim_idle_ms: 500\n  max_deliveries: 3\n  block_ms: 100\n");
  ASSERT_EQ(Fraudops(dir, "run").exit_code, 0);
  ASSERT_EQ(Fraudops(dir, "deploy fraud-detector@1 --strategy all_at_once").exit_code, 0);
  auto redis = RedisClient::Connect(url, "test", "redis", {});
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  RedisClient& r = **redis;

  // 50,000 transactions, and a poison entry among them.
  Json row = Transaction();
  const int events = 50000;
  std::vector<std::vector<std::string>> adds;
  for (int i = 0; i < events; ++i) {
    row["transaction_id"] = "tx-" + std::to_string(i);
    row["Amount"] = i % 500;
    adds.push_back({"XADD", prefix + "in", "*", "data", row.dump()});
    if (i == 700) adds.push_back({"XADD", prefix + "in", "*", "data", "{\"Amount\": oops"});
    if (adds.size() == 1000) {
      ASSERT_TRUE(r.Pipeline(adds).ok());
      adds.clear();
    }
  }
  ASSERT_TRUE(r.Pipeline(adds).ok());

  // Consumer A writes its first batch's outputs, then dies before acknowledging them.
  const std::string marker = dir.File("paused");
  {
    Child a(dir, {"stream", "score", "--consumer", "a"},
            {{"FRAUDOPS_FAULT_PAUSE", "stream_before_ack"}, {"FRAUDOPS_FAULT_MARKER", marker}},
            "a.log");
    ASSERT_TRUE(Eventually([&] { return !ReadText(marker).empty(); }, 60)) << a.log();
    EXPECT_EQ(Length(r, prefix + "out"), 500);  // written, not acknowledged
    a.Stop(SIGKILL);
  }
  // Consumer B takes A's entries over once idle, and does the rest.
  Child b(dir, {"stream", "score", "--consumer", "b", "--metrics-listen", "127.0.0.1:0"}, {},
          "b.log");
  auto pending = [&] {
    auto reply = r.Command({"XPENDING", prefix + "in", "fraudops-score"});
    return reply.ok() && !reply->elements.empty() ? reply->elements[0].integer : -1;
  };
  ASSERT_TRUE(Eventually(
      [&] {
        return Length(r, prefix + "out") >= events && Length(r, prefix + "dlq") == 1 &&
               pending() == 0;
      },
      180))
      << "out " << Length(r, prefix + "out") << ", dlq " << Length(r, prefix + "dlq")
      << ", pending " << pending() << "\n"
      << b.log();
  EXPECT_EQ(b.Stop(SIGTERM), 0) << b.log();
  EXPECT_NE(b.log().find("\"duplicates\":500"), std::string::npos) << b.log();

  // Every transaction exactly once.
  std::set<std::string> seen;
  int64_t outputs = 0;
  std::string start = "-";
  while (true) {
    auto page = r.Command({"XRANGE", prefix + "out", start, "+", "COUNT", "5000"});
    ASSERT_TRUE(page.ok());
    if (page->elements.empty()) break;
    for (const RedisValue& entry : page->elements) {
      const RedisValue& fields = entry.elements[1];
      for (size_t i = 0; i + 1 < fields.elements.size(); i += 2)
        if (fields.elements[i].text == "transaction_id") seen.insert(fields.elements[i + 1].text);
      ++outputs;
    }
    start = "(" + page->elements.back().elements[0].text;
  }
  EXPECT_EQ(outputs, events);
  EXPECT_EQ(seen.size(), static_cast<size_t>(events));
  // The poison entry, with why, after max_deliveries.
  auto dead = r.Command({"XRANGE", prefix + "dlq", "-", "+"});
  ASSERT_TRUE(dead.ok() && dead->elements.size() == 1);
  const std::string fields = [&] {
    std::string text;
    for (const RedisValue& v : dead->elements[0].elements[1].elements) text += v.text + "|";
    return text;
  }();
  EXPECT_NE(fields.find("reason|"), std::string::npos) << fields;
  EXPECT_NE(fields.find("not a JSON object"), std::string::npos) << fields;
  EXPECT_NE(fields.find("{\"Amount\": oops"), std::string::npos) << fields;
  (void)r.Command({"DEL", prefix + "in", prefix + "out", prefix + "dlq"});
}

TEST(StreamTest, AConsumerFollowsTheEndpointsDeploymentsBetweenBatches) {
  FOPS_NEED_SERVER(url, "FOPS_TEST_REDIS_URL");
  TempDir dir;
  const std::string prefix = "test:follow:" + std::to_string(::getpid()) + ":";
  WriteSmallConfig(
      dir, "deploy:\n  enabled: false\napi:\n  poll_interval_ms: 50\nstream:\n  url: " + url +
               "\n  input: " + prefix + "in\n  output: " + prefix + "out\n  block_ms: 100\n");
  ASSERT_EQ(Fraudops(dir, "run").exit_code, 0);
  ASSERT_EQ(Fraudops(dir, "run").exit_code, 0);
  ASSERT_EQ(Fraudops(dir, "deploy fraud-detector@1 --strategy all_at_once").exit_code, 0);
  auto redis = RedisClient::Connect(url, "test", "redis", {});
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  RedisClient& r = **redis;
  Json row = Transaction();
  auto add = [&](const std::string& id) {
    row["transaction_id"] = id;
    return r.Command({"XADD", prefix + "in", "*", "data", row.dump()}).ok();
  };
  // The model that scored transaction `id`, once its result is out ("" before).
  auto model_of = [&](const std::string& id) {
    auto page = r.Command({"XRANGE", prefix + "out", "-", "+"});
    if (!page.ok()) return std::string();
    for (const RedisValue& entry : page->elements) {
      std::map<std::string, std::string> fields;
      const RedisValue& values = entry.elements[1];
      for (size_t i = 0; i + 1 < values.elements.size(); i += 2)
        fields[values.elements[i].text] = values.elements[i + 1].text;
      if (fields["transaction_id"] == id) return fields["model"];
    }
    return std::string();
  };
  auto scored = [&](const std::string& id) {
    std::string model;
    EXPECT_TRUE(Eventually([&] { return !(model = model_of(id)).empty(); }, 30)) << id;
    return model;
  };

  Child consumer(dir, {"stream", "score"}, {}, "score.log");
  ASSERT_TRUE(add("tx-0"));
  EXPECT_EQ(scored("tx-0"), "fraud-detector@1") << consumer.log();
  // A deployment by the CLI reaches the running consumer: a later batch is scored by v2 (the
  // consumer asks at most every 50 ms, between batches), and every batch after it.
  ASSERT_EQ(Fraudops(dir, "deploy fraud-detector@2 --strategy all_at_once").exit_code, 0);
  int sent = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        const std::string id = "tx-" + std::to_string(++sent);
        return add(id) && scored(id) == "fraud-detector@2";
      },
      30))
      << consumer.log();
  for (int i = 0; i < 3; ++i) {
    const std::string id = "tx-after-" + std::to_string(i);
    ASSERT_TRUE(add(id));
    EXPECT_EQ(scored(id), "fraud-detector@2");
  }
  EXPECT_EQ(consumer.Stop(SIGTERM), 0) << consumer.log();
  EXPECT_NE(consumer.log().find("\"msg\":\"production changed\""), std::string::npos)
      << consumer.log();
  (void)r.Command({"DEL", prefix + "in", prefix + "out"});
}

TEST(StreamTest, IngestKeepsTheOnlineStoreCurrentFromEvents) {
  FOPS_NEED_SERVER(url, "FOPS_TEST_REDIS_URL");
  TempDir dir;
  const std::string prefix = "test:ingest:" + std::to_string(::getpid()) + ":";
  WriteText(dir.File("config.yml"),
            "stream:\n  url: " + url + "\n  input: " + prefix +
                "in\n  block_ms: 100\n"
                "feature_groups:\n  - name: cards\n    entities: [card_id]\n    event_time: Time\n"
                "    created_time: Time\n    columns: {Amount: numeric}\n    aggregates:\n"
                "      - {name: n_1h, function: count, window: 1h}\n"
                "      - {name: sum_1h, function: sum, column: Amount, window: 1h}\n");
  ASSERT_EQ(Fraudops(dir, "features apply").exit_code, 0);
  auto redis = RedisClient::Connect(url, "test", "redis", {});
  ASSERT_TRUE(redis.ok());
  for (int i = 0; i < 30; ++i) {
    Json event = {{"card_id", "c" + std::to_string(i % 3)}, {"Time", 1000 + i * 60}, {"Amount", i}};
    ASSERT_TRUE((*redis)->Command({"XADD", prefix + "in", "*", "data", event.dump()}).ok());
  }
  Child ingest(dir, {"stream", "ingest"}, {}, "ingest.log");
  auto pending_or_lag = [&] {
    auto info = (*redis)->Command({"XINFO", "GROUPS", prefix + "in"});
    if (!info.ok() || info->elements.empty()) return int64_t{-1};
    int64_t total = 0;
    const RedisValue& group = info->elements[0];
    for (size_t i = 0; i + 1 < group.elements.size(); i += 2)
      if (group.elements[i].text == "lag" || group.elements[i].text == "pending")
        total += group.elements[i + 1].integer;
    return total;
  };
  ASSERT_TRUE(Eventually([&] { return pending_or_lag() == 0; }, 60)) << ingest.log();
  EXPECT_EQ(ingest.Stop(SIGTERM), 0) << ingest.log();
  // The offline store got the events too (a segment at stop); the online one answers.
  CommandResult shown = Fraudops(dir, "features show cards --json");
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  Json segments = Json::parse(shown.out)["segments"];
  ASSERT_EQ(segments.size(), 1u) << shown.out;
  EXPECT_EQ(segments[0]["rows"], 30);
  // c0 has events at 1000, 1180, …, 2620 (every third minute, Amount 0, 3, …, 27); at 4000
  // the hour back [400, 4000) holds all 10: n_1h 10, sum_1h 135.
  OnlineStoreOptions options;
  options.embedded_path = dir.File("fraudops-home/online/features.log");
  auto online = OpenOnlineStore(options);
  ASSERT_TRUE(online.ok()) << online.status().ToString();
  std::vector<std::optional<std::string>> found;
  ASSERT_TRUE((*online)->Get(std::vector<std::string>{OnlineKey("cards", "c0")}, &found).ok());
  ASSERT_TRUE(found[0].has_value());
  auto groups = ParseFeatureGroups(ReadText(dir.File("config.yml")), "config.yml");
  ASSERT_TRUE(groups.ok());
  auto reader = GroupReader::Create((*groups)[0], {"n_1h", "sum_1h", "Amount"});
  auto record = OnlineRecord::Decode(*found[0], reader->slots());
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  std::vector<PolicyValue> values;
  reader->Read(&*record, 4000 * kMicrosPerSecond, values);
  EXPECT_EQ(values[0].number, 10);
  EXPECT_EQ(values[1].number, 135);
  EXPECT_EQ(values[2].number, 27);  // the latest row's Amount
  (void)(*redis)->Command({"DEL", prefix + "in"});
}

}  // namespace
}  // namespace fraudops::testing
