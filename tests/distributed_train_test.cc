// Training on several worker processes (docs/distributed-training.md): `fraudops train
// --workers N` and the pipeline's train.instance_count, through the real binary, its
// embedded tracker and libxgboost's collective.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_util.h"
#include "core/s3.h"
#include "core/strings.h"
#include "processes.h"
#include "server_util.h"

namespace fraudops {
namespace {

using testing::CommandResult;
using testing::Fraudops;
using testing::TempDir;

void WriteShardedData(const TempDir& dir) {
  ASSERT_EQ(testing::WriteSynthetic(dir, "train.csv", 40000, "0.02", 3), 0);
  ASSERT_EQ(testing::WriteSynthetic(dir, "valid.csv", 20000, "0.02", 4), 0);
}

double ValidationAuc(const CommandResult& run) {
  return nlohmann::json::parse(run.out)["validation"]["auc"].get<double>();
}

/// The ROC AUC of a `fraudops predict --keep Class` output (Class, score, …), read a line at a
/// time, ties counting half.
double AucOfScored(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // the header
  std::vector<std::pair<double, int>> scored;
  while (std::getline(in, line)) {
    const size_t comma = line.find(',');
    if (comma == std::string::npos) continue;
    scored.push_back({std::stod(line.substr(comma + 1)), line[0] == '1'});
  }
  std::sort(scored.begin(), scored.end());
  double positives = 0, negatives = 0, area = 0;
  for (size_t i = 0; i < scored.size();) {
    size_t j = i;
    double pos = 0, neg = 0;
    for (; j < scored.size() && scored[j].first == scored[i].first; ++j)
      (scored[j].second ? pos : neg) += 1;
    area += pos * (negatives + 0.5 * neg);
    positives += pos;
    negatives += neg;
    i = j;
  }
  return area / (positives * negatives);
}

TEST(DistributedTrainTest, ThreeWorkersTrainAModelAsGoodAsOneProcess) {
  TempDir dir;
  WriteShardedData(dir);
  const std::string common =
      "train --algorithm xgboost --data train.csv --valid valid.csv --label Class "
      "--param num_round=60 --param max_depth=4 --param eta=0.2 --param eval_metric=auc --json ";
  CommandResult single = Fraudops(dir, common + "--output single.json");
  ASSERT_EQ(single.exit_code, 0) << single.err;
  CommandResult three = Fraudops(dir, common + "--workers 3 --output three.json");
  ASSERT_EQ(three.exit_code, 0) << three.err;
  const auto summary = nlohmann::json::parse(three.out);
  EXPECT_EQ(summary["parameters"]["workers"], 3);
  EXPECT_EQ(summary["rows"], 40000);  // every row, across the three workers
  // The leader's log says how training goes (rank 0's first round, then every 10 s).
  EXPECT_NE(three.err.find("\"msg\":\"round 1, validation-auc 0."), std::string::npos) << three.err;
  // The distributed sketch gives slightly different cut points, not a worse model.
  EXPECT_NEAR(ValidationAuc(three), ValidationAuc(single), 0.002)
      << "single " << ValidationAuc(single) << ", three workers " << ValidationAuc(three);
  // The model is XGBoost's own file, written once (by rank 0), and scores like any other.
  CommandResult predict = Fraudops(
      dir, "predict --model three.json --input valid.csv --keep Class --output scores.csv");
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  // The validation AUC the workers reported is the AUC of all validation rows (not a mix of
  // per-worker areas, as libxgboost's own distributed auc): the model's scores agree.
  EXPECT_NEAR(ValidationAuc(three), AucOfScored(dir.File("scores.csv")), 0.0005);
}

/// The pids of `fraudops worker` processes of task `task` working in `dir` (the leader's
/// directory, which its workers inherit: other tests' workers run elsewhere).
std::vector<pid_t> WorkerPids(const TempDir& dir, const std::string& task) {
  std::vector<pid_t> pids;
  const auto here = std::filesystem::canonical(dir.path());
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code error;
    if (std::filesystem::read_symlink(entry.path() / "cwd", error) != here) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(std::string("worker") + '\0' + "--tracker") != std::string::npos &&
        cmdline.find(std::string("--rank") + '\0' + task + '\0') != std::string::npos) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

/// Whether the leader running in `dir` has logged rank 0's first round (every worker is then
/// inside training's collective calls).
bool Training(const TempDir& dir) {
  return testing::ReadText(dir.File("err.txt")).find("\"msg\":\"round 1, ") != std::string::npos;
}

/// `fraudops train` with 3 workers, long enough to be hit in the middle: many rounds, no
/// early stopping.
std::string LongTraining(int rounds = 100000) {
  return "train --algorithm xgboost --data train.csv --valid valid.csv --label Class"
         " --param num_round=" +
         std::to_string(rounds) +
         " --param early_stopping_rounds=0 --param max_depth=6"
         " --workers 3 --output model.json --json";
}

/// Starts `arguments` (a long 3-worker training) in `dir` (`env` set for it), sends `signal`
/// to the worker of `task` once every worker has joined and trained a little, and waits for
/// the leader, which must end within `within_seconds` of the signal. Its output in out.txt,
/// err.txt, exit.txt.
void FaultDuringTraining(const TempDir& dir, const std::string& env, const std::string& task,
                         int signal, const std::string& arguments = LongTraining(),
                         double within_seconds = 30) {
  const std::string command = "cd " + dir.path() + " && " + env + " " + testing::Binary() + " " +
                              arguments + " > out.txt 2> err.txt; echo $? > exit.txt";
  std::thread leader([&] { std::system(command.c_str()); });
  std::vector<pid_t> victim;
  ASSERT_TRUE(testing::Eventually([&] { return !(victim = WorkerPids(dir, task)).empty(); }, 60));
  // Once every worker has joined (a worker hit while it joins is the tracker's to time out, a
  // different path) and trains: the others are inside the collective's calls.
  ASSERT_TRUE(testing::Eventually([&] { return Training(dir); }, 60))
      << testing::ReadText(dir.File("err.txt"));
  const auto sent = std::chrono::steady_clock::now();
  ::kill(victim.front(), signal);
  leader.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  EXPECT_LT(seconds, within_seconds) << "the run took " << seconds << " s to end";
}

TEST(DistributedTrainTest, AKilledWorkerFailsTheRunNamingItsRankAndWritesNoModel) {
  TempDir dir;
  WriteShardedData(dir);
  ASSERT_NO_FATAL_FAILURE(FaultDuringTraining(dir, "", "1", SIGKILL));
  EXPECT_NE(testing::ReadText(dir.File("exit.txt")), "0\n");
  const std::string err = testing::ReadText(dir.File("err.txt"));
  EXPECT_NE(err.find("worker 1 (rank 1, host 127.0.0.1) was killed by signal 9"), std::string::npos)
      << err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("model.json")));
  // No worker is left behind.
  EXPECT_TRUE(testing::Eventually(
      [&] { return WorkerPids(dir, "0").empty() && WorkerPids(dir, "2").empty(); }));
}

