#include "cli/common.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/exit_codes.h"
#include "core/files.h"
#include "core/http_client.h"
#include "core/strings.h"
#include "model/derived_features.h"
#include "model/policy.h"
#include "store/deployment_strategy.h"
#include "store/serving_store.h"

namespace fraudops {

Result<Config> LoadCheckedConfig(const LoadOptions& options) {
  FOPS_ASSIGN_OR_RETURN(Config config, LoadConfig(options));
  FOPS_RETURN_IF_ERROR(ValidateDeployConfig(config.deploy));
  if (!config.global.ca_file.empty()) {  // every outbound HTTPS call trusts these CAs
    const std::string path = config.Resolve(config.global.ca_file);
    if (!FileExists(path)) {
      return Status::InvalidArgument("global.ca_file: " + path + " does not exist");
    }
    SetOutboundCaFile(path);
  }
  const std::vector<std::string>& derived = config.preprocess.derived_features;
  for (size_t i = 0; i < derived.size(); ++i) {  // the syntax now; the fields once data is read
    const std::string where = "preprocess.derived_features[" + std::to_string(i) + "]";
    FOPS_ASSIGN_OR_RETURN(DerivedFeature feature, ParseDerivedFeature(derived[i], where));
    FOPS_RETURN_IF_ERROR(
        PolicyExpression::Parse(feature.expression, where + " (" + feature.name + ")").status());
  }
  if (!config.register_.policy.empty()) {  // refused now rather than after training
    const std::string path = config.Resolve(config.register_.policy);
    auto text = ReadFile(path);
    if (!text.ok()) return text.status().WithContext("register.policy");
    auto policy = DecisionPolicy::Parse(*text, path);
    if (!policy.ok()) return policy.status().WithContext("register.policy");
  }
  {  // the promotion policies (promote.*), refused with the key named
    auto rules = DeployRulesFrom(config);
    if (!rules.ok()) return rules.status();
  }
  return config;
}

Result<std::unique_ptr<Session>> OpenSession(const std::string& config_path) {
  LoadOptions options;
  options.config_path = config_path;
  auto session = std::make_unique<Session>();
  FOPS_ASSIGN_OR_RETURN(session->config, LoadCheckedConfig(options));
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(session->config.global.log_level, &level);
  session->logger.set_level(level);
  const std::string& format = session->config.global.log_format;
  session->logger.AddSink(MakeStreamSink(stderr, format == "json"    ? LogFormat::kJson
                                                 : format == "human" ? LogFormat::kHuman
                                                                     : LogFormat::kAuto));
  session->pool = std::make_unique<ThreadPool>(static_cast<int>(session->config.global.threads));
  session->context.logger = &session->logger;
  session->context.pool = session->pool.get();
  session->context.threads = static_cast<int>(session->config.global.threads);
  session->context.seed = static_cast<uint64_t>(session->config.global.seed);
  session->context.progress = isatty(fileno(stderr)) != 0;
  return session;
}

namespace fs = std::filesystem;

std::string Fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string Shortened(std::string_view text, size_t width) {
  if (text.size() <= width) return std::string(text);
  if (width < 8) return std::string(text.substr(0, width));
  const size_t tail = (width - 2) / 3;  // the end tells names of one series apart ("… #7")
  return std::string(text.substr(0, width - 2 - tail)) + ".." +
         std::string(text.substr(text.size() - tail));
}

int Fail(const Status& status) {
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  return ExitCodeFor(status);
}

void PrintJson(const nlohmann::json& json) {
  std::cout << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

Result<Stores> OpenStores(const std::string& config_path, const std::string& home_override,
                          bool need_artifacts, bool create) {
  LoadOptions options;
  options.config_path = config_path;
  FOPS_ASSIGN_OR_RETURN(Config config, LoadCheckedConfig(options));
  if (!home_override.empty()) config.global.home = home_override;
  return OpenStoresFor(config, need_artifacts, create);
}

Result<Stores> OpenStoresFor(const Config& config, bool need_artifacts, bool create) {
  Stores stores;
  stores.config = config;
  fs::path home = fs::absolute(stores.config.Resolve(stores.config.global.home)).lexically_normal();
  if (create && stores.config.global.metadata_url.empty())
    FOPS_RETURN_IF_ERROR(MakeDirectories(home.string()));
  if (!create && stores.config.global.metadata_url.empty() &&
      !FileExists((home / "fraudops.db").string())) {
    return Status::NotFound("no metadata store at " + (home / "fraudops.db").string() +
                            " (global.home); run `fraudops run` first, or set global.metadata_url");
  }
  FOPS_ASSIGN_OR_RETURN(stores.metadata, MetadataStore::Open(stores.config.global.metadata_url,
                                                             (home / "fraudops.db").string()));
  if (need_artifacts) {
    FOPS_ASSIGN_OR_RETURN(stores.artifacts, OpenArtifactStore(stores.config.global.artifact_url,
                                                              (home / "artifacts").string(),
                                                              stores.config.artifacts));
  }
  return stores;
}

std::pair<std::string, std::string> SplitRef(const std::string& target) {
  size_t at = target.rfind('@');
  if (at == std::string::npos) return {target, "latest"};
  std::string ref = target.substr(at + 1);
  if (ref != "latest" && !ParseInt(ref)) ref = "@" + ref;
  return {target.substr(0, at), ref};
}

Result<ModelVersion> Resolve(MetadataStore& store, const std::string& target) {
  auto [model, ref] = SplitRef(target);
  if (model.empty())
    return Status::InvalidArgument("'" + target +
                                   "' names no model; accepted: NAME[@VERSION|@ALIAS]");
  return store.GetVersion(model, ref);
}

TempDirectory::TempDirectory() {
  char pattern[] = "/tmp/fraudops-model-XXXXXX";
  if (mkdtemp(pattern) != nullptr) path_ = pattern;
}

TempDirectory::~TempDirectory() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

}  // namespace fraudops
