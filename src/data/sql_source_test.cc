#include "data/sql_source.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "../../tests/test_util.h"
#include "data/csv_reader.h"

namespace fraudops {
namespace {

void Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << error;
  sqlite3_close(db);
}

TEST(SqliteSourceTest, ReadsATableLikeTheSameCsv) {
  testing::TempDir dir;
  std::string db = dir.File("bank.db");
  Exec(db,
       "CREATE TABLE transactions (Time REAL, V1 REAL, merchant TEXT, Amount REAL, Class INTEGER);"
       "INSERT INTO transactions VALUES (0, -1.3598071336738, 'grocery', 149.62, 0),"
       "(1, 1.19185711131486, 'travel', 2.69, 1), (2, NULL, 'grocery', 0, 0);");
  SqlOptions options;
  auto from_db = ReadSqlite(db, options);
  ASSERT_TRUE(from_db.ok()) << from_db.status().ToString();
  EXPECT_EQ(from_db->rows(), 3u);
  EXPECT_EQ(from_db->features[2].type, ColumnType::kCategorical);

  auto from_csv = ParseCsv(
      "Time,V1,merchant,Amount,Class\n0,-1.3598071336738,grocery,149.62,0\n"
      "1,1.19185711131486,travel,2.69,1\n2,,grocery,0,0\n",
      "t.csv", {}, nullptr);
  ASSERT_TRUE(from_csv.ok());
  EXPECT_EQ(from_db->ContentHash(), from_csv->ContentHash());
}

TEST(SqliteSourceTest, ReadsAQuery) {
  testing::TempDir dir;
  std::string db = dir.File("bank.db");
  Exec(db, "CREATE TABLE t (x REAL, y INTEGER, label TEXT); INSERT INTO t VALUES (1,2,'no'),(3,4,'yes'),(5,6,'no');");
  SqlOptions options;
  options.query = "SELECT x, label FROM t WHERE y > 2";
  options.table.label_column = "label";
  options.table.positive_label = "yes";
  auto d = ReadSqlite(db, options);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->rows(), 2u);
  EXPECT_EQ(d->label, (std::vector<float>{1, 0}));
}

TEST(SqliteSourceTest, MissingTableAndFileAreClearErrors) {
  testing::TempDir dir;
  std::string db = dir.File("bank.db");
  Exec(db, "CREATE TABLE other (a INTEGER);");
  auto missing_table = ReadSqlite(db, {});
  ASSERT_FALSE(missing_table.ok());
  EXPECT_NE(missing_table.status().message().find("cannot read table 'transactions'"), std::string::npos);
  EXPECT_NE(missing_table.status().message().find("no such table"), std::string::npos);

  auto missing_file = ReadSqlite(dir.File("none.db"), {});
  ASSERT_FALSE(missing_file.ok());
  EXPECT_NE(missing_file.status().message().find("does not exist"), std::string::npos);
}

}  // namespace
}  // namespace fraudops
