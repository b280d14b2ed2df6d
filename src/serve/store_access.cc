#include "serve/store_access.h"

#include <filesystem>

namespace fraudops {

namespace fs = std::filesystem;

Result<std::unique_ptr<StoreAccess>> StoreAccess::Open(const Config& config) {
  std::unique_ptr<StoreAccess> access(new StoreAccess());
  const std::string home = config.Resolve(config.global.home);
  MutexLock lock(&access->mutex_);
  FOPS_ASSIGN_OR_RETURN(
      access->metadata_,
      MetadataStore::Open(config.global.metadata_url, (fs::path(home) / "fraudops.db").string()));
  FOPS_ASSIGN_OR_RETURN(
      access->artifacts_,
      OpenArtifactStore(config.global.artifact_url, (fs::path(home) / "artifacts").string(),
                        config.artifacts));
  access->serving_ = std::make_unique<ServingStore>(*access->metadata_);
  access->loader_ = std::make_unique<ModelLoader>(*access->metadata_, *access->artifacts_,
                                                  (fs::path(home) / "cache" / "models").string());
  return access;
}

Status StoreAccess::With(const std::function<Status(ServingStore&)>& body) {
  MutexLock lock(&mutex_);
  return body(*serving_);
}

Status StoreAccess::WithMetadata(const std::function<Status(MetadataStore&)>& body) {
  MutexLock lock(&mutex_);
  return body(*metadata_);
}

Status StoreAccess::WithArtifacts(
    const std::function<Status(ServingStore&, ArtifactStore&)>& body) {
  MutexLock lock(&mutex_);
  return body(*serving_, *artifacts_);
}

Status StoreAccess::WithLoader(const std::function<Status(ServingStore&, ModelLoader&)>& body) {
  MutexLock lock(&mutex_);
  return body(*serving_, *loader_);
}

}  // namespace fraudops
