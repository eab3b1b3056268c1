#include "daemon/kube/kube_client.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "kube/kube_env.h"
#include "kube/temp_dir.h"

namespace esd::kube {
namespace {

using esd::testing::config_map;
using esd::testing::kConfigMaps;
using esd::testing::KubeEnv;
using nlohmann::json;

std::string status_body(int code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
              {"reason", reason}, {"message", message}, {"code", code}}
      .dump();
}

// Requests of the fake's log that are not watches, as "METHOD path".
std::vector<std::string> api_calls(const json& log) {
  std::vector<std::string> out;
  for (const auto& e : log)
    out.push_back(e["method"].get<std::string>() + " " + e["path"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("classify_status: maps HTTP status and Status body to error codes", "[kube][client]") {
  struct Case {
    long status;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {400, ErrorCode::kInvalidConfig}, {401, ErrorCode::kAuth},
      {403, ErrorCode::kPermission},    {404, ErrorCode::kNotFound},
      {409, ErrorCode::kConflict},      {410, ErrorCode::kGone},
      {413, ErrorCode::kInvalidConfig}, {415, ErrorCode::kInvalidConfig},
      {422, ErrorCode::kInvalidConfig}, {429, ErrorCode::kRateLimited},
      {500, ErrorCode::kTransient},     {503, ErrorCode::kTransient},
      {504, ErrorCode::kTransient},     {302, ErrorCode::kInternal},
  };
  for (const auto& c : cases) {
    INFO(c.status);
    const Error e = classify_status(c.status, "", "");
    CHECK(e.code == c.code);
    CHECK(e.native == c.status);
    CHECK(e.message == "HTTP " + std::to_string(c.status));
  }
}

TEST_CASE("classify_status: message, reason and retry hints", "[kube][client]") {
  const Error conflict = classify_status(
      409, status_body(409, "Conflict", "Operation cannot be fulfilled on secrets \"x\""), "");
  CHECK(conflict.code == ErrorCode::kConflict);
  CHECK(conflict.message == "HTTP 409 Conflict: Operation cannot be fulfilled on secrets \"x\"");
  CHECK(conflict.retry_after_ms == -1);

  const Error limited = classify_status(429, status_body(429, "TooManyRequests", "slow down"), "3");
  CHECK(limited.code == ErrorCode::kRateLimited);
  CHECK(limited.retry_after_ms == 3000);

  json with_details = json::parse(status_body(429, "TooManyRequests", "x"));
  with_details["details"] = {{"retryAfterSeconds", 7}};
  CHECK(classify_status(429, with_details.dump(), "").retry_after_ms == 7000);
  CHECK(classify_status(429, "", "Wed, 21 Oct 2015 07:28:00 GMT").retry_after_ms == -1);
  CHECK(classify_status(503, "", "2").retry_after_ms == 2000);

  // A body that is not a Status is never quoted (it could be anything, even a Secret).
  const Error opaque = classify_status(500, "{\"data\":{\"password\":\"c2VjcmV0\"}}", "");
  CHECK(opaque.message == "HTTP 500");
  CHECK(classify_status(500, "not json at all", "").message == "HTTP 500");
}

TEST_CASE("KubeClient: create, get, update with 409 on a stale resourceVersion",
          "[kube][client][fake]") {
  KubeEnv env;
  auto& kube = *env.kube;
  auto created = env.await([&](auto done) { kube.create(kConfigMaps, config_map("a"), done); });
  REQUIRE(created.ok());
  const std::string rv1 = (*created)["metadata"]["resourceVersion"].get<std::string>();

  auto dup = env.await([&](auto done) { kube.create(kConfigMaps, config_map("a"), done); });
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == ErrorCode::kConflict);
  CHECK(dup.error().native == 409);
  CHECK_THAT(dup.error().message, Catch::Contains("AlreadyExists"));

  auto got = env.await([&](auto done) { kube.get(std::string(kConfigMaps) + "/a", done); });
  REQUIRE(got.ok());
  CHECK((*got)["data"]["k"] == "v");

  json next = *got;
  next["data"]["k"] = "v2";
  auto updated =
      env.await([&](auto done) { kube.update(std::string(kConfigMaps) + "/a", next, done); });
  REQUIRE(updated.ok());
  CHECK((*updated)["metadata"]["resourceVersion"] != rv1);

  next["metadata"]["resourceVersion"] = rv1;  // stale
  auto stale =
      env.await([&](auto done) { kube.update(std::string(kConfigMaps) + "/a", next, done); });
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == ErrorCode::kConflict);
  CHECK_THAT(stale.error().message, Catch::Contains("the object has been modified"));

  auto patched = env.await([&](auto done) {
    kube.merge_patch(std::string(kConfigMaps) + "/a", {{"data", {{"p", "1"}}}}, done);
  });
  REQUIRE(patched.ok());
  CHECK((*patched)["data"]["p"] == "1");
  CHECK((*patched)["data"]["k"] == "v2");

  auto removed = env.await([&](auto done) { kube.remove(std::string(kConfigMaps) + "/a", done); });
  REQUIRE(removed.ok());
  auto gone = env.await([&](auto done) { kube.get(std::string(kConfigMaps) + "/a", done); });
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == ErrorCode::kNotFound);
  CHECK(gone.error().native == 404);

  CHECK(kube.writes() == 6);  // 2 POST, 2 PUT, 1 PATCH, 1 DELETE
  const json log = env.fake->requests();
  REQUIRE(log.is_array());
  for (const auto& e : log) {
    CHECK(e["user_agent"] == "extsecretd/0.1");
    if (e["method"] == "PATCH") CHECK(e["content_type"] == "application/merge-patch+json");
    if (e["method"] == "POST" || e["method"] == "PUT")
      CHECK(e["content_type"] == "application/json");
  }
  CHECK(api_calls(log).size() == 8);
  REQUIRE(env.close() == 0);
}

TEST_CASE("KubeClient: wrong token is kAuth; send() carries a Sensitive body",
          "[kube][client][fake]") {
  KubeEnv env;
  auto wrong =
      std::make_unique<KubeClient>(env.loop.get(), *env.http, env.fake->kube_config("nope"));
  auto denied = env.await([&](auto done) { wrong->get(kConfigMaps, done); });
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == ErrorCode::kAuth);
  CHECK(denied.error().native == 401);
  CHECK(wrong->writes() == 0);
  wrong.reset();

