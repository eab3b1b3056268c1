#include "storage/database.h"

#include <sqlite3.h>

#include "daemon/common/log.h"
#include "storage/db_file.h"

namespace esd::storage {
namespace {

constexpr std::string_view kComponent = "storage";
constexpr const char kJournalSizeLimitSql[] = "PRAGMA journal_size_limit=4194304";

}  // namespace

void Database::Closer::operator()(sqlite3* db) const noexcept {
  const int rc = sqlite3_close(db);
  if (rc != SQLITE_OK) {
    // Only possible with an unfinalized statement: a bug. Let SQLite close it when it can.
    log::error(kComponent, "sqlite_close_failed", {{"sqlite_code", rc}});
    (void)sqlite3_close_v2(db);  // always SQLITE_OK; it defers the close
  }
}

Database::Database(sqlite3* db, std::string path, bool read_only)
    : db_(db), path_(std::move(path)), read_only_(read_only) {}

Result<std::unique_ptr<Database>> Database::open(const std::string& path,
                                                 const DbOptions& opts) {
  if (opts.read_only) {
    ESD_RETURN_IF_ERROR(require_db_file(path));
  } else {
    ESD_RETURN_IF_ERROR(prepare_db_file(path));
  }
  // No SQLITE_OPEN_CREATE: prepare_db_file created the file with mode 0600 already, and
  // SQLite would otherwise create a vanished file with the umask's mode.
  const int flags = (opts.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Database> db(new Database(raw, path, opts.read_only));
  if (rc != SQLITE_OK) {
    Error e = sqlite_error(raw, rc, "open " + path);
    return e;  // `db` closes the handle SQLite returned, as required even on failure
  }
  ESD_RETURN_IF_ERROR(db->configure(opts));
  return db;
}

Status Database::configure(const DbOptions& opts) {
  sqlite3* db = db_.get();
  int rc = sqlite3_busy_timeout(db, opts.busy_timeout_ms);
  if (rc != SQLITE_OK) {
    return sqlite_error(db, rc, "busy_timeout");
  }
  rc = sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  if (rc != SQLITE_OK) {
    return sqlite_error(db, rc, "dbconfig defensive");
  }
  rc = sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  if (rc != SQLITE_OK) {
    return sqlite_error(db, rc, "dbconfig trusted_schema");
  }
  return exec("PRAGMA temp_store=MEMORY");
}

Status Database::enable_wal() {
  auto mode = query_text("PRAGMA journal_mode=WAL");
  if (!mode) {
    return mode.error();
  }
  if (*mode != "wal") {
    return Error(ErrorCode::kInternal,
                 "journal_mode=WAL not accepted (got \"" + *mode + "\") for " + path_);
  }
  ESD_RETURN_IF_ERROR(exec("PRAGMA synchronous=NORMAL"));
  // Keeps the WAL from staying large after a burst (first sync of many ExternalSecrets).
  auto limit = query_int(kJournalSizeLimitSql);
  if (!limit) {
    return limit.error();
  }
  wal_enabled_ = true;
  return ok_status();
}

Status Database::exec(std::string_view sql) {
  const std::string text(sql);  // sqlite3_exec needs a terminated string
  const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return sqlite_error(db_.get(), rc, "exec");
  }
  return ok_status();
}

Result<ScopedStatement> Database::cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    auto stmt = Statement::prepare(db_.get(), sql, /*persistent=*/true);
    if (!stmt) {
      return stmt.error();
    }
    auto owned = std::make_unique<Statement>(std::move(*stmt));
    it = cache_.emplace(std::string(sql), std::move(owned)).first;
  }
  Statement* stmt = it->second.get();
  if (stmt->borrowed()) {
    return Error(ErrorCode::kInternal, "cached statement borrowed twice");
  }
  return ScopedStatement(stmt);
}

Result<Statement> Database::prepare(std::string_view sql) {
  return Statement::prepare(db_.get(), sql, /*persistent=*/false);
}

Result<int64_t> Database::query_int(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) {
    return stmt.error();
  }
  auto row = stmt->step();
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return Error(ErrorCode::kInternal, "query returned no row");
  }
  return stmt->int_or(0, 0);
}

Result<std::string> Database::query_text(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) {
    return stmt.error();
  }
  auto row = stmt->step();
  if (!row) {
    return row.error();
  }
  if (!*row) {
    return Error(ErrorCode::kInternal, "query returned no row");
  }
  return stmt->text_or(0, "");
}

int64_t Database::changes() const { return sqlite3_changes64(db_.get()); }

bool Database::in_transaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

void Database::checkpoint_on_close() noexcept {
  if (!wal_enabled_ || !db_ || in_transaction()) {
    return;
  }
  int log_frames = 0;
  int checkpointed = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                           &log_frames, &checkpointed);
  if (rc != SQLITE_OK) {
    // A reader (an operator's sqlite3 shell) may hold the WAL: the next open catches up.
    log::warn(kComponent, "wal_checkpoint_failed", {{"sqlite_code", rc}});
  }
}

Database::~Database() {
  cache_.clear();  // finalize every statement before the checkpoint and the close
  checkpoint_on_close();
}

}  // namespace esd::storage
