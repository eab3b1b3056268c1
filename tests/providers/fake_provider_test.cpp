#include "providers/fake/fake_provider.h"

#include <uv.h>

#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <string>

#include "daemon/loop/deferrer.h"
#include "daemon/loop/uv_handle.h"

namespace {

using esd::ErrorCode;
using esd::providers::FindRef;
using esd::providers::MetadataPolicy;
using esd::providers::RemoteRef;
using nlohmann::json;

// A loop with a Deferrer; run_until() drives it until a condition holds, failing (instead of
// hanging) after a 5 s watchdog. finish() tears down and checks uv_loop_close.
struct LoopFixture {
  uv_loop_t loop{};
  std::unique_ptr<esd::Deferrer> deferrer;

  LoopFixture() {
    REQUIRE(uv_loop_init(&loop) == 0);
    deferrer = std::make_unique<esd::Deferrer>(&loop);
  }

  void run_until(const std::function<bool()>& done) {
    bool timed_out = false;
    esd::UvHandle<uv_timer_t> watchdog;
    REQUIRE(uv_timer_init(&loop, watchdog.get()) == 0);
    watchdog.mark_initialized();
    watchdog.get()->data = &timed_out;
    REQUIRE(uv_timer_start(
                watchdog.get(),
                [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 5000, 0) == 0);
    while (!done() && !timed_out) uv_run(&loop, UV_RUN_ONCE);
    watchdog.close();
    uv_run(&loop, UV_RUN_NOWAIT);  // let the watchdog's close callback free it
    REQUIRE_FALSE(timed_out);
  }

  void finish() {
    deferrer.reset();
    REQUIRE(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    REQUIRE(uv_loop_close(&loop) == 0);
  }

  esd::providers::ProviderContext context() {
    esd::providers::ProviderContext ctx;
    ctx.loop = &loop;
    ctx.deferrer = deferrer.get();
    ctx.store_kind = "SecretStore";
    ctx.store_name = "fake-store";
    return ctx;
  }
};

json sample_spec() {
  return json::parse(R"({"data": [
    {"key": "/foo/bar", "value": "HELLO1"},
    {"key": "/foo/bar", "value": "HELLO2", "version": "v2"},
    {"key": "/foo/baz",
     "value": "{\"john\": \"doe\", \"n\": 5432, \"o\": {\"a\": 1}, \"z\": null}"},
    {"key": "other", "value": "x", "version": "1"},
    {"key": "other", "value": "y", "version": "2"},
    {"key": "plain", "value": "not json"}
  ]})");
}

RemoteRef ref(std::string key, std::string version = "", std::string property = "") {
  RemoteRef r;
  r.key = std::move(key);
  r.version = std::move(version);
  r.property = std::move(property);
  return r;
}

std::unique_ptr<esd::providers::SecretClient> make_client(LoopFixture& fx) {
  auto client = esd::providers::fake::provider().create(sample_spec(), fx.context());
  REQUIRE(client.ok());
  return std::move(client).value();
}

}  // namespace

TEST_CASE("fake provider: validates the store spec like ESO's admission", "[providers][fake]") {
  const auto& p = esd::providers::fake::provider();
  CHECK(p.name() == "fake");
  CHECK(p.validate(sample_spec()).ok());
  CHECK(p.validate(json::object()).ok());
  const auto bad = [&](const char* text) {
    auto st = p.validate(json::parse(text));
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == ErrorCode::kInvalidConfig);
    return st.error().message;
  };
  CHECK(bad(R"({"data": [{"value": "v"}]})") == "key must be set in data 0");
  CHECK(bad(R"({"data": [{"key": "k", "value": "v"}, {"key": "k2"}]})") ==
        "at least one value must be set in data 1");
  bad(R"({"data": {"key": "k"}})");
  bad(R"({"data": [{"key": 5, "value": "v"}]})");
  bad(R"({"validationResult": "Ready"})");
}

