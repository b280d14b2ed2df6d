#include "data/source.h"

#include <algorithm>
#include <filesystem>
#include <iterator>

#include "core/hash.h"
#include "core/s3.h"
#include "core/strings.h"
#include "data/dataset_file.h"
#include "data/parts.h"

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

constexpr const char* kSqlKinds[] = {"sqlite", "postgresql", "postgres", "mysql", "mariadb"};

bool IsSqlKind(const std::string& kind) {
  return std::find(std::begin(kSqlKinds), std::end(kSqlKinds), kind) != std::end(kSqlKinds);
}

}  // namespace

void SourceRegistry::Register(const std::string& kind, Reader reader) {
  readers_[kind] = std::move(reader);
}

void SourceRegistry::RegisterParts(const std::string& kind, PartReader reader, PartCheck check) {
  part_readers_[kind] = std::move(reader);
  if (check) part_checks_[kind] = std::move(check);
}

Status SourceRegistry::CheckReadsInParts(const std::string& uri,
                                         const SourceOptions& options) const {
  FOPS_ASSIGN_OR_RETURN(auto parsed, Parse(uri));
  if (part_readers_.count(parsed.first)) {
    auto check = part_checks_.find(parsed.first);
    return check == part_checks_.end() ? Status::Ok() : check->second(parsed.second, options);
  }
  std::vector<std::string> kinds;
  for (const auto& [kind, reader] : part_readers_) kinds.push_back(kind);
  return Status::InvalidArgument("data source '" + uri + "' (" + parsed.first +
                                 ") cannot be read in parts; sharded reading reads " +
                                 Join(kinds, ", ") +
                                 " (import other data into a dataset file first: fraudops data "
                                 "import)");
}

Result<LoadedData> SourceRegistry::LoadPart(const std::string& uri, const SourceOptions& options,
                                            int part, int parts, const Context& context) const {
  FOPS_RETURN_IF_ERROR(CheckReadsInParts(uri, options));
  if (parts < 1 || part < 0 || part >= parts) {
    return Status::InvalidArgument("part " + std::to_string(part) + " of " + std::to_string(parts) +
                                   " does not exist");
  }
  FOPS_ASSIGN_OR_RETURN(auto parsed, Parse(uri));
  return part_readers_.at(parsed.first)(parsed.second, options, part, parts, context);
}

nlohmann::json SourceOptionsJson(const SourceOptions& options) {
  const TableOptions& table = options.csv.table;
  return {{"label_column", table.label_column},
          {"positive_label", table.positive_label},
          {"numeric_label", table.numeric_label},
          {"missing_values", table.missing_values},
          {"categorical_columns", table.categorical_columns},
          {"drop_columns", table.drop_columns},
          {"delimiter", std::string(1, options.csv.delimiter)},
          {"type_inference_rows", options.csv.type_inference_rows},
          {"sql_table", options.sql.table_name},
          {"sql_query", options.sql.query},
          {"shard_key", options.sql.shard_key},
          {"s3_bucket", options.s3_bucket},
          {"s3_key", options.s3_key}};
}