TEST(DistributedTrainTest, WithARetryAKilledWorkersGroupStartsAgainFromScratchAndSucceeds) {
  TempDir dir;
  WriteShardedData(dir);
  // Killed once, mid-training; train.worker_retries = 1 starts all three workers again.
  ASSERT_NO_FATAL_FAILURE(FaultDuringTraining(dir, "FRAUDOPS_TRAIN_WORKER_RETRIES=1", "1", SIGKILL,
                                              LongTraining(600), 600));
  const std::string err = testing::ReadText(dir.File("err.txt"));
  ASSERT_EQ(testing::ReadText(dir.File("exit.txt")), "0\n") << err;
  EXPECT_NE(err.find("the worker group failed; starting it again from scratch"), std::string::npos)
      << err;
  EXPECT_NE(err.find("worker 1 (rank 1, host 127.0.0.1) was killed by signal 9"), std::string::npos)
      << err;
  const auto summary = nlohmann::json::parse(testing::ReadText(dir.File("out.txt")));
  EXPECT_EQ(summary["parameters"]["worker_attempts"], 2);
  EXPECT_EQ(summary["rounds_trained"], 600);  // the whole training, not the rest of one
  EXPECT_TRUE(std::filesystem::exists(dir.File("model.json")));
}

TEST(DistributedTrainTest,
     AKilledWorkerFailsThePipelineRunWhichIsRecordedFailedAndRegistersNothing) {
  TempDir dir;
  testing::WriteSmallConfig(dir);
  ASSERT_NO_FATAL_FAILURE(FaultDuringTraining(
      dir,
      "FRAUDOPS_TRAIN_INSTANCE_COUNT=3 XGBOOST_NUM_ROUND=100000 XGBOOST_EARLY_STOPPING_ROUNDS=0",
      "2", SIGKILL, "run --json"));
  EXPECT_NE(testing::ReadText(dir.File("exit.txt")), "0\n");
  const std::string err = testing::ReadText(dir.File("err.txt"));
  EXPECT_NE(err.find("worker 2 (rank 2, host 127.0.0.1) was killed by signal 9"), std::string::npos)
      << err;
  const auto runs = nlohmann::json::parse(Fraudops(dir, "runs list --json").out);
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  EXPECT_EQ(runs[0]["status"], "failed") << runs.dump();
  EXPECT_NE(runs[0]["error"].get<std::string>().find("rank 2"), std::string::npos) << runs.dump();
  EXPECT_EQ(nlohmann::json::parse(Fraudops(dir, "models list --json").out).size(), 0u);
  EXPECT_TRUE(testing::Eventually(
      [&] { return WorkerPids(dir, "0").empty() && WorkerPids(dir, "1").empty(); }));
}

TEST(DistributedTrainTest, AWorkerStartedElsewhereThatDiesIsNamed) {
  TempDir dir;
  WriteShardedData(dir);
  // A free port for the tracker (remote workers need a known one).
  const std::string port = std::to_string(testing::FreePort());
  // Rank 1 is not the leader's child: only the tracker can tell that it died.
  std::thread remote([&] {
    std::system(("cd " + dir.path() + " && " + testing::Binary() +
                 " worker --tracker 127.0.0.1:" + port + " --rank 1 > remote.log 2>&1")
                    .c_str());
  });
  std::thread leader([&] {
    std::system(("cd " + dir.path() + " && FRAUDOPS_TRAIN_REMOTE_WORKERS=1" +
                 " FRAUDOPS_TRAIN_TRACKER_PORT=" + port + " " + testing::Binary() +
                 " train --algorithm xgboost --data train.csv --label Class"
                 " --param num_round=100000 --param early_stopping_rounds=0 --workers 2"
                 " --output model.json > out.txt 2> err.txt; echo $? > exit.txt")
                    .c_str());
  });
  std::vector<pid_t> victim;
  ASSERT_TRUE(testing::Eventually([&] { return Training(dir); }, 60))
      << testing::ReadText(dir.File("err.txt"));
  victim = WorkerPids(dir, "1");
  ASSERT_EQ(victim.size(), 1u);
  ::kill(victim.front(), SIGKILL);
  leader.join();
  remote.join();
  const std::string err = testing::ReadText(dir.File("err.txt"));
  EXPECT_NE(testing::ReadText(dir.File("exit.txt")), "0\n");
  EXPECT_NE(err.find("worker 1 (rank 1, host 127.0.0.1) disconnected before finishing"),
            std::string::npos)
      << err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("model.json")));
}

