// Statement: one prepared sqlite3_stmt, owned (finalized on destruction). ScopedStatement
// borrows a cached Statement from Database and resets it (and clears its bindings) when it
// goes out of scope, so no cached statement keeps a read transaction open (WAL checkpoints
// would stall). Errors carry the SQLite extended code and sqlite3_errmsg, never bound values.
// Single-threaded; internal to storage/ (no sqlite3.h here).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace esd::storage {

// Builds an Error from the connection's last failure: "<what>: <errmsg> (<code name>)" with
// native = extended result code. BUSY/LOCKED/IOERR/FULL are kTransient, the rest kInternal.
Error sqlite_error(sqlite3* db, int rc, std::string_view what);

class Statement {
 public:
  // persistent = SQLITE_PREPARE_PERSISTENT (long-lived, cached statements). `sql` must hold
  // exactly one statement.
  static Result<Statement> prepare(sqlite3* db, std::string_view sql, bool persistent);

  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite. Text is copied (SQLITE_TRANSIENT).
  Status bind_text(int index, std::string_view text);
  Status bind_int(int index, int64_t value);

  // true = a row is available, false = done. Any other result is an Error.
  Result<bool> step();
  // Steps a statement that returns no rows (INSERT/UPDATE/DELETE) to completion.
  Status run();

  // Columns are 0-based. std::nullopt for SQL NULL.
  std::optional<int64_t> column_int(int index) const;
  std::optional<std::string> column_text(int index) const;
  int64_t int_or(int index, int64_t fallback) const;
  std::string text_or(int index, std::string_view fallback) const;

  void reset() noexcept;  // sqlite3_reset + sqlite3_clear_bindings
  bool borrowed() const noexcept { return borrowed_; }

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  friend class ScopedStatement;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  bool borrowed_ = false;  // a ScopedStatement holds it (cached statements only)
};

// A borrowed cached statement; resets it on scope exit. Not copyable, movable.
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement* stmt) noexcept;
  ScopedStatement(ScopedStatement&& other) noexcept;
  ScopedStatement& operator=(ScopedStatement&&) = delete;
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;
  ~ScopedStatement();

  Statement* operator->() const noexcept { return stmt_; }
  Statement& operator*() const noexcept { return *stmt_; }

 private:
  Statement* stmt_;
};

}  // namespace esd::storage
