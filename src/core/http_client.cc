#include "core/http_client.h"

#include <curl/curl.h>

#include <charconv>
#include <memory>
#include <mutex>
#include <system_error>

#include "core/strings.h"

namespace fraudops {

namespace {

size_t Append(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

std::string& CaFile() {
  static std::string path;
  return path;
}

}  // namespace

void SetOutboundCaFile(std::string path) { CaFile() = std::move(path); }
const std::string& OutboundCaFile() { return CaFile(); }

void ApplyOutboundTls(void* curl) {
  CURL* c = static_cast<CURL*>(curl);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!OutboundCaFile().empty()) curl_easy_setopt(c, CURLOPT_CAINFO, OutboundCaFile().c_str());
}

Result<HttpReply> HttpCall(const std::string& method, const std::string& url,
                           const std::vector<std::string>& headers, const std::string& body,
                           double timeout_seconds) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, void (*)(CURL*)> handle(curl_easy_init(), curl_easy_cleanup);
  if (!handle) return Status::Internal("cannot initialize libcurl");
  curl_slist* list = nullptr;
  for (const std::string& header : headers) list = curl_slist_append(list, header.c_str());
  list = curl_slist_append(list, "Expect:");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(list, curl_slist_free_all);
  HttpReply reply;
  CURL* c = handle.get();
  ApplyOutboundTls(c);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_seconds * 1000));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  const CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK)
    return Status::IoError(method + " " + url + ": " + curl_easy_strerror(code));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  const std::string quoted = "'" + std::string(url) + "'";
  HttpUrl parsed;
  std::string_view rest;
  if (StartsWith(url, "http://")) {
    rest = url.substr(7);
    parsed.port = 80;
  } else if (StartsWith(url, "https://")) {
    rest = url.substr(8);
    parsed.tls = true;
    parsed.port = 443;
  } else {
    return Status::InvalidArgument(quoted + ": not an http:// or https:// URL");
  }
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Status::InvalidArgument(quoted +
                                     ": spaces and control characters are not accepted "
                                     "in a URL (percent-encode them)");
    }
  }
  const size_t end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? "" : rest.substr(end);
  target = target.substr(0, target.find('#'));
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(quoted +
                                   ": credentials in the URL are not accepted (they would be "
                                   "written wherever the URL is)");
  }
  std::string_view host = authority, port;
  bool has_port = false;
  if (StartsWith(authority, "[")) {  // [IPv6]
    const size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return Status::InvalidArgument(quoted + ": '[' without ']' around an IPv6 address");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':')
      return Status::InvalidArgument(quoted + ": ']' must end the host or come before ':port'");
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    has_port = true;
    if (host.find(':') != std::string_view::npos)
      return Status::InvalidArgument(quoted + ": an IPv6 address goes in brackets, [::1]");
  }
  if (host.empty()) return Status::InvalidArgument(quoted + ": no host");
  if (has_port) {
    unsigned value = 0;
    const auto [at, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || error != std::errc() || at != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return Status::InvalidArgument(quoted + ": the port must be a number from 1 to 65535");
    }
    parsed.port = static_cast<uint16_t>(value);
  }
  parsed.host = std::string(host);
  parsed.authority = std::string(authority);
  parsed.target =
      target.empty() || target[0] != '/' ? "/" + std::string(target) : std::string(target);
  return parsed;
}

}  // namespace fraudops
