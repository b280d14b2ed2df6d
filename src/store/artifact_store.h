#pragma once
/// The artifact store: where a run's files (datasets, model bundle, evaluation, logs) live
/// for good. Local filesystem (default: <home>/artifacts) or S3-compatible
/// (`s3://bucket/prefix`, core/s3.h). Writes are atomic — temp file + rename locally, a
/// single PUT or a completed multipart upload on S3 — and every write returns the object's
/// sha256, which the metadata store records; reads verify it, so a corrupted or truncated
/// artifact is refused with a checksum error.

#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/s3.h"
#include "core/status.h"
#include "store/metadata_store.h"

namespace fraudops {

class ArtifactStore {
 public:
  virtual ~ArtifactStore() = default;
  /// Stores the local file `path` under `key` (e.g. fraud-detection/<run>/model/model.json).
  virtual Result<ArtifactRecord> Put(const std::string& key, const std::string& path) = 0;
  /// Stores `content` under `key`, written whole or not at all (no file of its own first).
  virtual Result<ArtifactRecord> PutBytes(const std::string& key, std::string_view content) = 0;
  /// The bytes at `uri` (as Put returned it, by this store or another: a path or an s3:// URI
  /// is read where it points), refused unless their sha256 is `sha256`.
  Result<std::string> Read(const std::string& uri, const std::string& sha256);
  /// Where `key` lives (a path or s3:// URI).
  virtual std::string Uri(const std::string& key) const = 0;
  /// The directory a run works in locally before its files are stored.
  virtual bool IsLocal() const = 0;
  /// Removes the artifact at `uri` (a missing one is not an error: a removal may be redone).
  virtual Status Remove(const std::string& uri) = 0;
  /// Copies the artifact at `uri` under this store's `archive/` prefix and returns its new
  /// URI; the original stays until Remove (so a crash in between loses nothing).
  virtual Result<std::string> CopyToArchive(const std::string& uri) = 0;
  /// Sets the S3 storage class of the object at `uri` (GLACIER_IR, DEEP_ARCHIVE, …);
  /// InvalidArgument for a local store.
  virtual Status SetStorageClass(const std::string& uri, const std::string& storage_class) = 0;

 protected:
  virtual Result<std::string> Fetch(const std::string& uri) = 0;
};

class LocalArtifactStore final : public ArtifactStore {
 public:
  explicit LocalArtifactStore(std::string root) : root_(std::move(root)) {}
  Result<ArtifactRecord> Put(const std::string& key, const std::string& path) override;
  Result<ArtifactRecord> PutBytes(const std::string& key, std::string_view content) override;
  std::string Uri(const std::string& key) const override;
  bool IsLocal() const override { return true; }
  Status Remove(const std::string& uri) override;
  Result<std::string> CopyToArchive(const std::string& uri) override;
  Status SetStorageClass(const std::string& uri, const std::string& storage_class) override;
  const std::string& root() const { return root_; }

 protected:
  Result<std::string> Fetch(const std::string& uri) override;

 private:
  std::string root_;
};

class S3ArtifactStore final : public ArtifactStore {
 public:
  S3ArtifactStore(S3Client client, S3Location root)
      : client_(std::move(client)), root_(std::move(root)) {}
  Result<ArtifactRecord> Put(const std::string& key, const std::string& path) override;
  Result<ArtifactRecord> PutBytes(const std::string& key, std::string_view content) override;
  std::string Uri(const std::string& key) const override;
  bool IsLocal() const override { return false; }
  Status Remove(const std::string& uri) override;
  Result<std::string> CopyToArchive(const std::string& uri) override;
  Status SetStorageClass(const std::string& uri, const std::string& storage_class) override;
  S3Client& client() { return client_; }

 protected:
  Result<std::string> Fetch(const std::string& uri) override;

 private:
  S3Client client_;
  S3Location root_;
};

/// Copies the model bundle files (the run's model/ artifacts) of `version` into `directory`,
/// each checked against its recorded sha256, and writes the version's decision policy as
/// policy.txt (removing the run's when the version has none); returns how many files were
/// copied. NotFound when the run recorded none.
Result<size_t> ExportModelFiles(MetadataStore& metadata, ArtifactStore& artifacts,
                                const ModelVersion& version, const std::string& directory);

/// `url`: empty (then `default_root`), a directory, file://DIR, or s3://BUCKET/PREFIX; S3
/// writes ask for `options`' server-side encryption.
Result<std::unique_ptr<ArtifactStore>> OpenArtifactStore(const std::string& url,
                                                         const std::string& default_root,
                                                         const ArtifactsConfig& options = {});

}  // namespace fraudops
