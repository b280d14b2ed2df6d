#pragma once
/// Reads a table or a query from an SQLite database: the embedded stand-in for the reference
/// design's database source. INTEGER and REAL values are numbers; a column holding text that
/// is not a number is categorical. NULL is missing.

#include <string>

#include "core/status.h"
#include "data/dataset.h"
#include "data/table.h"

namespace fraudops {

struct SqliteOptions {
  TableOptions table;
  std::string table_name = "transactions";
  std::string query;  ///< when set, wins over table_name
};

Result<Dataset> ReadSqlite(const std::string& path, const SqliteOptions& options);

}  // namespace fraudops