TEST_CASE("fake provider: validationResult forces the client's validate()", "[providers][fake]") {
  const auto outcome = [](const char* spec) {
    LoopFixture fx;
    auto client = esd::providers::fake::provider().create(json::parse(spec), fx.context());
    REQUIRE(client.ok());
    std::optional<esd::Result<bool>> got;
    (*client)->validate([&](esd::Result<bool> r) { got = std::move(r); });
    CHECK_FALSE(got.has_value());  // never synchronous
    fx.run_until([&] { return got.has_value(); });
    std::string out = !*got ? "error: " + got->error().message : (got->value() ? "ready" : "unknown");
    client->reset();
    fx.finish();
    return out;
  };
  CHECK(outcome(R"({"validationResult": 0})") == "ready");
  CHECK(outcome(R"({"validationResult": 1})") == "unknown");
  CHECK(outcome(R"({"validationResult": 2})") == "error: unable to validate");
}

TEST_CASE("fake provider: create needs a deferrer and a valid spec", "[providers][fake]") {
  const auto& p = esd::providers::fake::provider();
  auto no_deferrer = p.create(sample_spec(), esd::providers::ProviderContext{});
  REQUIRE_FALSE(no_deferrer.ok());
  CHECK(no_deferrer.error().code == ErrorCode::kInternal);
  LoopFixture fx;
  auto bad = p.create(json::parse(R"({"data": [{"key": ""}]})"), fx.context());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidConfig);
  fx.finish();
}

TEST_CASE("fake provider: get_secrets answers every ref in one later callback",
          "[providers][fake]") {
  LoopFixture fx;
  auto client = make_client(fx);
  std::vector<RemoteRef> refs = {ref("/foo/bar"),
                                 ref("/foo/bar", "v2"),
                                 ref("/foo/bar", "v3"),
                                 ref("missing"),
                                 ref("/foo/baz", "", "john"),
                                 ref("/foo/baz", "", "o.a"),
                                 ref("/foo/baz", "", "nope"),
                                 ref("plain", "", "x"),
                                 ref("/foo/baz", "", "o")};
  RemoteRef fetch = ref("/foo/bar");
  fetch.metadata_policy = MetadataPolicy::kFetch;
  refs.push_back(fetch);
  int calls = 0;
  std::vector<esd::Result<esd::providers::Fetched>> got;
  client->get_secrets(refs, [&](std::vector<esd::Result<esd::providers::Fetched>> r) {
    ++calls;
    got = std::move(r);
  });
  CHECK(calls == 0);  // never synchronous
  fx.run_until([&] { return calls > 0; });
  REQUIRE(got.size() == refs.size());
  REQUIRE(got[0].ok());
  CHECK(got[0]->value.view() == "HELLO1");
  CHECK(got[0]->version.empty());
  REQUIRE(got[1].ok());
  CHECK(got[1]->value.view() == "HELLO2");
  CHECK(got[1]->version == "v2");
  for (size_t i : {2u, 3u, 6u, 7u}) {
    INFO("ref " << i);
    REQUIRE_FALSE(got[i].ok());
    CHECK(got[i].error().code == ErrorCode::kNotFound);
  }
  CHECK(got[3].error().message == "Secret does not exist");
  REQUIRE(got[4].ok());
  CHECK(got[4]->value.view() == "doe");
  REQUIRE(got[5].ok());
  CHECK(got[5]->value.view() == "1");
  REQUIRE(got[8].ok());
  CHECK(got[8]->value.view() == R"({"a": 1})");
  REQUIRE_FALSE(got[9].ok());
  CHECK(got[9].error().code == ErrorCode::kInvalidRef);
  fx.run_until([&] { return fx.deferrer->pending() == 0; });
  CHECK(calls == 1);
  client.reset();
  fx.finish();
}

