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

struct LoadedData {
  Dataset dataset;
  /// What was read, for raw/manifest.json: kind, location, rows, bytes, file sha256.
  nlohmann::json manifest;
};

class SourceRegistry {
 public:
  using Reader = std::function<Result<LoadedData>(const std::string& location, const SourceOptions&,
                                                  const Context&)>;
  void Register(const std::string& kind, Reader reader);
  /// Reads `uri`; an unknown kind is an error listing the registered ones.
  Result<LoadedData> Load(const std::string& uri, const SourceOptions& options,
                          const Context& context) const;
  std::vector<std::string> Kinds() const;
  /// (kind, location) of `uri`, or the error Load would give.
  Result<std::pair<std::string, std::string>> Parse(const std::string& uri) const;

 private:
  std::map<std::string, Reader> readers_;
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
