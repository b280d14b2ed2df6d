#include "train/tracker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <utility>

namespace fraudops {

namespace {

constexpr int32_t kMagic = 0xff99;  ///< both ends send it first
constexpr int32_t kMaxString = 1 << 20;
/// A job may carry a model (a sharded pipeline run's champion, pipeline/sharded.h).
constexpr int32_t kMaxJob = 1 << 28;
/// The hello command of a fraudops worker asking for its job (not part of Rabit's protocol).
constexpr char kJobCommand[] = "fraudops-job";
/// The hello command of a fraudops worker's liveness connection, kept open while it lives.
constexpr char kAliveCommand[] = "fraudops-alive";

using SteadyClock = std::chrono::steady_clock;

std::string ErrnoText() { return std::strerror(errno); }

/// One worker's connection: blocking reads and writes, each bounded by the tracker's
/// io_timeout; a peer that stalls or hangs up is an error naming it.
class Connection {
 public:
  Connection(int fd, std::string peer, std::chrono::milliseconds timeout)
      : fd_(fd), peer_(std::move(peer)), timeout_(timeout) {}
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& peer() const { return peer_; }
  int fd() const { return fd_; }
  /// The descriptor, no longer closed by this connection.
  int Release() { return std::exchange(fd_, -1); }

  Result<int32_t> ReadInt() {
    int32_t value = 0;
    FOPS_RETURN_IF_ERROR(Read(&value, sizeof value));
    return value;
  }
  Result<std::string> ReadString(int32_t max = kMaxString) {
    FOPS_ASSIGN_OR_RETURN(const int32_t size, ReadInt());
    if (size < 0 || size > max) {
      return Status::DataError("worker " + peer_ + " sent a string of " + std::to_string(size) +
                               " bytes (at most " + std::to_string(max) + ")");
    }
    std::string value(static_cast<size_t>(size), '\0');
    FOPS_RETURN_IF_ERROR(Read(value.data(), value.size()));
    return value;
  }
  Status WriteInt(int32_t value) { return Write(&value, sizeof value); }
  Status WriteString(std::string_view value) {
    FOPS_RETURN_IF_ERROR(WriteInt(static_cast<int32_t>(value.size())));
    return Write(value.data(), value.size());
  }

 private:
  Status WaitFor(short events) {
    pollfd entry = {fd_, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(timeout_.count()));
    if (ready == 0) {
      return Status::IoError("worker " + peer_ + " did not answer within " +
                             std::to_string(timeout_.count()) + " ms");
    }
    if (ready < 0 && errno != EINTR) return Status::IoError("poll: " + ErrnoText());
    return Status::Ok();
  }
  Status Read(void* data, size_t size) {
    auto* at = static_cast<char*>(data);
    while (size > 0) {
      FOPS_RETURN_IF_ERROR(WaitFor(POLLIN));
      const ssize_t got = ::recv(fd_, at, size, MSG_DONTWAIT);
      if (got == 0) return Status::IoError("worker " + peer_ + " closed the connection");
      if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return Status::IoError("reading from worker " + peer_ + ": " + ErrnoText());
      }
      at += got;
      size -= static_cast<size_t>(got);
    }
    return Status::Ok();
  }
  Status Write(const void* data, size_t size) {
    const auto* at = static_cast<const char*>(data);
    while (size > 0) {
      FOPS_RETURN_IF_ERROR(WaitFor(POLLOUT));
      const ssize_t sent = ::send(fd_, at, size, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return Status::IoError("writing to worker " + peer_ + ": " + ErrnoText());
      }
      at += sent;
      size -= static_cast<size_t>(sent);
    }
    return Status::Ok();
  }

  int fd_;
  std::string peer_;
  std::chrono::milliseconds timeout_;
};

/// What a worker says when it connects.
struct Hello {
  int32_t rank = -1, world_size = -1;
  std::string task_id, command;
};

/// Task ids in natural order: numbers by value (2 before 10), then other ids as text.
bool TaskBefore(const std::string& a, const std::string& b) {
  auto number = [](const std::string& text) -> std::optional<long long> {
    long long value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  };
  const auto x = number(a), y = number(b);
  if (x && y) return *x < *y;
  if (x.has_value() != y.has_value()) return x.has_value();
  return a < b;
}

/// The tree's depth-first order from `rank`, the last child's subtree reversed, so that
/// consecutive ranks of the order are mostly tree neighbours.
void RingOrder(const std::vector<std::vector<int>>& tree, const std::vector<int>& parent, int rank,
               std::vector<int>& out) {
  out.push_back(rank);
  std::vector<int> children;
  for (int neighbour : tree[rank]) {
    if (neighbour != parent[rank]) children.push_back(neighbour);
  }
  for (size_t i = 0; i < children.size(); ++i) {
    std::vector<int> sub;
    RingOrder(tree, parent, children[i], sub);
    if (i + 1 == children.size()) std::reverse(sub.begin(), sub.end());
    out.insert(out.end(), sub.begin(), sub.end());
  }
}

}  // namespace

