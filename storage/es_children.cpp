#include "storage/es_children.h"

#include <algorithm>
#include <map>

namespace esd::storage {
namespace {

constexpr const char kGetOwnedSql[] =
    "SELECT kind, name FROM es_owned WHERE uid = ?1 ORDER BY kind, name";
constexpr const char kGetVersionsSql[] =
    "SELECT secret_key, version FROM es_versions WHERE uid = ?1 ORDER BY secret_key";
constexpr const char kDeleteOwnedSql[] = "DELETE FROM es_owned WHERE uid = ?1";
constexpr const char kInsertOwnedSql[] =
    "INSERT INTO es_owned (uid, kind, name) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
constexpr const char kDeleteVersionsSql[] = "DELETE FROM es_versions WHERE uid = ?1";
constexpr const char kInsertVersionSql[] =
    "INSERT INTO es_versions (uid, secret_key, version) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (uid, secret_key) DO UPDATE SET version = excluded.version";

// Runs a (uid) query returning two text columns; add(a, b) per row.
template <typename Add>
Status load_pairs(Database& db, const char* sql, const std::string& uid, Add&& add) {
  auto stmt = db.cached(sql);
  if (!stmt) {
    return stmt.error();
  }
  ESD_RETURN_IF_ERROR((*stmt)->bind_text(1, uid));
  for (;;) {
    auto row = (*stmt)->step();
    if (!row) {
      return row.error();
    }
    if (!*row) {
      return ok_status();
    }
    add((*stmt)->text_or(0, ""), (*stmt)->text_or(1, ""));
  }
}

Status run_uid(Database& db, const char* sql, const std::string& uid) {
  auto stmt = db.cached(sql);
  if (!stmt) {
    return stmt.error();
  }
  ESD_RETURN_IF_ERROR((*stmt)->bind_text(1, uid));
  return (*stmt)->run();
}

Status insert_pair(Database& db, const char* sql, const std::string& uid, const std::string& a,
                   const std::string& b) {
  auto stmt = db.cached(sql);
  if (!stmt) {
    return stmt.error();
  }
  ESD_RETURN_IF_ERROR((*stmt)->bind_text(1, uid));
  ESD_RETURN_IF_ERROR((*stmt)->bind_text(2, a));
  ESD_RETURN_IF_ERROR((*stmt)->bind_text(3, b));
  return (*stmt)->run();
}

}  // namespace

std::vector<OwnedField> normalized(std::vector<OwnedField> owned) {
  auto key = [](const OwnedField& f) { return std::tie(f.kind, f.name); };
  std::sort(owned.begin(), owned.end(),
            [&](const OwnedField& a, const OwnedField& b) { return key(a) < key(b); });
  owned.erase(std::unique(owned.begin(), owned.end()), owned.end());
  return owned;
}

std::vector<KeyVersion> normalized(const std::vector<KeyVersion>& versions) {
  std::map<std::string_view, std::string_view> last;
  for (const KeyVersion& v : versions) {
    last[v.secret_key] = v.version;
  }
  std::vector<KeyVersion> out;
  out.reserve(last.size());
  for (const auto& [key, version] : last) {
    out.push_back(KeyVersion{std::string(key), std::string(version)});
  }
  return out;
}

Result<std::vector<OwnedField>> load_owned(Database& db, const std::string& uid) {
  std::vector<OwnedField> out;
  ESD_RETURN_IF_ERROR(load_pairs(db, kGetOwnedSql, uid, [&](std::string a, std::string b) {
    out.push_back(OwnedField{std::move(a), std::move(b)});
  }));
  return out;
}

Result<std::vector<KeyVersion>> load_versions(Database& db, const std::string& uid) {
  std::vector<KeyVersion> out;
  ESD_RETURN_IF_ERROR(load_pairs(db, kGetVersionsSql, uid, [&](std::string a, std::string b) {
    out.push_back(KeyVersion{std::move(a), std::move(b)});
  }));
  return out;
}

Status replace_owned(Database& db, const std::string& uid,
                     const std::vector<OwnedField>& wanted) {
  auto current = load_owned(db, uid);
  if (!current) {
    return current.error();
  }
  if (*current == wanted) {
    return ok_status();
  }
  ESD_RETURN_IF_ERROR(run_uid(db, kDeleteOwnedSql, uid));
  for (const OwnedField& f : wanted) {
    ESD_RETURN_IF_ERROR(insert_pair(db, kInsertOwnedSql, uid, f.kind, f.name));
  }
  return ok_status();
}

Status replace_versions(Database& db, const std::string& uid,
                        const std::vector<KeyVersion>& wanted) {
  auto current = load_versions(db, uid);
  if (!current) {
    return current.error();
  }
  if (*current == wanted) {
    return ok_status();
  }
  ESD_RETURN_IF_ERROR(run_uid(db, kDeleteVersionsSql, uid));
  for (const KeyVersion& v : wanted) {
    ESD_RETURN_IF_ERROR(insert_pair(db, kInsertVersionSql, uid, v.secret_key, v.version));
  }
  return ok_status();
}

Status delete_children(Database& db, const std::string& uid) {
  ESD_RETURN_IF_ERROR(run_uid(db, kDeleteOwnedSql, uid));
  return run_uid(db, kDeleteVersionsSql, uid);
}

}  // namespace esd::storage
