#pragma once
/// A one-thread HTTP server on loopback for the tests of fraudops' outbound calls (alert
/// webhooks, the OTLP trace export): it answers the i-th request with statuses[i] (the last
/// one repeated) and keeps each request's first line and body.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fraudops::testing {

class HttpReceiver {
 public:
  explicit HttpReceiver(std::vector<int> statuses = {200}) : statuses_(std::move(statuses)) {
    socket_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(socket_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    ::listen(socket_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~HttpReceiver() {
    stop_ = true;
    ::shutdown(socket_, SHUT_RDWR);
    ::close(socket_);
    thread_.join();
  }
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<std::string> bodies() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bodies_;
  }
  /// The request line and headers of each request, lowercased.
  std::vector<std::string> heads() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return heads_;
  }
  /// "POST /path HTTP/1.1" of each request.
  std::vector<std::string> request_lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return request_lines_;
  }

 private:
  void Serve() {
    while (!stop_) {
      int client = ::accept(socket_, nullptr, nullptr);
      if (client < 0) return;
      std::string request, head;
      char buffer[65536];
      size_t body_at = std::string::npos, length = 0;
      while (true) {
        ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
        if (got <= 0) break;
        request.append(buffer, static_cast<size_t>(got));
        if (body_at == std::string::npos &&
            (body_at = request.find("\r\n\r\n")) != std::string::npos) {
          head = request.substr(0, body_at);
          for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          body_at += 4;
          size_t header = head.find("content-length:");
          if (header != std::string::npos) length = std::stoul(head.substr(header + 15));
        }
        if (body_at != std::string::npos && request.size() >= body_at + length) break;
      }
      size_t count = 0;
      if (body_at != std::string::npos) {
        std::lock_guard<std::mutex> lock(mutex_);
        request_lines_.push_back(request.substr(0, request.find("\r\n")));
        bodies_.push_back(request.substr(body_at, length));
        heads_.push_back(head);
        count = bodies_.size();
      }
      const int status = statuses_[std::min(count == 0 ? 0 : count - 1, statuses_.size() - 1)];
      std::string answer = "HTTP/1.1 " + std::to_string(status) +
                           " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      ::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }
  std::vector<int> statuses_;
  int socket_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> bodies_, request_lines_, heads_;
  std::thread thread_;
};

}  // namespace fraudops::testing
