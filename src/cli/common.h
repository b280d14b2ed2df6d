#pragma once
/// What the command-line files share: printing errors and JSON, opening the stores the
/// configuration names, and reading NAME[@VERSION|@ALIAS] references.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "core/config.h"
#include "core/context.h"
#include "core/logging.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "store/artifact_store.h"
#include "store/metadata_store.h"

namespace fraudops {

/// Prints "error: <message>" to stderr and returns the status's exit code.
int Fail(const Status& status);
void PrintJson(const nlohmann::json& json);
/// `value` with `digits` decimals ("0.9539"), for tables.
std::string Fixed(double value, int digits);
/// `text` cut to `width` characters for a table column: its start and end kept, joined by
/// "..", so the names of one series ("study-… #7") stay apart.
std::string Shortened(std::string_view text, size_t width);

/// A command's configuration with the logger, thread pool and context built from it.
struct Session {
  Config config;
  Logger logger;
  std::unique_ptr<ThreadPool> pool;
  Context context;
};
/// Loads the configuration (`config_path`, or the usual search) and builds the rest.
Result<std::unique_ptr<Session>> OpenSession(const std::string& config_path);
/// LoadConfig, then the checks core cannot make: deploy.strategy names a registered
/// deployment strategy whose parameters are valid (store/deployment_strategy.h), and
/// register.policy is a well-formed decision policy.
Result<Config> LoadCheckedConfig(const LoadOptions& options);

struct Stores {
  Config config;
  std::unique_ptr<MetadataStore> metadata;
  std::unique_ptr<ArtifactStore> artifacts;
};
/// The configuration (`config_path`, or the usual search) with `home_override` applied, and
/// its metadata store (which must exist) and, when asked, artifact store.
Result<Stores> OpenStores(const std::string& config_path, const std::string& home_override,
                          bool need_artifacts, bool create = false);
/// The same for a configuration already loaded; `create`: a workspace without a metadata store
/// gets one (commands that may come before the first run).
Result<Stores> OpenStoresFor(const Config& config, bool need_artifacts, bool create = false);

/// NAME, NAME@VERSION, NAME@latest or NAME@ALIAS as (model, GetVersion reference).
std::pair<std::string, std::string> SplitRef(const std::string& target);
Result<ModelVersion> Resolve(MetadataStore& store, const std::string& target);

/// A temporary directory (under /tmp) removed with everything in it when it goes out of
/// scope; path() is empty when it could not be created.
class TempDirectory {
 public:
  TempDirectory();
  ~TempDirectory();
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace fraudops