TEST(DistributedTrainTest, AStalledWorkerFailsTheRunAfterTheWorkerTimeout) {
  TempDir dir;
  WriteShardedData(dir);
  // Alive, but silent: the others wait on it.
  ASSERT_NO_FATAL_FAILURE(
      FaultDuringTraining(dir, "FRAUDOPS_TRAIN_WORKER_TIMEOUT_S=2", "2", SIGSTOP));
  EXPECT_NE(testing::ReadText(dir.File("exit.txt")), "0\n");
  const std::string err = testing::ReadText(dir.File("err.txt"));
  // A worker waiting on the silent one gives up after train.worker_timeout_s and fails first
  // (the silent one is stopped after it); libxgboost words the timeout one of two ways.
  EXPECT_NE(err.find("exited with code 1"), std::string::npos) << err;
  EXPECT_TRUE(err.find("Poll timeout") != std::string::npos ||
              err.find("Allreduce failed") != std::string::npos)
      << err;
  EXPECT_EQ(err.find("Stack trace"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("model.json")));
  EXPECT_TRUE(testing::Eventually([&] { return WorkerPids(dir, "2").empty(); }));
}

/// Network namespaces joined by a bridge: separate hosts on one machine, 10.77.0.1, .2, …
/// (their own interfaces, addresses and ports; the filesystem is shared), removed when this
/// goes out of scope. Needs root and iproute2.
class TestHosts {
 public:
  explicit TestHosts(int count) {
    static int made = 0;
    prefix_ = "fops" + std::to_string(::getpid()) + "-" + std::to_string(made++);
    std::vector<std::string> steps = {"ip netns add " + Switch(),
                                      "ip -n " + Switch() + " link add br0 type bridge",
                                      "ip -n " + Switch() + " link set br0 up"};
    for (int host = 0; host < count; ++host) {
      const std::string name = Name(host), port = "p" + std::to_string(host);
      names_.push_back(name);
      steps.push_back("ip netns add " + name);
      steps.push_back("ip -n " + name + " link set lo up");
      steps.push_back("ip -n " + Switch() + " link add " + port +
                      " type veth peer name eth0 netns " + name);
      steps.push_back("ip -n " + Switch() + " link set " + port + " master br0");
      steps.push_back("ip -n " + Switch() + " link set " + port + " up");
      steps.push_back("ip -n " + name + " addr add " + Address(host) + "/24 dev eth0");
      steps.push_back("ip -n " + name + " link set eth0 up");
    }
    for (const std::string& step : steps) {
      if (std::system((step + " > /dev/null 2>&1").c_str()) != 0) {
        error_ = "`" + step + "` failed (network namespaces need root and iproute2)";
        return;
      }
    }
  }
  ~TestHosts() {
    for (const std::string& name : names_)
      std::system(("ip netns del " + name + " 2>/dev/null").c_str());
    std::system(("ip netns del " + Switch() + " 2>/dev/null").c_str());
  }

  /// Empty when the hosts are up.
  const std::string& error() const { return error_; }
  std::string Address(int host) const { return "10.77.0." + std::to_string(host + 1); }
  /// The prefix that runs a command on `host`.
  std::string On(int host) const { return "ip netns exec " + Name(host) + " "; }

 private:
  std::string Switch() const { return prefix_ + "-sw"; }
  std::string Name(int host) const { return prefix_ + "-h" + std::to_string(host); }

  std::string prefix_, error_;
  std::vector<std::string> names_;
};

TEST(DistributedTrainTest, ThreeWorkersOnThreeHostsTrainAsWellAsOneProcessOnReferenceSizeData) {
  TestHosts hosts(3);
  if (!hosts.error().empty()) {
    const bool ci = std::getenv("CI") != nullptr && *std::getenv("CI") != '\0';
    if (ci) FAIL() << hosts.error();
    GTEST_SKIP() << "skipped: " << hosts.error();
  }
  TempDir dir;
  // The reference dataset's size and fraud rate; a large test set, so that two equally good
  // models measure within a small fraction of 0.002 of each other.
  ASSERT_EQ(testing::WriteSynthetic(dir, "train.csv", 284807, "0.001727", 21), 0);
  ASSERT_EQ(testing::WriteSynthetic(dir, "valid.csv", 71202, "0.001727", 22), 0);
  ASSERT_EQ(testing::WriteSynthetic(dir, "test.csv", 500000, "0.001727", 23), 0);
  const std::string train =
      "train --algorithm xgboost --data train.csv --valid valid.csv --label Class --json ";
  CommandResult single = Fraudops(dir, train + "--output single.json");
  ASSERT_EQ(single.exit_code, 0) << single.err;

  // The leader on host 0 starts rank 0 there; ranks 1 and 2 join from hosts 1 and 2, each
  // started before the leader listens (they keep trying), as a scheduler would start them.
  const std::string tracker = hosts.Address(0) + ":9091";
  std::vector<std::thread> remote;
  for (int rank : {1, 2}) {
    remote.emplace_back([&, rank] {
      const std::string log = dir.File("remote-" + std::to_string(rank) + ".log");
      std::system(("cd " + dir.path() + " && " + hosts.On(rank) + testing::Binary() +
                   " worker --tracker " + tracker + " --rank " + std::to_string(rank) + " > " +
                   log + " 2>&1; echo $? >> " + log)
                      .c_str());
    });
  }
  const std::string leader = "cd " + dir.path() + " && FRAUDOPS_TRAIN_REMOTE_WORKERS=2" +
                             " FRAUDOPS_TRAIN_TRACKER_HOST=" + hosts.Address(0) +
                             " FRAUDOPS_TRAIN_TRACKER_PORT=9091 " + hosts.On(0) +
                             testing::Binary() + " " + train +
                             "--workers 3 --output three.json > out.txt 2> err.txt";
  const int leader_exit = std::system(leader.c_str());
  for (std::thread& t : remote) t.join();
  const std::string err = testing::ReadText(dir.File("err.txt"));
  ASSERT_EQ(leader_exit, 0) << err << testing::ReadText(dir.File("remote-1.log"));
  EXPECT_EQ(err.find("disconnected before finishing"), std::string::npos) << err;
  for (int rank : {1, 2}) {
    EXPECT_NE(err.find("\"rank\":" + std::to_string(rank) + ",\"task\":\"" + std::to_string(rank) +
                       "\",\"host\":\"" + hosts.Address(rank) + "\""),
              std::string::npos)
        << "rank " << rank << " did not join from its host: " << err;
    EXPECT_NE(testing::ReadText(dir.File("remote-" + std::to_string(rank) + ".log")).find("\n0\n"),
              std::string::npos);
  }
  EXPECT_EQ(nlohmann::json::parse(testing::ReadText(dir.File("out.txt")))["parameters"]["workers"],
            3);
  // Test ROC AUC within 0.002 of one process's.
  for (const char* model : {"single", "three"}) {
    CommandResult scored = Fraudops(dir, std::string("predict --model ") + model +
                                             ".json --input test.csv --keep Class"
                                             " --output " +
                                             model + "-scores.csv");
    ASSERT_EQ(scored.exit_code, 0) << scored.err;
  }
  const double one = AucOfScored(dir.File("single-scores.csv"));
  const double three = AucOfScored(dir.File("three-scores.csv"));
  EXPECT_NEAR(three, one, 0.002) << "test ROC AUC: one process " << one << ", three hosts "
                                 << three;
  std::printf("test ROC AUC: one process %.5f, three workers on three hosts %.5f\n", one, three);
}

