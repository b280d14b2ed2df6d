#pragma once
/// Processes the server tests start: `fraudops serve` on a free port, a private redis-server
/// and PostgreSQL they may kill and restart, HAProxy; and polling for a condition instead of
/// sleeping.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http_client.h"
#include "test_util.h"

namespace fraudops::testing {

/// Polls `condition` every 50 ms for up to `seconds`.
template <typename F>
bool Eventually(F condition, double seconds = 20) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

/// `fraudops serve` as a child process.
class ServerProcess {
 public:
  /// `name` tells replicas of one workspace apart (their port and log files).
  /// Serves `dir`'s config.yml (or `config`).
  /// `port` 0: a free one.
  /// `command`: serve, or ui (the console alone).
  explicit ServerProcess(const TempDir& dir, const std::string& name = "serve",
                         const std::string& config = "config.yml", int port = 0,
                         const std::string& command = "serve")
      : log_file_(dir.File(name + ".log")) {
    const std::string port_file = dir.File(name + ".port");
    std::filesystem::remove(port_file);
    const std::string listen = "127.0.0.1:" + std::to_string(port);
    pid_ = ::fork();
    if (pid_ == 0) {
      int out = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execl(FRAUDOPS_BINARY, FRAUDOPS_BINARY, command.c_str(), "--config",
              dir.File(config).c_str(), "--listen", listen.c_str(), "--port-file",
              port_file.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::string text = ReadText(port_file);
      if (!text.empty())
        port_ = std::atoi(text.c_str());
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  /// A server still running is stopped and must exit cleanly (under scripts/tsan.sh a race
  /// found at shutdown makes it exit 66).
  ~ServerProcess() {
    if (pid_ > 0) {
      EXPECT_EQ(Stop(), 0) << log();
    }
  }
  int port() const { return port_; }
  std::string log() const { return ReadText(log_file_); }
  /// SIGTERM; the exit code (or -1).
  int Stop() {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }
  void Signal(int signal) { ::kill(pid_, signal); }
  /// SIGKILL, and reaps it.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
    exit_code_ = 0;
  }

 private:
  std::string log_file_;
  pid_t pid_ = 0;
  int port_ = 0;
  int exit_code_ = -1;
};

/// A free TCP port on loopback (bound and released: another process may take it first, which
/// the tests accept).
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

/// A private redis-server (the binary install-deps installs) on a free loopback port, so a
/// test can stop and restart it; no persistence.
class RedisProcess {
 public:
  explicit RedisProcess(int port = 0) : port_(port != 0 ? port : FreePort()) { Start(); }
  ~RedisProcess() { Kill(); }
  static bool Installed() { return ::system("command -v redis-server >/dev/null 2>&1") == 0; }
  int port() const { return port_; }
  bool ready() const { return ready_; }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  void Start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string port = std::to_string(port_);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ready_ = false;
    for (int i = 0; i < 200 && !ready_; ++i) {
      HttpClient probe(port_);  // a TCP connect is all readiness needs here
      ready_ = probe.Connect();
      if (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }

 private:
  int port_;
  pid_t pid_ = 0;
  bool ready_ = false;
};

/// A private PostgreSQL 15 cluster (Debian's binaries, as the postgres user when run as root)
/// on a free loopback port, so a test can restart it; trust authentication, no fsync.
class PostgresProcess {
 public:
  PostgresProcess() : port_(FreePort()) {
    root_ = dir_.File("pg");
    std::filesystem::create_directories(root_);
    std::filesystem::permissions(dir_.path(), std::filesystem::perms::all);
    if (::geteuid() == 0) Shell("chown postgres " + root_);
    ready_ = As("initdb -D " + root_ + "/data -U fraudops -A trust >" + root_ + "/initdb.log 2>&1");
    ready_ = ready_ && Start();
  }
  ~PostgresProcess() { Stop(); }
  static bool Installed() { return std::filesystem::exists(std::string(kBin) + "/initdb"); }
  bool ready() const { return ready_; }
  int port() const { return port_; }
  /// A database of this cluster.
  std::string Url(const std::string& database = "postgres") const {
    return "postgresql://fraudops@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }
  /// pg_ctl start -w: returns once it accepts connections.
  bool Start() {
    return As("pg_ctl -D " + root_ + "/data -l " + root_ + "/server.log -w -o \"-p " +
              std::to_string(port_) + " -k " + root_ +
              " -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null");
  }
  /// A fast shutdown (clients disconnected, as in a restart or failover).
  bool Stop() { return As("pg_ctl -D " + root_ + "/data -m fast -w stop >/dev/null 2>&1"); }
  std::string log() const { return ReadText(root_ + "/server.log"); }

 private:
  static constexpr const char* kBin = "/usr/lib/postgresql/15/bin";
  static bool Shell(const std::string& command) { return std::system(command.c_str()) == 0; }
  bool As(const std::string& command) const {
    const std::string full = std::string(kBin) + "/" + command;
    if (::geteuid() != 0) return Shell(full);
    return Shell("cd / && runuser -u postgres -- sh -c '" + full + "'");
  }
  TempDir dir_;
  std::string root_;
  int port_;
  bool ready_ = false;
};

/// A child process started with `argv` and extra environment variables; killed at the end.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv,
               const std::vector<std::pair<std::string, std::string>>& env,
               const std::string& log_file)
      : log_file_(log_file) {
    pid_ = ::fork();
    if (pid_ == 0) {
      for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
      int out = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(out, 1);
      ::dup2(out, 2);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~ChildProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  /// False once it exited.
  bool running() {
    if (pid_ <= 0) return false;
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = 0;
    return pid_ > 0;
  }
  std::string log() const { return ReadText(log_file_); }
  void Signal(int signal) {
    if (pid_ > 0) ::kill(pid_, signal);
  }
  /// Waits for it to exit: its exit code, or 128 + the signal that ended it.
  int Wait() {
    if (pid_ <= 0) return -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  std::string log_file_;
  pid_t pid_ = 0;
};

}  // namespace fraudops::testing
