#include "storage/transaction.h"

#include "daemon/common/log.h"

namespace esd::storage {
namespace {

constexpr const char kBeginImmediateSql[] = "BEGIN IMMEDIATE";
constexpr const char kBeginSql[] = "BEGIN";
constexpr const char kCommitSql[] = "COMMIT";
constexpr const char kRollbackSql[] = "ROLLBACK";

}  // namespace

Status Transaction::begin(std::string_view sql) {
  if (active_ || db_.in_transaction()) {
    return Error(ErrorCode::kInternal, "transaction: nested transactions are not supported");
  }
  auto stmt = db_.cached(sql);
  if (!stmt) {
    return stmt.error();
  }
  ESD_RETURN_IF_ERROR((*stmt)->run());
  active_ = true;
  return ok_status();
}

Status Transaction::begin_immediate() { return begin(kBeginImmediateSql); }

Status Transaction::begin_read() { return begin(kBeginSql); }

Status Transaction::commit() {
  if (!active_) {
    return Error(ErrorCode::kInternal, "transaction: commit without begin");
  }
  auto stmt = db_.cached(kCommitSql);
  if (!stmt) {
    return stmt.error();
  }
  ESD_RETURN_IF_ERROR((*stmt)->run());
  active_ = false;
  return ok_status();
}

Transaction::~Transaction() {
  if (!active_ || !db_.in_transaction()) {
    return;  // committed, never begun, or SQLite already rolled back (e.g. after IOERR)
  }
  auto stmt = db_.cached(kRollbackSql);
  Status s = stmt ? (*stmt)->run() : Status(stmt.error());
  if (!s) {
    log::error("storage", "rollback_failed", {{"error", s.error()}});
  }
}

}  // namespace esd::storage
