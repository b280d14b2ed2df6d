#pragma once
/// Reads a table or a query from an SQL database — SQLite (embedded), PostgreSQL or
/// MySQL/MariaDB — through the drivers of data/sql.h: the reference design's `rds` source.
/// Rows stream in chunks. Integer and floating-point columns are numbers; a column holding
/// text that is not a number is categorical; NULL is missing. The same rows give the same
/// Dataset (and content hash) as the same CSV.

#include <string>

#include "core/status.h"
#include "data/dataset.h"
#include "data/sql.h"
#include "data/table.h"

namespace fraudops {

struct SqlOptions {
  TableOptions table;
  std::string table_name = "transactions";  ///< may be schema-qualified: credit_fraud.transactions
  std::string query;                        ///< when set, wins over table_name
  size_t chunk_rows = 10000;
};

/// Reads from an open connection; `source` names the input in messages.
Result<Dataset> ReadSqlTable(SqlConnection& connection, const SqlOptions& options);

/// Opens `sqlite:PATH` read-only and reads it.
Result<Dataset> ReadSqlite(const std::string& path, const SqlOptions& options);

}  // namespace fraudops
