// StateStore reads: load_all, get, history. Writes and open are in state_store.cpp.
#include <unordered_map>

#include "storage/es_children.h"
#include "storage/state_store.h"
#include "storage/state_store_impl.h"
#include "storage/transaction.h"

namespace esd::storage {
namespace {

constexpr const char kLoadAllStatesSql[] =
    "SELECT uid, namespace, name, store, target, data_hmac, secret_rv, synced_version, "
    "last_attempt_ms, last_success_ms, next_due_ms, consecutive_failures, last_outcome, "
    "last_error, write_count FROM es_state ORDER BY namespace, name, uid";
constexpr const char kGetStateSql[] =
    "SELECT uid, namespace, name, store, target, data_hmac, secret_rv, synced_version, "
    "last_attempt_ms, last_success_ms, next_due_ms, consecutive_failures, last_outcome, "
    "last_error, write_count FROM es_state WHERE uid = ?1";
constexpr const char kLoadAllOwnedSql[] =
    "SELECT uid, kind, name FROM es_owned ORDER BY uid, kind, name";
constexpr const char kLoadAllVersionsSql[] =
    "SELECT uid, secret_key, version FROM es_versions ORDER BY uid, secret_key";
constexpr const char kHistoryAllSql[] =
    "SELECT at_ms, namespace, name, outcome, error, duration_ms FROM history "
    "ORDER BY at_ms DESC, id DESC LIMIT ?1";
constexpr const char kHistoryNsSql[] =
    "SELECT at_ms, namespace, name, outcome, error, duration_ms FROM history "
    "WHERE namespace = ?2 ORDER BY at_ms DESC, id DESC LIMIT ?1";
constexpr const char kHistoryEsSql[] =
    "SELECT at_ms, namespace, name, outcome, error, duration_ms FROM history "
    "WHERE namespace = ?2 AND name = ?3 ORDER BY at_ms DESC, id DESC LIMIT ?1";

EsState read_state(const Statement& q) {
  EsState s;
  s.uid = q.text_or(0, "");
  s.ns = q.text_or(1, "");
  s.name = q.text_or(2, "");
  s.store = q.text_or(3, "");
  s.target = q.text_or(4, "");
  s.data_hmac = q.text_or(5, "");
  s.secret_rv = q.text_or(6, "");
  s.synced_version = q.text_or(7, "");
  s.last_attempt_ms = q.int_or(8, 0);
  s.last_success_ms = q.int_or(9, 0);
  s.next_due_ms = q.int_or(10, 0);
  s.consecutive_failures = q.int_or(11, 0);
  s.last_outcome = q.text_or(12, "");
  s.last_error = q.text_or(13, "");
  s.write_count = q.int_or(14, 0);
  return s;
}

// Steps `q` to the end, calling on_row(q) for each row.
template <typename OnRow>
Status for_each_row(Statement& q, OnRow&& on_row) {
  for (;;) {
    auto row = q.step();
    if (!row) {
      return row.error();
    }
    if (!*row) {
      return ok_status();
    }
    on_row(q);
  }
}

// Runs a (uid, a, b) query over all rows and hands each to add(state_for_uid, a, b).
template <typename Find, typename Add>
Status load_children(Database& db, const char* sql, Find&& find, Add&& add) {
  auto stmt = db.cached(sql);
  if (!stmt) {
    return stmt.error();
  }
  return for_each_row(**stmt, [&](const Statement& q) {
    if (EsState* s = find(q.text_or(0, ""))) {
      add(*s, q.text_or(1, ""), q.text_or(2, ""));
    }
  });
}

void add_owned(EsState& s, std::string kind, std::string name) {
  s.owned.push_back(OwnedField{std::move(kind), std::move(name)});
}

void add_version(EsState& s, std::string key, std::string version) {
  s.versions.push_back(KeyVersion{std::move(key), std::move(version)});
}

}  // namespace

Result<std::vector<EsState>> StateStore::load_all() {
  Database& db = *impl_->db;
  Transaction tx(db);
  ESD_RETURN_IF_ERROR(tx.begin_read());  // one snapshot for the three queries
  std::vector<EsState> states;
  {
    auto stmt = db.cached(kLoadAllStatesSql);
    if (!stmt) {
      return stmt.error();
    }
    ESD_RETURN_IF_ERROR(
        for_each_row(**stmt, [&](const Statement& q) { states.push_back(read_state(q)); }));
  }
  std::unordered_map<std::string_view, size_t> by_uid;
  by_uid.reserve(states.size());
  for (size_t i = 0; i < states.size(); ++i) {
    by_uid.emplace(states[i].uid, i);
  }
  auto find = [&](const std::string& uid) -> EsState* {
    auto it = by_uid.find(uid);
    return it == by_uid.end() ? nullptr : &states[it->second];
  };
  ESD_RETURN_IF_ERROR(load_children(db, kLoadAllOwnedSql, find, add_owned));
  ESD_RETURN_IF_ERROR(load_children(db, kLoadAllVersionsSql, find, add_version));
  ESD_RETURN_IF_ERROR(tx.commit());
  return states;
}

Result<std::optional<EsState>> StateStore::get(const std::string& uid) {
  Database& db = *impl_->db;
  Transaction tx(db);
  ESD_RETURN_IF_ERROR(tx.begin_read());
  std::optional<EsState> state;
  {
    auto stmt = db.cached(kGetStateSql);
    if (!stmt) {
      return stmt.error();
    }
    ESD_RETURN_IF_ERROR((*stmt)->bind_text(1, uid));
    ESD_RETURN_IF_ERROR(for_each_row(**stmt, [&](const Statement& q) { state = read_state(q); }));
  }
  if (state) {
    auto owned = load_owned(db, uid);
    if (!owned) {
      return owned.error();
    }
    auto versions = load_versions(db, uid);
    if (!versions) {
      return versions.error();
    }
    state->owned = std::move(*owned);
    state->versions = std::move(*versions);
  }
  ESD_RETURN_IF_ERROR(tx.commit());
  return state;
}

Result<std::vector<HistoryRow>> StateStore::history(const std::string& ns,
                                                    const std::string& name, int limit) {
  const char* sql = ns.empty() ? kHistoryAllSql : name.empty() ? kHistoryNsSql : kHistoryEsSql;
  auto stmt = impl_->db->cached(sql);
  if (!stmt) {
    return stmt.error();
  }
  ESD_RETURN_IF_ERROR((*stmt)->bind_int(1, limit > 0 ? limit : -1));  // -1: no limit
  if (!ns.empty()) {
    ESD_RETURN_IF_ERROR((*stmt)->bind_text(2, ns));
  }
  if (!ns.empty() && !name.empty()) {
    ESD_RETURN_IF_ERROR((*stmt)->bind_text(3, name));
  }
  std::vector<HistoryRow> rows;
  ESD_RETURN_IF_ERROR(for_each_row(**stmt, [&](const Statement& q) {
    rows.push_back(HistoryRow{q.int_or(0, 0), q.text_or(1, ""), q.text_or(2, ""),
                              q.text_or(3, ""), q.text_or(4, ""), q.int_or(5, 0)});
  }));
  return rows;
}

}  // namespace esd::storage
