#include "core/http_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace fraudops {

namespace {

size_t Append(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

std::string& OutboundCaFile() {
  static std::string path;
  return path;
}

}  // namespace

void SetOutboundCaFile(std::string path) { OutboundCaFile() = std::move(path); }

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
  HttpSession session;
  return session.Call(method, url, headers, body, timeout_seconds);
}

HttpSession::HttpSession() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

HttpSession::~HttpSession() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<HttpReply> HttpSession::Call(const std::string& method, const std::string& url,
                                    const std::vector<std::string>& headers, std::string_view body,
                                    double timeout_seconds) {
  if (!curl_) return Status::Internal("cannot initialize libcurl");
  curl_easy_reset(static_cast<CURL*>(curl_));  // the options; the open connection stays
  curl_slist* list = nullptr;
  for (const std::string& header : headers) list = curl_slist_append(list, header.c_str());
  list = curl_slist_append(list, "Expect:");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(list, curl_slist_free_all);
  HttpReply reply;
  CURL* c = static_cast<CURL*>(curl_);
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
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());  // never null
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  const CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK)
    return Status::IoError(method + " " + url + ": " + curl_easy_strerror(code));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

}  // namespace fraudops
