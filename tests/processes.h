#pragma once
/// Processes the server tests start: `fraudops serve` on a free port, a private redis-server
/// they may kill and restart; and polling for a condition instead of sleeping.

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
  explicit ServerProcess(const TempDir& dir, const std::string& name = "serve",
                         const std::string& config = "config.yml")
      : log_file_(dir.File(name + ".log")) {
    const std::string port_file = dir.File(name + ".port");
    std::filesystem::remove(port_file);
    pid_ = ::fork();
    if (pid_ == 0) {
      int out = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execl(FRAUDOPS_BINARY, FRAUDOPS_BINARY, "serve", "--config", dir.File(config).c_str(),
              "--listen", "127.0.0.1:0", "--port-file", port_file.c_str(),
              static_cast<char*>(nullptr));
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

 private:
  std::string log_file_;
  pid_t pid_ = 0;
  int port_ = 0;
  int exit_code_ = -1;
};

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
  static int FreePort() {
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
  int port_;
  pid_t pid_ = 0;
  bool ready_ = false;
};

}  // namespace fraudops::testing