Result<SourceOptions> SourceOptionsFromJson(const nlohmann::json& json) {
  SourceOptions options;
  try {
    TableOptions& table = options.csv.table;
    table.label_column = json.at("label_column").get<std::string>();
    table.positive_label = json.at("positive_label").get<std::string>();
    table.numeric_label = json.at("numeric_label").get<bool>();
    table.missing_values = json.at("missing_values").get<std::vector<std::string>>();
    table.categorical_columns = json.at("categorical_columns").get<std::vector<std::string>>();
    table.drop_columns = json.at("drop_columns").get<std::vector<std::string>>();
    const std::string delimiter = json.at("delimiter").get<std::string>();
    options.csv.delimiter = delimiter.empty() ? char{0} : delimiter[0];
    options.csv.type_inference_rows = json.at("type_inference_rows").get<size_t>();
    options.sql.table_name = json.at("sql_table").get<std::string>();
    options.sql.query = json.at("sql_query").get<std::string>();
    options.sql.shard_key = json.at("shard_key").get<std::string>();
    options.s3_bucket = json.at("s3_bucket").get<std::string>();
    options.s3_key = json.at("s3_key").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return Status::DataError(std::string("the data source options are incomplete: ") + e.what());
  }
  return options;
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
    else if (std::filesystem::is_directory(uri))
      kind = "csv";  // a directory of CSV files
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

/// The files of part `part` of `parts` of `count` files: [count·part/parts,
/// count·(part+1)/parts); each part needs at least one file.
Result<std::pair<size_t, size_t>> FilesOfPart(size_t count, int part, int parts,
                                              const std::string& where) {
  if (count < static_cast<size_t>(parts)) {
    return Status::InvalidArgument(
        where + " holds " + std::to_string(count) + " files for " + std::to_string(parts) +
        " workers; sharded reading gives each worker whole files: use at most " +
        std::to_string(count) + " workers, more files, or one CSV file (split by bytes)");
  }
  const size_t n = static_cast<size_t>(parts), r = static_cast<size_t>(part);
  return std::make_pair(count * r / n, count * (r + 1) / n);
}

/// The .csv/.tsv/.txt files in `directory`, in name order.
Result<std::vector<std::string>> CsvFilesIn(const std::string& directory) {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string extension = ToLower(entry.path().extension().string());
    if (entry.is_regular_file() &&
        (extension == ".csv" || extension == ".tsv" || extension == ".txt"))
      files.push_back(entry.path().string());
  }
  if (error) return Status::DataError("cannot list " + directory + ": " + error.message());
  if (files.empty()) {
    return Status::DataError(directory +
                             " holds no data file; a directory source reads its .csv, .tsv and "
                             ".txt files in name order");
  }
  std::sort(files.begin(), files.end());
  return files;
}

/// The objects under an S3 prefix (a URI ending in '/'), in key order.
Result<std::vector<std::string>> S3ObjectsUnder(S3Client& client, const S3Location& prefix) {
  auto keys = client.List(prefix);
  if (!keys.ok())
    return Status::DataError("data source " + prefix.Uri() + ": " + keys.status().message());
  std::vector<std::string> objects;
  for (const std::string& key : *keys) {
    if (!key.empty() && key.back() != '/') objects.push_back(key);
  }
  if (objects.empty())
    return Status::DataError("data source " + prefix.Uri() + ": no object under the prefix");
  std::sort(objects.begin(), objects.end());
  return objects;
}

/// The categorical columns of `options` plus `more`.
CsvOptions WithCategorical(const CsvOptions& options, const std::vector<std::string>& more) {
  CsvOptions out = options;
  for (const std::string& name : more) {
    if (std::find(out.table.categorical_columns.begin(), out.table.categorical_columns.end(),
                  name) == out.table.categorical_columns.end())
      out.table.categorical_columns.push_back(name);
  }
  return out;
}

/// CSV files [begin, end) of `files` as one dataset (data/parts.h).
Result<Dataset> ReadCsvFiles(const std::vector<std::string>& files, size_t begin, size_t end,
                             const CsvOptions& options, const Context& context) {
  const std::vector<std::string> sources(files.begin() + static_cast<long>(begin),
                                         files.begin() + static_cast<long>(end));
  return ReadParts(sources.size(), sources, options.table.numeric_label,
                   [&](size_t i, const std::vector<std::string>& categorical) {
                     return ReadCsvFile(sources[i], WithCategorical(options, categorical),
                                        context.pool);
                   });
}

/// S3 objects [begin, end) of `keys` under `bucket` as one dataset; `objects` gets each
/// object's URI, size and digest.
Result<Dataset> ReadS3Objects(S3Client& client, const std::string& bucket,
                              const std::vector<std::string>& keys, size_t begin, size_t end,
                              const CsvOptions& options, const Context& context,
                              nlohmann::json* objects) {
  std::vector<std::string> sources;
  for (size_t i = begin; i < end; ++i) sources.push_back("s3://" + bucket + "/" + keys[i]);
  std::vector<std::string> bodies(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    auto body = client.Get({bucket, keys[begin + i]});
    if (!body.ok())
      return Status::DataError("data source " + sources[i] + ": " + body.status().message());
    objects->push_back(
        {{"uri", sources[i]}, {"bytes", body->size()}, {"sha256", Sha256Hex(*body)}});
    bodies[i] = std::move(*body);
  }
  return ReadParts(sources.size(), sources, options.table.numeric_label,
                   [&](size_t i, const std::vector<std::string>& categorical) {
                     return ParseCsv(bodies[i], sources[i], WithCategorical(options, categorical),
                                     context.pool);
                   });
}

