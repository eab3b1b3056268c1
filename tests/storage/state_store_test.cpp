// StateStore: round trips, replacement of owned fields and versions, removal, history order
// and pruning, batches, read-only access, and the public views as the sqlite3 CLI sees them.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include <catch2/catch.hpp>

#include "storage/state_store.h"
#include "storage_test_util.h"

namespace esd::storage {
namespace {

using test::RawDb;
using test::sample_history;
using test::sample_state;
using test::TempDir;

std::unique_ptr<StateStore> open_store(const std::string& path, const StoreOptions& o = {}) {
  auto store = StateStore::open(path, o);
  INFO((store ? "" : store.error().message));
  REQUIRE(store.ok());
  return std::move(*store);
}

void check_equal(const EsState& a, const EsState& b) {
  CHECK(a.uid == b.uid);
  CHECK(a.ns == b.ns);
  CHECK(a.name == b.name);
  CHECK(a.store == b.store);
  CHECK(a.target == b.target);
  CHECK(a.data_hmac == b.data_hmac);
  CHECK(a.secret_rv == b.secret_rv);
  CHECK(a.synced_version == b.synced_version);
  CHECK(a.last_attempt_ms == b.last_attempt_ms);
  CHECK(a.last_success_ms == b.last_success_ms);
  CHECK(a.next_due_ms == b.next_due_ms);
  CHECK(a.consecutive_failures == b.consecutive_failures);
  CHECK(a.last_outcome == b.last_outcome);
  CHECK(a.last_error == b.last_error);
  CHECK(a.write_count == b.write_count);
  CHECK(a.owned == b.owned);
  CHECK(a.versions == b.versions);
}

TEST_CASE("StateStore: outcome_name covers every outcome", "[storage][state_store]") {
  CHECK(outcome_name(Outcome::kWritten) == "written");
  CHECK(outcome_name(Outcome::kUnchanged) == "unchanged");
  CHECK(outcome_name(Outcome::kFailed) == "failed");
  CHECK(outcome_name(Outcome::kDeleted) == "deleted");
  CHECK(outcome_name(Outcome::kSkipped) == "skipped");
}

TEST_CASE("StateStore: put, get and load_all round trip, across a reopen",
          "[storage][state_store]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  const EsState a = sample_state("uid-a", "ns1", "zeta");
  EsState b = sample_state("uid-b", "ns1", "alpha");
  b.owned.clear();
  b.versions = {{"k", ""}};
  b.last_error = "provider said no";
  b.last_outcome = "failed";
  b.consecutive_failures = 3;
  const EsState c = sample_state("uid-c", "ns0", "mid");
  {
    auto store = open_store(path);
    REQUIRE(store->put(a, std::nullopt).ok());
    REQUIRE(store->put(b, sample_history("ns1", "alpha", 5)).ok());
    REQUIRE(store->put(c, std::nullopt).ok());
    auto got = store->get("uid-a");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    check_equal(**got, a);
    auto none = store->get("uid-missing");
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
  }
  auto store = open_store(path);
  auto all = store->load_all();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);  // ordered by namespace, name
  check_equal((*all)[0], c);
  check_equal((*all)[1], b);
  check_equal((*all)[2], a);
}

TEST_CASE("StateStore: put replaces owned fields and versions wholesale",
          "[storage][state_store]") {
  TempDir tmp;
  auto store = open_store(tmp.file("state.db"));
  EsState s = sample_state("u1", "ns", "a");
  REQUIRE(store->put(s, std::nullopt).ok());
  s.owned = {{"data", "token"}, {"data", "token"}};  // duplicates collapse: it is a set
  s.versions = {{"token", "v1"}, {"token", "v2"}};  // the last version given wins
  s.write_count = 2;
  REQUIRE(store->put(s, std::nullopt).ok());
  auto got = store->get("u1");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->owned == std::vector<OwnedField>{{"data", "token"}});
  CHECK((*got)->versions == std::vector<KeyVersion>{{"token", "v2"}});
  CHECK((*got)->write_count == 2);
  auto all = store->load_all();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].owned.size() == 1);
}

TEST_CASE("StateStore: an unchanged put rewrites neither owned fields nor versions",
          "[storage][state_store]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  auto store = open_store(path);
  EsState s = sample_state("u1", "ns", "a");
  REQUIRE(store->put(s, std::nullopt).ok());
  // The WAL only grows here (no checkpoint this early): its growth counts the pages written.
  auto wal_growth = [&](const EsState& state) {
    const auto before = std::filesystem::file_size(path + "-wal");
    REQUIRE(store->put(state, std::nullopt).ok());
    return std::filesystem::file_size(path + "-wal") - before;
  };
  s.last_attempt_ms += 1000;
  std::reverse(s.owned.begin(), s.owned.end());  // same set, other order
  const auto unchanged = wal_growth(s);
  s.last_attempt_ms += 1000;
  s.versions[0].version = "v8";
  const auto changed = wal_growth(s);
  RawDb raw(path, SQLITE_OPEN_READONLY);
  const uintmax_t kFrame = std::stoull(raw.scalar("PRAGMA page_size")) + 24;  // + frame header
  CHECK(unchanged == kFrame);              // es_state's page only
  CHECK(changed == 2 * kFrame);            // and es_versions' page
}

