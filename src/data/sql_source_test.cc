#include "data/sql_source.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "../../tests/server_util.h"
#include "../../tests/test_util.h"
#include "data/csv_reader.h"
#include "data/dataset_file.h"

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
  Exec(db,
       "CREATE TABLE t (x REAL, y INTEGER, label TEXT); INSERT INTO t VALUES "
       "(1,2,'no'),(3,4,'yes'),(5,6,'no');");
  SqlOptions options;
  options.query = "SELECT x, label FROM t WHERE y > 2";
  options.table.label_column = "label";
  options.table.positive_label = "yes";
  auto d = ReadSqlite(db, options);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->rows(), 2u);
  EXPECT_EQ(d->label, (std::vector<float>{1, 0}));
}

TEST(SqliteSourceTest, ReadsATableWithoutLabel) {
  testing::TempDir dir;
  std::string db = dir.File("bank.db");
  Exec(db,
       "CREATE TABLE transactions (id INTEGER, x REAL); INSERT INTO transactions VALUES "
       "(12345678901,1.5),(2,NULL);");
  SqlOptions options;
  options.table.label_column = "";
  options.table.categorical_columns = {"id"};
  auto d = ReadSqlite(db, options);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->rows(), 2u);
  EXPECT_EQ(d->features[0].categories, (std::vector<std::string>{"12345678901", "2"}));
  EXPECT_TRUE(std::isnan(d->columns[1][1]));
}

TEST(SqliteSourceTest, MissingTableAndFileAreClearErrors) {
  testing::TempDir dir;
  std::string db = dir.File("bank.db");
  Exec(db, "CREATE TABLE other (a INTEGER);");
  auto missing_table = ReadSqlite(db, {});
  ASSERT_FALSE(missing_table.ok());
  EXPECT_NE(missing_table.status().message().find("cannot read table 'transactions'"),
            std::string::npos);
  EXPECT_NE(missing_table.status().message().find("no such table"), std::string::npos);

  auto missing_file = ReadSqlite(dir.File("none.db"), {});
  ASSERT_FALSE(missing_file.ok());
  EXPECT_NE(missing_file.status().message().find("does not exist"), std::string::npos);
}

/// The same rows through each network database: same Dataset hash as the CSV.
void ExpectSameAsCsv(SqlConnection& db, const std::string& create) {
  ASSERT_TRUE(db.Exec(create).ok());
  ASSERT_TRUE(
      db.Exec("INSERT INTO transactions VALUES (0, -1.3598071336738, 'grocery', 149.62, 0)").ok());
  ASSERT_TRUE(
      db.Exec("INSERT INTO transactions VALUES (1, 1.19185711131486, 'travel', 2.69, 1)").ok());
  ASSERT_TRUE(db.Exec("INSERT INTO transactions VALUES (2, NULL, 'grocery', 0, 0)").ok());
  SqlOptions options;
  options.chunk_rows = 2;  // several chunks
  auto from_db = ReadSqlTable(db, options);
  ASSERT_TRUE(from_db.ok()) << from_db.status().ToString();
  auto from_csv = ParseCsv(
      "Time,V1,merchant,Amount,Class\n0,-1.3598071336738,grocery,149.62,0\n"
      "1,1.19185711131486,travel,2.69,1\n2,,grocery,0,0\n",
      "t.csv", {}, nullptr);
  ASSERT_TRUE(from_csv.ok());
  EXPECT_EQ(from_db->ContentHash(), from_csv->ContentHash());

  options.table_name = "missing_table";
  auto missing = ReadSqlTable(db, options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kDataError);
  EXPECT_NE(missing.status().message().find("cannot read table 'missing_table'"), std::string::npos)
      << missing.status().message();
}

TEST(SqlSourceTest, PostgresqlReadsLikeTheSameCsv) {
  FOPS_NEED_SERVER(admin, "FOPS_TEST_POSTGRES_URL");
  testing::ScratchDatabase database(admin);
  ASSERT_TRUE(database.error().empty()) << database.error();
  auto db = OpenPostgres(database.url());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ExpectSameAsCsv(**db,
                  "CREATE TABLE transactions (\"Time\" DOUBLE PRECISION, \"V1\" DOUBLE PRECISION, "
                  "merchant TEXT, \"Amount\" DOUBLE PRECISION, \"Class\" INTEGER)");
}

TEST(SqlSourceTest, MariadbReadsLikeTheSameCsv) {
  FOPS_NEED_SERVER(admin, "FOPS_TEST_MYSQL_URL");
  testing::ScratchDatabase database(admin);
  ASSERT_TRUE(database.error().empty()) << database.error();
  auto db = OpenMysql(database.url());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ExpectSameAsCsv(**db,
                  "CREATE TABLE transactions (Time DOUBLE, V1 DOUBLE, merchant VARCHAR(20), "
                  "Amount DOUBLE, Class INT)");
}