/// A LightGBM model file without its parameters section (which says tree_learner=data and
/// the threads): the header, every tree, the feature importances.
std::string TreesOf(const std::string& model_text) {
  std::string out;
  for (const std::string& line : Split(model_text, '\n')) {
    if (StartsWith(line, "parameters:")) break;
    out += line + "\n";
  }
  return out;
}

/// Trains `params` with lgbm in one process and on `workers` workers in `dir` and expects
/// the same trees, leaf values included.
void ExpectSameLgbmModel(const TempDir& dir, const std::string& params, int workers) {
  CommandResult single = Fraudops(dir, "train --algorithm lgbm " + params + " --output one.txt");
  ASSERT_EQ(single.exit_code, 0) << single.err;
  CommandResult many = Fraudops(dir, "train --algorithm lgbm " + params + " --workers " +
                                         std::to_string(workers) + " --output many.txt --json");
  ASSERT_EQ(many.exit_code, 0) << many.err;
  EXPECT_EQ(nlohmann::json::parse(many.out)["parameters"]["workers"], workers);
  const std::string one = testing::ReadText(dir.File("one.txt"));
  const std::string data_parallel = testing::ReadText(dir.File("many.txt"));
  EXPECT_NE(data_parallel.find("[tree_learner: data]"), std::string::npos);
  EXPECT_GT(std::count(one.begin(), one.end(), '\n'), 100);
  // Same bins (a sample of all workers' rows, gathered), same sums, same splits.
  EXPECT_TRUE(TreesOf(one) == TreesOf(data_parallel))
      << "the data-parallel model differs from the single-process one (kept in " << dir.path()
      << ")";
}

TEST(DistributedTrainTest, LgbmDataParallelGrowsTheSingleProcessTreesWithBaggingAndCategories) {
  TempDir dir;
  // The committed reference set with categorical features; bagging and feature sampling by
  // global row and iteration; bins from a sample smaller than the data; early stopping on
  // validation AUC, computed over every worker's validation rows.
  ASSERT_EQ(std::system(("xz -dc " + std::string(FRAUDOPS_SOURCE_DIR) +
                         "/tests/data/lightgbm/categorical_train.csv.xz > " + dir.File("train.csv"))
                            .c_str()),
            0);
  std::filesystem::copy_file(
      std::string(FRAUDOPS_SOURCE_DIR) + "/tests/data/lightgbm/categorical_test.csv",
      dir.File("valid.csv"));
  ExpectSameLgbmModel(dir,
                      "--data train.csv --valid valid.csv --label label --param seed=7 "
                      "--param num_iterations=60 --param categorical_feature=6,7,8 "
                      "--param bagging_fraction=0.7 --param bagging_freq=1 "
                      "--param feature_fraction=0.8 --param bin_construct_sample_cnt=5000 "
                      "--param metric=auc --param early_stopping_round=10",
                      3);
}

TEST(DistributedTrainTest, LgbmDataParallelOnTheReferenceNumericSetFromShared) {
  const char* shared = std::getenv("FOPS_SHARED_DIR");
  const std::filesystem::path reference =
      (shared ? std::filesystem::path(shared)
              : std::filesystem::path(FRAUDOPS_SOURCE_DIR) / "../shared") /
      "reference/lightgbm/numeric_train.csv.xz";
  if (!std::filesystem::exists(reference))
    GTEST_SKIP() << "skipped: ../shared/reference/lightgbm is not in this checkout (set "
                    "FOPS_SHARED_DIR)";
  TempDir dir;
  ASSERT_EQ(std::system(("xz -dc " + reference.string() + " > " + dir.File("train.csv")).c_str()),
            0);
  // The reference `numeric` training (200,000 rows, 30 features; LightGBM's parameters).
  ExpectSameLgbmModel(dir,
                      "--data train.csv --label label --param seed=7 --param learning_rate=0.1 "
                      "--param num_iterations=200 --param num_leaves=31 "
                      "--param min_sum_hessian_in_leaf=1 --param objective=binary",
                      3);
}

/// The lines of `path` in `count` files of `directory` (each with the header), in order.
void SplitIntoFiles(const std::string& path, const std::string& directory, int count) {
  std::vector<std::string> lines = Split(testing::ReadText(path), '\n');
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::filesystem::create_directories(directory);
  const size_t rows = lines.size() - 1;
  for (int f = 0; f < count; ++f) {
    std::string text = lines[0] + "\n";
    for (size_t r = rows * f / count; r < rows * (f + 1) / count; ++r) text += lines[r + 1] + "\n";
    testing::WriteText(directory + "/part-" + std::to_string(f) + ".csv", text);
  }
}