TEST_CASE("StateStore: remove drops the state but keeps its history", "[storage][state_store]") {
  TempDir tmp;
  auto store = open_store(tmp.file("state.db"));
  REQUIRE(store->put(sample_state("u1", "ns", "a"), sample_history("ns", "a", 1)).ok());
  REQUIRE(store->put(sample_state("u2", "ns", "b"), std::nullopt).ok());
  REQUIRE(store->remove("u1").ok());
  REQUIRE(store->remove("never-there").ok());
  CHECK_FALSE(store->get("u1")->has_value());
  CHECK(store->get("u2")->has_value());
  CHECK(store->load_all()->size() == 1);
  CHECK(store->history("ns", "a", 10)->size() == 1);
  RawDb raw(tmp.file("state.db"));
  CHECK(raw.scalar("SELECT count(*) FROM es_owned WHERE uid = 'u1'") == "0");
  CHECK(raw.scalar("SELECT count(*) FROM es_versions WHERE uid = 'u1'") == "0");
}

TEST_CASE("StateStore: invalid input is refused and nothing is written",
          "[storage][state_store]") {
  TempDir tmp;
  auto store = open_store(tmp.file("state.db"));
  EsState s = sample_state("u1", "ns", "a");
  CHECK_FALSE(store->put(s, sample_history("ns", "a", 1, "exploded")).ok());
  EsState bad_kind = s;
  bad_kind.owned.push_back({"finalizer", "x"});
  CHECK_FALSE(store->put(bad_kind, std::nullopt).ok());
  EsState no_uid = s;
  no_uid.uid.clear();
  CHECK_FALSE(store->put(no_uid, std::nullopt).ok());
  CHECK(store->load_all()->empty());
  CHECK(store->history("", "", 0)->empty());
  // The store is still usable afterwards (the failed transactions were rolled back).
  REQUIRE(store->put(s, sample_history("ns", "a", 1)).ok());
  CHECK(store->load_all()->size() == 1);
}

TEST_CASE("StateStore: history is newest first and filtered", "[storage][state_store]") {
  TempDir tmp;
  auto store = open_store(tmp.file("state.db"));
  const EsState s = sample_state("u1", "ns", "a");
  REQUIRE(store->put(s, sample_history("ns", "a", 100)).ok());
  REQUIRE(store->put(s, HistoryRow{300, "ns", "a", "failed", "timeout", 7}).ok());
  REQUIRE(store->put(s, sample_history("ns", "a", 200, "unchanged")).ok());
  REQUIRE(store->put(sample_state("u2", "ns", "b"), sample_history("ns", "b", 250)).ok());
  REQUIRE(store->put(sample_state("u3", "other", "a"), sample_history("other", "a", 50)).ok());

  auto es = store->history("ns", "a", 10);
  REQUIRE(es.ok());
  REQUIRE(es->size() == 3);
  CHECK((*es)[0].at_ms == 300);
  CHECK((*es)[0].outcome == "failed");
  CHECK((*es)[0].error == "timeout");
  CHECK((*es)[0].duration_ms == 7);
  CHECK((*es)[1].at_ms == 200);
  CHECK((*es)[2].at_ms == 100);
  CHECK(store->history("ns", "", 0)->size() == 4);
  auto all = store->history("", "", 2);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].at_ms == 300);
  CHECK((*all)[1].at_ms == 250);
  CHECK(store->history("", "", 0)->size() == 5);
}

