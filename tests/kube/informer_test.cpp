#include "daemon/kube/informer.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kube/kube_env.h"

namespace esd::kube {
namespace {

using esd::testing::config_map;
using esd::testing::kConfigMaps;
using esd::testing::FakeApiServerOptions;
using esd::testing::KubeEnv;
using nlohmann::json;

// What a handler would keep: name -> data.k, with mark-and-sweep on relists.
struct Recorder {
  std::map<std::string, std::string> objects;
  std::map<std::string, bool> seen;
  std::vector<std::string> log;  // "ADDED a", "MODIFIED a", "DELETED a", "BEGIN", "SYNCED"
  int relist_begins = 0;
  int syncs = 0;

  InformerHandler handler() {
    InformerHandler h;
    h.on_relist_begin = [this] {
      ++relist_begins;
      seen.clear();
      log.emplace_back("BEGIN");
    };
    h.on_event = [this](EventType t, const json& obj) {
      const std::string name = obj["metadata"]["name"].get<std::string>();
      const char* kind = t == EventType::kAdded      ? "ADDED"
                         : t == EventType::kModified ? "MODIFIED"
                                                     : "DELETED";
      log.push_back(std::string(kind) + " " + name);
      if (t == EventType::kDeleted) {
        objects.erase(name);
      } else {
        objects[name] = obj["data"].value("k", "");
        seen[name] = true;
      }
    };
    h.on_synced = [this] {
      ++syncs;
      for (auto it = objects.begin(); it != objects.end();) {
        it = seen.count(it->first) != 0 ? std::next(it) : objects.erase(it);
      }
      log.emplace_back("SYNCED");
    };
    return h;
  }
  bool has(const std::string& name, const std::string& value) const {
    auto it = objects.find(name);
    return it != objects.end() && it->second == value;
  }
};

std::string cm_path(const std::string& name) { return std::string(kConfigMaps) + "/" + name; }

void create_cm(KubeEnv& env, const std::string& name, const json& labels = nullptr,
               const std::string& value = "v") {
  auto r = env.fake->call("POST", kConfigMaps, config_map(name, labels, value).dump());
  REQUIRE(r.status == 201);
}

void update_cm(KubeEnv& env, const std::string& name, const std::string& value) {
  auto r = env.fake->call("PATCH", cm_path(name), json{{"data", {{"k", value}}}}.dump(),
                          "application/merge-patch+json");
  REQUIRE(r.status == 200);
}

// Watch requests the fake has seen, in order.
std::vector<json> watch_requests(KubeEnv& env) {
  std::vector<json> out;
  for (const auto& e : env.fake->requests()) {
    if (e["watch"] == true) out.push_back(e);
  }
  return out;
}

std::vector<json> list_requests(KubeEnv& env) {
  std::vector<json> out;
  for (const auto& e : env.fake->requests()) {
    if (e["watch"] == false && e["method"] == "GET") out.push_back(e);
  }
  return out;
}

InformerOptions options(const std::string& selector = "") {
  InformerOptions o;
  o.collection_path = kConfigMaps;
  o.label_selector = selector;
  o.watch_timeout_s = 30;
  return o;
}

}  // namespace

TEST_CASE("Informer: lists (paged) then follows create/update/delete", "[kube][informer][fake]") {
  KubeEnv env;
  for (const char* n : {"a", "b", "c", "d", "e"}) create_cm(env, n);
  Recorder rec;
  InformerOptions opts = options();
  opts.page_limit = 2;
  auto inf = std::make_unique<Informer>(env.loop.get(), *env.kube, opts, rec.handler());
  inf->start();
  CHECK(rec.log.empty());  // nothing synchronous
  REQUIRE(env.loop.run_until([&] { return inf->synced(); }));
  CHECK(rec.objects.size() == 5);
  CHECK(rec.relist_begins == 1);
  CHECK(inf->relists() == 1);
  const auto lists = list_requests(env);
  REQUIRE(lists.size() == 3);  // 2 + 2 + 1
  CHECK_THAT(lists[0]["query"].get<std::string>(), Catch::Contains("limit=2"));
  CHECK_THAT(lists[0]["query"].get<std::string>(), !Catch::Contains("resourceVersion"));
  CHECK_THAT(lists[1]["query"].get<std::string>(), Catch::Contains("continue="));

  create_cm(env, "f", nullptr, "new");
  update_cm(env, "a", "changed");
  REQUIRE(env.fake->call("DELETE", cm_path("b")).status == 200);
  REQUIRE(env.loop.run_until([&] {
    return rec.has("f", "new") && rec.has("a", "changed") && rec.objects.count("b") == 0;
  }));
  const std::vector<std::string> tail(rec.log.end() - 3, rec.log.end());
  CHECK(tail == std::vector<std::string>{"ADDED f", "MODIFIED a", "DELETED b"});

  const auto watches = watch_requests(env);
  REQUIRE(watches.size() == 1);
  CHECK(inf->watches() == 1);
  const std::string q = watches[0]["query"].get<std::string>();
  CHECK_THAT(q, Catch::Contains("allowWatchBookmarks=true"));
  CHECK_THAT(q, Catch::Contains("resourceVersion="));
  CHECK_THAT(q, Catch::Matches(".*timeoutSeconds=([3-5][0-9]|60).*"));
  inf.reset();
  REQUIRE(env.close() == 0);
}

TEST_CASE("Informer: label selector filters list and watch", "[kube][informer][fake]") {
  KubeEnv env;
  create_cm(env, "web1", {{"app", "web"}});
  create_cm(env, "db1", {{"app", "db"}});
  Recorder rec;
  Informer inf(env.loop.get(), *env.kube, options("app=web"), rec.handler());
  inf.start();
  REQUIRE(env.loop.run_until([&] { return inf.synced(); }));
  CHECK(rec.objects.size() == 1);
  CHECK(rec.objects.count("web1") == 1);
  create_cm(env, "db2", {{"app", "db"}});
  create_cm(env, "web2", {{"app", "web"}});
  REQUIRE(env.loop.run_until([&] { return rec.objects.count("web2") == 1; }));
  CHECK(rec.objects.count("db2") == 0);
  CHECK_THAT(list_requests(env)[0]["query"].get<std::string>(),
             Catch::Contains("labelSelector=app%3Dweb"));
  inf.stop();
  REQUIRE(env.close() == 0);
}

TEST_CASE("Informer: dropped watch reconnects from the last resourceVersion",
          "[kube][informer][fake]") {
  KubeEnv env;
  create_cm(env, "a");
  Recorder rec;
  Informer inf(env.loop.get(), *env.kube, options(), rec.handler());
  inf.start();
  REQUIRE(env.loop.run_until([&] { return inf.synced(); }));
  create_cm(env, "b");
  REQUIRE(env.loop.run_until([&] { return rec.objects.count("b") == 1; }));
  REQUIRE(env.loop.run_until([&] { return env.fake->open_watches() == 1; }, 10'000, 20));

  env.fake->drop_watches();
  create_cm(env, "c");  // happens while we are disconnected
  REQUIRE(env.loop.run_until([&] { return inf.watches() >= 2 && rec.objects.count("c") == 1; }));
  create_cm(env, "d");
  REQUIRE(env.loop.run_until([&] { return rec.objects.count("d") == 1; }));
  CHECK(inf.relists() == 1);  // no relist needed
  CHECK(rec.relist_begins == 1);
  const auto watches = watch_requests(env);
  REQUIRE(watches.size() >= 2);
  CHECK(watches[0]["query"] != watches[1]["query"]);  // resumed from a later RV
  inf.stop();
  REQUIRE(env.close() == 0);
}

TEST_CASE("Informer: retry backoff doubles to 30 s and each wait is jittered",
          "[kube][informer]") {
  using esd::kube::jittered_retry_delay_ms;
  using esd::kube::next_retry_backoff_ms;
  std::vector<int64_t> steps;
  for (int64_t b = next_retry_backoff_ms(0); steps.size() < 12; b = next_retry_backoff_ms(b)) {
    steps.push_back(b);
  }
  CHECK(steps.front() == 200);
  CHECK(steps[1] == 400);
  CHECK(steps.back() == 30'000);
  CHECK(jittered_retry_delay_ms(1000, 0) == 500);
  CHECK(jittered_retry_delay_ms(1000, 500) == 1000);
  CHECK(jittered_retry_delay_ms(1000, 501) == 500);
  std::set<int64_t> seen;
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200; ++i) {
    const int64_t d = jittered_retry_delay_ms(8000, rng());
    CHECK(d >= 4000);
    CHECK(d <= 8000);
    seen.insert(d);
  }
  CHECK(seen.size() > 150);  // spread, not one value
}

TEST_CASE("Informer: a BOOKMARK moves the resume point past filtered-out changes",
          "[kube][informer][fake]") {
  FakeApiServerOptions o;
  o.extra_args = {"--bookmark-interval", "0.1"};
  KubeEnv env(o);
  create_cm(env, "web1", {{"app", "web"}});
  Recorder rec;
  Informer inf(env.loop.get(), *env.kube, options("app=web"), rec.handler());
  inf.start();
  REQUIRE(env.loop.run_until([&] { return inf.synced(); }));
  REQUIRE(env.loop.run_until([&] { return env.fake->open_watches() == 1; }, 10'000, 20));
  const std::string seen_rv = inf.resource_version();
  // Changes the selector filters out: only a bookmark tells the informer about them.
  for (int i = 0; i < 3; ++i) create_cm(env, "db" + std::to_string(i), {{"app", "db"}});
  auto last = env.fake->call("GET", cm_path("db2"));
  REQUIRE(last.status == 200);
  const std::string db_rv = json::parse(last.body)["metadata"]["resourceVersion"];
  REQUIRE(env.loop.run_until([&] {
    return std::stoll(inf.resource_version()) >= std::stoll(db_rv);
  }));
  CHECK(rec.objects.size() == 1);  // nothing delivered for the filtered objects
  CHECK(std::stoll(seen_rv) < std::stoll(db_rv));
  env.fake->drop_watches();
  REQUIRE(env.loop.run_until([&] { return watch_requests(env).size() >= 2; }));
  const std::string q = watch_requests(env)[1]["query"].get<std::string>();
  CHECK_THAT(q, Catch::Contains("resourceVersion=" + inf.resource_version()));
  CHECK(inf.relists() == 1);
  inf.stop();
  REQUIRE(env.close() == 0);
}

TEST_CASE("Informer: expired watch (410 ERROR event) relists without losing events",
          "[kube][informer][fake]") {
  const bool http_410 = GENERATE(false, true);
  INFO("http 410 mode: " << http_410);
  KubeEnv env;
  create_cm(env, "a");
  create_cm(env, "gone-later");
  Recorder rec;
  Informer inf(env.loop.get(), *env.kube, options(), rec.handler());
  inf.start();
  REQUIRE(env.loop.run_until([&] { return inf.synced(); }));
  REQUIRE(env.loop.run_until([&] { return env.fake->open_watches() == 1; }, 10'000, 20));

  // Changes made while the stream is down, then history is compacted past them: resuming
  // from our RV gets 410 and only a relist can see them. (The loop is not running during these
  // blocking calls, so the informer cannot reconnect in between.)
  env.fake->drop_watches();
  create_cm(env, "b");
  update_cm(env, "a", "changed");
  REQUIRE(env.fake->call("DELETE", cm_path("gone-later")).status == 200);
  env.fake->expire_watches(http_410);
  REQUIRE(env.loop.run_until([&] {
    return inf.relists() == 2 && rec.has("b", "v") && rec.has("a", "changed") &&
           rec.objects.count("gone-later") == 0;
  }));
  CHECK(rec.relist_begins == 2);
  const auto watches = watch_requests(env);
  REQUIRE(watches.size() >= 2);
  CHECK(watches[1]["status"] == (http_410 ? 410 : 200));  // HTTP 410, or an ERROR event
  create_cm(env, "c");
  REQUIRE(env.loop.run_until([&] { return rec.objects.count("c") == 1; }));
  CHECK(inf.relists() == 2);
  inf.stop();
  REQUIRE(env.close() == 0);
}

TEST_CASE("Informer: list failures are retried with backoff", "[kube][informer][fake]") {
  KubeEnv env;
  create_cm(env, "a");
  env.fake->add_fault(
      {{"method", "GET"}, {"path_regex", "configmaps$"}, {"status", 500}, {"count", 2}});
  Recorder rec;
  Informer inf(env.loop.get(), *env.kube, options(), rec.handler());
  inf.start();
  REQUIRE(env.loop.run_until([&] { return inf.synced(); }));
  CHECK(rec.objects.count("a") == 1);
  CHECK(inf.relists() == 1);
  CHECK(rec.relist_begins == 1);  // failed attempts never started a relist
  CHECK(list_requests(env).size() == 3);
  inf.stop();
  REQUIRE(env.close() == 0);
}

TEST_CASE("Informer: an expired continue token restarts the list from the first page",
          "[kube][informer][fake]") {
  KubeEnv env;
  for (const char* n : {"a", "b", "c"}) create_cm(env, n);
  Recorder rec;
  InformerHandler h = rec.handler();
  bool injected = false;
  auto begin = h.on_relist_begin;
  h.on_relist_begin = [&, begin] {
    begin();
    if (!injected) {  // the next page request (with continue) gets 410 Expired
      injected = true;
      env.fake->add_fault({{"method", "GET"},
                           {"path_regex", "configmaps$"},
                           {"status", 410},
                           {"reason", "Expired"},
                           {"count", 1}});
    }
  };
  InformerOptions opts = options();
  opts.page_limit = 2;
  Informer inf(env.loop.get(), *env.kube, opts, h);
  inf.start();
  REQUIRE(env.loop.run_until([&] { return inf.synced(); }));
  CHECK(rec.objects.size() == 3);
  CHECK(rec.relist_begins == 2);
  CHECK(inf.relists() == 1);
  const auto lists = list_requests(env);
  REQUIRE(lists.size() == 4);  // page 1, page 2 (410), page 1 again, page 2
  CHECK(lists[1]["status"] == 410);
  CHECK_THAT(lists[2]["query"].get<std::string>(), !Catch::Contains("continue"));
  inf.stop();
  REQUIRE(env.close() == 0);
}

TEST_CASE("Informer: stop() ends all callbacks and the loop closes", "[kube][informer][fake]") {
  KubeEnv env;
  create_cm(env, "a");
  Recorder rec;
  Informer inf(env.loop.get(), *env.kube, options(), rec.handler());

  SECTION("while the list is in flight") {
    env.fake->add_fault({{"method", "GET"},
                         {"path_regex", "configmaps$"},
                         {"status", 0},
                         {"delay_ms", 300},
                         {"count", 1}});
    inf.start();
    inf.stop();
  }
  SECTION("while watching") {
    inf.start();
    REQUIRE(env.loop.run_until([&] { return inf.synced(); }));
    inf.stop();
  }
  SECTION("while waiting to retry") {
    env.fake->add_fault(
        {{"method", "GET"}, {"path_regex", "configmaps$"}, {"status", 503}, {"count", 1}});
    inf.start();
    REQUIRE(env.loop.run_until([&] { return list_requests(env).size() == 1; }, 10'000, 20));
    inf.stop();
  }
  const size_t events = rec.log.size();
  create_cm(env, "b");
  env.loop.run_for(700);
  CHECK(rec.log.size() == events);
  CHECK(env.kube->in_flight() == 0);
  REQUIRE(env.close() == 0);  // the informer still exists: stop() released its handles
}

}  // namespace esd::kube

namespace esd::kube {

TEST_CASE("Informer: a watch open long past its timeoutSeconds is replaced",
          "[kube][informer][fake]") {
  KubeEnv env;
  create_cm(env, "a");
  Recorder rec;
  InformerHandler h = rec.handler();
  auto synced = h.on_synced;
  h.on_synced = [&, synced] {
    synced();
    // The first watch request hangs (no response at all) for far longer than its deadline.
    env.fake->add_fault({{"method", "GET"},
                         {"path_regex", "configmaps$"},
                         {"status", 0},
                         {"delay_ms", 20'000},
                         {"count", 1}});
  };
  InformerOptions opts = options();
  opts.watch_timeout_s = 1;
  opts.watch_grace_s = 1;
  Informer inf(env.loop.get(), *env.kube, opts, h);
  inf.start();
  REQUIRE(env.loop.run_until([&] { return inf.watches() >= 2; }, 15'000));
  create_cm(env, "b");
  REQUIRE(env.loop.run_until([&] { return rec.objects.count("b") == 1; }));
  CHECK(inf.relists() == 1);
  inf.stop();
  REQUIRE(env.close() == 0);
}

}  // namespace esd::kube