RabitLinks MakeRabitLinks(int world_size) {
  const int n = world_size;
  std::vector<std::vector<int>> tree(n);
  std::vector<int> parent(n);
  for (int r = 0; r < n; ++r) {
    // A binary heap over ranks: parent (r+1)/2-1, children 2r+1 and 2r+2.
    if (r > 0) tree[r].push_back((r + 1) / 2 - 1);
    if (2 * r + 1 < n) tree[r].push_back(2 * r + 1);
    if (2 * r + 2 < n) tree[r].push_back(2 * r + 2);
    parent[r] = (r + 1) / 2 - 1;
  }
  std::vector<int> order;
  RingOrder(tree, parent, 0, order);
  // Renumber so that the ring is 0, 1, …, n-1: position in the order is the new rank.
  std::vector<int> renamed(n);
  for (int i = 0; i < n; ++i) renamed[order[i]] = i;
  RabitLinks links;
  links.tree.resize(n);
  links.parent.assign(n, -1);
  links.ring.resize(n);
  for (int r = 0; r < n; ++r) {
    for (int neighbour : tree[r]) links.tree[renamed[r]].push_back(renamed[neighbour]);
    links.parent[renamed[r]] = parent[r] < 0 ? -1 : renamed[parent[r]];
  }
  for (int r = 0; r < n; ++r) links.ring[r] = {(r + n - 1) % n, (r + 1) % n};
  return links;
}

Result<std::unique_ptr<Tracker>> Tracker::Start(TrackerOptions options) {
  if (options.world_size < 1) {
    return Status::InvalidArgument("a training run needs at least one worker (got " +
                                   std::to_string(options.world_size) + ")");
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(options.port));
  if (::inet_pton(AF_INET, options.host.c_str(), &address.sin_addr) != 1 ||
      address.sin_addr.s_addr == htonl(INADDR_ANY)) {
    return Status::InvalidArgument("tracker host '" + options.host +
                                   "': expected the IPv4 address workers reach it at (e.g. "
                                   "10.0.0.5; not 0.0.0.0, workers are told this address)");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError("socket: " + ErrnoText());
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, 256) != 0) {
    const std::string error = ErrnoText();
    ::close(fd);
    return Status::IoError("tracker cannot listen on " + options.host + ":" +
                           std::to_string(options.port) + ": " + error);
  }
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    ::close(fd);
    return Status::IoError("eventfd: " + ErrnoText());
  }
  return std::unique_ptr<Tracker>(
      new Tracker(std::move(options), fd, ntohs(address.sin_port), wake));
}

Tracker::Tracker(TrackerOptions options, int listen_fd, int port, int wake_fd)
    : options_(std::move(options)),
      listen_fd_(listen_fd),
      port_(port),
      wake_fd_(wake_fd),
      done_changed_(&mutex_) {
  thread_ = std::thread([this] { Serve(); });
}

Tracker::~Tracker() {
  Cancel();
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void Tracker::Cancel() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
}

std::string Tracker::WorkerConfig(const std::string& task_id, int timeout_seconds) const {
  nlohmann::json config = {{"dmlc_communicator", "rabit"},
                           {"DMLC_TRACKER_URI", options_.host},
                           {"DMLC_TRACKER_PORT", port_},
                           {"DMLC_TASK_ID", task_id},
                           {"rabit_world_size", options_.world_size},
                           {"rabit_timeout", 1},
                           {"rabit_timeout_sec", timeout_seconds},
                           {"rabit_enable_tcp_no_delay", "true"}};  // libxgboost compares to "true"
  return config.dump();
}