TEST(SqlSourceTest, WrongCredentialsAndUnreachableServersAreClearAndBounded) {
  FOPS_NEED_SERVER(admin, "FOPS_TEST_MYSQL_URL");
  std::string wrong = admin;
  wrong.replace(wrong.find(":fraudops@"), 10, ":wrong-password@");
  auto refused = OpenMysql(wrong);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("Access denied"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().message().find("wrong-password"), std::string::npos)
      << "the password leaked";

  auto started = std::chrono::steady_clock::now();
  auto unreachable = OpenMysql("mysql://u:p@10.255.255.1:3306/db");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_FALSE(unreachable.ok());
  EXPECT_LT(seconds, 15.0);
  EXPECT_NE(unreachable.status().message().find("mysql://u:***@10.255.255.1"), std::string::npos)
      << unreachable.status().message();
}

/// ImportSqlTable streams into a dataset file equal to what ReadSqlTable reads.
void ExpectImportEqualsRead(SqlConnection& db, const std::string& directory) {
  SqlOptions options;
  options.table_name = "big";
  options.table.categorical_columns = {};
  auto read = ReadSqlTable(db, options);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  options.chunk_rows = 100;  // 25 chunks
  std::string path = directory + "/big.fds";
  auto imported = ImportSqlTable(db, options, path);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->rows, 2500u);
  EXPECT_EQ(imported->content_hash, read->ContentHash());
  DatasetFileInfo info;
  auto back = ReadDatasetFile(path, &info);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ContentHash(), read->ContentHash());
  EXPECT_EQ(back->features[1].type, ColumnType::kCategorical);
  EXPECT_FALSE(std::filesystem::exists(path + ".import"));  // scratch files removed

  // Sharded reading: part r of 3 holds the rows whose id modulo 3 is r, in id order.
  size_t rows = 0;
  for (int part = 0; part < 3; ++part) {
    SqlOptions mine = options;
    mine.shard_key = "id";
    mine.part = part;
    mine.parts = 3;
    auto read_part = ReadSqlTable(db, mine);
    ASSERT_TRUE(read_part.ok()) << read_part.status().ToString();
    const std::vector<float>& ids = read_part->columns[0];
    rows += ids.size();
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    for (float id : ids) ASSERT_EQ(static_cast<int>(id) % 3, part);
  }
  EXPECT_EQ(rows, 2500u);

  // A text value after the first chunk of a numeric column: a clear error, no file.
  ASSERT_TRUE(db.Exec("UPDATE big SET amount_text = 'n/a' WHERE id = 2400").ok());
  options.query = "SELECT * FROM big ORDER BY id";  // PostgreSQL moves updated rows
  auto refused = ImportSqlTable(db, options, directory + "/refused.fds");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("row 2400"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("preprocess.categorical_columns"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(directory + "/refused.fds"));
}

const char* kBigRows =
    "INSERT INTO big SELECT n, CASE WHEN n % 3 = 0 THEN 'travel' ELSE 'grocery' END, "
    "CAST(n * 1.25 AS TEXT), n * 0.5, CASE WHEN n % 50 = 0 THEN 1 ELSE 0 END FROM ";

TEST(SqlImportTest, SqliteStreamsIntoTheSameDataset) {
  testing::TempDir dir;
  auto db = OpenSqlite(dir.File("bank.db"), /*read_only=*/false);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)
                  ->Exec("CREATE TABLE big (id INTEGER, merchant TEXT, amount_text TEXT, x REAL, "
                         "Class INTEGER)")
                  .ok());
  ASSERT_TRUE((*db)
                  ->Exec(std::string(kBigRows) +
                         "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
                         "FROM s WHERE n < 2500) SELECT n FROM s)")
                  .ok());
  ExpectImportEqualsRead(**db, dir.path());
}

TEST(SqlImportTest, PostgresqlStreamsIntoTheSameDataset) {
  FOPS_NEED_SERVER(admin, "FOPS_TEST_POSTGRES_URL");
  testing::ScratchDatabase database(admin);
  ASSERT_TRUE(database.error().empty()) << database.error();
  auto db = OpenPostgres(database.url());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(
      (*db)
          ->Exec(
              "CREATE TABLE big (id INTEGER, merchant TEXT, amount_text TEXT, x DOUBLE PRECISION, "
              "\"Class\" INTEGER)")
          .ok());
  ASSERT_TRUE((*db)->Exec(std::string(kBigRows) + "generate_series(1, 2500) AS n").ok());
  testing::TempDir dir;
  ExpectImportEqualsRead(**db, dir.path());
}

}  // namespace
}  // namespace fraudops
