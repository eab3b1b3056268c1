// Schema versioning: fresh creation, identity checks, migrations, and the equivalence of a
// fresh schema.sql database with every historical version migrated to the latest.
#include <catch2/catch.hpp>

#include "schema_sql.h"
#include "storage/database.h"
#include "storage/migrations.h"
#include "storage/state_store.h"
#include "storage_test_util.h"

namespace esd::storage {
namespace {

using test::RawDb;
using test::TempDir;

const std::string kFixtures = std::string(ESD_SOURCE_DIR) + "/tests/storage/fixtures";

// Removes -- comments (outside quotes), collapses whitespace, drops spaces next to punctuation.
std::string normalize_sql(const std::string& sql) {
  std::string out;
  char quote = 0;
  bool space = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote == 0 && c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') ++i;
      space = true;
      continue;
    }
    if (quote == 0 && std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    const bool punct = quote == 0 && (c == '(' || c == ')' || c == ',');
    const bool after_punct = !out.empty() && (out.back() == '(' || out.back() == ',');
    if (space && !punct && !after_punct && !out.empty()) out += ' ';
    space = false;
    out += c;
    if (c == '\'' || c == '"') quote = quote == 0 ? c : (quote == c ? 0 : quote);
  }
  return out;
}

// type|name|tbl_name|normalized sql of every schema object, plus the header fields.
std::vector<std::string> schema_of(const std::string& path) {
  RawDb raw(path, SQLITE_OPEN_READONLY);
  std::vector<std::string> out;
  out.push_back("application_id=" + raw.scalar("PRAGMA application_id"));
  out.push_back("user_version=" + raw.scalar("PRAGMA user_version"));
  for (const auto& row :
       raw.query("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")) {
    out.push_back(*row[0] + "|" + *row[1] + "|" + *row[2] + "|" +
                  normalize_sql(row[3].value_or("")));
  }
  return out;
}

std::unique_ptr<Database> raw_open(const std::string& path) {
  auto db = Database::open(path, DbOptions{});
  REQUIRE(db.ok());
  return std::move(*db);
}

// A database at `version` built from its fixture, as that release would have created it.
void build_fixture_db(const std::string& path, int64_t version) {
  const std::string sql = test::read_file(kFixtures + "/v" + std::to_string(version) + ".sql");
  REQUIRE_FALSE(sql.empty());
  auto db = raw_open(path);
  REQUIRE(db->exec(sql).ok());
  REQUIRE(db->exec("PRAGMA application_id = " + std::to_string(kApplicationId)).ok());
  REQUIRE(db->exec("PRAGMA user_version = " + std::to_string(version)).ok());
}

TEST_CASE("Migrations: a fresh database gets schema.sql, ESD1 and the latest version",
          "[storage][migrations]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  auto store = StateStore::open(path);
  REQUIRE(store.ok());
  CHECK((*store)->schema_version() == latest_schema_version());
  RawDb raw(path);
  CHECK(raw.scalar("PRAGMA application_id") == std::to_string(0x45534431));
  CHECK(raw.scalar("PRAGMA user_version") == std::to_string(latest_schema_version()));
  for (const char* name : {"es_state", "es_owned", "es_versions", "history", "sync_status",
                           "sync_history", "es_state_by_name", "history_by_es"}) {
    INFO(name);
    CHECK(raw.scalar(std::string("SELECT count(*) FROM sqlite_schema WHERE name = '") + name +
                     "'") == "1");
  }
  // Every table is STRICT.
  CHECK(raw.scalar("SELECT count(*) FROM pragma_table_list WHERE schema = 'main' AND "
                   "type = 'table' AND name NOT LIKE 'sqlite_%' AND strict = 0") == "0");
}

TEST_CASE("Migrations: every historical version migrated equals a fresh schema.sql",
          "[storage][migrations]") {
  TempDir tmp;
  const std::string fresh = tmp.file("fresh.db");
  REQUIRE(StateStore::open(fresh).ok());
  const auto expected = schema_of(fresh);
  REQUIRE(expected.size() > 2);
  // fixtures/v<k>.sql is the schema.sql shipped with version k; v1 must always exist.
  REQUIRE(std::filesystem::exists(kFixtures + "/v1.sql"));
  for (int64_t v = 1; v <= latest_schema_version(); ++v) {
    const std::string fixture = kFixtures + "/v" + std::to_string(v) + ".sql";
    if (v > 1 && !std::filesystem::exists(fixture)) {
      continue;  // the latest version's fixture is schema.sql itself
    }
    INFO("from version " << v);
    const std::string path = tmp.file("v" + std::to_string(v) + ".db");
    build_fixture_db(path, v);
    auto store = StateStore::open(path);  // migrates
    INFO((store ? "" : store.error().message));
    REQUIRE(store.ok());
    CHECK((*store)->schema_version() == latest_schema_version());
    store->reset();
    CHECK(schema_of(path) == expected);
  }
}

TEST_CASE("Migrations: data written at version 1 survives migration", "[storage][migrations]") {
  TempDir tmp;
  const std::string path = tmp.file("v1.db");
  build_fixture_db(path, 1);
  {
    RawDb raw(path);
    raw.exec("INSERT INTO es_state VALUES ('u1', 'ns', 'a', 'SecretStore/s', 'a', 'h', '7', "
             "'1-x', 1000, 1000, 2000, 0, 'written', '', 1)");
  }
  auto store = StateStore::open(path);
  REQUIRE(store.ok());
  auto got = (*store)->get("u1");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->data_hmac == "h");
  CHECK((*got)->next_due_ms == 2000);
}