std::string Tracker::JobFor(const std::string& task_id) const {
  const int n = options_.world_size;
  long long task = -1;
  auto [end, error] = std::from_chars(task_id.data(), task_id.data() + task_id.size(), task);
  if (options_.job.empty())
    return nlohmann::json{{"error", "this tracker hands out no jobs"}}.dump();
  if (error != std::errc() || end != task_id.data() + task_id.size() || task < 0 || task >= n) {
    return nlohmann::json{{"error", "rank " + task_id + " is not one of this run's ranks 0.." +
                                        std::to_string(n - 1)}}
        .dump();
  }
  nlohmann::json job = nlohmann::json::parse(options_.job, nullptr, false);
  if (!job.is_object()) return nlohmann::json{{"error", "the leader's job is not JSON"}}.dump();
  job["config"] = WorkerConfig(task_id, options_.link_timeout_seconds);
  return job.dump();
}

namespace {

/// A connection to the tracker at host:port (an IPv4 address or a name, resolved now), or
/// why there is none (the caller may try again).
Result<std::unique_ptr<Connection>> ConnectToTracker(const std::string& host, int port,
                                                     std::chrono::milliseconds io_timeout) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int resolved = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (resolved != 0 || found == nullptr) {
    if (found != nullptr) ::freeaddrinfo(found);
    return Status::IoError("cannot resolve " + host + ": " + ::gai_strerror(resolved));
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool connected = fd >= 0 && ::connect(fd, found->ai_addr, found->ai_addrlen) == 0;
  const std::string error = connected ? "" : ErrnoText();
  ::freeaddrinfo(found);
  if (!connected) {
    if (fd >= 0) ::close(fd);
    return Status::IoError(error);
  }
  return std::make_unique<Connection>(fd, host + ":" + std::to_string(port), io_timeout);
}

/// A fraudops worker's hello: task `task`, no rank or world size yet, `command`.
Status Greet(Connection& tracker, int task, const char* command) {
  FOPS_RETURN_IF_ERROR(tracker.WriteInt(kMagic));
  FOPS_ASSIGN_OR_RETURN(const int32_t magic, tracker.ReadInt());
  if (magic != kMagic) return Status::DataError(tracker.peer() + " is not a training tracker");
  FOPS_RETURN_IF_ERROR(tracker.WriteInt(-1));  // rank: not yet
  FOPS_RETURN_IF_ERROR(tracker.WriteInt(-1));  // world size: the tracker's
  FOPS_RETURN_IF_ERROR(tracker.WriteString(std::to_string(task)));
  return tracker.WriteString(command);
}

}  // namespace

WorkerLiveness WorkerLiveness::Open(const std::string& host, int port, int task) {
  auto tracker = ConnectToTracker(host, port, std::chrono::seconds(10));
  if (!tracker.ok() || !Greet(**tracker, task, kAliveCommand).ok()) return WorkerLiveness();
  return WorkerLiveness((*tracker)->Release());
}

WorkerLiveness::~WorkerLiveness() {
  if (fd_ >= 0) ::close(fd_);
}

Status PrintToTracker(const std::string& host, int port, int task, const std::string& message,
                      std::chrono::milliseconds io_timeout) {
  FOPS_ASSIGN_OR_RETURN(std::unique_ptr<Connection> tracker,
                        ConnectToTracker(host, port, io_timeout));
  FOPS_RETURN_IF_ERROR(Greet(*tracker, task, "print"));
  return tracker->WriteString(message);
}