  auto sent = env.await([&](auto done) {
    env.kube->send("POST", "/api/v1/namespaces/default/secrets",
                   Sensitive(std::string(R"({"metadata":{"name":"s"},"stringData":{"k":"v"}})")),
                   "application/json", done);
  });
  REQUIRE(sent.ok());
  CHECK((*sent)["data"]["k"] == "dg==");
  CHECK(env.kube->writes() == 1);
  REQUIRE(env.close() == 0);
}

TEST_CASE("KubeClient: token file is re-read and the request retried once on 401",
          "[kube][client][fake]") {
  KubeEnv env;
  esd::testing::TempDir dir;
  const std::string token_path = dir.write("token", "test-token\n");
  KubeConfig cfg = env.fake->kube_config("");
  cfg.token_file = token_path;
  auto owned = std::make_unique<KubeClient>(env.loop.get(), *env.http, std::move(cfg));
  KubeClient& client = *owned;
  REQUIRE(env.await([&](auto done) { client.get(kConfigMaps, done); }).ok());

  // Rotation: the server now only accepts the new token, and the file holds it. The client's
  // cached token is less than 60 s old, so only the 401 makes it look at the file again.
  env.fake->call("POST", "/_fake/token", R"({"tokens":["rotated"]})");
  dir.write("token", "rotated\n");
  env.fake->call("POST", "/_fake/requests/reset", "{}");
  REQUIRE(env.await([&](auto done) { client.get(kConfigMaps, done); }).ok());
  const json log = env.fake->requests();
  REQUIRE(log.size() == 2);
  CHECK(log[0]["status"] == 401);
  CHECK(log[1]["status"] == 200);

  // A token that stays wrong: one retry, then kAuth.
  dir.write("token", "still-wrong\n");
  env.fake->call("POST", "/_fake/token", R"({"tokens":["other"]})");
  env.fake->call("POST", "/_fake/requests/reset", "{}");
  auto denied = env.await([&](auto done) { client.get(kConfigMaps, done); });
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == ErrorCode::kAuth);
  CHECK(env.fake->requests().size() == 2);
  owned.reset();
  REQUIRE(env.close() == 0);
}

