#include "data/source.h"

#include <algorithm>
#include <filesystem>
#include <iterator>

#include "core/hash.h"
#include "core/s3.h"
#include "core/strings.h"
#include "data/dataset_file.h"

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

Result<std::pair<std::string, std::string>> SourceRegistry::Parse(const std::string& uri) const {
  std::string kind, location;
  size_t colon = uri.find(':');
  // "C:\..." style paths do not exist here; a one-letter scheme is not a kind either.
  if (uri.empty() || uri == "synthetic") {
    kind = "synthetic";
  } else if (uri == "s3") {
    kind = "s3";
  } else if (colon != std::string::npos && colon > 1 && uri.find('/') > colon) {
    kind = uri.substr(0, colon);
    location = uri.substr(colon + 1);
  } else {
    location = uri;
    std::string extension = ToLower(std::filesystem::path(uri).extension().string());
    if (extension == ".csv" || extension == ".tsv" || extension == ".txt")
      kind = "csv";
    else if (extension == ".db" || extension == ".sqlite" || extension == ".sqlite3")
      kind = "sqlite";
    else if (extension == ".fds")
      kind = "fds";
    else {
      return Status::InvalidArgument(
          "data source '" + uri + "': cannot tell its kind from the extension '" + extension +
          "'; write KIND:PATH with KIND one of " + Join(Kinds(), ", ") + " (e.g. csv:" + uri + ")");
    }
  }
  if (!readers_.count(kind)) {
    std::vector<std::string> kinds = Kinds();
    return Status::InvalidArgument("data source '" + uri + "': unknown kind '" + kind + "'" +
                                   DidYouMean(kind, kinds) + "; valid kinds: " + Join(kinds, ", "));
  }
  return std::make_pair(kind, location);
}

Result<LoadedData> SourceRegistry::Load(const std::string& uri, const SourceOptions& options,
                                        const Context& context) const {
  FOPS_ASSIGN_OR_RETURN(auto parsed, Parse(uri));
  return readers_.at(parsed.first)(parsed.second, options, context);
}

namespace {

Result<std::unique_ptr<SqlConnection>> OpenSqlSource(const std::string& kind,
                                                     const std::string& location) {
  if (kind == "sqlite") return OpenSqlite(location, /*read_only=*/true);
  std::string url = kind + ":" + location;
  auto opened = kind == "postgresql" || kind == "postgres" ? OpenPostgres(url) : OpenMysql(url);
  if (!opened.ok()) return Status::DataError(opened.status().message());
  return opened;
}

constexpr const char* kSqlKinds[] = {"sqlite", "postgresql", "postgres", "mysql", "mariadb"};

bool IsSqlKind(const std::string& kind) {
  return std::find(std::begin(kSqlKinds), std::end(kSqlKinds), kind) != std::end(kSqlKinds);
}

}  // namespace

Result<DatasetFileInfo> ImportToDatasetFile(const SourceRegistry& registry, const std::string& uri,
                                            const SourceOptions& options, const Context& context,
                                            const std::string& path) {
  FOPS_ASSIGN_OR_RETURN(auto parsed, registry.Parse(uri));
  if (IsSqlKind(parsed.first)) {
    FOPS_ASSIGN_OR_RETURN(auto connection, OpenSqlSource(parsed.first, parsed.second));
    SqlOptions sql = options.sql;
    sql.table = options.csv.table;
    return ImportSqlTable(*connection, sql, path);
  }
  if (parsed.first == "csv") return ImportCsvFile(parsed.second, options.csv, context.pool, path);
  FOPS_ASSIGN_OR_RETURN(LoadedData loaded, registry.Load(uri, options, context));
  return WriteDatasetFile(loaded.dataset, path);
}

namespace {

/// preprocess.drop_columns for the sources whose readers do not apply TableOptions (the
/// synthetic data, dataset files): the same columns leave, and a name the data lacks is the
/// same error.
Status DropColumns(Dataset& dataset, const TableOptions& table, const std::string& source) {
  const std::vector<std::string> names = dataset.FeatureNames();
  for (const std::string& name : table.drop_columns) {
    const int index = dataset.FeatureIndex(name);
    if (index < 0) {
      return Status::DataError(source + ": preprocess.drop_columns names column '" + name +
                               "', which the data does not have" + DidYouMean(name, names) +
                               "; its columns are: " + Join(names, ", "));
    }
    dataset.features.erase(dataset.features.begin() + index);
    dataset.columns.erase(dataset.columns.begin() + index);
  }
  return Status::Ok();
}

}  // namespace