Result<std::string> FetchTrackerJob(const std::string& host, int port, int task,
                                    std::chrono::milliseconds timeout,
                                    std::chrono::milliseconds io_timeout) {
  if (port <= 0 || port > 65535 || host.empty()) {
    return Status::InvalidArgument("tracker '" + host + ":" + std::to_string(port) +
                                   "': expected HOST:PORT, e.g. 10.0.0.5:9091");
  }
  const std::string where = host + ":" + std::to_string(port);
  const auto deadline = SteadyClock::now() + timeout;
  auto pause = std::chrono::milliseconds(100);
  while (true) {
    // A name (a Kubernetes pod's DNS name) is resolved on every attempt: it may appear late.
    auto tracker = ConnectToTracker(host, port, io_timeout);
    if (tracker.ok()) {
      Result<std::string> job = [&]() -> Result<std::string> {
        FOPS_RETURN_IF_ERROR(Greet(**tracker, task, kJobCommand));
        return (*tracker)->ReadString(kMaxJob);
      }();
      if (!job.ok()) {
        return Status::IoError("asking the tracker at " + where +
                               " for a job: " + job.status().message());
      }
      return job;
    }
    if (SteadyClock::now() + pause > deadline) {
      return Status::IoError("cannot reach the tracker at " + where + " within " +
                             std::to_string(timeout.count() / 1000) +
                             " s: " + tracker.status().message());
    }
    // The tracker may not listen yet (its leader starts later, or restarts for a retry).
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

Status Tracker::Wait() {
  MutexLock lock(&mutex_);
  while (!done_) done_changed_.Wait();
  return result_;
}

std::vector<Tracker::Worker> Tracker::workers() const {
  MutexLock lock(&mutex_);
  return workers_;
}

std::vector<Tracker::Worker> Tracker::lost() const {
  MutexLock lock(&mutex_);
  return lost_;
}

void Tracker::Serve() {
  Status status = ServeLoop();
  if (!status.ok() && options_.logger) {
    options_.logger->Error("train", "the tracker stopped", {{"error", status.message()}});
  }
  MutexLock lock(&mutex_);
  result_ = std::move(status);
  done_ = true;
  done_changed_.SignalAll();
}

Status Tracker::ServeLoop() {
  const int n = options_.world_size;
  const RabitLinks links = MakeRabitLinks(n);
  const auto join_deadline = SteadyClock::now() + options_.join_timeout;

  // A worker with a rank whose peers will still connect to it: where it listens, and how
  // many are still to come.
  struct Waiting {
    std::string host;
    int32_t port = 0;
    int accepts = 0;
  };
  std::map<int, Waiting> waiting;
  std::map<std::string, int> rank_of_task;
  std::set<int> started, shut_down;
  std::vector<int> unassigned(n);
  for (int r = 0; r < n; ++r) unassigned[r] = r;
  struct Pending {
    std::unique_ptr<Connection> connection;
    Hello hello;
  };
  std::vector<Pending> pending;
  // Liveness connections of fraudops workers: task id and host by descriptor.
  std::map<int, std::unique_ptr<Connection>> alive;
  std::map<int, std::string> alive_task;

  // Tells a worker its rank and links, then brokers its connections to the peers that
  // already listen (the others will connect to it).
  auto assign = [&](Connection& worker, const Hello& hello, int rank) -> Status {
    std::set<int> neighbours(links.tree[rank].begin(), links.tree[rank].end());
    FOPS_RETURN_IF_ERROR(worker.WriteInt(rank));
    FOPS_RETURN_IF_ERROR(worker.WriteInt(links.parent[rank]));
    FOPS_RETURN_IF_ERROR(worker.WriteInt(n));
    FOPS_RETURN_IF_ERROR(worker.WriteInt(static_cast<int32_t>(neighbours.size())));
    for (int r : neighbours) FOPS_RETURN_IF_ERROR(worker.WriteInt(r));
    for (int r : {links.ring[rank].first, links.ring[rank].second}) {
      const bool linked = r != -1 && r != rank;
      if (linked) neighbours.insert(r);
      FOPS_RETURN_IF_ERROR(worker.WriteInt(linked ? r : -1));
    }
    while (true) {
      FOPS_ASSIGN_OR_RETURN(const int32_t good_count, worker.ReadInt());
      if (good_count < 0 || good_count > n) {
        return Status::DataError("worker " + worker.peer() + " reported " +
                                 std::to_string(good_count) + " working links");
      }
      std::set<int> bad = neighbours;
      for (int32_t i = 0; i < good_count; ++i) {
        FOPS_ASSIGN_OR_RETURN(const int32_t good, worker.ReadInt());
        if (!neighbours.contains(good)) {
          return Status::DataError("worker " + worker.peer() + " reported a link to rank " +
                                   std::to_string(good) + ", not one of its neighbours");
        }
        bad.erase(good);
      }
      std::vector<int> connect_to;
      for (int r : bad) {
        if (waiting.contains(r)) connect_to.push_back(r);
      }
      FOPS_RETURN_IF_ERROR(worker.WriteInt(static_cast<int32_t>(connect_to.size())));
      FOPS_RETURN_IF_ERROR(worker.WriteInt(static_cast<int32_t>(bad.size() - connect_to.size())));
      for (int r : connect_to) {
        FOPS_RETURN_IF_ERROR(worker.WriteString(waiting[r].host));
        FOPS_RETURN_IF_ERROR(worker.WriteInt(waiting[r].port));
        FOPS_RETURN_IF_ERROR(worker.WriteInt(r));
      }
      FOPS_ASSIGN_OR_RETURN(const int32_t errors, worker.ReadInt());
      if (errors != 0) continue;  // it could not reach some: it reports again, we retry
      FOPS_ASSIGN_OR_RETURN(const int32_t port, worker.ReadInt());
      for (int r : connect_to) {
        if (--waiting[r].accepts == 0) waiting.erase(r);
      }
      const int accepts = static_cast<int>(bad.size() - connect_to.size());
      if (accepts > 0) waiting[rank] = {worker.peer(), port, accepts};
      break;
    }
    started.insert(rank);
    {
      MutexLock lock(&mutex_);
      auto at = std::find_if(workers_.begin(), workers_.end(),
                             [rank](const Worker& w) { return w.rank == rank; });
      if (at == workers_.end()) at = workers_.insert(workers_.end(), Worker{});
      *at = {rank, hello.task_id, worker.peer()};
      std::sort(workers_.begin(), workers_.end(),
                [](const Worker& a, const Worker& b) { return a.rank < b.rank; });
    }
    if (options_.logger) {
      options_.logger->Info("train", "worker joined",
                            {{"rank", rank}, {"task", hello.task_id}, {"host", worker.peer()}});
    }
    return Status::Ok();
  };

  while (static_cast<int>(shut_down.size()) < n) {
    // Until every worker has started, the join deadline bounds the wait; after, training
    // runs as long as it runs (the workers' own timeouts watch their links).
    int wait_ms = -1;
    if (static_cast<int>(started.size()) < n) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(join_deadline - SteadyClock::now());
      if (left.count() <= 0) {
        std::vector<std::string> missing;
        for (const Pending& p : pending) missing.push_back("task " + p.hello.task_id + " waiting");
        std::string text;
        for (const std::string& m : missing) text += (text.empty() ? "" : ", ") + m;
        return Status::IoError(std::to_string(started.size()) + " of " + std::to_string(n) +
                               " workers joined within " +
                               std::to_string(options_.join_timeout.count()) + " ms" +
                               (pending.empty() ? "" : " (" + text + " for the others)") +
                               ": a worker did not start or cannot reach the tracker at " +
                               options_.host + ":" + std::to_string(port_));
      }
      wait_ms = static_cast<int>(left.count());
    }
    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    for (const auto& [fd, connection] : alive) fds.push_back({fd, POLLIN, 0});
    const int ready = ::poll(fds.data(), fds.size(), wait_ms);
    if (ready < 0 && errno != EINTR) return Status::IoError("poll: " + ErrnoText());
    if (fds[1].revents & POLLIN) return Status::Internal("the tracker was cancelled");
    // A worker that finishes sends `shutdown` before its liveness connection closes: while a
    // connection waits to be accepted, closures wait (they stay readable) so that it is seen.
    const bool accepting = ready > 0 && (fds[0].revents & POLLIN);
    for (size_t i = 2; ready > 0 && !accepting && i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      // A liveness connection says nothing: readable means closed (or broken).
      char byte = 0;
      if (::recv(fds[i].fd, &byte, 1, MSG_DONTWAIT) > 0) continue;
      const std::string task = alive_task[fds[i].fd];
      const int rank = rank_of_task.contains(task) ? rank_of_task[task] : -1;
      const std::string host = alive[fds[i].fd]->peer();
      if (rank < 0 || !shut_down.contains(rank)) {
        {
          MutexLock lock(&mutex_);
          lost_.push_back({rank, task, host});
        }
        if (options_.logger) {
          options_.logger->Error("train", "a worker disconnected before finishing",
                                 {{"rank", rank}, {"task", task}, {"host", host}});
        }
      }
      alive_task.erase(fds[i].fd);
      alive.erase(fds[i].fd);
    }
    if (ready <= 0 || !(fds[0].revents & POLLIN)) continue;

    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    if (fd < 0) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
    auto connection = std::make_unique<Connection>(fd, text, options_.io_timeout);

    // The greeting. A connection that is not a worker (a port scanner, a health check) is
    // logged and dropped; it does not fail the run.
    Hello hello;
    Status greeting = [&]() -> Status {
      FOPS_ASSIGN_OR_RETURN(const int32_t magic, connection->ReadInt());
      if (magic != kMagic) {
        return Status::DataError("not a collective worker (it sent " + std::to_string(magic) +
                                 ", workers send " + std::to_string(kMagic) + ")");
      }
      FOPS_RETURN_IF_ERROR(connection->WriteInt(kMagic));
      FOPS_ASSIGN_OR_RETURN(hello.rank, connection->ReadInt());
      FOPS_ASSIGN_OR_RETURN(hello.world_size, connection->ReadInt());
      FOPS_ASSIGN_OR_RETURN(hello.task_id, connection->ReadString());
      FOPS_ASSIGN_OR_RETURN(hello.command, connection->ReadString());
      return Status::Ok();
    }();
    if (!greeting.ok()) {
      if (options_.logger) {
        options_.logger->Warn("train", "the tracker dropped a connection",
                              {{"peer", connection->peer()}, {"error", greeting.message()}});
      }
      continue;
    }
    if (hello.command == "print") {
      FOPS_ASSIGN_OR_RETURN(std::string message, connection->ReadString());
      while (!message.empty() && (message.back() == '\n' || message.back() == '\r'))
        message.pop_back();
      if (options_.logger) {
        options_.logger->Info("train", message, {{"worker", hello.task_id}});
      }
      continue;
    }
    if (hello.command == kJobCommand) {
      const std::string job = JobFor(hello.task_id);
      Status sent = connection->WriteString(job);
      if (options_.logger) {
        options_.logger->Info("train", "a worker asked for its job",
                              {{"task", hello.task_id},
                               {"host", connection->peer()},
                               {"sent", sent.ok()},
                               {"refused", job.find("\"error\"") != std::string::npos}});
      }
      continue;
    }
    if (hello.command == kAliveCommand) {
      const int alive_fd = connection->fd();
      alive_task[alive_fd] = hello.task_id;
      alive[alive_fd] = std::move(connection);
      continue;
    }
    if (hello.command == "shutdown") {
      if (hello.rank < 0 || hello.rank >= n) {
        return Status::DataError("worker " + connection->peer() + " shut down with rank " +
                                 std::to_string(hello.rank) + " (ranks are 0.." +
                                 std::to_string(n - 1) + ")");
      }
      shut_down.insert(hello.rank);
      continue;
    }
    if (hello.command != "start" && hello.command != "recover") {
      return Status::DataError("worker " + connection->peer() + " sent the command '" +
                               hello.command + "' (expected start, recover, print, shutdown)");
    }
    if (hello.world_size > 0 && hello.world_size != n) {
      return Status::InvalidArgument("worker " + connection->peer() + " (task " + hello.task_id +
                                     ") expects " + std::to_string(hello.world_size) +
                                     " workers; this run has " + std::to_string(n));
    }
    int rank = hello.rank;
    if (rank < 0 && hello.task_id != "NULL") {
      if (auto known = rank_of_task.find(hello.task_id); known != rank_of_task.end())
        rank = known->second;
    }
    if (rank >= n) {
      return Status::DataError("worker " + connection->peer() + " asked for rank " +
                               std::to_string(rank) + " of " + std::to_string(n));
    }
    if (rank >= 0) {
      std::erase(unassigned, rank);
      FOPS_RETURN_IF_ERROR(assign(*connection, hello, rank));
      continue;
    }
    // Ranks are handed out once every worker without one has come, in task-id order: the
    // same tasks get the same ranks whatever order they connect in.
    if (hello.task_id != "NULL" &&
        std::any_of(pending.begin(), pending.end(),
                    [&](const Pending& p) { return p.hello.task_id == hello.task_id; })) {
      // Two workers for one task (a worker started twice): the first one keeps it.
      if (options_.logger) {
        options_.logger->Warn("train", "the tracker dropped a second worker for one task",
                              {{"task", hello.task_id}, {"host", connection->peer()}});
      }
      continue;
    }
    pending.push_back({std::move(connection), std::move(hello)});
    if (pending.size() < unassigned.size()) continue;
    std::stable_sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
      return TaskBefore(a.hello.task_id, b.hello.task_id);
    });
    for (Pending& p : pending) {
      const int next = unassigned.front();
      unassigned.erase(unassigned.begin());
      if (p.hello.task_id != "NULL") rank_of_task[p.hello.task_id] = next;
      FOPS_RETURN_IF_ERROR(assign(*p.connection, p.hello, next));
    }
    pending.clear();
    if (options_.logger) options_.logger->Info("train", "all workers started", {{"workers", n}});
  }
  return Status::Ok();
}

}  // namespace fraudops
