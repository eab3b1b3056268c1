// Database, Statement and Transaction: opening, file modes, pragmas, errors, cached statements.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "storage/database.h"
#include "storage/state_store.h"
#include "storage/transaction.h"
#include "storage_test_util.h"

namespace esd::storage {
namespace {

using test::RawDb;
using test::TempDir;

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::unique_ptr<Database> open_db(const std::string& path, bool read_only = false) {
  auto db = Database::open(path, DbOptions{.read_only = read_only});
  INFO((db ? "" : db.error().message));
  REQUIRE(db.ok());
  return std::move(*db);
}

TEST_CASE("Database: creates the file 0600 and missing parent directories 0700",
          "[storage][database]") {
  TempDir tmp;
  const std::string path = tmp.file("a/b/state.db");
  auto store = StateStore::open(path);
  REQUIRE(store.ok());
  CHECK(mode_of(tmp.file("a")) == 0700);
  CHECK(mode_of(tmp.file("a/b")) == 0700);
  CHECK(mode_of(path) == 0600);
  // SQLite gives the WAL the database file's mode.
  REQUIRE(std::filesystem::exists(path + "-wal"));
  CHECK(mode_of(path + "-wal") == 0600);
}

TEST_CASE("Database: leaves the mode of an existing directory alone", "[storage][database]") {
  TempDir tmp;
  const std::string dir = tmp.file("shared");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  REQUIRE(::chmod(dir.c_str(), 0755) == 0);
  auto store = StateStore::open(dir + "/state.db");
  REQUIRE(store.ok());
  CHECK(mode_of(dir) == 0755);
  CHECK(mode_of(dir + "/state.db") == 0600);
}

TEST_CASE("Database: fails clearly when the parent is not a directory", "[storage][database]") {
  TempDir tmp;
  { std::ofstream(tmp.file("plain")) << "x"; }
  auto store = StateStore::open(tmp.file("plain/state.db"));
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::kInvalidConfig);
  CHECK_THAT(store.error().message, Catch::Contains("plain"));
}

TEST_CASE("Database: WAL, synchronous=NORMAL and hardening pragmas are on",
          "[storage][database]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  auto db = open_db(path);
  REQUIRE(db->enable_wal().ok());
  CHECK(*db->query_text("PRAGMA journal_mode") == "wal");
  CHECK(*db->query_int("PRAGMA synchronous") == 1);  // NORMAL
  CHECK(*db->query_int("PRAGMA trusted_schema") == 0);
  CHECK(*db->query_int("PRAGMA temp_store") == 2);  // MEMORY
  CHECK(*db->query_text("PRAGMA locking_mode") == "normal");
  // The journal mode is persistent: another connection sees WAL too.
  RawDb raw(path);
  CHECK(raw.scalar("PRAGMA journal_mode") == "wal");
}

TEST_CASE("Database: a StateStore database is in WAL mode and readable live",
          "[storage][database]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  auto store = StateStore::open(path);
  REQUIRE(store.ok());
  REQUIRE((*store)->put(test::sample_state("u1", "ns", "a"), std::nullopt).ok());
  RawDb raw(path, SQLITE_OPEN_READONLY);  // an operator's shell while the daemon runs
  CHECK(raw.scalar("PRAGMA journal_mode") == "wal");
  CHECK(raw.scalar("SELECT count(*) FROM es_state") == "1");
}

TEST_CASE("Database: read-only open of a missing file fails without creating it",
          "[storage][database]") {
  TempDir tmp;
  const std::string path = tmp.file("missing/state.db");
  auto db = Database::open(path, DbOptions{.read_only = true});
  REQUIRE_FALSE(db.ok());
  CHECK(db.error().code == ErrorCode::kNotFound);
  CHECK_THAT(db.error().message, Catch::Contains("not found"));
  CHECK_FALSE(std::filesystem::exists(tmp.file("missing")));
}

TEST_CASE("Statement: errors carry the extended code and never the bound values",
          "[storage][database]") {
  TempDir tmp;
  auto db = open_db(tmp.file("state.db"));
  REQUIRE(db->exec("CREATE TABLE t (v TEXT NOT NULL CHECK (length(v) < 5)) STRICT").ok());
  auto stmt = db->cached("INSERT INTO t (v) VALUES (?1)");
  REQUIRE(stmt.ok());
  REQUIRE((*stmt)->bind_text(1, "canary-value-4711").ok());
  Status s = (*stmt)->run();
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().native == SQLITE_CONSTRAINT_CHECK);
  CHECK_THAT(s.error().message, Catch::Contains("CHECK constraint failed"));
  CHECK_THAT(s.error().message, !Catch::Contains("canary-value-4711"));
}

