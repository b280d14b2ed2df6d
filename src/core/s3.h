#pragma once
/// A small client for the S3 API (AWS S3 and compatible servers: MinIO, Ceph, s3rver):
/// path-style requests signed with AWS Signature Version 4 (libcurl + OpenSSL HMAC).
/// Settings come from the standard AWS environment variables:
///   AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL   e.g. http://127.0.0.1:4568 (default: AWS)
///   AWS_REGION or AWS_DEFAULT_REGION          default us-east-1
///   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY  required
///   AWS_SESSION_TOKEN                         optional (temporary credentials)
/// Every request has a connect timeout (5 s) and aborts when the transfer stalls (30 s
/// under 1 byte/s), so an unreachable server is an error, never a hang.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fraudops {

struct S3Settings {
  std::string endpoint;  ///< scheme://host[:port], no trailing slash
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  std::string session_token;
  /// Server-side encryption asked for on writes: "", "AES256" or "aws:kms" (with
  /// sse_kms_key_id, or the account's default key).
  std::string sse;
  std::string sse_kms_key_id;
  long connect_timeout_seconds = 5;
  long stall_timeout_seconds = 30;

  /// From the environment (`environment` empty: the process environment).
  static Result<S3Settings> FromEnvironment(
      const std::map<std::string, std::string>& environment = {});
};

/// `s3://bucket/key/prefix` split into its parts.
struct S3Location {
  std::string bucket;
  std::string key;
  std::string Uri() const { return "s3://" + bucket + "/" + key; }
};
Result<S3Location> ParseS3Uri(std::string_view uri);

struct S3ObjectInfo {
  size_t size = 0;
  std::string etag;
  std::string storage_class;  ///< x-amz-storage-class (empty: STANDARD)
  std::string sse;            ///< x-amz-server-side-encryption, when the server says
};

/// The headers an object write (PutObject, CreateMultipartUpload, CopyObject) carries for
/// `settings`' server-side encryption and `storage_class` (empty: none), names lowercase.
std::vector<std::pair<std::string, std::string>> S3WriteHeaders(const S3Settings& settings,
                                                                const std::string& storage_class);

class S3Client {
 public:
  explicit S3Client(S3Settings settings) : settings_(std::move(settings)) {}

  /// PutObject for small bodies; multipart (parts of `part_size`) above `multipart_threshold`.
  /// A multipart upload that fails is aborted, so no partial object becomes visible.
  Status Put(const S3Location& where, std::string_view body);
  Result<std::string> Get(const S3Location& where);
  /// NotFound when the object does not exist.
  Result<S3ObjectInfo> Head(const S3Location& where);
  Status Delete(const S3Location& where);
  /// CopyObject from `from` to `to` (the same object: in place) with `storage_class`
  /// (empty: the bucket's default) and this client's server-side encryption; the object's
  /// metadata is replaced, so an in-place copy is allowed.
  Status Copy(const S3Location& from, const S3Location& to, const std::string& storage_class);
  /// Keys under a prefix (ListObjectsV2, following continuation tokens).
  Result<std::vector<std::string>> List(const S3Location& prefix);
  Status CreateBucket(const std::string& bucket);

  size_t multipart_threshold = 16u << 20;
  size_t part_size = 8u << 20;  ///< S3's minimum is 5 MiB for every part but the last
  const S3Settings& settings() const { return settings_; }

 private:
  struct Response {
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  ///< lowercase names
  };
  /// `extra_headers` (lowercase names) are sent and signed.
  Result<Response> Send(
      const std::string& method, const std::string& bucket, const std::string& key,
      const std::vector<std::pair<std::string, std::string>>& query, std::string_view body,
      const std::vector<std::pair<std::string, std::string>>& extra_headers = {}) const;
  Status PutMultipart(const S3Location& where, std::string_view body);
  Status ErrorFrom(const Response& response, const std::string& what) const;

  S3Settings settings_;
};

/// The text of the first <tag>…</tag> in an S3 XML response at or after `*from` (entities
/// decoded; empty when absent); advances `*from` past it. Exposed for the fuzzer.
std::string XmlText(std::string_view xml, std::string_view tag, size_t* from = nullptr);

/// The SigV4 Authorization header of a request: `path` already URI-encoded, the query in
/// canonical form, `headers` with lowercase names sorted by name (host included), `amz_date`
/// as YYYYMMDDTHHMMSSZ. Exposed for the known-answer test against AWS's published example.
std::string SigV4Authorization(const std::string& method, const std::string& path,
                               const std::string& canonical_query,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& payload_hash, const std::string& amz_date,
                               const std::string& region, const std::string& access_key,
                               const std::string& secret_key);

/// AWS SigV4 pieces, exposed for the known-answer test.
std::string HmacSha256(std::string_view key, std::string_view data);
std::string HexEncode(std::string_view bytes);
/// RFC 3986 percent-encoding as SigV4 wants it (`/` kept when `keep_slash`).
std::string UriEncode(std::string_view text, bool keep_slash);

}  // namespace fraudops
