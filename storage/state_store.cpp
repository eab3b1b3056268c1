#include "storage/state_store.h"

#include <span>
#include <utility>

#include "daemon/common/log.h"
#include "storage/es_children.h"
#include "storage/migrations.h"
#include "storage/state_store_impl.h"
#include "storage/transaction.h"

namespace esd::storage {
namespace {

constexpr std::string_view kComponent = "storage";

constexpr const char kUpsertStateSql[] =
    "INSERT INTO es_state (uid, namespace, name, store, target, data_hmac, secret_rv, "
    "synced_version, last_attempt_ms, last_success_ms, next_due_ms, consecutive_failures, "
    "last_outcome, last_error, write_count) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
    "ON CONFLICT (uid) DO UPDATE SET store = excluded.store, target = excluded.target, data_hmac = excluded.data_hmac, "
    "secret_rv = excluded.secret_rv, synced_version = excluded.synced_version, "
    "last_attempt_ms = excluded.last_attempt_ms, last_success_ms = excluded.last_success_ms, "
    "next_due_ms = excluded.next_due_ms, consecutive_failures = excluded.consecutive_failures, "
    "last_outcome = excluded.last_outcome, last_error = excluded.last_error, "
    "write_count = excluded.write_count";
constexpr const char kDeleteStateSql[] = "DELETE FROM es_state WHERE uid = ?1";
constexpr const char kInsertHistorySql[] =
    "INSERT INTO history (at_ms, namespace, name, outcome, error, duration_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
// Keeps the newest ?3 rows of one ExternalSecret (history_by_es includes the rowid).
constexpr const char kPruneEsHistorySql[] =
    "DELETE FROM history WHERE namespace = ?1 AND name = ?2 AND id <= "
    "(SELECT id FROM history WHERE namespace = ?1 AND name = ?2 ORDER BY id DESC "
    "LIMIT 1 OFFSET ?3)";
constexpr const char kPruneOldestHistorySql[] =
    "DELETE FROM history WHERE id IN (SELECT id FROM history ORDER BY id LIMIT ?1)";
constexpr const char kCountHistorySql[] = "SELECT count(*) FROM history";

// One item to write: the state, and the history row to append (nullptr for none).
using Item = std::pair<const EsState*, const HistoryRow*>;

Status delete_state(Database& db, const std::string& uid) {
  auto stmt = db.cached(kDeleteStateSql);
  if (!stmt) {
    return stmt.error();
  }
  ESD_RETURN_IF_ERROR((*stmt)->bind_text(1, uid));
  return (*stmt)->run();
}

Status upsert_state(Database& db, const EsState& s) {
  auto stmt = db.cached(kUpsertStateSql);
  if (!stmt) {
    return stmt.error();
  }
  Statement& q = **stmt;
  const std::string* texts[] = {&s.uid,       &s.ns,        &s.name,
                                &s.store,     &s.target,    &s.data_hmac,
                                &s.secret_rv, &s.synced_version};
  int i = 1;
  for (const std::string* t : texts) {
    ESD_RETURN_IF_ERROR(q.bind_text(i++, *t));
  }
  for (int64_t v : {s.last_attempt_ms, s.last_success_ms, s.next_due_ms,
                    s.consecutive_failures}) {
    ESD_RETURN_IF_ERROR(q.bind_int(i++, v));
  }
  ESD_RETURN_IF_ERROR(q.bind_text(i++, s.last_outcome));
  ESD_RETURN_IF_ERROR(q.bind_text(i++, s.last_error));
  ESD_RETURN_IF_ERROR(q.bind_int(i++, s.write_count));
  return q.run();
}

Status write_state(Database& db, const EsState& s) {
  if (s.uid.empty()) {
    return Error(ErrorCode::kInternal, "state store: put without a uid");
  }
  ESD_RETURN_IF_ERROR(upsert_state(db, s));
  if (!s.write_children) return {};
  ESD_RETURN_IF_ERROR(replace_owned(db, s.uid, normalized(s.owned)));
  return replace_versions(db, s.uid, normalized(s.versions));
}

// Appends one row and prunes that ExternalSecret to `per_es` rows; `delta` counts the change.
Status append_history(Database& db, const HistoryRow& h, int per_es, int64_t& delta) {
  {
    auto stmt = db.cached(kInsertHistorySql);
    if (!stmt) {
      return stmt.error();
    }
    ESD_RETURN_IF_ERROR((*stmt)->bind_int(1, h.at_ms));
    ESD_RETURN_IF_ERROR((*stmt)->bind_text(2, h.ns));
    ESD_RETURN_IF_ERROR((*stmt)->bind_text(3, h.name));
    ESD_RETURN_IF_ERROR((*stmt)->bind_text(4, h.outcome));
    ESD_RETURN_IF_ERROR((*stmt)->bind_text(5, h.error));
    ESD_RETURN_IF_ERROR((*stmt)->bind_int(6, h.duration_ms));
    ESD_RETURN_IF_ERROR((*stmt)->run());
    delta += 1;
  }
  if (per_es <= 0) {
    return ok_status();
  }
  auto stmt = db.cached(kPruneEsHistorySql);
  if (!stmt) {
    return stmt.error();
  }
  ESD_RETURN_IF_ERROR((*stmt)->bind_text(1, h.ns));
  ESD_RETURN_IF_ERROR((*stmt)->bind_text(2, h.name));
  ESD_RETURN_IF_ERROR((*stmt)->bind_int(3, per_es));
  ESD_RETURN_IF_ERROR((*stmt)->run());
  delta -= db.changes();
  return ok_status();
}

// Deletes the oldest rows beyond `total` overall.
Status prune_total(Database& db, int64_t rows, int total, int64_t& delta) {
  const int64_t excess = rows + delta - total;
  if (total <= 0 || excess <= 0) {
    return ok_status();
  }
  auto stmt = db.cached(kPruneOldestHistorySql);
  if (!stmt) {
    return stmt.error();
  }
  ESD_RETURN_IF_ERROR((*stmt)->bind_int(1, excess));
  ESD_RETURN_IF_ERROR((*stmt)->run());
  delta -= db.changes();
  return ok_status();
}

// One BEGIN IMMEDIATE transaction for all items; `history_rows` is updated only on commit.
Status write_batch(Database& db, const StoreOptions& opts, int64_t& history_rows,
                   std::span<const Item> items) {
  if (db.read_only()) {
    return Error(ErrorCode::kInternal, "state store opened read-only");
  }
  Transaction tx(db);
  ESD_RETURN_IF_ERROR(tx.begin_immediate());
  int64_t delta = 0;
  for (const auto& [state, history] : items) {
    ESD_RETURN_IF_ERROR(write_state(db, *state));
    if (history) {
      ESD_RETURN_IF_ERROR(append_history(db, *history, opts.history_per_es, delta));
    }
  }
  ESD_RETURN_IF_ERROR(prune_total(db, history_rows, opts.history_total, delta));
  ESD_RETURN_IF_ERROR(tx.commit());
  history_rows += delta;
  return ok_status();
}

Result<std::unique_ptr<Database>> open_checked(const std::string& path, const DbOptions& o,
                                               DbIdentity& id) {
  auto db = Database::open(path, o);
  if (!db) {
    return db.error();
  }
  // Identity first: a foreign file is refused before anything (even its journal mode) changes.
  auto read = read_identity(**db);
  if (!read) {
    Error e = std::move(read).error();
    e.message = "cannot read state database " + path + ": " + e.message;
    return e;
  }
  id = *read;
  ESD_RETURN_IF_ERROR(check_identity(id, path, latest_schema_version()));
  return db;
}

}  // namespace

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kWritten: return "written";
    case Outcome::kUnchanged: return "unchanged";
    case Outcome::kFailed: return "failed";
    case Outcome::kDeleted: return "deleted";
    case Outcome::kSkipped: return "skipped";
  }
  return "failed";
}