/// The S3 settings and location of an s3 source's `location` ("" for the options' object).
Result<std::pair<S3Settings, std::string>> S3Source(const std::string& location,
                                                    const SourceOptions& options) {
  if (location.empty() && (options.s3_bucket.empty() || options.s3_key.empty())) {
    return Status::InvalidArgument(
        "data source 's3' needs preprocess.s3_bucket and preprocess.s3_raw_data_key "
        "(S3_BUCKET, S3_RAW_DATA_KEY), or write s3://BUCKET/KEY");
  }
  std::string uri =
      location.empty() ? "s3://" + options.s3_bucket + "/" + options.s3_key : "s3:" + location;
  auto settings = S3Settings::FromEnvironment();
  if (!settings.ok())
    return Status::InvalidArgument("data source " + uri + ": " + settings.status().message());
  return std::make_pair(std::move(*settings), std::move(uri));
}

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
  registry.Register(
      "csv",
      [](const std::string& path, const SourceOptions& options,
         const Context& context) -> Result<LoadedData> {
        if (std::filesystem::is_directory(path)) {
          FOPS_ASSIGN_OR_RETURN(std::vector<std::string> files, CsvFilesIn(path));
          FOPS_ASSIGN_OR_RETURN(Dataset dataset,
                                ReadCsvFiles(files, 0, files.size(), options.csv, context));
          nlohmann::json manifest = {{"kind", "csv"}, {"directory", path}};
          for (const std::string& file : files) manifest["files"].push_back(FileFacts(file));
          return LoadedData{std::move(dataset), std::move(manifest)};
        }
        FOPS_ASSIGN_OR_RETURN(Dataset dataset, ReadCsvFile(path, options.csv, context.pool));
        nlohmann::json manifest = FileFacts(path);
        manifest["kind"] = "csv";
        return LoadedData{std::move(dataset), std::move(manifest)};
      });
  // A CSV file in byte ranges split at line ends; a directory by whole files.
  registry.RegisterParts(
      "csv",
      [](const std::string& path, const SourceOptions& options, int part, int parts,
         const Context& context) -> Result<LoadedData> {
        nlohmann::json manifest = {{"kind", "csv"}, {"part", part}, {"parts", parts}};
        if (std::filesystem::is_directory(path)) {
          FOPS_ASSIGN_OR_RETURN(std::vector<std::string> files, CsvFilesIn(path));
          FOPS_ASSIGN_OR_RETURN(auto range, FilesOfPart(files.size(), part, parts, path));
          FOPS_ASSIGN_OR_RETURN(Dataset dataset, ReadCsvFiles(files, range.first, range.second,
                                                              options.csv, context));
          manifest["directory"] = path;
          for (size_t i = range.first; i < range.second; ++i)
            manifest["files"].push_back(FileFacts(files[i]));
          return LoadedData{std::move(dataset), std::move(manifest)};
        }
        std::pair<size_t, size_t> bytes;
        FOPS_ASSIGN_OR_RETURN(
            Dataset dataset, ReadCsvFilePart(path, options.csv, context.pool, part, parts, &bytes));
        manifest["path"] = path;
        manifest["bytes"] = {bytes.first, bytes.second};
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
    // By the shard key modulo the parts.
    registry.RegisterParts(
        kind,
        [kind, sql_reader](const std::string& location, const SourceOptions& options, int part,
                           int parts, const Context& context) -> Result<LoadedData> {
          SourceOptions mine = options;
          mine.sql.part = part;
          mine.sql.parts = parts;
          FOPS_ASSIGN_OR_RETURN(LoadedData loaded, sql_reader(kind)(location, mine, context));
          loaded.manifest["part"] = part;
          loaded.manifest["parts"] = parts;
          loaded.manifest["where"] =
              options.sql.shard_key + " % " + std::to_string(parts) + " = " + std::to_string(part);
          return loaded;
        },
        [kind](const std::string& location, const SourceOptions& options) {
          if (!options.sql.shard_key.empty()) return Status::Ok();
          return Status::InvalidArgument(
              std::string("sharded reading of an SQL source (") + kind + ":" + location +
              ") needs preprocess.shard_key: an integer column; worker r of N reads the rows whose "
              "key modulo N is r");
        });
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
  // A dataset file by row ranges: part r of N the rows [n·r/N, n·(r+1)/N). The part is not
  // checked against the file's checksum (that reads the whole file); its content hash is
  // recorded.
  registry.RegisterParts(
      "fds",
      [](const std::string& path, const SourceOptions& options, int part, int parts,
         const Context&) -> Result<LoadedData> {
        FOPS_ASSIGN_OR_RETURN(std::unique_ptr<DatasetFileReader> reader,
                              DatasetFileReader::Open(path));
        const size_t n = reader->rows(), r = static_cast<size_t>(part),
                     count = static_cast<size_t>(parts);
        const size_t begin = n * r / count, end = n * (r + 1) / count;
        FOPS_ASSIGN_OR_RETURN(Dataset dataset, ReadDatasetFileRows(*reader, begin, end));
        FOPS_RETURN_IF_ERROR(DropColumns(dataset, options.csv.table, path));
        nlohmann::json manifest = {{"kind", "fds"},  {"path", path},         {"part", part},
                                   {"parts", parts}, {"rows", {begin, end}}, {"file_rows", n}};
        return LoadedData{std::move(dataset), std::move(manifest)};
      });
  // An S3 object holding a CSV file, or every object under a prefix (a URI ending in '/').
  registry.Register(
      "s3",
      [](const std::string& location, const SourceOptions& options,
         const Context& context) -> Result<LoadedData> {
        FOPS_ASSIGN_OR_RETURN(auto source, S3Source(location, options));
        const auto& [settings, uri] = source;
        FOPS_ASSIGN_OR_RETURN(S3Location where, ParseS3Uri(uri));
        S3Client client(settings);
        if (where.key.empty() || where.key.back() == '/') {
          FOPS_ASSIGN_OR_RETURN(std::vector<std::string> keys, S3ObjectsUnder(client, where));
          nlohmann::json manifest = {{"kind", "s3"},
                                     {"prefix", uri},
                                     {"endpoint", settings.endpoint},
                                     {"objects", nlohmann::json::array()}};
          FOPS_ASSIGN_OR_RETURN(Dataset dataset,
                                ReadS3Objects(client, where.bucket, keys, 0, keys.size(),
                                              options.csv, context, &manifest["objects"]));
          return LoadedData{std::move(dataset), std::move(manifest)};
        }
        auto body = client.Get(where);
        if (!body.ok())
          return Status::DataError("data source " + uri + ": " + body.status().message());
        FOPS_ASSIGN_OR_RETURN(Dataset dataset, ParseCsv(*body, uri, options.csv, context.pool));
        nlohmann::json manifest = {{"kind", "s3"},
                                   {"uri", uri},
                                   {"endpoint", settings.endpoint},
                                   {"bytes", body->size()},
                                   {"file_sha256", Sha256Hex(*body)}};
        return LoadedData{std::move(dataset), std::move(manifest)};
      });
  // The objects under a prefix, whole objects to each part.
  registry.RegisterParts(
      "s3",
      [](const std::string& location, const SourceOptions& options, int part, int parts,
         const Context& context) -> Result<LoadedData> {
        FOPS_ASSIGN_OR_RETURN(auto source, S3Source(location, options));
        const auto& [settings, uri] = source;
        FOPS_ASSIGN_OR_RETURN(S3Location where, ParseS3Uri(uri));
        S3Client client(settings);
        FOPS_ASSIGN_OR_RETURN(std::vector<std::string> keys, S3ObjectsUnder(client, where));
        FOPS_ASSIGN_OR_RETURN(auto range, FilesOfPart(keys.size(), part, parts, uri));
        nlohmann::json manifest = {{"kind", "s3"},
                                   {"prefix", uri},
                                   {"part", part},
                                   {"parts", parts},
                                   {"endpoint", settings.endpoint},
                                   {"objects", nlohmann::json::array()}};
        FOPS_ASSIGN_OR_RETURN(Dataset dataset,
                              ReadS3Objects(client, where.bucket, keys, range.first, range.second,
                                            options.csv, context, &manifest["objects"]));
        return LoadedData{std::move(dataset), std::move(manifest)};
      },
      [](const std::string& location, const SourceOptions& options) -> Status {
        const std::string uri = location.empty()
                                    ? "s3://" + options.s3_bucket + "/" + options.s3_key
                                    : "s3:" + location;
        if (uri.back() == '/') return Status::Ok();
        return Status::InvalidArgument(
            "data source " + uri +
            " is one object; sharded reading reads the objects under a prefix: write "
            "s3://BUCKET/PREFIX/ (with the trailing '/')");
      });
}

}  // namespace fraudops
