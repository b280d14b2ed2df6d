#pragma once
/// Data sources by URI, through a registry of kinds (registered explicitly in
/// RegisterBuiltinSources). A URI is `KIND:LOCATION`, or a bare path whose extension names
/// the kind (.csv .tsv .txt: csv; .db .sqlite .sqlite3: sqlite), or empty for the built-in
/// synthetic dataset.
///   synthetic            the built-in transactions (preprocess.synthetic_rows, seed)
///   csv:PATH | PATH.csv  a CSV file
///   sqlite:PATH          preprocess.sql_query, else preprocess.sql_table
///   postgresql://…       the same, from PostgreSQL (libpq URL; password never recorded)
///   mysql://… mariadb:// the same, from MySQL or MariaDB
///   fds:PATH | PATH.fds  a dataset file (fraudops data import)
///   s3://BUCKET/KEY      a CSV object; bare "s3": s3_bucket / s3_key of the options (credentials
///   and endpoint: the AWS_* variables)
///   s3://BUCKET/PREFIX/  every object under the prefix (a trailing '/'), in key order, as one
///   csv:DIRECTORY        every .csv/.tsv/.txt file in it, in name order, as one table
///                        (data/parts.h brings the files to one schema)
///
/// Sharded reading (docs/distributed-training.md): LoadPart reads part r of N of a source —
/// a CSV file by byte ranges split at line ends, a directory or an S3 prefix by whole files,
/// a dataset file by row ranges, an SQL table or query by `shard_key` modulo N — each part
/// coded on its own, to be unified with the others (data/parts.h).

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/context.h"
#include "core/status.h"
#include "data/csv_reader.h"
#include "data/dataset.h"
#include "data/dataset_file.h"
#include "data/sql_source.h"
#include "data/synth.h"

namespace fraudops {

struct SourceOptions {
  CsvOptions csv;
  SqlOptions sql;  ///< its `table` is taken from csv.table
  SynthOptions synth;
  std::string s3_bucket, s3_key;  ///< the object the bare URI "s3" reads
};

/// The options a worker needs to read its part as the leader would (sharded reading): the
/// table, CSV and SQL settings and the S3 object, as JSON and back.
nlohmann::json SourceOptionsJson(const SourceOptions& options);
Result<SourceOptions> SourceOptionsFromJson(const nlohmann::json& json);

struct LoadedData {
  Dataset dataset;
  /// What was read, for raw/manifest.json: kind, location, rows, bytes, file sha256.
  nlohmann::json manifest;
};

class SourceRegistry {
 public:
  using Reader = std::function<Result<LoadedData>(const std::string& location, const SourceOptions&,
                                                  const Context&)>;
  /// Reads part `part` of `parts` of a source; its manifest names the part.
  using PartReader = std::function<Result<LoadedData>(
      const std::string& location, const SourceOptions&, int part, int parts, const Context&)>;
  /// Whether a location of the kind can be read in parts with these options, checked before
  /// any worker starts.
  using PartCheck = std::function<Status(const std::string& location, const SourceOptions&)>;
  void Register(const std::string& kind, Reader reader);
  /// Registers how a kind reads in parts (sharded reading), and what it checks first.
  void RegisterParts(const std::string& kind, PartReader reader, PartCheck check = nullptr);
  /// Reads `uri`; an unknown kind is an error listing the registered ones.
  Result<LoadedData> Load(const std::string& uri, const SourceOptions& options,
                          const Context& context) const;
  /// Reads part `part` of `parts` of `uri` (its categories coded on their own: unify the parts
  /// with data/parts.h). A part may hold no rows.
  Result<LoadedData> LoadPart(const std::string& uri, const SourceOptions& options, int part,
                              int parts, const Context& context) const;
  /// Fails, naming the kinds that can, when `uri` cannot be read in parts.
  Status CheckReadsInParts(const std::string& uri, const SourceOptions& options) const;
  std::vector<std::string> Kinds() const;
  /// (kind, location) of `uri`, or the error Load would give.
  Result<std::pair<std::string, std::string>> Parse(const std::string& uri) const;

 private:
  std::map<std::string, Reader> readers_;
  std::map<std::string, PartReader> part_readers_;
  std::map<std::string, PartCheck> part_checks_;
};

/// Writes the data at `uri` as a dataset file: SQL sources stream into it chunk by chunk
/// (ImportSqlTable) and CSV files a window at a time (ImportCsvFile), so both may be larger
/// than memory; others are read, then written.
Result<DatasetFileInfo> ImportToDatasetFile(const SourceRegistry& registry, const std::string& uri,
                                            const SourceOptions& options, const Context& context,
                                            const std::string& path);

/// Registers synthetic, fds, csv, sqlite, postgresql (and postgres), mysql (and mariadb), s3.
void RegisterBuiltinSources(SourceRegistry& registry);

}  // namespace fraudops