TEST(DistributedTrainTest, ShardedReadingTrainsTheSingleProcessModelFromEachKindOfSource) {
  TempDir dir;
  // Text categories (card ids, first seen all through the file) merged across the parts.
  ASSERT_EQ(Fraudops(dir,
                     "data synth --rows 24000 --fraud-rate 0.02 --cards 400 --seed 5 "
                     "--output train.csv")
                .exit_code,
            0);
  ASSERT_EQ(Fraudops(dir,
                     "data synth --rows 6000 --fraud-rate 0.02 --cards 400 --seed 6 "
                     "--output valid.csv")
                .exit_code,
            0);
  SplitIntoFiles(dir.File("train.csv"), dir.File("days"), 4);
  ASSERT_EQ(Fraudops(dir, "data import train.csv --output train.fds").exit_code, 0);
  const std::string params =
      " --valid valid.csv --param num_iterations=25 --param bagging_fraction=0.8 "
      "--param bagging_freq=1 --param bin_construct_sample_cnt=5000 --param seed=3";
  CommandResult single =
      Fraudops(dir, "train --algorithm lgbm --data train.csv --output one.txt" + params);
  ASSERT_EQ(single.exit_code, 0) << single.err;
  const std::string one = TreesOf(testing::ReadText(dir.File("one.txt")));
  ASSERT_NE(one.find("card_id"), std::string::npos);
  std::string fingerprint;
  // A CSV by byte ranges, a directory by files, a dataset file by rows: the same trees.
  for (const std::string data : {"train.csv", "days", "train.fds"}) {
    SCOPED_TRACE(data);
    CommandResult sharded =
        Fraudops(dir, "train --algorithm lgbm --data " + data +
                          " --workers 3 --sharded --json --output sharded.txt" + params);
    ASSERT_EQ(sharded.exit_code, 0) << sharded.err;
    EXPECT_TRUE(TreesOf(testing::ReadText(dir.File("sharded.txt"))) == one)
        << "the model trained with sharded reading differs from the single-process one (kept "
           "in "
        << dir.path() << ")";
    const nlohmann::json out = nlohmann::json::parse(sharded.out);
    EXPECT_EQ(out["rows"], 24000);
    ASSERT_EQ(out["shards"].size(), 3u);
    size_t rows = 0;
    for (const nlohmann::json& shard : out["shards"]) {
      EXPECT_EQ(shard["source"], data);
      rows += shard["row_count"].get<size_t>();
    }
    EXPECT_EQ(rows, 24000u);
    if (data == "train.csv") {
      EXPECT_EQ(out["shards"][0]["part"]["bytes"][1], out["shards"][1]["part"]["bytes"][0]);
      fingerprint = out["data_fingerprint"];
    }
    if (data == "days") {
      EXPECT_EQ(out["shards"][2]["part"]["files"].size(), 2u);
    }
    if (data == "train.fds") {
      EXPECT_EQ(out["shards"][1]["part"]["rows"], nlohmann::json::array({8000, 16000}));
      // Row ranges of the same rows as the CSV's byte ranges: other parts, another fingerprint.
      EXPECT_NE(out["data_fingerprint"], fingerprint);
    }
  }
  // The same partitioning gives the same fingerprint.
  CommandResult again = Fraudops(
      dir, "train --algorithm lgbm --data train.csv --workers 3 --sharded --json --output a.txt" +
               params);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["data_fingerprint"], fingerprint);

  // xgboost: its category names written beside the model, as in one process.
  CommandResult xgboost =
      Fraudops(dir,
               "train --algorithm xgboost --data days --valid valid.csv --workers 2 --sharded "
               "--param num_round=10 --output x.json");
  ASSERT_EQ(xgboost.exit_code, 0) << xgboost.err;
  CommandResult xgboost_one = Fraudops(
      dir, "train --algorithm xgboost --data train.csv --param num_round=10 --output x1.json");
  ASSERT_EQ(xgboost_one.exit_code, 0) << xgboost_one.err;
  EXPECT_EQ(testing::ReadText(dir.File("x.json.categories.json")),
            testing::ReadText(dir.File("x1.json.categories.json")));
}

TEST(DistributedTrainTest, ShardedReadingSplitsValidationOffThePartsAsOneTimeSplitWould) {
  TempDir dir;
  ASSERT_EQ(testing::WriteSynthetic(dir, "train.csv", 12000, "0.03", 9), 0);
  // The time split of the whole, made here: the 80 % earliest rows (ties in file order) train,
  // the rest validate; both kept in file order, as the workers keep their parts' rows.
  std::vector<std::string> lines = Split(testing::ReadText(dir.File("train.csv")), '\n');
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::vector<std::pair<float, size_t>> times;
  for (size_t r = 1; r < lines.size(); ++r) {
    std::string time = lines[r].substr(0, lines[r].find(','));
    time.erase(std::remove(time.begin(), time.end(), '"'), time.end());
    times.push_back({static_cast<float>(std::stod(time)), r});
  }
  std::stable_sort(times.begin(), times.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<bool> trains(lines.size(), false);
  for (size_t i = 0; i < 9600; ++i) trains[times[i].second] = true;
  std::string train = lines[0] + "\n", valid = lines[0] + "\n";
  for (size_t r = 1; r < lines.size(); ++r) (trains[r] ? train : valid) += lines[r] + "\n";
  testing::WriteText(dir.File("train-split.csv"), train);
  testing::WriteText(dir.File("valid-split.csv"), valid);

  const std::string params = " --param num_iterations=20 --param seed=3 --param metric=auc";
  CommandResult single = Fraudops(dir,
                                  "train --algorithm lgbm --data train-split.csv --valid "
                                  "valid-split.csv --json --output one.txt" +
                                      params);
  ASSERT_EQ(single.exit_code, 0) << single.err;
  testing::WriteText(dir.File("config.yml"), "preprocess:\n  split_method: time\n");
  CommandResult sharded = Fraudops(dir,
                                   "train --config config.yml --algorithm lgbm --data train.csv "
                                   "--workers 3 --sharded --valid-ratio 0.2 --json --output "
                                   "three.txt" +
                                       params);
  ASSERT_EQ(sharded.exit_code, 0) << sharded.err;
  EXPECT_TRUE(TreesOf(testing::ReadText(dir.File("three.txt"))) ==
              TreesOf(testing::ReadText(dir.File("one.txt"))))
      << "kept in " << dir.path();
  const nlohmann::json out = nlohmann::json::parse(sharded.out);
  EXPECT_EQ(out["validation"], nlohmann::json::parse(single.out)["validation"]);
  size_t validation_rows = 0;
  for (const nlohmann::json& shard : out["shards"]) {
    EXPECT_EQ(shard["split"]["method"], "time");
    validation_rows += shard["split"]["validation_rows"].get<size_t>();
  }
  EXPECT_EQ(validation_rows, 2400u);
  CommandResult both = Fraudops(dir,
                                "train --algorithm lgbm --data train.csv --valid valid-split.csv "
                                "--workers 2 --sharded --valid-ratio 0.2 --output m.txt");
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("does not combine with --valid"), std::string::npos) << both.err;
}