TEST_CASE("StateStore: history is pruned per ExternalSecret and overall",
          "[storage][state_store]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  StoreOptions opts;
  opts.history_per_es = 3;
  opts.history_total = 10;
  {
    auto store = open_store(path, opts);
    const EsState a = sample_state("u1", "ns", "a");
    for (int i = 1; i <= 8; ++i) {
      REQUIRE(store->put(a, sample_history("ns", "a", i)).ok());
    }
    auto rows = store->history("ns", "a", 0);
    REQUIRE(rows->size() == 3);
    CHECK((*rows)[0].at_ms == 8);
    CHECK((*rows)[2].at_ms == 6);
    // Five ExternalSecrets with 3 rows each exceed the total of 10: the oldest rows go.
    for (int e = 0; e < 4; ++e) {
      const std::string name = "e" + std::to_string(e);
      for (int i = 0; i < 3; ++i) {
        REQUIRE(store->put(sample_state("u-" + name, "ns", name),
                           sample_history("ns", name, 100 + e * 10 + i))
                    .ok());
      }
    }
    auto all = store->history("", "", 0);
    REQUIRE(all->size() == 10);
    CHECK(all->back().at_ms == 102);  // 15 rows: all of "a" and e0's first two were pruned
    CHECK(store->history("ns", "a", 0)->empty());
  }
  {
    // The row count is taken again at open: a smaller limit applies at the next write.
    opts.history_total = 4;
    auto store = open_store(path, opts);
    REQUIRE(store->put(sample_state("u1", "ns", "a"), sample_history("ns", "a", 999)).ok());
    auto all = store->history("", "", 0);
    REQUIRE(all->size() == 4);
    CHECK(all->front().at_ms == 999);
  }
  RawDb raw(path);
  CHECK(raw.scalar("SELECT count(*) FROM history") == "4");
}

TEST_CASE("StateStore: put_many writes a batch in one transaction, all or nothing",
          "[storage][state_store]") {
  TempDir tmp;
  StoreOptions opts;
  opts.history_total = 50;
  auto store = open_store(tmp.file("state.db"), opts);
  std::vector<std::pair<EsState, std::optional<HistoryRow>>> batch;
  for (int i = 0; i < 100; ++i) {
    const std::string name = "es" + std::to_string(1000 + i);
    batch.emplace_back(sample_state("u" + name, "ns", name), sample_history("ns", name, i));
  }
  REQUIRE(store->put_many(batch).ok());
  CHECK(store->load_all()->size() == 100);
  CHECK(store->history("", "", 0)->size() == 50);  // pruned to the total
  REQUIRE(store->put_many({}).ok());

  batch.clear();
  batch.emplace_back(sample_state("new-1", "ns2", "x"), std::nullopt);
  batch.emplace_back(sample_state("new-2", "ns2", "y"), sample_history("ns2", "y", 1, "bogus"));
  CHECK_FALSE(store->put_many(batch).ok());
  CHECK_FALSE(store->get("new-1")->has_value());  // rolled back with the failing item
  CHECK(store->load_all()->size() == 100);
  CHECK(store->history("", "", 0)->size() == 50);
}

TEST_CASE("StateStore: read-only open reads, refuses writes, needs an existing database",
          "[storage][state_store]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  SECTION("missing file") {
    auto ro = StateStore::open_readonly(path);
    REQUIRE_FALSE(ro.ok());
    CHECK(ro.error().code == ErrorCode::kNotFound);
    CHECK_THAT(ro.error().message, Catch::Contains(path));
    CHECK_FALSE(std::filesystem::exists(path));
  }
  SECTION("empty file") {
    { std::ofstream touch(path); }
    auto ro = StateStore::open_readonly(path);
    REQUIRE_FALSE(ro.ok());
    CHECK_THAT(ro.error().message, Catch::Contains("empty"));
  }
  SECTION("a database the daemon has closed") {
    REQUIRE(open_store(path)->put(sample_state("u1", "ns", "a"), std::nullopt).ok());
    auto ro = StateStore::open_readonly(path);
    INFO((ro ? "" : ro.error().message));
    REQUIRE(ro.ok());
    CHECK((*ro)->load_all()->size() == 1);
  }
  SECTION("a daemon's database, while the daemon has it open") {
    auto rw = open_store(path);
    REQUIRE(rw->put(sample_state("u1", "ns", "a"), sample_history("ns", "a", 1)).ok());
    auto ro = StateStore::open_readonly(path);
    REQUIRE(ro.ok());
    CHECK((*ro)->schema_version() == rw->schema_version());
    CHECK((*ro)->load_all()->size() == 1);
    CHECK((*ro)->history("ns", "a", 5)->size() == 1);
    CHECK_FALSE((*ro)->put(sample_state("u2", "ns", "b"), std::nullopt).ok());
    CHECK_FALSE((*ro)->remove("u1").ok());
    REQUIRE(rw->put(sample_state("u2", "ns", "b"), std::nullopt).ok());
    CHECK((*ro)->load_all()->size() == 2);  // sees the daemon's later commits
  }
}

