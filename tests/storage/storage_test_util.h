// Helpers for the storage tests: a temporary directory (mkdtemp, removed afterwards), a raw
// sqlite3 connection for looking at the file the way an operator's sqlite3 CLI does, and a
// sample EsState. Test-only.
#pragma once

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "storage/state_store.h"

namespace esd::storage::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "esd-storage-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

using Row = std::vector<std::optional<std::string>>;

// A plain sqlite3 connection, as the sqlite3 CLI would open it.
class RawDb {
 public:
  explicit RawDb(const std::string& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_busy_timeout(db_, 2000) == SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    INFO((err != nullptr ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
  }

  // All rows as text (NULL = nullopt); column names in `names` if given.
  std::vector<Row> query(const std::string& sql, std::vector<std::string>* names = nullptr) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    const int n = sqlite3_column_count(stmt);
    if (names != nullptr) {
      names->clear();
      for (int i = 0; i < n; ++i) {
        names->emplace_back(sqlite3_column_name(stmt, i));
      }
    }
    std::vector<Row> rows;
    int rc = SQLITE_OK;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      Row row;
      for (int i = 0; i < n; ++i) {
        const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
        row.push_back(t == nullptr ? std::nullopt : std::optional<std::string>(t));
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    REQUIRE(rc == SQLITE_DONE);
    return rows;
  }

  std::string scalar(const std::string& sql) {
    auto rows = query(sql);
    REQUIRE(rows.size() == 1);
    REQUIRE(rows[0].size() >= 1);
    return rows[0][0].value_or("NULL");
  }

  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline EsState sample_state(const std::string& uid, const std::string& ns,
                            const std::string& name) {
  EsState s;
  s.uid = uid;
  s.ns = ns;
  s.name = name;
  s.store = "SecretStore/fake";
  s.target = name + "-secret";
  s.data_hmac = "3f1c0ffee0ddba11";
  s.secret_rv = "12345";
  s.synced_version = "3-abcdef";
  s.last_attempt_ms = 1'795'827'723'456;  // 2026-11-28T01:02:03.456Z
  s.last_success_ms = 1'795'827'723'000;
  s.next_due_ms = 1'795'831'323'456;
  s.consecutive_failures = 0;
  s.last_outcome = "written";
  s.last_error = "";
  s.write_count = 1;
  s.owned = {{"annotation", "reconcile.external-secrets.io/data-hash"},
             {"data", "password"},
             {"data", "username"},
             {"label", "reconcile.external-secrets.io/managed"}};
  s.versions = {{"password", "v7"}, {"username", "v2"}};
  return s;
}

inline HistoryRow sample_history(const std::string& ns, const std::string& name, int64_t at_ms,
                                 const std::string& outcome = "written") {
  return HistoryRow{at_ms, ns, name, outcome, "", 12};
}

}  // namespace esd::storage::test
