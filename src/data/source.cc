#include "data/source.h"

#include <filesystem>

#include "core/hash.h"
#include "core/strings.h"

namespace fraudops {

namespace {

nlohmann::json FileFacts(const std::string& path) {
  nlohmann::json facts = {{"path", path}};
  std::error_code error;
  auto size = std::filesystem::file_size(path, error);
  if (!error) facts["bytes"] = size;
  auto digest = Sha256File(path);
  if (digest.ok()) facts["file_sha256"] = *digest;
  return facts;
}

}  // namespace

void SourceRegistry::Register(const std::string& kind, Reader reader) {
  readers_[kind] = std::move(reader);
}

std::vector<std::string> SourceRegistry::Kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, reader] : readers_) kinds.push_back(kind);
  return kinds;
}

Result<LoadedData> SourceRegistry::Load(const std::string& uri, const SourceOptions& options,
                                        const Context& context) const {
  std::string kind, location;
  size_t colon = uri.find(':');
  // "C:\..." style paths do not exist here; a one-letter scheme is not a kind either.
  if (uri.empty() || uri == "synthetic") {
    kind = "synthetic";
  } else if (colon != std::string::npos && colon > 1 && uri.find('/') > colon) {
    kind = uri.substr(0, colon);
    location = uri.substr(colon + 1);
  } else {
    location = uri;
    std::string extension = ToLower(std::filesystem::path(uri).extension().string());
    if (extension == ".csv" || extension == ".tsv" || extension == ".txt") kind = "csv";
    else if (extension == ".db" || extension == ".sqlite" || extension == ".sqlite3") kind = "sqlite";
    else {
      return Status::InvalidArgument(
          "data source '" + uri + "': cannot tell its kind from the extension '" + extension +
          "'; write KIND:PATH with KIND one of " + Join(Kinds(), ", ") +
          " (e.g. csv:" + uri + ")");
    }
  }
  auto it = readers_.find(kind);
  if (it == readers_.end()) {
    std::vector<std::string> kinds = Kinds();
    return Status::InvalidArgument("data source '" + uri + "': unknown kind '" + kind + "'" +
                                   DidYouMean(kind, kinds) + "; valid kinds: " + Join(kinds, ", "));
  }
  return it->second(location, options, context);
}

void RegisterBuiltinSources(SourceRegistry& registry) {
  registry.Register("synthetic", [](const std::string&, const SourceOptions& options,
                                    const Context& context) -> Result<LoadedData> {
    FOPS_ASSIGN_OR_RETURN(Dataset dataset, GenerateTransactions(options.synth, context.pool));
    nlohmann::json manifest = {{"kind", "synthetic"},
                               {"generator", "fraudops synthetic transactions v1"},
                               {"seed", options.synth.seed},
                               {"fraud_rate", options.synth.fraud_rate}};
    return LoadedData{std::move(dataset), std::move(manifest)};
  });
  registry.Register("csv", [](const std::string& path, const SourceOptions& options,
                              const Context& context) -> Result<LoadedData> {
    FOPS_ASSIGN_OR_RETURN(Dataset dataset, ReadCsvFile(path, options.csv, context.pool));
    nlohmann::json manifest = FileFacts(path);
    manifest["kind"] = "csv";
    return LoadedData{std::move(dataset), std::move(manifest)};
  });
  registry.Register("sqlite", [](const std::string& path, const SourceOptions& options,
                                 const Context&) -> Result<LoadedData> {
    SqliteOptions sqlite = options.sqlite;
    sqlite.table = options.csv.table;
    FOPS_ASSIGN_OR_RETURN(Dataset dataset, ReadSqlite(path, sqlite));
    nlohmann::json manifest = {{"kind", "sqlite"}, {"path", path}};
    if (sqlite.query.empty()) manifest["table"] = sqlite.table_name;
    else manifest["query"] = sqlite.query;
    return LoadedData{std::move(dataset), std::move(manifest)};
  });
}

}  // namespace fraudops