StateStore::StateStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StateStore::~StateStore() = default;

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& path,
                                                     const StoreOptions& opts) {
  DbIdentity id;
  auto db = open_checked(path, DbOptions{.read_only = false,
                                         .busy_timeout_ms = opts.busy_timeout_ms}, id);
  if (!db) {
    return db.error();
  }
  ESD_RETURN_IF_ERROR((*db)->enable_wal());
  ESD_RETURN_IF_ERROR(migrate(**db));
  auto rows = (*db)->query_int(kCountHistorySql);
  if (!rows) {
    return rows.error();
  }
  auto impl = std::make_unique<Impl>();
  impl->db = std::move(*db);
  impl->opts = opts;
  impl->version = latest_schema_version();
  impl->history_rows = *rows;
  log::info(kComponent, "state_opened", {{"path", path}, {"schema_version", impl->version}});
  return std::unique_ptr<StateStore>(new StateStore(std::move(impl)));
}

Result<std::unique_ptr<StateStore>> StateStore::open_readonly(const std::string& path) {
  DbIdentity id;
  auto db = open_checked(path, DbOptions{.read_only = true}, id);
  if (!db) {
    return db.error();
  }
  if (id.empty()) {
    return Error(ErrorCode::kInvalidConfig,
                 "state database " + path + " is empty (never opened by extsecretd run)");
  }
  if (id.user_version < latest_schema_version()) {
    return Error(ErrorCode::kInvalidConfig,
                 "state database " + path + " has schema version " +
                     std::to_string(id.user_version) + " (this extsecretd reads " +
                     std::to_string(latest_schema_version()) +
                     "); run extsecretd run once to migrate it");
  }
  auto impl = std::make_unique<Impl>();
  impl->db = std::move(*db);
  impl->version = id.user_version;
  return std::unique_ptr<StateStore>(new StateStore(std::move(impl)));
}

Status StateStore::put(const EsState& state, const std::optional<HistoryRow>& history) {
  const Item one[] = {{&state, history ? &*history : nullptr}};
  return write_batch(*impl_->db, impl_->opts, impl_->history_rows, one);
}

Status StateStore::put_many(
    const std::vector<std::pair<EsState, std::optional<HistoryRow>>>& items) {
  if (items.empty()) {
    return ok_status();
  }
  std::vector<Item> refs;
  refs.reserve(items.size());
  for (const auto& [state, history] : items) {
    refs.emplace_back(&state, history ? &*history : nullptr);
  }
  return write_batch(*impl_->db, impl_->opts, impl_->history_rows, refs);
}

Status StateStore::remove(const std::string& uid) {
  if (impl_->db->read_only()) {
    return Error(ErrorCode::kInternal, "state store opened read-only");
  }
  Database& db = *impl_->db;
  Transaction tx(db);
  ESD_RETURN_IF_ERROR(tx.begin_immediate());
  ESD_RETURN_IF_ERROR(delete_state(db, uid));
  ESD_RETURN_IF_ERROR(delete_children(db, uid));
  return tx.commit();
}

int64_t StateStore::schema_version() const { return impl_->version; }

}  // namespace esd::storage
