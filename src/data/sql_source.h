#pragma once
/// Reads a table or a query from an SQL database — SQLite (embedded), PostgreSQL or
/// MySQL/MariaDB — through the drivers of data/sql.h: the reference design's `rds` source.
/// Rows stream in chunks. Integer and floating-point columns are numbers; a column holding
/// text that is not a number is categorical; NULL is missing. The same rows give the same
/// Dataset (and content hash) as the same CSV.

#include <string>

#include "core/status.h"
#include "data/dataset.h"
#include "data/dataset_file.h"
#include "data/sql.h"
#include "data/table.h"

namespace fraudops {

struct SqlOptions {
  TableOptions table;
  std::string table_name = "transactions";  ///< may be schema-qualified: credit_fraud.transactions
  std::string query;                        ///< when set, wins over table_name
  /// Sharded reading: when parts > 1, only the rows whose integer `shard_key` modulo parts is
  /// `part`, ordered by the key.
  std::string shard_key;
  int part = 0, parts = 1;
  size_t chunk_rows = 10000;
};

/// Reads from an open connection; `source` names the input in messages.
Result<Dataset> ReadSqlTable(SqlConnection& connection, const SqlOptions& options);

/// Streams a table or query into the dataset file `path` without holding it in memory: each
/// column goes to a scratch file beside `path` as chunks arrive, then the file is assembled
/// (data/dataset_file.h). Column types are decided on the first chunk: a text value that is
/// not a number in a later chunk of a numeric column is an error that names the row and
/// suggests preprocess.categorical_columns. The result equals ReadSqlTable's Dataset
/// (same content hash) whenever that decision agrees.
Result<DatasetFileInfo> ImportSqlTable(SqlConnection& connection, const SqlOptions& options,
                                       const std::string& path);

/// Opens `sqlite:PATH` read-only and reads it.
Result<Dataset> ReadSqlite(const std::string& path, const SqlOptions& options);

}  // namespace fraudops
