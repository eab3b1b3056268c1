#include "storage/migrations.h"

#include <array>
#include <cstdio>

#include "daemon/common/log.h"
#include "schema_sql.h"
#include "storage/transaction.h"

namespace esd::storage {
namespace {

constexpr std::string_view kComponent = "storage";

// Append-only. Version 1 is the first shipped schema.sql, so the list starts at version 2:
//   {2, "ALTER TABLE es_state ADD COLUMN ...;"},
// When appending, update schema.sql to the new latest schema and add
// tests/storage/fixtures/v<N-1>.sql (the previous schema.sql) for the equivalence test.
constexpr std::array<Migration, 0> kMigrations{};

std::string hex_id(int64_t id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08llx", static_cast<unsigned long long>(id & 0xffffffff));
  return buf;
}

Error refuse(const std::string& path, const std::string& why) {
  return Error(ErrorCode::kInvalidConfig, "refusing state database " + path + ": " + why);
}

Status set_header(Database& db, int64_t application_id, int64_t user_version) {
  // PRAGMAs take no bound parameters; both values are our own integers.
  ESD_RETURN_IF_ERROR(db.exec("PRAGMA application_id = " + std::to_string(application_id)));
  return db.exec("PRAGMA user_version = " + std::to_string(user_version));
}

Status check_list(std::span<const Migration> list) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].version != static_cast<int64_t>(i) + 2) {
      return Error(ErrorCode::kInternal, "migration list is not contiguous from version 2");
    }
  }
  return ok_status();
}

// One step: create (empty database) or migrate one version. Sets `done` when at latest.
Status step(Database& db, std::string_view schema_sql, std::span<const Migration> list,
            bool& done) {
  const int64_t latest = static_cast<int64_t>(list.size()) + 1;
  Transaction tx(db);
  ESD_RETURN_IF_ERROR(tx.begin_immediate());
  // Read again under the write lock: another process may have created or migrated it.
  auto id = read_identity(db);
  if (!id) {
    return id.error();
  }
  ESD_RETURN_IF_ERROR(check_identity(*id, db.path(), latest));
  if (id->user_version == latest) {
    done = true;
    return ok_status();  // nothing written; the destructor ends the transaction
  }
  if (id->empty()) {
    ESD_RETURN_IF_ERROR(db.exec(schema_sql));
    ESD_RETURN_IF_ERROR(set_header(db, kApplicationId, latest));
    ESD_RETURN_IF_ERROR(tx.commit());
    log::info(kComponent, "schema_created", {{"path", db.path()}, {"version", latest}});
    done = true;
    return ok_status();
  }
  const Migration& m = list[static_cast<size_t>(id->user_version) - 1];
  ESD_RETURN_IF_ERROR(db.exec(m.sql));
  if (m.fn != nullptr) {
    ESD_RETURN_IF_ERROR(m.fn(db));
  }
  ESD_RETURN_IF_ERROR(set_header(db, kApplicationId, m.version));
  ESD_RETURN_IF_ERROR(tx.commit());
  log::info(kComponent, "schema_migrated", {{"path", db.path()}, {"version", m.version}});
  return ok_status();
}

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int64_t latest_schema_version() { return static_cast<int64_t>(kMigrations.size()) + 1; }

Result<DbIdentity> read_identity(Database& db) {
  DbIdentity id;
  auto app = db.query_int("PRAGMA application_id");
  if (!app) {
    return app.error();
  }
  auto version = db.query_int("PRAGMA user_version");
  if (!version) {
    return version.error();
  }
  auto objects = db.query_int("SELECT count(*) FROM sqlite_schema");
  if (!objects) {
    return objects.error();
  }
  id.application_id = *app;
  id.user_version = *version;
  id.object_count = *objects;
  return id;
}

Status check_identity(const DbIdentity& id, const std::string& path, int64_t latest) {
  if (id.empty()) {
    return ok_status();
  }
  if (id.application_id != kApplicationId) {
    return refuse(path, "not an extsecretd state database (application_id " +
                            hex_id(id.application_id) + ", expected " +
                            hex_id(kApplicationId) + " 'ESD1')");
  }
  if (id.user_version < 1) {
    return refuse(path, "extsecretd database without a schema version (user_version " +
                            std::to_string(id.user_version) + ")");
  }
  if (id.user_version > latest) {
    return refuse(path, "schema version " + std::to_string(id.user_version) +
                            " is newer than this extsecretd supports (" +
                            std::to_string(latest) +
                            "); refusing to downgrade: run a newer extsecretd");
  }
  return ok_status();
}

Status migrate(Database& db) { return migrate_with(db, kSchemaSql, kMigrations); }

Status migrate_with(Database& db, std::string_view schema_sql, std::span<const Migration> list) {
  ESD_RETURN_IF_ERROR(check_list(list));
  bool done = false;
  while (!done) {
    ESD_RETURN_IF_ERROR(step(db, schema_sql, list, done));
  }
  return ok_status();
}

}  // namespace esd::storage