TEST_CASE("KubeClient: token file is re-read every token_refresh_ms without a 401",
          "[kube][client][fake]") {
  KubeEnv env;
  esd::testing::TempDir dir;
  const std::string token_path = dir.write("token", "test-token\n");
  KubeConfig cfg = env.fake->kube_config("");
  cfg.token_file = token_path;
  cfg.token_refresh_ms = 100;  // production: 60 s
  auto owned = std::make_unique<KubeClient>(env.loop.get(), *env.http, std::move(cfg));
  KubeClient& client = *owned;
  REQUIRE(env.await([&](auto done) { client.get(kConfigMaps, done); }).ok());
  env.fake->call("POST", "/_fake/token", R"({"tokens":["rotated"]})");
  dir.write("token", "rotated\n");
  // Let the refresh period pass on the loop's clock, then the next request reads the file first.
  uv_timer_t timer;
  bool waited = false;
  uv_timer_init(env.loop.get(), &timer);
  timer.data = &waited;
  uv_timer_start(&timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 150, 0);
  REQUIRE(env.loop.run_until([&] { return waited; }));
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  env.fake->call("POST", "/_fake/requests/reset", "{}");
  REQUIRE(env.await([&](auto done) { client.get(kConfigMaps, done); }).ok());
  const json log = env.fake->requests();
  REQUIRE(log.size() == 1);  // no 401 first: the new token was already in use
  CHECK(log[0]["status"] == 200);
  owned.reset();
  REQUIRE(env.close() == 0);
}

TEST_CASE("KubeClient: cancel() suppresses the callback", "[kube][client][fake]") {
  KubeEnv env;
  env.fake->add_fault({{"method", "GET"},
                       {"path_regex", "configmaps"},
                       {"status", 0},
                       {"delay_ms", 300},
                       {"count", 1}});
  bool called = false;
  const auto id = env.kube->get(kConfigMaps, [&](Result<json>) { called = true; });
  env.kube->cancel(id);
  CHECK(env.kube->in_flight() == 0);
  env.loop.run_for(500);
  CHECK_FALSE(called);
  REQUIRE(env.close() == 0);
}