TEST_CASE("fake provider: get_secret_map explodes a JSON object", "[providers][fake]") {
  LoopFixture fx;
  auto client = make_client(fx);
  std::vector<esd::Result<esd::SecretMap>> results;
  const auto collect = [&](esd::Result<esd::SecretMap> r) { results.push_back(std::move(r)); };
  client->get_secret_map(ref("/foo/baz"), collect);
  client->get_secret_map(ref("/foo/bar"), collect);
  client->get_secret_map(ref("missing"), collect);
  CHECK(results.empty());
  fx.run_until([&] { return results.size() == 3; });
  REQUIRE(results[0].ok());
  const auto& m = *results[0];
  REQUIRE(m.size() == 4);
  CHECK(m.at("john").view() == "doe");
  CHECK(m.at("n").view() == "5432");
  CHECK(m.at("o").view() == R"({"a": 1})");
  CHECK(m.at("z").view().empty());
  REQUIRE_FALSE(results[1].ok());
  CHECK(results[1].error().code == ErrorCode::kInvalidRef);
  CHECK(results[1].error().message.find("HELLO") == std::string::npos);
  REQUIRE_FALSE(results[2].ok());
  CHECK(results[2].error().code == ErrorCode::kNotFound);
  client.reset();
  fx.finish();
}

TEST_CASE("fake provider: find by name returns the highest version per key",
          "[providers][fake]") {
  LoopFixture fx;
  auto client = make_client(fx);
  std::vector<esd::Result<esd::SecretMap>> results;
  const auto collect = [&](esd::Result<esd::SecretMap> r) { results.push_back(std::move(r)); };
  FindRef by_name;
  by_name.name_regexp = "oo";  // unanchored, like Go's MatchString
  client->get_all_secrets(by_name, collect);
  FindRef other;
  other.name_regexp = "^oth";
  client->get_all_secrets(other, collect);
  FindRef by_path;
  by_path.path = "/foo/ba";
  by_path.name_regexp = "z$";
  client->get_all_secrets(by_path, collect);
  FindRef tags;
  tags.tags = {{"env", "prod"}};
  client->get_all_secrets(tags, collect);
  FindRef bad;
  bad.name_regexp = "(";
  client->get_all_secrets(bad, collect);
  fx.run_until([&] { return results.size() == 5; });
  REQUIRE(results[0].ok());
  CHECK(results[0]->size() == 2);
  CHECK(results[0]->at("/foo/bar").view() == "HELLO2");
  CHECK(results[0]->count("/foo/baz") == 1);
  REQUIRE(results[1].ok());
  REQUIRE(results[1]->size() == 1);
  CHECK(results[1]->at("other").view() == "y");
  REQUIRE(results[2].ok());
  REQUIRE(results[2]->size() == 1);
  CHECK(results[2]->count("/foo/baz") == 1);
  REQUIRE_FALSE(results[3].ok());
  CHECK(results[3].error().code == ErrorCode::kInvalidRef);
  CHECK(results[3].error().message == "find by tags is not supported by the fake provider");
  REQUIRE_FALSE(results[4].ok());
  CHECK(results[4].error().code == ErrorCode::kInvalidRef);
  client.reset();
  fx.finish();
}

TEST_CASE("fake provider: close() suppresses pending and later callbacks", "[providers][fake]") {
  LoopFixture fx;
  auto client = make_client(fx);
  int calls = 0;
  client->get_secrets({ref("/foo/bar")}, [&](auto) { ++calls; });
  client->get_secret_map(ref("/foo/baz"), [&](auto) { ++calls; });
  client->close();
  client->get_all_secrets(FindRef{}, [&](auto) { ++calls; });
  fx.run_until([&] { return fx.deferrer->pending() == 0; });
  CHECK(calls == 0);
  SECTION("destroying the client without close() also suppresses them") {
    auto second = make_client(fx);
    second->get_secrets({ref("/foo/bar")}, [&](auto) { ++calls; });
    REQUIRE(fx.deferrer->pending() == 1);
    second.reset();
    fx.run_until([&] { return fx.deferrer->pending() == 0; });
    CHECK(calls == 0);
  }
  client.reset();
  fx.finish();
}