void RegisterBuiltinSources(SourceRegistry& registry) {
  registry.Register(
      "synthetic",
      [](const std::string&, const SourceOptions& options,
         const Context& context) -> Result<LoadedData> {
        FOPS_ASSIGN_OR_RETURN(Dataset dataset, GenerateTransactions(options.synth, context.pool));
        FOPS_RETURN_IF_ERROR(DropColumns(dataset, options.csv.table, "synthetic"));
        nlohmann::json manifest = {{"kind", "synthetic"},
                                   {"generator", "fraudops synthetic transactions v1"},
                                   {"seed", options.synth.seed},
                                   {"fraud_rate", options.synth.fraud_rate}};
        return LoadedData{std::move(dataset), std::move(manifest)};
      });
  registry.Register("csv",
                    [](const std::string& path, const SourceOptions& options,
                       const Context& context) -> Result<LoadedData> {
                      FOPS_ASSIGN_OR_RETURN(Dataset dataset,
                                            ReadCsvFile(path, options.csv, context.pool));
                      nlohmann::json manifest = FileFacts(path);
                      manifest["kind"] = "csv";
                      return LoadedData{std::move(dataset), std::move(manifest)};
                    });
  // SQL databases: the table or query the options name, read in chunks.
  auto sql_reader = [](std::string kind) {
    return [kind](const std::string& location, const SourceOptions& options,
                  const Context&) -> Result<LoadedData> {
      SqlOptions sql = options.sql;
      sql.table = options.csv.table;
      FOPS_ASSIGN_OR_RETURN(auto connection, OpenSqlSource(kind, location));
      FOPS_ASSIGN_OR_RETURN(Dataset dataset, ReadSqlTable(*connection, sql));
      nlohmann::json manifest = {{"kind", kind}, {"location", connection->Describe()}};
      if (sql.query.empty())
        manifest["table"] = sql.table_name;
      else
        manifest["query"] = sql.query;
      return LoadedData{std::move(dataset), std::move(manifest)};
    };
  };
  for (const char* kind : kSqlKinds) {
    registry.Register(kind, sql_reader(kind));
  }
  // A dataset file (fraudops data import, or a run's processed split).
  registry.Register("fds",
                    [](const std::string& path, const SourceOptions& options,
                       const Context&) -> Result<LoadedData> {
                      DatasetFileInfo info;
                      FOPS_ASSIGN_OR_RETURN(Dataset dataset, ReadDatasetFile(path, &info));
                      FOPS_RETURN_IF_ERROR(DropColumns(dataset, options.csv.table, path));
                      nlohmann::json manifest = FileFacts(path);
                      manifest["kind"] = "fds";
                      return LoadedData{std::move(dataset), std::move(manifest)};
                    });
  // An S3 object holding a CSV file.
  registry.Register(
      "s3",
      [](const std::string& location, const SourceOptions& options,
         const Context& context) -> Result<LoadedData> {
        if (location.empty()) {
          if (options.s3_bucket.empty() || options.s3_key.empty()) {
            return Status::InvalidArgument(
                "data source 's3' needs preprocess.s3_bucket and preprocess.s3_raw_data_key "
                "(S3_BUCKET, S3_RAW_DATA_KEY), or write s3://BUCKET/KEY");
          }
        }
        std::string uri = location.empty() ? "s3://" + options.s3_bucket + "/" + options.s3_key
                                           : "s3:" + location;
        FOPS_ASSIGN_OR_RETURN(S3Location where, ParseS3Uri(uri));
        auto settings = S3Settings::FromEnvironment();
        if (!settings.ok())
          return Status::InvalidArgument("data source " + uri + ": " + settings.status().message());
        S3Client client(*settings);
        auto body = client.Get(where);
        if (!body.ok())
          return Status::DataError("data source " + uri + ": " + body.status().message());
        FOPS_ASSIGN_OR_RETURN(Dataset dataset, ParseCsv(*body, uri, options.csv, context.pool));
        nlohmann::json manifest = {{"kind", "s3"},
                                   {"uri", uri},
                                   {"endpoint", settings->endpoint},
                                   {"bytes", body->size()},
                                   {"file_sha256", Sha256Hex(*body)}};
        return LoadedData{std::move(dataset), std::move(manifest)};
      });
}

}  // namespace fraudops