TEST_CASE("KubeClient: stream delivers whole lines, also for events larger than a chunk",
          "[kube][client][fake]") {
  KubeEnv env;
  const std::string big(300 * 1024, 'x');
  REQUIRE(
      env.await([&](auto d) { env.kube->create(kConfigMaps, config_map("big", nullptr, big), d); })
          .ok());
  REQUIRE(env.await([&](auto d) { env.kube->create(kConfigMaps, config_map("small"), d); }).ok());

  std::vector<json> events;
  bool ended = false;
  Status end_status;
  const auto id = env.kube->stream(
      std::string(kConfigMaps) + "?watch=1&resourceVersion=0&timeoutSeconds=1",
      [&](std::string_view line) { events.push_back(json::parse(line, nullptr, false)); },
      [&](Status s) {
        ended = true;
        end_status = std::move(s);
      });
  CHECK(id != 0);
  REQUIRE(env.loop.run_until([&] { return ended; }, 10'000));
  CHECK(end_status.ok());  // clean end after timeoutSeconds
  REQUIRE(events.size() >= 2);
  CHECK(events[0]["type"] == "ADDED");
  bool saw_big = false;
  for (const auto& e : events) {
    REQUIRE_FALSE(e.is_discarded());
    if (e["object"]["metadata"]["name"] == "big") saw_big = e["object"]["data"]["k"] == big;
  }
  CHECK(saw_big);
  REQUIRE(env.close() == 0);
}

TEST_CASE("KubeClient: stream errors and cancel_stream", "[kube][client][fake]") {
  KubeEnv env;
  SECTION("non-200 is classified from the body") {
    KubeClient wrong(env.loop.get(), *env.http, env.fake->kube_config("nope"));
    bool ended = false;
    Status st;
    wrong.stream(
        std::string(kConfigMaps) + "?watch=1", [](std::string_view) { FAIL("line"); },
        [&](Status s) {
          ended = true;
          st = std::move(s);
        });
    REQUIRE(env.loop.run_until([&] { return ended; }));
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == ErrorCode::kAuth);
  }
  SECTION("dropped stream ends with a transport error") {
    bool ended = false;
    Status st;
    env.kube->stream(
        std::string(kConfigMaps) + "?watch=1&timeoutSeconds=30", [](std::string_view) {},
        [&](Status s) {
          ended = true;
          st = std::move(s);
        });
    REQUIRE(env.loop.run_until([&] { return env.fake->open_watches() == 1; }, 10'000, 20));
    env.fake->drop_watches();
    REQUIRE(env.loop.run_until([&] { return ended; }));
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == ErrorCode::kTransient);
  }
  SECTION("cancel_stream from inside on_line stops all callbacks") {
    REQUIRE(env.await([&](auto d) { env.kube->create(kConfigMaps, config_map("a"), d); }).ok());
    REQUIRE(env.await([&](auto d) { env.kube->create(kConfigMaps, config_map("b"), d); }).ok());
    int lines = 0;
    bool ended = false;
    TransferId id = 0;
    id = env.kube->stream(
        std::string(kConfigMaps) + "?watch=1&timeoutSeconds=1",
        [&](std::string_view) {
          ++lines;
          env.kube->cancel_stream(id);
        },
        [&](Status) { ended = true; });
    REQUIRE(env.loop.run_until([&] { return lines > 0; }));
    env.loop.run_for(1500);  // past the server's timeoutSeconds
    CHECK(lines == 1);
    CHECK_FALSE(ended);
    CHECK(env.kube->in_flight() == 0);
  }
  REQUIRE(env.close() == 0);
}

}  // namespace esd::kube

namespace esd::kube {

TEST_CASE("KubeClient: HTTPS with kubeconfig CA file and in-cluster config",
          "[kube][client][fake][tls]") {
  esd::testing::FakeApiServerOptions opts;
  opts.tls = true;
  KubeEnv env(opts);
  esd::testing::TempDir dir;
  std::ifstream ca_in(env.fake->ca_file());
  const std::string ca((std::istreambuf_iterator<char>(ca_in)), std::istreambuf_iterator<char>());
  REQUIRE_THAT(ca, Catch::Contains("BEGIN CERTIFICATE"));

  SECTION("kubeconfig with certificate-authority relative path and tokenFile") {
    dir.write("kube/ca.crt", ca);
    dir.write("kube/token", "test-token\n");
    const std::string path =
        dir.write("kube/config",
                  "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
                  "clusters:\n- name: fake\n  cluster:\n    server: " +
                      env.fake->url() +
                      "\n    certificate-authority: ca.crt\n"
                      "users:\n- name: me\n  user:\n    tokenFile: token\n"
                      "contexts:\n- name: fake\n  context: {cluster: fake, user: me}\n");
    auto cfg = load_kubeconfig_file(path, "");
    REQUIRE(cfg.ok());
    auto client = std::make_unique<KubeClient>(env.loop.get(), *env.http, std::move(cfg).value());
    auto r = env.await([&](auto done) { client->get(kConfigMaps, done); });
    REQUIRE(r.ok());
    CHECK((*r)["kind"] == "ConfigMapList");
  }
  SECTION("in-cluster service-account files") {
    dir.write("sa/ca.crt", ca);
    dir.write("sa/token", "test-token");
    const std::map<std::string, std::string> env_vars = {
        {"KUBERNETES_SERVICE_HOST", "127.0.0.1"},
        {"KUBERNETES_SERVICE_PORT", std::to_string(env.fake->port())}};
    auto cfg = in_cluster_config(env_vars, dir.file("sa"));
    REQUIRE(cfg.ok());
    auto client = std::make_unique<KubeClient>(env.loop.get(), *env.http, std::move(cfg).value());
    auto r = env.await([&](auto done) { client->get(kConfigMaps, done); });
    REQUIRE(r.ok());
  }
  SECTION("an unknown CA fails verification") {
    KubeConfig cfg = env.fake->kube_config();
    cfg.tls = std::make_shared<const TlsOptions>();  // system CAs only
    auto client = std::make_unique<KubeClient>(env.loop.get(), *env.http, std::move(cfg));
    auto r = env.await([&](auto done) { client->get(kConfigMaps, done); });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kTransient);
  }
  REQUIRE(env.close() == 0);
}

}  // namespace esd::kube
