#include "train/tracker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "../../tests/test_util.h"
#include "train/collective.h"

namespace fraudops {
namespace {

TEST(RabitLinksTest, TheTreeAndTheRingLinkEveryRankBothWays) {
  for (int n = 1; n <= 33; ++n) {
    const RabitLinks links = MakeRabitLinks(n);
    ASSERT_EQ(links.tree.size(), static_cast<size_t>(n));
    int roots = 0;
    for (int r = 0; r < n; ++r) {
      // The ring is 0, 1, …, n-1.
      EXPECT_EQ(links.ring[r].first, (r + n - 1) % n);
      EXPECT_EQ(links.ring[r].second, (r + 1) % n);
      // Tree links go both ways; the parent is a tree neighbour; each rank has at most
      // three (a parent and two children).
      EXPECT_LE(links.tree[r].size(), 3u);
      for (int neighbour : links.tree[r]) {
        const auto& back = links.tree[neighbour];
        EXPECT_NE(std::find(back.begin(), back.end(), r), back.end()) << n << ": " << r;
      }
      if (links.parent[r] == -1) {
        ++roots;
      } else {
        const auto& mine = links.tree[r];
        EXPECT_NE(std::find(mine.begin(), mine.end(), links.parent[r]), mine.end());
      }
    }
    EXPECT_EQ(roots, 1) << n;
    // Every rank reaches the root through parents (a tree, not a forest).
    for (int r = 0; r < n; ++r) {
      int at = r, steps = 0;
      while (links.parent[at] != -1 && steps++ <= n) at = links.parent[at];
      EXPECT_LE(steps, n) << n << ": a cycle from " << r;
    }
  }
}

/// A worker of libxgboost's collective in a child process: reads the run's config from a pipe,
/// joins it, sums its rank + 1 over all workers, takes rank 0's broadcast, and writes what it saw
/// to `out` ("rank sum broadcast"); exits 0 when every call succeeded. Forked before the tracker
/// starts: a child forked while the tracker's thread runs can inherit a lock that thread held
/// (the sanitizers' allocator's, seen as a child spinning forever) and hang.
struct ForkedWorker {
  pid_t pid = -1;
  int config_fd = -1;  // the parent's end of the pipe

