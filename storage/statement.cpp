#include "storage/statement.h"

#include <sqlite3.h>

#include <utility>

namespace esd::storage {

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  const int ext = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  const int code = (ext & 0xff) == (rc & 0xff) ? ext : rc;
  std::string msg(what);
  msg += ": ";
  // sqlite3_errmsg describes the failure (e.g. "CHECK constraint failed: outcome IN (...)"),
  // never the values bound to the statement.
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (";
  msg += sqlite3_errstr(code);
  msg += ")";
  ErrorCode ec = ErrorCode::kInternal;
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
      ec = ErrorCode::kTransient;
      break;
    default:
      break;
  }
  return Error(ec, std::move(msg), code);
}

Result<Statement> Statement::prepare(sqlite3* db, std::string_view sql, bool persistent) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &stmt,
                                    &tail);
  if (rc != SQLITE_OK) {
    return sqlite_error(db, rc, "prepare");
  }
  if (stmt == nullptr) {
    return Error(ErrorCode::kInternal, "prepare: empty SQL statement");
  }
  Statement result(db, stmt);
  // Exactly one statement: anything after it but whitespace would be silently ignored.
  for (const char* p = tail; p != nullptr && p < sql.data() + sql.size(); ++p) {
    if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r' && *p != ';') {
      return Error(ErrorCode::kInternal, "prepare: more than one SQL statement");
    }
  }
  return result;
}

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      borrowed_(std::exchange(other.borrowed_, false)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    (void)sqlite3_finalize(stmt_);  // the rc repeats the last step's error; nothing to do
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    borrowed_ = std::exchange(other.borrowed_, false);
  }
  return *this;
}

Statement::~Statement() {
  // Finalize's rc repeats the last step's error, already reported; harmless on nullptr.
  (void)sqlite3_finalize(stmt_);
}

Status Statement::bind_text(int index, std::string_view text) {
  // A null data pointer would bind SQL NULL; "" keeps empty text as text.
  const char* data = text.data() != nullptr ? text.data() : "";
  const int rc = sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT,
                                     SQLITE_UTF8);
  if (rc != SQLITE_OK) {
    return sqlite_error(db_, rc, "bind");
  }
  return ok_status();
}

Status Statement::bind_int(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) {
    return sqlite_error(db_, rc, "bind");
  }
  return ok_status();
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return sqlite_error(db_, rc, "step");
}

Status Statement::run() {
  auto r = step();
  if (!r) {
    return r.error();
  }
  if (*r) {
    return Error(ErrorCode::kInternal, "step: statement returned a row where none was expected");
  }
  return ok_status();
}

std::optional<int64_t> Statement::column_int(int index) const {
  if (sqlite3_column_type(stmt_, index) == SQLITE_NULL) {
    return std::nullopt;
  }
  return sqlite3_column_int64(stmt_, index);
}

std::optional<std::string> Statement::column_text(int index) const {
  if (sqlite3_column_type(stmt_, index) == SQLITE_NULL) {
    return std::nullopt;
  }
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  const int size = sqlite3_column_bytes(stmt_, index);
  if (text == nullptr) {
    return std::string();
  }
  return std::string(text, static_cast<size_t>(size));
}

int64_t Statement::int_or(int index, int64_t fallback) const {
  return column_int(index).value_or(fallback);
}

std::string Statement::text_or(int index, std::string_view fallback) const {
  auto v = column_text(index);
  return v ? std::move(*v) : std::string(fallback);
}

void Statement::reset() noexcept {
  if (stmt_ != nullptr) {
    // sqlite3_reset's rc repeats the last step's error, which step() already reported.
    (void)sqlite3_reset(stmt_);
    (void)sqlite3_clear_bindings(stmt_);
  }
}

ScopedStatement::ScopedStatement(Statement* stmt) noexcept : stmt_(stmt) {
  stmt_->borrowed_ = true;
}

ScopedStatement::ScopedStatement(ScopedStatement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)) {}

ScopedStatement::~ScopedStatement() {
  if (stmt_ != nullptr) {
    stmt_->reset();
    stmt_->borrowed_ = false;
  }
}

}  // namespace esd::storage