TEST_CASE("StateStore: sync_status view has the documented columns and ISO times",
          "[storage][state_store][views]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  auto store = open_store(path);
  REQUIRE(store->put(sample_state("u1", "ns", "a"), std::nullopt).ok());
  EsState never = sample_state("u2", "ns", "b");
  never.last_attempt_ms = 0;
  never.last_success_ms = 0;
  never.next_due_ms = 0;
  never.last_outcome = "";
  never.last_error = "";
  never.write_count = 0;
  REQUIRE(store->put(never, std::nullopt).ok());
  EsState failing = sample_state("u3", "ns", "c");
  failing.last_outcome = "failed";
  failing.last_error = "SecretStore \"fake\" not found";
  failing.consecutive_failures = 4;
  failing.next_due_ms = 1'000;  // 1970-01-01T00:00:01.000Z
  REQUIRE(store->put(failing, std::nullopt).ok());

  RawDb raw(path, SQLITE_OPEN_READONLY);
  raw.exec("PRAGMA trusted_schema = OFF");  // views must work in a hardened shell too
  std::vector<std::string> names;
  auto rows = raw.query("SELECT * FROM sync_status ORDER BY namespace, name", &names);
  CHECK(names == std::vector<std::string>{"namespace", "name", "store", "target", "last_outcome",
                                          "last_attempt_at", "last_success_at", "next_due_at",
                                          "consecutive_failures", "last_error", "write_count"});
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == test::Row{"ns", "a", "SecretStore/fake", "a-secret", "written",
                             "2026-11-28T01:02:03.456Z", "2026-11-28T01:02:03.000Z",
                             "2026-11-28T02:02:03.456Z", "0", std::nullopt, "1"});
  CHECK(rows[1] == test::Row{"ns", "b", "SecretStore/fake", "b-secret", std::nullopt,
                             std::nullopt, std::nullopt, std::nullopt, "0", std::nullopt, "0"});
  CHECK(rows[2][4] == "failed");
  CHECK(rows[2][7] == "1970-01-01T00:00:01.000Z");
  CHECK(rows[2][8] == "4");
  CHECK(rows[2][9] == "SecretStore \"fake\" not found");
}

TEST_CASE("StateStore: sync_history view has the documented columns and ISO times",
          "[storage][state_store][views]") {
  TempDir tmp;
  const std::string path = tmp.file("state.db");
  auto store = open_store(path);
  const EsState s = sample_state("u1", "ns", "a");
  REQUIRE(store->put(s, sample_history("ns", "a", 1'795'827'723'456)).ok());
  REQUIRE(store->put(s, HistoryRow{1'795'827'724'007, "ns", "a", "failed", "boom", 31}).ok());

  RawDb raw(path, SQLITE_OPEN_READONLY);
  raw.exec("PRAGMA trusted_schema = OFF");  // views must work in a hardened shell too
  std::vector<std::string> names;
  auto rows = raw.query("SELECT * FROM sync_history ORDER BY at DESC", &names);
  CHECK(names == std::vector<std::string>{"at", "namespace", "name", "outcome", "error",
                                          "duration_ms"});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == test::Row{"2026-11-28T01:02:04.007Z", "ns", "a", "failed", "boom", "31"});
  CHECK(rows[1] == test::Row{"2026-11-28T01:02:03.456Z", "ns", "a", "written", std::nullopt,
                             "12"});
}

// Not a timing assertion (no real-time checks in the suite): prints wall and CPU figures.
TEST_CASE("StateStore: 10,000 puts, one transaction each and batched", "[.][storage][bench]") {
  TempDir tmp;
  auto store = open_store(tmp.file("state.db"));
  struct Mark {
    std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
    std::clock_t cpu = std::clock();
  };
  auto report = [](const char* what, const Mark& a, const Mark& b) {
    const double wall = std::chrono::duration<double, std::milli>(b.wall - a.wall).count();
    const double cpu = 1000.0 * static_cast<double>(b.cpu - a.cpu) / CLOCKS_PER_SEC;
    std::printf("%-28s wall %6.0f ms  cpu %6.0f ms\n", what, wall, cpu);
  };
  auto item = [](int i, int64_t at) {
    const std::string name = "es-" + std::to_string(i);
    const std::string ns = "ns" + std::to_string(i % 100);
    return std::make_pair(sample_state("u" + name, ns, name), sample_history(ns, name, at));
  };
  const Mark m0;
  for (int i = 0; i < 10'000; ++i) {
    auto [state, history] = item(i, i);
    REQUIRE(store->put(state, history).ok());
  }
  const Mark m1;
  std::vector<std::pair<EsState, std::optional<HistoryRow>>> batch;
  for (int i = 0; i < 10'000; ++i) {
    batch.emplace_back(item(i, 20'000 + i));
  }
  const Mark m2;
  REQUIRE(store->put_many(batch).ok());
  const Mark m3;
  auto all = store->load_all();
  const Mark m4;
  REQUIRE(all->size() == 10'000);
  report("put() x 10000", m0, m1);
  report("put_many(10000)", m2, m3);
  report("load_all() of 10000", m3, m4);
}

}  // namespace
}  // namespace esd::storage