  /// `config` is compact JSON: one line.
  void Send(std::string config) {
    config += '\n';
    size_t sent = 0;
    while (sent < config.size()) {
      const ssize_t n = ::write(config_fd, config.data() + sent, config.size() - sent);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    ::close(config_fd);
    config_fd = -1;
  }
};

ForkedWorker ForkWorker(const std::string& out) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid != 0) {
    ::close(fds[0]);
    return {pid, fds[1]};
  }
  ::close(fds[1]);
  // Up to the newline (the later workers hold copies of this pipe's write end: no EOF).
  std::string config;
  for (char c; ::read(fds[0], &c, 1) == 1 && c != '\n';) config += c;
  auto collective = Collective::Join(config);
  if (!collective.ok()) {
    testing::WriteText(out, collective.status().ToString());
    ::_exit(1);
  }
  std::vector<double> values = {static_cast<double>((*collective)->rank() + 1), 0.5};
  std::string message = (*collective)->rank() == 0 ? "from rank 0" : "";
  const bool ok = (*collective)->Sum(values).ok() && (*collective)->Broadcast(message, 0).ok();
  const std::string seen = std::to_string((*collective)->rank()) + " " +
                           std::to_string(static_cast<int>(values[0])) + " " +
                           std::to_string(values[1]) + " " + message;
  (*collective).reset();  // finalize: tells the tracker this worker is done
  testing::WriteText(out, seen);
  ::_exit(ok ? 0 : 1);
}

int ExitCode(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(TrackerTest, WorkersGetRanksByTaskIdAndReduceTogether) {
  testing::TempDir dir;
  std::vector<ForkedWorker> forked;
  for (int task = 0; task < 3; ++task) {
    forked.push_back(ForkWorker(dir.File("worker-" + std::to_string(task))));
    ASSERT_GT(forked.back().pid, 0);
  }
  auto tracker = Tracker::Start({.world_size = 3, .join_timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(tracker.ok()) << tracker.status().ToString();
  // Joining in reverse task order: the ranks still follow the task ids.
  for (int task = 2; task >= 0; --task) {
    forked[task].Send((*tracker)->WorkerConfig(std::to_string(task), 30));
  }
  for (const ForkedWorker& worker : forked) EXPECT_EQ(ExitCode(worker.pid), 0);
  EXPECT_TRUE((*tracker)->Wait().ok());
  for (int task = 0; task < 3; ++task) {
    // 1 + 2 + 3 = 6, 3 × 0.5, rank 0's message everywhere.
    EXPECT_EQ(testing::ReadText(dir.File("worker-" + std::to_string(task))),
              std::to_string(task) + " 6 1.500000 from rank 0");
  }
  const auto workers = (*tracker)->workers();
  ASSERT_EQ(workers.size(), 3u);
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_EQ(workers[rank].rank, rank);
    EXPECT_EQ(workers[rank].task_id, std::to_string(rank));
    EXPECT_EQ(workers[rank].host, "127.0.0.1");
  }
}

/// XGBoost's own Python package as the workers: the tracker speaks the protocol libxgboost
/// 1.7's Rabit expects (the compatibility the issue asks to prove against the real thing).
TEST(TrackerTest, XgboostsPythonWorkersJoinAndReduceThroughIt) {
  testing::TempDir dir;
  const bool ci = std::getenv("CI") != nullptr && *std::getenv("CI") != '\0';
  if (std::system("/usr/bin/python3 -c 'import xgboost.collective' >/dev/null 2>&1") != 0) {
    if (ci) FAIL() << "python3-xgboost is not installed under CI";
    GTEST_SKIP() << "python3-xgboost is not installed (scripts/install-deps.sh all)";
  }
  auto tracker = Tracker::Start({.world_size = 3, .join_timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(tracker.ok()) << tracker.status().ToString();
  const std::string script = dir.File("worker.py");
  testing::WriteText(script, R"(import json, sys
import numpy as np
import xgboost.collective as collective
collective.init(**json.loads(sys.argv[1]))
rank = collective.get_rank()
total = collective.allreduce(np.array([rank + 1.0, 2.0]), collective.Op.SUM)
largest = collective.allreduce(np.array([float(rank)]), collective.Op.MAX)
print("result", rank, collective.get_world_size(), int(total[0]), int(total[1]), int(largest[0]))
collective.finalize()
)");
  std::vector<pid_t> pids;
  for (int task : {1, 2, 0}) {
    const std::string config = (*tracker)->WorkerConfig(std::to_string(task), 30);
    const std::string out = dir.File("python-" + std::to_string(task));
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execl("/usr/bin/python3", "python3", script.c_str(), config.c_str(), nullptr);
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) EXPECT_EQ(ExitCode(pid), 0);
  EXPECT_TRUE((*tracker)->Wait().ok());
  for (int task = 0; task < 3; ++task) {
    // Its answer, after libxgboost's log ("task 2 got new rank 2").
    const std::string out = testing::ReadText(dir.File("python-" + std::to_string(task)));
    EXPECT_NE(out.find("result " + std::to_string(task) + " 3 6 6 2\n"), std::string::npos) << out;
  }
}

/// Connects to the tracker and sends `words` (32-bit integers), then keeps the connection.
int Connect(int port, const std::vector<int32_t>& words) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  for (int32_t word : words) EXPECT_EQ(::send(fd, &word, sizeof word, 0), 4);
  return fd;
}

TEST(TrackerTest, AWorkerThatNeverComesFailsTheJoinInBoundedTime) {
  auto tracker = Tracker::Start({.world_size = 2,
                                 .join_timeout = std::chrono::milliseconds(300),
                                 .io_timeout = std::chrono::milliseconds(200)});
  ASSERT_TRUE(tracker.ok());
  // Something that is not a worker connects (dropped, not fatal), then one real-looking
  // worker that says hello and waits for the second, which never comes.
  const int stranger = Connect((*tracker)->port(), {0x1234});
  const std::string task = "7", command = "start";
  const int lonely = Connect((*tracker)->port(), {0xff99});
  int32_t magic = 0;
  ASSERT_EQ(::recv(lonely, &magic, 4, MSG_WAITALL), 4);
  EXPECT_EQ(magic, 0xff99);
  for (int32_t word : {-1, -1, static_cast<int32_t>(task.size())}) ::send(lonely, &word, 4, 0);
  ::send(lonely, task.data(), task.size(), 0);
  const int32_t size = static_cast<int32_t>(command.size());
  ::send(lonely, &size, 4, 0);
  ::send(lonely, command.data(), command.size(), 0);
  const auto start = std::chrono::steady_clock::now();
  const Status status = (*tracker)->Wait();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("0 of 2 workers joined"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("task 7 waiting"), std::string::npos) << status.message();
  ::close(stranger);
  ::close(lonely);
}

TEST(TrackerTest, AWorkerExpectingAnotherWorldSizeIsRefused) {
  auto tracker = Tracker::Start({.world_size = 2, .io_timeout = std::chrono::milliseconds(500)});
  ASSERT_TRUE(tracker.ok());
  const int fd = Connect((*tracker)->port(), {0xff99});
  int32_t magic = 0;
  ASSERT_EQ(::recv(fd, &magic, 4, MSG_WAITALL), 4);
  for (int32_t word : {-1, 5, 1}) ::send(fd, &word, 4, 0);
  ::send(fd, "0", 1, 0);
  const int32_t size = 5;
  ::send(fd, &size, 4, 0);
  ::send(fd, "start", 5, 0);
  const Status status = (*tracker)->Wait();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("expects 5 workers; this run has 2"), std::string::npos)
      << status.message();
  ::close(fd);
}

TEST(TrackerTest, AnAddressWorkersCannotBeToldIsRefused) {
  for (const char* host : {"0.0.0.0", "collector", "::1"}) {
    auto tracker = Tracker::Start({.host = host, .world_size = 2});
    ASSERT_FALSE(tracker.ok()) << host;
    EXPECT_NE(tracker.status().message().find("IPv4 address"), std::string::npos);
  }
  EXPECT_FALSE(Tracker::Start({.world_size = 0}).ok());
}

TEST(TrackerTest, AWorkerAsksForItsJobByRank) {
  auto tracker = Tracker::Start({.world_size = 3,
                                 .join_timeout = std::chrono::seconds(60),
                                 .job = R"({"algorithm":"lgbm","train_file":"/data/train.fds"})",
                                 .link_timeout_seconds = 42});
  ASSERT_TRUE(tracker.ok()) << tracker.status().ToString();
  const int port = (*tracker)->port();
  auto job = FetchTrackerJob("127.0.0.1", port, 2, std::chrono::seconds(10));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  const auto json = nlohmann::json::parse(*job);
  EXPECT_EQ(json["algorithm"], "lgbm");
  EXPECT_EQ(json["train_file"], "/data/train.fds");
  // With the collective's settings for that task: its task id, the tracker, the timeout.
  const auto config = nlohmann::json::parse(json["config"].get<std::string>());
  EXPECT_EQ(config["DMLC_TASK_ID"], "2");
  EXPECT_EQ(config["DMLC_TRACKER_PORT"], port);
  EXPECT_EQ(config["rabit_timeout_sec"], 42);
  // A rank the run does not have is refused, by the tracker, in words.
  auto refused = FetchTrackerJob("127.0.0.1", port, 3, std::chrono::seconds(10));
  ASSERT_TRUE(refused.ok());
  EXPECT_NE(refused->find("rank 3 is not one of this run's ranks 0..2"), std::string::npos)
      << *refused;
  // Asking is not joining: the run still waits for its three workers.
  (*tracker)->Cancel();
  EXPECT_TRUE((*tracker)->workers().empty());

  auto plain = Tracker::Start({.world_size = 2});
  ASSERT_TRUE(plain.ok());
  auto none = FetchTrackerJob("127.0.0.1", (*plain)->port(), 0, std::chrono::seconds(10));
  ASSERT_TRUE(none.ok());
  EXPECT_NE(none->find("hands out no jobs"), std::string::npos) << *none;
}

TEST(TrackerTest, AJobMayCarryAModelOfSeveralMegabytes) {
  // A sharded pipeline run's job carries the champion's model (pipeline/sharded.h).
  const std::string model(5 << 20, 'm');
  auto tracker = Tracker::Start({.world_size = 2,
                                 .join_timeout = std::chrono::seconds(60),
                                 .job = nlohmann::json{{"model", model}}.dump()});
  ASSERT_TRUE(tracker.ok()) << tracker.status().ToString();
  auto job = FetchTrackerJob("127.0.0.1", (*tracker)->port(), 1, std::chrono::seconds(10));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(nlohmann::json::parse(*job)["model"].get<std::string>().size(), model.size());
  (*tracker)->Cancel();
}

TEST(TrackerTest, AskingATrackerThatIsNotThereFailsAfterTheTimeout) {
  // A port nothing listens on: bound, never listened to.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const auto started = std::chrono::steady_clock::now();
  auto job =
      FetchTrackerJob("127.0.0.1", ntohs(address.sin_port), 0, std::chrono::milliseconds(700));
  const auto took = std::chrono::steady_clock::now() - started;
  ::close(fd);
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("cannot reach the tracker at 127.0.0.1:"),
            std::string::npos)
      << job.status().message();
  EXPECT_LT(took, std::chrono::seconds(5));
  // A name that does not resolve: retried until the timeout, then said.
  auto unknown = FetchTrackerJob("tracker.invalid", 9091, 0, std::chrono::milliseconds(300));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("cannot resolve tracker.invalid"), std::string::npos)
      << unknown.status().message();
  EXPECT_FALSE(FetchTrackerJob("127.0.0.1", 0, 0, std::chrono::seconds(1)).ok());
}

TEST(TrackerTest, CancellingStopsTheWait) {
  auto tracker = Tracker::Start({.world_size = 2});
  ASSERT_TRUE(tracker.ok());
  (*tracker)->Cancel();
  EXPECT_FALSE((*tracker)->Wait().ok());
}

}  // namespace
}  // namespace fraudops
