// Transaction: a scoped SQLite transaction on a Database. begin_immediate() for anything that
// writes (a deferred transaction that reads then writes fails with BUSY without waiting),
// begin_read() for consistent multi-statement reads. The destructor rolls back unless
// commit() succeeded. Never spans a callback; no nesting. Single-threaded; internal.
#pragma once

#include "daemon/common/result.h"
#include "storage/database.h"

namespace esd::storage {

class Transaction {
 public:
  explicit Transaction(Database& db) noexcept : db_(db) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status begin_immediate();  // BEGIN IMMEDIATE: takes the write lock now (waits busy_timeout)
  Status begin_read();       // BEGIN (deferred): a read snapshot from the first read on
  Status commit();           // on failure the transaction stays open; the destructor rolls back

 private:
  Status begin(std::string_view sql);

  Database& db_;
  bool active_ = false;
};

}  // namespace esd::storage
