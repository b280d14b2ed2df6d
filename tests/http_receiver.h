#pragma once
/// A one-thread HTTP/1.1 server on loopback for the tests of fraudops' outbound calls (alert
/// webhooks, the OTLP trace export and its connection): it serves one connection at a time
/// and keeps each request's first line, head and body. Either it answers the i-th request
/// with statuses[i] (the last one repeated) and closes the connection, or `answer(i)` gives
/// the bytes to send back — empty closes the connection without an answer — and the
/// connection stays open for the next request unless `close_after_answer`. Through OpenSSL
/// when given a server context.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fraudops::testing {

class HttpReceiver {
 public:
  using Answer = std::function<std::string(size_t index)>;

  explicit HttpReceiver(std::vector<int> statuses = {200})
      : HttpReceiver(
            [statuses = std::move(statuses)](size_t index) {
              const int status = statuses[std::min(index, statuses.size() - 1)];
              return "HTTP/1.1 " + std::to_string(status) +
                     " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            },
            nullptr, true) {}
  HttpReceiver(Answer answer, SSL_CTX* tls, bool close_after_answer)
      : answer_(std::move(answer)), tls_(tls), close_after_answer_(close_after_answer) {
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
    while (true) {
      const int client = ::accept(socket_, nullptr, nullptr);
      if (client < 0) return;
      SSL* ssl = nullptr;
      if (tls_ != nullptr) {
        ssl = SSL_new(tls_);
        SSL_set_fd(ssl, client);
        if (SSL_accept(ssl) != 1) {
          SSL_free(ssl);
          ::close(client);
          continue;
        }
      }
      std::string pending;
      // Until `pending` holds `bytes`; false when the client closed first.
      auto fill = [&](size_t bytes) {
        while (pending.size() < bytes) {
          char buffer[65536];
          const long got = ssl != nullptr ? SSL_read(ssl, buffer, sizeof buffer)
                                          : ::recv(client, buffer, sizeof buffer, 0);
          if (got <= 0) return false;
          pending.append(buffer, static_cast<size_t>(got));
        }
        return true;
      };
      while (true) {
        size_t head_end;
        while ((head_end = pending.find("\r\n\r\n")) == std::string::npos) {
          if (!fill(pending.size() + 1)) break;
        }
        if (head_end == std::string::npos) break;
        std::string head = pending.substr(0, head_end);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const size_t field = head.find("content-length:");
        const size_t length = field == std::string::npos ? 0 : std::stoul(head.substr(field + 15));
        if (!fill(head_end + 4 + length)) break;
        size_t index;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          request_lines_.push_back(pending.substr(0, pending.find("\r\n")));
          heads_.push_back(head);
          bodies_.push_back(pending.substr(head_end + 4, length));
          index = bodies_.size() - 1;
        }
        pending.erase(0, head_end + 4 + length);
        const std::string answer = answer_(index);
        if (answer.empty()) break;  // closed without an answer
        if (ssl != nullptr) {
          SSL_write(ssl, answer.data(), static_cast<int>(answer.size()));
        } else {
          ::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
        }
        if (close_after_answer_) break;
      }
      if (ssl != nullptr) SSL_free(ssl);
      ::close(client);
    }
  }

  Answer answer_;
  SSL_CTX* tls_;
  bool close_after_answer_;
  int socket_ = -1;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> bodies_, request_lines_, heads_;
  std::thread thread_;
};

}  // namespace fraudops::testing