TEST_CASE("Statement: prepare rejects bad SQL and multiple statements", "[storage][database]") {
  TempDir tmp;
  auto db = open_db(tmp.file("state.db"));
  auto bad = db->prepare("SELEC 1");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().native == SQLITE_ERROR);
  CHECK_FALSE(db->prepare("SELECT 1; SELECT 2").ok());
  CHECK(db->prepare("SELECT 1;").ok());
}

TEST_CASE("Statement: a cached statement is reset when its scope ends", "[storage][database]") {
  TempDir tmp;
  auto db = open_db(tmp.file("state.db"));
  REQUIRE(db->exec("CREATE TABLE t (v INTEGER NOT NULL) STRICT; INSERT INTO t VALUES (1), (2)")
              .ok());
  constexpr const char kSql[] = "SELECT v FROM t ORDER BY v";
  sqlite3_stmt* raw = nullptr;
  {
    auto stmt = db->cached(kSql);
    REQUIRE(stmt.ok());
    REQUIRE(*(*stmt)->step());  // one row read, iteration left in the middle
    raw = sqlite3_next_stmt(db->handle(), nullptr);
    REQUIRE(raw != nullptr);
    CHECK(sqlite3_stmt_busy(raw) != 0);
    CHECK_FALSE(db->cached(kSql).ok());  // borrowed twice
  }
  CHECK(sqlite3_stmt_busy(raw) == 0);  // no read transaction left open to stall checkpoints
  auto again = db->cached(kSql);
  REQUIRE(again.ok());
  REQUIRE(*(*again)->step());
  CHECK((*again)->column_int(0) == 1);  // restarted from the first row
}

TEST_CASE("Transaction: rolls back unless committed; no nesting", "[storage][database]") {
  TempDir tmp;
  auto db = open_db(tmp.file("state.db"));
  REQUIRE(db->enable_wal().ok());
  REQUIRE(db->exec("CREATE TABLE t (v INTEGER NOT NULL) STRICT").ok());
  {
    Transaction tx(*db);
    REQUIRE(tx.begin_immediate().ok());
    REQUIRE(db->exec("INSERT INTO t VALUES (1)").ok());
    Transaction nested(*db);
    CHECK_FALSE(nested.begin_immediate().ok());
  }
  CHECK_FALSE(db->in_transaction());
  CHECK(*db->query_int("SELECT count(*) FROM t") == 0);
  {
    Transaction tx(*db);
    REQUIRE(tx.begin_immediate().ok());
    REQUIRE(db->exec("INSERT INTO t VALUES (2)").ok());
    REQUIRE(tx.commit().ok());
  }
  CHECK(*db->query_int("SELECT count(*) FROM t") == 1);
}

TEST_CASE("Transaction: BEGIN IMMEDIATE reports BUSY when another writer holds the lock",
          "[storage][database]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  auto db = Database::open(path, DbOptions{.busy_timeout_ms = 10});
  REQUIRE(db.ok());
  REQUIRE((*db)->enable_wal().ok());
  RawDb other(path);
  other.exec("BEGIN IMMEDIATE");
  Transaction tx(**db);
  Status s = tx.begin_immediate();
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == ErrorCode::kTransient);
  CHECK((s.error().native & 0xff) == SQLITE_BUSY);
  other.exec("ROLLBACK");
}

TEST_CASE("Database: closing checkpoints the WAL into the main file", "[storage][database]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  auto store = StateStore::open(path);
  REQUIRE(store.ok());
  REQUIRE((*store)->put(test::sample_state("u1", "ns", "a"), std::nullopt).ok());
  REQUIRE(std::filesystem::file_size(path + "-wal") > 0);
  // An operator's open shell keeps SQLite from deleting the WAL when the daemon closes.
  RawDb reader(path, SQLITE_OPEN_READONLY);
  REQUIRE(reader.scalar("SELECT count(*) FROM es_state") == "1");
  store->reset();
  CHECK(std::filesystem::file_size(path + "-wal") == 0);  // TRUNCATE checkpoint
  // Everything is in the main file, where a canary scan of the bytes would look.
  CHECK(test::read_file(path).find("3f1c0ffee0ddba11") != std::string::npos);
}

}  // namespace
}  // namespace esd::storage
