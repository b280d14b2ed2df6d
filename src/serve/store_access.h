#pragma once
/// The stores of a running server: the metadata store's one connection (shared by the
/// rollout controller and the admin and feedback routes), the artifact store and the model
/// loader, used one caller at a time under one lock the compiler checks.

#include <functional>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/mutex.h"
#include "serve/endpoints.h"
#include "store/artifact_store.h"
#include "store/metadata_store.h"
#include "store/serving_store.h"

namespace fraudops {

class StoreAccess {
 public:
  /// Opens the stores `config` names (global.metadata_url, global.artifact_url, under
  /// global.home by default).
  static Result<std::unique_ptr<StoreAccess>> Open(const Config& config);

  /// Runs `body` with the serving store, under the lock; returns what it returns.
  Status With(const std::function<Status(ServingStore&)>& body) EXCLUDES(mutex_);
  /// Runs `body` with the metadata store, under the lock.
  Status WithMetadata(const std::function<Status(MetadataStore&)>& body) EXCLUDES(mutex_);
  /// Runs `body` with the serving store and the artifact store, under the lock.
  Status WithArtifacts(const std::function<Status(ServingStore&, ArtifactStore&)>& body)
      EXCLUDES(mutex_);
  /// Runs `body` with the serving store and the model loader, under the lock.
  Status WithLoader(const std::function<Status(ServingStore&, ModelLoader&)>& body)
      EXCLUDES(mutex_);

 private:
  StoreAccess() = default;

  Mutex mutex_;
  std::unique_ptr<MetadataStore> metadata_ PT_GUARDED_BY(mutex_);
  std::unique_ptr<ArtifactStore> artifacts_ PT_GUARDED_BY(mutex_);
  std::unique_ptr<ServingStore> serving_ PT_GUARDED_BY(mutex_);
  std::unique_ptr<ModelLoader> loader_ PT_GUARDED_BY(mutex_);
};

}  // namespace fraudops