TEST(DistributedTrainTest, ShardedReadingFromAnS3PrefixGivesEachWorkerWholeObjects) {
  FOPS_NEED_SERVER(s3_endpoint, "FOPS_TEST_S3_ENDPOINT");
  TempDir dir;
  ASSERT_EQ(Fraudops(dir,
                     "data synth --rows 9000 --fraud-rate 0.03 --cards 100 --seed 8 "
                     "--output train.csv")
                .exit_code,
            0);
  SplitIntoFiles(dir.File("train.csv"), dir.File("days"), 3);
  const std::string bucket = "shards" + testing::RandomSuffix();
  S3Client s3(testing::TestS3Settings(s3_endpoint));
  ASSERT_TRUE(s3.CreateBucket(bucket).ok());
  for (int f = 0; f < 3; ++f) {
    const std::string name = "part-" + std::to_string(f) + ".csv";
    ASSERT_TRUE(s3.Put({bucket, "days/" + name}, testing::ReadText(dir.File("days/" + name))).ok());
  }
  const std::string aws = testing::TestS3Environment(s3_endpoint);
  const std::string prefix = "s3://" + bucket + "/days/";
  const std::string params = " --param num_iterations=10 --param seed=3";
  CommandResult single =
      Fraudops(dir, "train --algorithm lgbm --data " + prefix + " --output one.txt" + params, aws);
  ASSERT_EQ(single.exit_code, 0) << single.err;
  CommandResult local =
      Fraudops(dir, "train --algorithm lgbm --data train.csv --output local.txt" + params);
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_TRUE(TreesOf(testing::ReadText(dir.File("one.txt"))) ==
              TreesOf(testing::ReadText(dir.File("local.txt"))));
  CommandResult sharded = Fraudops(dir,
                                   "train --algorithm lgbm --data " + prefix +
                                       " --workers 2 --sharded --json --output two.txt" + params,
                                   aws);
  ASSERT_EQ(sharded.exit_code, 0) << sharded.err;
  EXPECT_TRUE(TreesOf(testing::ReadText(dir.File("two.txt"))) ==
              TreesOf(testing::ReadText(dir.File("one.txt"))));
  const nlohmann::json shards = nlohmann::json::parse(sharded.out)["shards"];
  ASSERT_EQ(shards.size(), 2u);
  EXPECT_EQ(shards[0]["part"]["objects"].size(), 1u);
  EXPECT_EQ(shards[1]["part"]["objects"].size(), 2u);
  EXPECT_EQ(shards[1]["part"]["objects"][0]["uri"], prefix + "part-1.csv");
  // One object cannot be split among workers.
  CommandResult one_object =
      Fraudops(dir,
               "train --algorithm lgbm --data " + prefix +
                   "part-0.csv --workers 2 --sharded --output m.txt" + params,
               aws);
  EXPECT_NE(one_object.exit_code, 0);
  EXPECT_NE(one_object.err.find("is one object"), std::string::npos) << one_object.err;
}

TEST(DistributedTrainTest, ShardedReadingFromSqlSplitsRowsByTheShardKey) {
  TempDir dir;
  ASSERT_EQ(
      std::system(("sqlite3 " + dir.File("bank.db") +
                   " \"CREATE TABLE transactions (id INTEGER, amount REAL, merchant TEXT, "
                   "Class INTEGER); WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
                   "FROM s WHERE n < 3000) INSERT INTO transactions SELECT n, (n * 37) % 101, "
                   "CASE WHEN n % 3 = 0 THEN 'travel' ELSE 'grocery' END, "
                   "CASE WHEN (n * 37) % 101 > 90 THEN 1 ELSE 0 END FROM s\"")
                      .c_str()),
      0);
  CommandResult no_key = Fraudops(
      dir, "train --algorithm lgbm --data sqlite:bank.db --workers 2 --sharded --output m.txt");
  EXPECT_EQ(no_key.exit_code, 2) << no_key.err;
  EXPECT_NE(no_key.err.find("needs preprocess.shard_key"), std::string::npos) << no_key.err;
  testing::WriteText(dir.File("config.yml"), "preprocess:\n  shard_key: id\n");
  CommandResult sharded =
      Fraudops(dir,
               "train --config config.yml --algorithm lgbm --data sqlite:bank.db --workers 3 "
               "--sharded --param num_iterations=5 --json --output m.txt");
  ASSERT_EQ(sharded.exit_code, 0) << sharded.err;
  const nlohmann::json out = nlohmann::json::parse(sharded.out);
  EXPECT_EQ(out["rows"], 3000);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(out["shards"][r]["row_count"], 1000);
    EXPECT_EQ(out["shards"][r]["part"]["where"], "id % 3 = " + std::to_string(r));
  }
  CommandResult synthetic = Fraudops(
      dir, "train --algorithm lgbm --data synthetic --workers 2 --sharded --output m2.txt");
  EXPECT_EQ(synthetic.exit_code, 2);
  EXPECT_NE(synthetic.err.find("cannot be read in parts"), std::string::npos) << synthetic.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("m2.txt")));
}

