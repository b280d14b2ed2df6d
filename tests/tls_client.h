#pragma once
/// A small blocking HTTPS client for the TLS tests (OpenSSL): a chosen protocol range, an
/// optional client certificate, keep-alive requests with Content-Length bodies, and what
/// was negotiated. Not for production use.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "http_client.h"

namespace fraudops::testing {

struct TlsClientOptions {
  std::string ca_file = {};    ///< the server's certificate must chain to it
  std::string cert_file = {};  ///< a client certificate (empty: none)
  std::string key_file = {};
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  /// Lets the client offer protocols OpenSSL's default security level forbids (TLS 1.1),
  /// to see that the server refuses them.
  bool allow_legacy = false;
};

class TlsClient {
 public:
  TlsClient(int port, TlsClientOptions options) : port_(port), options_(std::move(options)) {}
  ~TlsClient() { Close(); }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  /// TCP connect and TLS handshake; false with `error()` set when either fails.
  bool Connect() {
    Close();
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, options_.min_version);
    SSL_CTX_set_max_proto_version(ctx_, options_.max_version);
    if (options_.allow_legacy) SSL_CTX_set_cipher_list(ctx_, "DEFAULT:@SECLEVEL=0");
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_, options_.ca_file.c_str(), nullptr) != 1)
      return Fail("cannot load " + options_.ca_file);
    if (!options_.cert_file.empty() &&
        (SSL_CTX_use_certificate_chain_file(ctx_, options_.cert_file.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx_, options_.key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
      return Fail("cannot load the client certificate");
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port_));
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      return Fail("cannot connect");
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set1_host(ssl_, "127.0.0.1");
    SSL_set_tlsext_host_name(ssl_, "localhost");
    if (SSL_connect(ssl_) != 1) return Fail("handshake failed");
    return true;
  }

  /// One request on the connection; status 0 when no response came (e.g. the server
  /// refused the client's certificate after the TLS 1.3 handshake).
  HttpReply Request(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    if (!Write(FormatRequest(method, target, body, headers))) return {};
    return ReadReply();
  }

  /// A request as written on the wire (keep-alive, with a Content-Length).
  static std::string FormatRequest(
      const std::string& method, const std::string& target, const std::string& body = "",
      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
    for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
    return request + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  /// Writes `bytes` whole (e.g. several requests, pipelined); false when the connection failed.
  bool Write(const std::string& bytes) {
    return ssl_ != nullptr && SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) > 0;
  }
  /// The next response on the connection; status 0 when none came.
  HttpReply ReadReply() {
    HttpReply reply;
    if (ssl_ == nullptr) return reply;
    size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Read(pending_)) return reply;
    }
    const std::string head = pending_.substr(0, header_end);
    reply.status = std::atoi(head.substr(9, 3).c_str());
    size_t length = 0;
    for (size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2)) {
      std::string line = head.substr(at + 2, head.find("\r\n", at + 2) - at - 2);
      for (char& c : line) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (line.rfind("content-length:", 0) == 0) length = std::stoul(line.substr(15));
    }
    pending_.erase(0, header_end + 4);
    while (pending_.size() < length) {
      if (!Read(pending_)) return {};
    }
    reply.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return reply;
  }

  /// "TLSv1.3", "TLSv1.2".
  std::string protocol() const { return ssl_ ? SSL_get_version(ssl_) : ""; }
  /// The common name of the server's certificate.
  std::string peer_common_name() const {
    if (!ssl_) return "";
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (!cert) return "";
    char name[256] = {0};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
    X509_free(cert);
    return name;
  }
  const std::string& error() const { return error_; }

  void Close() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    if (ctx_) SSL_CTX_free(ctx_);
    ssl_ = nullptr;
    ctx_ = nullptr;
    fd_ = -1;
    pending_.clear();
  }

 private:
  bool Read(std::string& data) {
    char chunk[4096];
    const int n = SSL_read(ssl_, chunk, sizeof chunk);
    if (n <= 0) return false;
    data.append(chunk, static_cast<size_t>(n));
    return true;
  }
  bool Fail(const std::string& what) {
    char text[256] = {0};
    const unsigned long code = ERR_get_error();
    if (code) ERR_error_string_n(code, text, sizeof text);
    ERR_clear_error();
    error_ = what + (code ? std::string(": ") + text : "");
    return false;
  }

  int port_;
  TlsClientOptions options_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::string error_;
  std::string pending_;  ///< read past the last response (the start of the next)
};

}  // namespace fraudops::testing
