// Schema versioning by PRAGMA user_version, file identity by PRAGMA application_id ('ESD1').
// An empty database gets schema.sql (embedded at build time) and the latest version; an older
// one runs the append-only migrations of migrations.cpp, one BEGIN IMMEDIATE transaction per
// version (the header write is part of it). A foreign application_id or a newer user_version
// is refused, never guessed at. Synchronous; internal to storage/ (tests use it directly).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "daemon/common/result.h"
#include "storage/database.h"

namespace esd::storage {

inline constexpr int64_t kApplicationId = 0x45534431;  // 'ESD1'

// Brings a database from version - 1 to `version`: `sql` (may be several statements), then
// `fn` if set (data rewrites SQL cannot express). Runs inside the version's transaction.
struct Migration {
  int64_t version;
  const char* sql;
  Status (*fn)(Database& db) = nullptr;
};

// The shipped list (versions 2..N, in order). Never edit a migration that has shipped.
std::span<const Migration> migrations();
// The latest schema version: 1 + migrations().size(); schema.sql must describe it.
int64_t latest_schema_version();

struct DbIdentity {
  int64_t application_id = 0;
  int64_t user_version = 0;
  int64_t object_count = 0;  // rows in sqlite_schema
  bool empty() const { return application_id == 0 && user_version == 0 && object_count == 0; }
};

Result<DbIdentity> read_identity(Database& db);
// Refuses a foreign application_id, an unversioned or newer database (kInvalidConfig, with
// a message naming the file). An empty database passes (it will be created).
Status check_identity(const DbIdentity& id, const std::string& path, int64_t latest);

// Creates or migrates `db` to latest_schema_version(), using the embedded schema.sql.
Status migrate(Database& db);
// The same with an explicit schema and list, so tests can append a synthetic version.
Status migrate_with(Database& db, std::string_view schema_sql, std::span<const Migration> list);

}  // namespace esd::storage
