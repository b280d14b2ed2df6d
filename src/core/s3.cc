#include "core/s3.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>

#include "core/files.h"
#include "core/hash.h"
#include "core/http_client.h"
#include "core/strings.h"

extern char** environ;

namespace fraudops {

namespace {

std::string Lookup(const std::map<std::string, std::string>& environment, const std::string& name) {
  if (!environment.empty()) {
    auto it = environment.find(name);
    return it == environment.end() ? std::string() : it->second;
  }
  const char* value = std::getenv(name.c_str());
  return value ? value : "";
}

void GlobalCurlInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t AppendHeader(char* data, size_t size, size_t count, void* user) {
  std::string_view line(data, size * count);
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    auto* headers = static_cast<std::map<std::string, std::string>*>(user);
    (*headers)[ToLower(Trim(line.substr(0, colon)))] = std::string(Trim(line.substr(colon + 1)));
  }
  return size * count;
}

struct UploadCursor {
  std::string_view body;
  size_t offset = 0;
};

size_t ReadBody(char* buffer, size_t size, size_t count, void* user) {
  auto* cursor = static_cast<UploadCursor*>(user);
  size_t n = std::min(size * count, cursor->body.size() - cursor->offset);
  std::copy_n(cursor->body.data() + cursor->offset, n, buffer);
  cursor->offset += n;
  return n;
}

std::string Sha256Raw(std::string_view data) {
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace

std::string XmlText(std::string_view xml, std::string_view tag, size_t* from) {
  std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  size_t start = xml.find(open, from ? *from : 0);
  if (start == std::string_view::npos) return "";
  start += open.size();
  size_t end = xml.find(close, start);
  if (end == std::string_view::npos) return "";
  if (from) *from = end + close.size();
  std::string out;
  std::string_view raw = xml.substr(start, end - start);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      out += raw[i];
      continue;
    }
    static const std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool decoded = false;
    for (const auto& [entity, c] : kEntities) {
      if (raw.substr(i, entity.size()) == entity) {
        out += c;
        i += entity.size() - 1;
        decoded = true;
        break;
      }
    }
    if (!decoded) out += '&';
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string HexEncode(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string UriEncode(std::string_view text, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string SigV4Authorization(const std::string& method, const std::string& path,
                               const std::string& canonical_query,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& payload_hash, const std::string& amz_date,
                               const std::string& region, const std::string& access_key,
                               const std::string& secret_key) {
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  std::string canonical = method + "\n" + path + "\n" + canonical_query + "\n" + canonical_headers +
                          "\n" + signed_headers + "\n" + payload_hash;
  const std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/" + region + "/s3/aws4_request";
  std::string to_sign =
      "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + HexEncode(Sha256Raw(canonical));
  std::string signing_key = HmacSha256("AWS4" + secret_key, date);
  signing_key = HmacSha256(signing_key, region);
  signing_key = HmacSha256(signing_key, "s3");
  signing_key = HmacSha256(signing_key, "aws4_request");
  return "AWS4-HMAC-SHA256 Credential=" + access_key + "/" + scope +
         ", SignedHeaders=" + signed_headers +
         ", Signature=" + HexEncode(HmacSha256(signing_key, to_sign));
}

Result<S3Settings> S3Settings::FromEnvironment(
    const std::map<std::string, std::string>& environment) {
  S3Settings s;
  s.endpoint = Lookup(environment, "AWS_ENDPOINT_URL_S3");
  if (s.endpoint.empty()) s.endpoint = Lookup(environment, "AWS_ENDPOINT_URL");
  std::string region = Lookup(environment, "AWS_REGION");
  if (region.empty()) region = Lookup(environment, "AWS_DEFAULT_REGION");
  if (!region.empty()) s.region = region;
  if (s.endpoint.empty()) s.endpoint = "https://s3." + s.region + ".amazonaws.com";
  while (!s.endpoint.empty() && s.endpoint.back() == '/') s.endpoint.pop_back();
  if (!StartsWith(s.endpoint, "http://") && !StartsWith(s.endpoint, "https://")) {
    return Status::InvalidArgument("AWS_ENDPOINT_URL '" + s.endpoint +
                                   "' must start with http:// or https://");
  }
  s.access_key = Lookup(environment, "AWS_ACCESS_KEY_ID");
  s.secret_key = Lookup(environment, "AWS_SECRET_ACCESS_KEY");
  s.session_token = Lookup(environment, "AWS_SESSION_TOKEN");
  if (s.access_key.empty() || s.secret_key.empty()) {
    return Status::InvalidArgument(
        "S3 needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
        "AWS_ENDPOINT_URL for an S3-compatible server)");
  }
  return s;
}

Result<S3Location> ParseS3Uri(std::string_view uri) {
  if (!StartsWith(uri, "s3://")) {
    return Status::InvalidArgument("'" + std::string(uri) +
                                   "' is not an S3 URI; accepted: s3://BUCKET/KEY");
  }
  std::string_view rest = uri.substr(5);
  size_t slash = rest.find('/');
  S3Location location;
  location.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) location.key = std::string(rest.substr(slash + 1));
  if (location.bucket.empty()) {
    return Status::InvalidArgument("'" + std::string(uri) +
                                   "' has no bucket; accepted: s3://BUCKET/KEY");
  }
  return location;
}

Result<S3Client::Response> S3Client::Send(
    const std::string& method, const std::string& bucket, const std::string& key,
    const std::vector<std::pair<std::string, std::string>>& query, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& extra_headers) const {
  GlobalCurlInit();
  // Canonical request (SigV4): path, sorted query, signed headers, payload hash.
  std::string path = "/" + UriEncode(bucket, false);
  if (!key.empty()) path += "/" + UriEncode(key, true);
  std::vector<std::pair<std::string, std::string>> sorted = query;
  std::sort(sorted.begin(), sorted.end());
  std::string canonical_query;
  for (const auto& [name, value] : sorted) {
    if (!canonical_query.empty()) canonical_query += '&';
    canonical_query += UriEncode(name, false) + "=" + UriEncode(value, false);
  }
  std::string host = settings_.endpoint.substr(settings_.endpoint.find("://") + 3);
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char amz_date[17];
  std::strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &utc);
  std::string payload_hash = Sha256Hex(body);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"host", host}, {"x-amz-content-sha256", payload_hash}, {"x-amz-date", amz_date}};
  if (!settings_.session_token.empty())
    headers.emplace_back("x-amz-security-token", settings_.session_token);
  headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
  std::sort(headers.begin(), headers.end());
  std::string authorization =
      SigV4Authorization(method, path, canonical_query, headers, payload_hash, amz_date,
                         settings_.region, settings_.access_key, settings_.secret_key);

  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status::Internal("cannot initialize libcurl");
  std::string url =
      settings_.endpoint + path + (canonical_query.empty() ? "" : "?" + canonical_query);
  curl_slist* list = nullptr;
  for (const auto& [name, value] : headers) {
    if (name != "host") list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  list = curl_slist_append(list, ("Authorization: " + authorization).c_str());
  list = curl_slist_append(list, "Expect:");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(list, curl_slist_free_all);
  Response response;
  UploadCursor cursor{body, 0};
  CURL* c = curl.get();
  ApplyOutboundTls(c);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, settings_.connect_timeout_seconds);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, settings_.stall_timeout_seconds);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, AppendHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &response.headers);
  if (method == "PUT" || method == "POST") {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(c, CURLOPT_READDATA, &cursor);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    if (method == "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
  } else if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) {
    return Status::IoError("S3 " + method + " " + settings_.endpoint + path + ": " +
                           curl_easy_strerror(code));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Status S3Client::ErrorFrom(const Response& response, const std::string& what) const {
  std::string code = XmlText(response.body, "Code");
  std::string message = XmlText(response.body, "Message");
  std::string detail = "HTTP " + std::to_string(response.status);
  if (!code.empty()) detail += " " + code;
  if (!message.empty()) detail += ": " + message;
  std::string text = what + " (" + settings_.endpoint + "): " + detail;
  if (response.status == 404) return Status::NotFound(text);
  if (response.status == 403) {
    return Status::InvalidArgument(text + " — check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  return Status::IoError(text);
}

std::vector<std::pair<std::string, std::string>> S3WriteHeaders(const S3Settings& settings,
                                                                const std::string& storage_class) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!settings.sse.empty()) {
    headers.emplace_back("x-amz-server-side-encryption", settings.sse);
    if (settings.sse == "aws:kms" && !settings.sse_kms_key_id.empty()) {
      headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", settings.sse_kms_key_id);
    }
  }
  if (!storage_class.empty()) headers.emplace_back("x-amz-storage-class", storage_class);
  return headers;
}

Status S3Client::Put(const S3Location& where, std::string_view body) {
  if (body.size() > multipart_threshold) return PutMultipart(where, body);
  FOPS_ASSIGN_OR_RETURN(Response response, Send("PUT", where.bucket, where.key, {}, body,
                                                S3WriteHeaders(settings_, "")));
  if (response.status != 200) return ErrorFrom(response, "cannot write " + where.Uri());
  return Status::Ok();
}

Status S3Client::PutMultipart(const S3Location& where, std::string_view body) {
  FOPS_ASSIGN_OR_RETURN(Response created, Send("POST", where.bucket, where.key, {{"uploads", ""}},
                                               "", S3WriteHeaders(settings_, "")));
  if (created.status != 200)
    return ErrorFrom(created, "cannot start a multipart upload of " + where.Uri());
  std::string upload_id = XmlText(created.body, "UploadId");
  if (upload_id.empty()) return Status::IoError("S3 returned no UploadId for " + where.Uri());
  auto abort = [&](Status error) {
    (void)Send("DELETE", where.bucket, where.key, {{"uploadId", upload_id}}, "");
    return error;
  };
  std::string complete = "<CompleteMultipartUpload>";
  int part = 0;
  for (size_t offset = 0; offset < body.size(); offset += part_size) {
    ++part;
    std::string_view chunk = body.substr(offset, part_size);
    auto sent = Send("PUT", where.bucket, where.key,
                     {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}}, chunk);
    if (!sent.ok()) return abort(sent.status());
    if (sent->status != 200)
      return abort(
          ErrorFrom(*sent, "cannot upload part " + std::to_string(part) + " of " + where.Uri()));
    complete += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" +
                sent->headers["etag"] + "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";
  auto done = Send("POST", where.bucket, where.key, {{"uploadId", upload_id}}, complete);
  if (!done.ok()) return abort(done.status());
  // S3 may answer 200 with an <Error> body when completion fails late.
  if (done->status != 200 || done->body.find("<Error>") != std::string::npos) {
    return abort(ErrorFrom(*done, "cannot complete the multipart upload of " + where.Uri()));
  }
  return Status::Ok();
}

Result<std::string> S3Client::Get(const S3Location& where) {
  FOPS_ASSIGN_OR_RETURN(Response response, Send("GET", where.bucket, where.key, {}, ""));
  if (response.status != 200) return ErrorFrom(response, "cannot read " + where.Uri());
  return std::move(response.body);
}

Result<S3ObjectInfo> S3Client::Head(const S3Location& where) {
  FOPS_ASSIGN_OR_RETURN(Response response, Send("HEAD", where.bucket, where.key, {}, ""));
  if (response.status == 404) return Status::NotFound(where.Uri() + " does not exist");
  if (response.status != 200) return ErrorFrom(response, "cannot read " + where.Uri());
  S3ObjectInfo info;
  info.size = static_cast<size_t>(ParseInt(response.headers["content-length"]).value_or(0));
  info.etag = response.headers["etag"];
  info.storage_class = response.headers["x-amz-storage-class"];
  info.sse = response.headers["x-amz-server-side-encryption"];
  return info;
}

Status S3Client::Copy(const S3Location& from, const S3Location& to,
                      const std::string& storage_class) {
  std::vector<std::pair<std::string, std::string>> headers =
      S3WriteHeaders(settings_, storage_class);
  headers.emplace_back("x-amz-copy-source", "/" + from.bucket + "/" + UriEncode(from.key, true));
  headers.emplace_back("x-amz-metadata-directive", "REPLACE");
  FOPS_ASSIGN_OR_RETURN(Response response, Send("PUT", to.bucket, to.key, {}, "", headers));
  // S3 may answer 200 with an <Error> body when a copy fails late.
  if (response.status != 200 || response.body.find("<Error>") != std::string::npos) {
    return ErrorFrom(response, "cannot copy " + from.Uri() + " to " + to.Uri());
  }
  return Status::Ok();
}

Status S3Client::Delete(const S3Location& where) {
  FOPS_ASSIGN_OR_RETURN(Response response, Send("DELETE", where.bucket, where.key, {}, ""));
  if (response.status != 204 && response.status != 200)
    return ErrorFrom(response, "cannot delete " + where.Uri());
  return Status::Ok();
}

Result<std::vector<std::string>> S3Client::List(const S3Location& prefix) {
  std::vector<std::string> keys;
  std::string token;
  do {
    std::vector<std::pair<std::string, std::string>> query = {{"list-type", "2"},
                                                              {"prefix", prefix.key}};
    if (!token.empty()) query.emplace_back("continuation-token", token);
    FOPS_ASSIGN_OR_RETURN(Response response, Send("GET", prefix.bucket, "", query, ""));
    if (response.status != 200) return ErrorFrom(response, "cannot list " + prefix.Uri());
    size_t from = 0;
    for (std::string key; !(key = XmlText(response.body, "Key", &from)).empty();)
      keys.push_back(key);
    token = XmlText(response.body, "IsTruncated") == "true"
                ? XmlText(response.body, "NextContinuationToken")
                : "";
  } while (!token.empty());
  return keys;
}

Status S3Client::CreateBucket(const std::string& bucket) {
  FOPS_ASSIGN_OR_RETURN(Response response, Send("PUT", bucket, "", {}, ""));
  if (response.status != 200 && XmlText(response.body, "Code") != "BucketAlreadyOwnedByYou") {
    return ErrorFrom(response, "cannot create bucket '" + bucket + "'");
  }
  return Status::Ok();
}

}  // namespace fraudops
