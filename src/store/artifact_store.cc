#include "store/artifact_store.h"

#include <filesystem>

#include "core/files.h"
#include "core/hash.h"
#include "core/strings.h"

namespace fraudops {

namespace fs = std::filesystem;

Result<std::string> ArtifactStore::Read(const std::string& uri, const std::string& sha256) {
  FOPS_ASSIGN_OR_RETURN(std::string bytes, Fetch(uri));
  std::string actual = Sha256Hex(bytes);
  if (actual != sha256) {
    return Status::DataError("artifact " + uri + " failed its checksum: sha256 " + actual +
                             ", recorded " + sha256 +
                             "; it was changed or corrupted after it was written");
  }
  return bytes;
}

Result<ArtifactRecord> LocalArtifactStore::Put(const std::string& key, const std::string& path) {
  std::string target = Uri(key);
  std::error_code error;
  if (!fs::equivalent(path, target, error)) {
    // A copy, atomically; the run's working directory already is the store by default.
    FOPS_ASSIGN_OR_RETURN(std::string content, ReadFile(path));
    return PutBytes(key, content);
  }
  ArtifactRecord record;
  record.name = key;
  record.uri = target;
  auto size = fs::file_size(target, error);
  if (error) return Status::IoError("cannot stat " + target + ": " + error.message());
  record.size = static_cast<int64_t>(size);
  FOPS_ASSIGN_OR_RETURN(record.sha256, Sha256File(target));
  return record;
}

Result<ArtifactRecord> LocalArtifactStore::PutBytes(const std::string& key,
                                                    std::string_view content) {
  const std::string target = Uri(key);
  FOPS_RETURN_IF_ERROR(WriteFileAtomic(target, content));
  return ArtifactRecord{key, target, static_cast<int64_t>(content.size()), Sha256Hex(content)};
}

std::string LocalArtifactStore::Uri(const std::string& key) const {
  return (fs::path(root_) / key).string();
}

Result<std::string> LocalArtifactStore::Fetch(const std::string& uri) {
  if (StartsWith(uri, "s3://")) {  // written when global.artifact_url named S3; read it there
    FOPS_ASSIGN_OR_RETURN(S3Location where, ParseS3Uri(uri));
    auto settings = S3Settings::FromEnvironment();
    if (!settings.ok()) return settings.status();
    return S3Client(*settings).Get(where);
  }
  return ReadFile(uri);
}

Status LocalArtifactStore::Remove(const std::string& uri) {
  if (StartsWith(uri, "s3://")) {
    return Status::InvalidArgument(uri + " is in S3; this workspace's artifact store is local");
  }
  std::error_code error;
  fs::remove(uri, error);
  if (error) return Status::IoError("cannot remove " + uri + ": " + error.message());
  return Status::Ok();
}

Result<std::string> LocalArtifactStore::CopyToArchive(const std::string& uri) {
  const fs::path from(uri);
  const fs::path relative = from.lexically_relative(root_);
  if (relative.empty() || *relative.begin() == "..") {
    return Status::InvalidArgument(uri + " is not under the artifact store " + root_);
  }
  if (*relative.begin() == "archive") return uri;  // already archived
  const fs::path to = fs::path(root_) / "archive" / relative;
  FOPS_ASSIGN_OR_RETURN(std::string bytes, ReadFile(uri));
  FOPS_RETURN_IF_ERROR(MakeDirectories(to.parent_path().string()));
  FOPS_RETURN_IF_ERROR(WriteFileAtomic(to.string(), bytes));
  return to.string();
}

Status LocalArtifactStore::SetStorageClass(const std::string& uri, const std::string&) {
  return Status::InvalidArgument(uri +
                                 ": storage classes are S3's; a local store archives by moving "
                                 "files under archive/ (--prefix)");
}

Status S3ArtifactStore::Remove(const std::string& uri) {
  FOPS_ASSIGN_OR_RETURN(S3Location where, ParseS3Uri(uri));
  Status removed = client_.Delete(where);
  if (removed.code() == StatusCode::kNotFound) return Status::Ok();
  return removed;
}

Result<std::string> S3ArtifactStore::CopyToArchive(const std::string& uri) {
  FOPS_ASSIGN_OR_RETURN(S3Location from, ParseS3Uri(uri));
  const std::string prefix = root_.key.empty() ? "" : root_.key + "/";
  if (from.bucket != root_.bucket || !StartsWith(from.key, prefix)) {
    return Status::InvalidArgument(uri + " is not under the artifact store " + root_.Uri());
  }
  const std::string relative = from.key.substr(prefix.size());
  if (StartsWith(relative, "archive/")) return uri;
  S3Location to{root_.bucket, prefix + "archive/" + relative};
  FOPS_RETURN_IF_ERROR(client_.Copy(from, to, ""));
  return to.Uri();
}

Status S3ArtifactStore::SetStorageClass(const std::string& uri, const std::string& storage_class) {
  FOPS_ASSIGN_OR_RETURN(S3Location where, ParseS3Uri(uri));
  return client_.Copy(where, where, storage_class);
}

Result<ArtifactRecord> S3ArtifactStore::Put(const std::string& key, const std::string& path) {
  FOPS_ASSIGN_OR_RETURN(std::string content, ReadFile(path));
  return PutBytes(key, content);
}

Result<ArtifactRecord> S3ArtifactStore::PutBytes(const std::string& key, std::string_view content) {
  S3Location where{root_.bucket, root_.key.empty() ? key : root_.key + "/" + key};
  FOPS_RETURN_IF_ERROR(client_.Put(where, content));
  return ArtifactRecord{key, where.Uri(), static_cast<int64_t>(content.size()), Sha256Hex(content)};
}

std::string S3ArtifactStore::Uri(const std::string& key) const {
  return S3Location{root_.bucket, root_.key.empty() ? key : root_.key + "/" + key}.Uri();
}

Result<std::string> S3ArtifactStore::Fetch(const std::string& uri) {
  if (!StartsWith(uri, "s3://")) return ReadFile(uri);  // written by a run with local artifacts
  FOPS_ASSIGN_OR_RETURN(S3Location where, ParseS3Uri(uri));
  return client_.Get(where);
}

Result<size_t> ExportModelFiles(MetadataStore& metadata, ArtifactStore& artifacts,
                                const ModelVersion& version, const std::string& directory) {
  FOPS_ASSIGN_OR_RETURN(RunRecord run, metadata.GetRun(version.run_id));
  size_t written = 0;
  for (const ArtifactRecord& a : run.artifacts) {
    if (!StartsWith(a.name, "model/")) continue;
    FOPS_ASSIGN_OR_RETURN(std::string bytes,
                          artifacts.Read(a.uri, a.sha256));  // refuses a corrupted file
    FOPS_RETURN_IF_ERROR(WriteFileAtomic((fs::path(directory) / a.name.substr(6)).string(), bytes));
    ++written;
  }
  if (written == 0) return Status::NotFound("run " + run.run_id + " recorded no model/ artifacts");
  // The version's decision policy (model/bundle.h's kPolicyFileName), which may differ from
  // the run's: a policy change is a new version of the same run's model.
  const std::string policy_path = (fs::path(directory) / "policy.txt").string();
  if (!version.policy.empty()) {
    FOPS_RETURN_IF_ERROR(WriteFileAtomic(policy_path, version.policy));
  } else {
    std::error_code ignored;
    fs::remove(policy_path, ignored);
  }
  return written;
}

Result<std::unique_ptr<ArtifactStore>> OpenArtifactStore(const std::string& url,
                                                         const std::string& default_root,
                                                         const ArtifactsConfig& options) {
  if (StartsWith(url, "s3://")) {
    FOPS_ASSIGN_OR_RETURN(S3Location root, ParseS3Uri(url));
    while (!root.key.empty() && root.key.back() == '/') root.key.pop_back();
    auto settings = S3Settings::FromEnvironment();
    if (!settings.ok())
      return Status::InvalidArgument("global.artifact_url " + url + ": " +
                                     settings.status().message());
    settings->sse = options.sse;
    settings->sse_kms_key_id = options.kms_key_id;
    S3Client client(*settings);
    // Fail now, not after training, when the bucket is missing or the credentials are wrong.
    auto listed = client.List(S3Location{root.bucket, root.key + "/.fraudops-probe"});
    if (!listed.ok()) {
      return Status(listed.status().code(),
                    "global.artifact_url " + url + ": " + listed.status().message());
    }
    return std::unique_ptr<ArtifactStore>(
        std::make_unique<S3ArtifactStore>(std::move(client), root));
  }
  std::string root =
      url.empty() ? default_root : (StartsWith(url, "file://") ? url.substr(7) : url);
  if (url.find("://") != std::string::npos && !StartsWith(url, "file://")) {
    return Status::InvalidArgument("global.artifact_url '" + url +
                                   "' is not supported; accepted: empty, a "
                                   "directory, file://DIR, or s3://BUCKET/PREFIX");
  }
  FOPS_RETURN_IF_ERROR(MakeDirectories(root));
  return std::unique_ptr<ArtifactStore>(
      std::make_unique<LocalArtifactStore>(fs::absolute(root).lexically_normal().string()));
}

}  // namespace fraudops
