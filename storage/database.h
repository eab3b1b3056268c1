// Database: owns one SQLite connection (sqlite3*) and its cache of prepared statements.
// Opened with NOMUTEX|EXRESCODE, a short busy timeout, trusted_schema=OFF, temp_store=MEMORY and
// SQLITE_DBCONFIG_DEFENSIVE; enable_wal() then switches to WAL + synchronous=NORMAL (called
// only once the file is known to be ours). Normal (shared) locking so operators can read the
// file live with the sqlite3 CLI. Closing finalizes every statement first, checkpoints the WAL
// (TRUNCATE) when no transaction is open, then closes. Single-threaded; internal to storage/.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/common/result.h"
#include "storage/statement.h"

struct sqlite3;

namespace esd::storage {

struct DbOptions {
  bool read_only = false;      // SQLITE_OPEN_READONLY; the file must exist
  int busy_timeout_ms = 2000;  // blocks the loop while it waits: keep it short
};

class Database {
 public:
  // Read-write: creates missing parent directories (0700) and the file (0600) first.
  // Read-only: fails with kNotFound when the file is missing.
  static Result<std::unique_ptr<Database>> open(const std::string& path, const DbOptions& opts);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // journal_mode=WAL (checked to report "wal"), synchronous=NORMAL, journal_size_limit.
  Status enable_wal();

  // Runs one or more statements without results (DDL, pragmas, migrations).
  Status exec(std::string_view sql);
  // A cached statement, prepared once with SQLITE_PREPARE_PERSISTENT; reset on scope exit.
  // `sql` should be a constant; borrowing the same statement twice at once is an error.
  Result<ScopedStatement> cached(std::string_view sql);
  // A one-off statement, finalized when the returned object dies.
  Result<Statement> prepare(std::string_view sql);
  // First column of the first row as an integer (e.g. "PRAGMA user_version").
  Result<int64_t> query_int(std::string_view sql);
  // First column of the first row as text (e.g. "PRAGMA journal_mode=WAL").
  Result<std::string> query_text(std::string_view sql);

  int64_t changes() const;         // rows changed by the last INSERT/UPDATE/DELETE
  bool in_transaction() const;     // !sqlite3_get_autocommit
  bool read_only() const { return read_only_; }
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_.get(); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const noexcept;
  };
  Database(sqlite3* db, std::string path, bool read_only);
  Status configure(const DbOptions& opts);
  void checkpoint_on_close() noexcept;

  // Declared first, so destroyed last: every statement is finalized before sqlite3_close.
  std::unique_ptr<sqlite3, Closer> db_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache_;
  std::string path_;
  bool read_only_ = false;
  bool wal_enabled_ = false;  // only then is the WAL ours to checkpoint on close
};

}  // namespace esd::storage