// The shipped list plus one synthetic version after the latest.
std::vector<Migration> with_next(const char* sql) {
  std::vector<Migration> list(migrations().begin(), migrations().end());
  list.push_back(Migration{latest_schema_version() + 1, sql});
  return list;
}

TEST_CASE("Migrations: an appended version runs once, in its own transaction",
          "[storage][migrations]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  auto db = raw_open(path);
  REQUIRE(migrate(*db).ok());
  const int64_t latest = latest_schema_version();

  SECTION("a good step updates the schema and user_version") {
    const auto list = with_next("ALTER TABLE es_state ADD COLUMN note TEXT NOT NULL DEFAULT ''");
    REQUIRE(migrate_with(*db, kSchemaSql, list).ok());
    CHECK(*db->query_int("PRAGMA user_version") == latest + 1);
    CHECK(*db->query_int("SELECT count(*) FROM pragma_table_info('es_state') "
                         "WHERE name = 'note'") == 1);
    REQUIRE(migrate_with(*db, kSchemaSql, list).ok());  // nothing left to do
    CHECK(*db->query_int("PRAGMA user_version") == latest + 1);
    // The shipped code now refuses it as newer.
    CHECK_FALSE(migrate(*db).ok());
  }
  SECTION("a failing step leaves the previous version and schema intact") {
    const auto list = with_next(
        "CREATE TABLE extra (v INTEGER NOT NULL) STRICT; INSERT INTO nowhere VALUES (1)");
    REQUIRE_FALSE(migrate_with(*db, kSchemaSql, list).ok());
    CHECK(*db->query_int("PRAGMA user_version") == latest);
    CHECK(*db->query_int("SELECT count(*) FROM sqlite_schema WHERE name = 'extra'") == 0);
  }
  SECTION("a list with a gap is rejected") {
    auto list = with_next("SELECT 1");
    list.back().version += 1;
    CHECK_FALSE(migrate_with(*db, kSchemaSql, list).ok());
    CHECK(*db->query_int("PRAGMA user_version") == latest);
  }
}

TEST_CASE("Migrations: refuses a database of another application without touching it",
          "[storage][migrations]") {
  TempDir tmp;
  const std::string path = tmp.file("other.db");
  {
    RawDb raw(path);
    raw.exec("PRAGMA application_id = 1234; CREATE TABLE t (x INTEGER)");
  }
  auto store = StateStore::open(path);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::kInvalidConfig);
  CHECK_THAT(store.error().message, Catch::Contains("not an extsecretd state database"));
  CHECK_THAT(store.error().message, Catch::Contains("0x000004d2"));
  auto ro = StateStore::open_readonly(path);
  REQUIRE_FALSE(ro.ok());
  CHECK_THAT(ro.error().message, Catch::Contains("not an extsecretd state database"));
  RawDb raw(path);
  CHECK(raw.scalar("PRAGMA journal_mode") == "delete");  // not switched to WAL
}

TEST_CASE("Migrations: refuses a non-empty database without our application_id",
          "[storage][migrations]") {
  TempDir tmp;
  const std::string path = tmp.file("other.db");
  {
    RawDb raw(path);
    raw.exec("CREATE TABLE t (x INTEGER)");
  }
  auto store = StateStore::open(path);
  REQUIRE_FALSE(store.ok());
  CHECK_THAT(store.error().message, Catch::Contains("not an extsecretd state database"));
}

TEST_CASE("Migrations: refuses a newer schema version (no downgrade)", "[storage][migrations]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  REQUIRE(StateStore::open(path).ok());
  {
    RawDb raw(path);
    raw.exec("PRAGMA user_version = 99");
  }
  auto store = StateStore::open(path);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::kInvalidConfig);
  CHECK_THAT(store.error().message, Catch::Contains("schema version 99 is newer"));
  auto ro = StateStore::open_readonly(path);
  REQUIRE_FALSE(ro.ok());
  CHECK_THAT(ro.error().message, Catch::Contains("newer"));
}

TEST_CASE("Migrations: a file that is not SQLite is refused clearly", "[storage][migrations]") {
  TempDir tmp;
  const std::string path = tmp.file("junk.db");
  { std::ofstream(path) << std::string(4096, 'x'); }
  auto store = StateStore::open(path);
  REQUIRE_FALSE(store.ok());
  CHECK((store.error().native & 0xff) == SQLITE_NOTADB);
  CHECK_THAT(store.error().message, Catch::Contains(path));
}

}  // namespace
}  // namespace esd::storage
