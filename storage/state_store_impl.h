// StateStore::Impl, shared by state_store.cpp (open, writes) and state_store_read.cpp (reads).
// Owns the Database; keeps the history row count in step with our own inserts and deletes so
// that pruning to history_total never has to count the table. Internal to storage/.
#pragma once

#include <cstdint>
#include <memory>

#include "storage/database.h"
#include "storage/state_store.h"

namespace esd::storage {

struct StateStore::Impl {
  std::unique_ptr<Database> db;
  StoreOptions opts;
  int64_t version = 0;       // user_version after open/migration
  int64_t history_rows = 0;  // rows in `history`, counted at open, updated on commit
};

}  // namespace esd::storage
