#pragma once
/// A small blocking HTTP/1.1 client for the server tests: keep-alive, Content-Length bodies,
/// and raw writes (for malformed and slow requests). Not for production use.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace fraudops::testing {

struct HttpReply {
  int status = 0;                              ///< 0: no response (connection closed or timed out)
  std::map<std::string, std::string> headers;  ///< names lowercased
  std::string body;
};

class HttpClient {
 public:
  explicit HttpClient(int port) : port_(port) {}
  ~HttpClient() { Close(); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpReply Request(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT")
      request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    request += "\r\n" + body;
    for (int attempt = 0; attempt < 2;
         ++attempt) {  // a kept-alive connection the server closed: reconnect once
      if (!Connected() && !Connect()) return {};
      if (!SendAll(request)) {
        Close();
        continue;
      }
      HttpReply reply = ReadReply(10000);
      if (reply.status == 0 && attempt == 0 && buffer_.empty()) {
        Close();
        continue;
      }
      return reply;
    }
    return {};
  }

  bool Connect() {
    Close();
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port_));
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      Close();
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
  }
  bool Connected() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buffer_.clear();
  }
  bool SendAll(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  /// Reads one response (status 0 when the connection closes or nothing comes in time).
  HttpReply ReadReply(int timeout_ms) {
    HttpReply reply;
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(timeout_ms)) return reply;
    }
    std::string head = buffer_.substr(0, header_end);
    buffer_.erase(0, header_end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    reply.status = std::atoi(status_line.substr(9, 3).c_str());
    size_t position = line_end == std::string::npos ? head.size() : line_end + 2;
    while (position < head.size()) {
      size_t next = head.find("\r\n", position);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(position, next - position);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        reply.headers[name] = value;
      }
      position = next + 2;
    }
    size_t length =
        reply.headers.count("content-length") ? std::stoul(reply.headers["content-length"]) : 0;
    while (buffer_.size() < length) {
      if (!Fill(timeout_ms)) {
        reply.status = 0;
        return reply;
      }
    }
    reply.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    if (reply.headers["connection"] == "close") Close();
    return reply;
  }
  /// True when the server closed the connection within `timeout_ms`.
  bool WaitForClose(int timeout_ms) {
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return false;
      char c[256];
      ssize_t n = ::recv(fd_, c, sizeof c, 0);
      if (n <= 0) return true;
      buffer_.append(c, static_cast<size_t>(n));
    }
  }

 private:
  bool Fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      ::close(fd_);
      fd_ = -1;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int port_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace fraudops::testing