TEST(DistributedTrainTest, LgbmGossOnWorkersDrawsTheSingleProcessSample) {
  TempDir dir;
  WriteShardedData(dir);
  // GOSS starts at iteration 1 / learning_rate: 20 iterations with it. The top rows are those
  // of all workers, the rest sampled in row order across the workers.
  ExpectSameLgbmModel(dir,
                      "--data train.csv --valid valid.csv --label Class --param seed=5 "
                      "--param num_iterations=30 --param learning_rate=0.1 "
                      "--param data_sample_strategy=goss --param top_rate=0.15 "
                      "--param other_rate=0.1 --param bagging_fraction=1 --param metric=auc",
                      3);
}

TEST(DistributedTrainTest, LgbmOnWorkersRefusesWhatItCannotDistribute) {
  TempDir dir;
  WriteShardedData(dir);
  CommandResult serial = Fraudops(dir,
                                  "train --algorithm lgbm --data train.csv --label Class "
                                  "--workers 2 --param tree_learner=serial --output model.txt");
  EXPECT_NE(serial.exit_code, 0);
  EXPECT_NE(serial.err.find("tree_learner=serial trains in one process"), std::string::npos)
      << serial.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("model.txt")));
}

TEST(DistributedTrainTest, ThePipelineTrainsOnInstanceCountWorkers) {
  TempDir dir;
  testing::WriteSmallConfig(dir, "train:\n  instance_count: 2\n");
  CommandResult run = Fraudops(dir, "run");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // The run's training record says so.
  bool found = false, bundle_names_shards = false;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    if (entry.path().filename() == "bundle.json" &&
        entry.path().parent_path().filename() == "model") {
      // The registered version's lineage names them too.
      const auto bundle = nlohmann::json::parse(testing::ReadText(entry.path().string()));
      bundle_names_shards = bundle["lineage"]["shards"].size() == 2 &&
                            bundle["lineage"]["data_fingerprint"].is_string();
    }
    if (entry.path().filename() != "training.json" ||
        entry.path().parent_path().filename() != "model")
      continue;
    const auto training = nlohmann::json::parse(testing::ReadText(entry.path().string()));
    EXPECT_EQ(training["parameters"]["workers"], 2);
    // Every worker's rows, adjacent ranges of the training split, each with its hash.
    const auto& shards = training["shards"];
    ASSERT_EQ(shards.size(), 2u) << training.dump();
    EXPECT_EQ(shards[0]["rows"][0], 0);
    EXPECT_EQ(shards[0]["rows"][1], shards[1]["rows"][0]);
    for (int rank : {0, 1}) {
      EXPECT_EQ(shards[rank]["rank"], rank);
      EXPECT_NE(shards[rank]["file"].get<std::string>().find("processed/train.fds"),
                std::string::npos);
      EXPECT_EQ(shards[rank]["content_hash"].get<std::string>().size(), 64u);
    }
    EXPECT_NE(shards[0]["content_hash"], shards[1]["content_hash"]);
    // The data fingerprint combines the workers' hashes (data/parts.h).
    EXPECT_EQ(training["data_fingerprint"].get<std::string>().size(), 64u);
    found = true;
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(bundle_names_shards);
}

/// The registered version's bundle.json in the run `run_id` of `dir`'s local artifact store.
nlohmann::json RunFile(const TempDir& dir, const std::string& run_id, const std::string& name) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    const std::string path = entry.path().string();
    if (path.find(run_id) != std::string::npos && path.size() > name.size() &&
        path.compare(path.size() - name.size(), name.size(), name) == 0)
      return nlohmann::json::parse(testing::ReadText(path));
  }
  return nlohmann::json();
}

TEST(DistributedTrainTest, TrainShardedRunsThePipelineOnPartsAndRegistersTheSameModel) {
  TempDir dir;
  // Card ids are text categories first seen all through the file: merged across the parts.
  ASSERT_EQ(Fraudops(dir,
                     "data synth --rows 20000 --fraud-rate 0.02 --cards 300 --seed 7 "
                     "--output data.csv")
                .exit_code,
            0);
  testing::WriteText(dir.File("config.yml"),
                     "preprocess:\n  data_source: data.csv\n  split_method: time\n"
                     "  time_column: Time\n"
                     "  derived_features: [\"log_amount = log(Amount + 1)\"]\n"
                     "train:\n  algorithm: lgbm\n  instance_count: 3\n");
  // The leader reads the data, the workers slice its splits.
  CommandResult whole = Fraudops(dir, "run --json");
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const auto first = nlohmann::json::parse(whole.out);
  // Each worker reads a third of the file; no process holds all the rows.
  CommandResult parts = Fraudops(dir, "run --json", "FRAUDOPS_TRAIN_SHARDED=true");
  ASSERT_EQ(parts.exit_code, 0) << parts.err;
  const auto second = nlohmann::json::parse(parts.out);
  EXPECT_NE(parts.err.find("the workers read their parts"), std::string::npos) << parts.err;
  // A time split in parts takes the rows one split of the whole takes, the lgbm trainer's
  // bins are the same: the same model, so the same scores of the same test rows.
  ASSERT_GT(first["metrics"]["test"]["roc_auc"].get<double>(), 0.9) << first.dump();
  EXPECT_EQ(second["metrics"]["test"], first["metrics"]["test"]);
  EXPECT_EQ(second["metrics"]["validation"], first["metrics"]["validation"]);
  // The champion (the first run's version) scored this run's test rows on the workers.
  EXPECT_EQ(second["metrics"]["champion_gate"]["passed"], true) << second.dump();
  EXPECT_EQ(second["metrics"]["champion"]["test"]["roc_auc"], first["metrics"]["test"]["roc_auc"]);
  ASSERT_EQ(second["registered"]["version"], 2) << second.dump();

  const std::string run_id = second["execution_id"];
  const nlohmann::json bundle = RunFile(dir, run_id, "model/bundle.json");
  const nlohmann::json& shards = bundle["lineage"]["shards"];
  ASSERT_EQ(shards.size(), 3u) << bundle.dump();
  size_t rows = 0;
  for (size_t rank = 0; rank < 3; ++rank) {
    EXPECT_EQ(shards[rank]["rank"], rank);
    EXPECT_EQ(shards[rank]["part"]["kind"], "csv");
    EXPECT_EQ(shards[rank]["content_hash"].get<std::string>().size(), 64u);
    rows += shards[rank]["row_count"].get<size_t>();
  }
  EXPECT_EQ(shards[0]["part"]["bytes"][1], shards[1]["part"]["bytes"][0]);  // adjacent
  EXPECT_EQ(rows, 20000u);
  EXPECT_EQ(bundle["lineage"]["data_hash"], bundle["lineage"]["data_fingerprint"]);
  // The derived feature is part of the model's schema, computed wherever it scores.
  EXPECT_NE(bundle.dump().find("log(Amount + 1)"), std::string::npos);
  // The split's record: per part and set; the sets' sizes those of the whole's split.
  const nlohmann::json split = RunFile(dir, run_id, "processed/manifest.json");
  const nlohmann::json split_whole = RunFile(dir, first["execution_id"], "processed/manifest.json");
  ASSERT_EQ(split["parts"].size(), 3u) << split.dump();
  for (const char* set : {"train", "validation", "test"}) {
    EXPECT_EQ(split["splits"][set]["rows"], split_whole["splits"][set]["rows"]) << set;
    EXPECT_EQ(split["splits"][set]["positives"], split_whole["splits"][set]["positives"]) << set;
  }
  // Nothing held the whole data: no split was written as a file.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
    const std::string path = entry.path().string();
    EXPECT_FALSE(path.find(run_id) != std::string::npos &&
                 path.find("processed/") != std::string::npos && entry.path().extension() == ".fds")
        << path;
  }
  // The same steps, each with its time on the workers.
  ASSERT_EQ(second["steps"].size(), first["steps"].size());
  for (const auto& step : second["steps"]) {
    // Not configured: no tune, explain or bias step.
    const bool off = step["name"] == "tune" || step["name"] == "explain" || step["name"] == "bias";
    EXPECT_EQ(step["status"], off ? "skipped" : "succeeded") << step.dump();
  }
}

TEST(DistributedTrainTest, TrainShardedStopsBeforeTrainingOnWhatValidationFinds) {
  TempDir dir;
  // A column that copies the label: leakage, found by the workers together.
  std::string csv = "Time,V1,Leak,Amount,Class\n";
  for (int r = 0; r < 3000; ++r) {
    const int fraud = r % 50 == 7;
    csv += std::to_string(r) + "," + std::to_string((r * 37) % 101 / 10.0) + "," +
           std::to_string(fraud * 2 + 1) + "," + std::to_string(10 + r % 17) + "," +
           std::to_string(fraud) + "\n";
  }
  testing::WriteText(dir.File("data.csv"), csv);
  testing::WriteText(dir.File("config.yml"),
                     "preprocess:\n  data_source: data.csv\n"
                     "train:\n  instance_count: 2\n  sharded: true\n");
  CommandResult leak = Fraudops(dir, "run --json");
  EXPECT_EQ(leak.exit_code, 3) << leak.err;
  const auto run = nlohmann::json::parse(leak.out);
  EXPECT_EQ(run["steps"][1]["name"], "validate");
  EXPECT_EQ(run["steps"][1]["status"], "failed");
  EXPECT_NE(run["steps"][1]["error"].get<std::string>().find("column 'Leak' alone separates"),
            std::string::npos)
      << run.dump();
  EXPECT_EQ(run["steps"][4]["status"], "skipped");  // train
  EXPECT_EQ(nlohmann::json::parse(Fraudops(dir, "models list --json").out).size(), 0u);

  // Settings that cannot work say so before anything runs.
  testing::WriteText(dir.File("config.yml"),
                     "preprocess:\n  data_source: data.csv\ntrain:\n  sharded: true\n");
  CommandResult alone = Fraudops(dir, "run");
  EXPECT_NE(alone.exit_code, 0);
  EXPECT_NE(alone.err.find("train.sharded has each of the workers read its part of the data; it "
                           "needs train.instance_count 2 or more (got 1)"),
            std::string::npos)
      << alone.err;
  testing::WriteText(dir.File("config.yml"),
                     "preprocess:\n  data_source: data.csv\n"
                     "train:\n  instance_count: 2\n  sharded: true\nexplain:\n  enabled: true\n");
  CommandResult explain = Fraudops(dir, "run");
  EXPECT_NE(explain.exit_code, 0);
  EXPECT_NE(explain.err.find("train.sharded does not combine with explain.enabled yet"),
            std::string::npos)
      << explain.err;
  testing::WriteText(dir.File("config.yml"),
                     "preprocess:\n  data_source: synthetic\n"
                     "train:\n  instance_count: 2\n  sharded: true\n");
  CommandResult synthetic = Fraudops(dir, "run");
  EXPECT_NE(synthetic.exit_code, 0);
  EXPECT_NE(synthetic.err.find("train.sharded"), std::string::npos) << synthetic.err;
}

}  // namespace
}  // namespace fraudops
