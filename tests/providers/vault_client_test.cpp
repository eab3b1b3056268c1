// VaultClient against a tiny same-loop fake Vault (TestHttpServer): one login reused across
// syncs, single-flight logins and shared reads, renew-self at a fraction of the TTL, re-login
// after an invalid-token 403, error classification, retries, static tokens, find, close().
#include "providers/vault/vault_client.h"

#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/http/http_client.h"
#include "daemon/loop/deferrer.h"
#include "support/loop_runner.h"
#include "support/test_http_server.h"

using esd::ErrorCode;
using esd::Result;
using esd::Sensitive;
using esd::providers::FindRef;
using esd::providers::Fetched;
using esd::providers::RemoteRef;
using esd::providers::SecretClient;
using esd::test::TestHttpServer;
using esd::test::TestLoop;
using esd::test::TestReply;
using esd::test::TestRequest;
using nlohmann::json;
namespace vault = esd::providers::vault;

namespace {

TestReply reply(int status, std::string body) {
  TestReply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Just enough Vault: approle login, token renew/lookup/revoke, KV v2 reads and LIST.
struct FakeVault {
  int ttl_s = 3600;
  int logins = 0, renewals = 0, lookups = 0, reads = 0;
  std::set<std::string> valid;
  std::map<std::string, json> kv;  // path under secret/ → data map
  std::map<std::string, json> custom;
  std::function<std::optional<TestReply>(const TestRequest&)> fault;
  std::function<void(const TestRequest&, TestReply&)> after;  // edits every reply
  bool hang_reads = false;
  int next = 0;

  TestReply auth_block(const std::string& token) {
    return reply(200, json{{"auth", {{"client_token", token}, {"lease_duration", ttl_s},
                                      {"renewable", true}}}}.dump());
  }
  bool authed(const TestRequest& r) {
    auto it = r.headers.find("x-vault-token");
    return it != r.headers.end() && valid.count(it->second) > 0;
  }
  TestReply read(const TestRequest& r, const std::string& key) {
    ++reads;
    if (!authed(r) || key == "denied") return reply(403, R"({"errors":["permission denied"]})");
    if (hang_reads) {
      TestReply h;
      h.action = TestReply::Action::kHang;
      return h;
    }
    auto it = kv.find(key);
    if (it == kv.end()) return reply(404, R"({"errors":[]})");
    return reply(200, json{{"data", {{"data", it->second}, {"metadata", {{"version", 1}}}}}}.dump());
  }
  TestReply list(const std::string& dir) {
    std::set<std::string> keys;
    for (const auto& [k, v] : kv) {
      if (k.rfind(dir, 0) != 0) continue;
      const std::string rest = k.substr(dir.size());
      const size_t slash = rest.find('/');
      keys.insert(slash == std::string::npos ? rest : rest.substr(0, slash + 1));
    }
    if (keys.empty()) return reply(404, R"({"errors":[]})");
    return reply(200, json{{"data", {{"keys", keys}}}}.dump());
  }
  TestReply metadata(const std::string& key) {
    json cm = custom.count(key) ? custom[key] : json::object();
    return reply(200, json{{"data", {{"current_version", 1}, {"custom_metadata", cm}}}}.dump());
  }
  TestReply handle(const TestRequest& r) {
    if (fault) {
      if (auto f = fault(r)) return *f;
    }
    const std::string& t = r.target;
    if (t == "/v1/auth/approle/login") {
      const json body = json::parse(r.body);
      if (body.value("role_id", "") != "rid" || body.value("secret_id", "") != "sid") {
        return reply(400, R"({"errors":["invalid role or secret ID"]})");
      }
      ++logins;
      const std::string token = "tok-" + std::to_string(++next);
      valid.insert(token);
      return auth_block(token);
    }
    if (t == "/v1/auth/kubernetes/login") {
      const json body = json::parse(r.body);
      if (body.value("role", "") != "app" || body.value("jwt", "") != "sa-jwt") {
        return reply(403, R"({"errors":["permission denied"]})");
      }
      ++logins;
      const std::string token = "tok-" + std::to_string(++next);
      valid.insert(token);
      return auth_block(token);
    }
    if (t == "/v1/auth/token/renew-self") {
      if (!authed(r)) return reply(403, R"({"errors":["permission denied"]})");
      ++renewals;
      return auth_block(r.headers.at("x-vault-token"));
    }
    if (t == "/v1/auth/token/lookup-self") {
      ++lookups;
      return authed(r) ? reply(200, R"({"data":{"ttl":100}})")
                       : reply(403, R"({"errors":["permission denied"]})");
    }
    if (t == "/v1/auth/token/revoke-self") return reply(204, "");
    if (t.rfind("/v1/secret/data/", 0) == 0) return read(r, t.substr(16));
    const std::string meta = "/v1/secret/metadata/";
    if (t.rfind(meta, 0) == 0 && t.size() > 10 && t.substr(t.size() - 10) == "?list=true") {
      return list(t.substr(meta.size(), t.size() - meta.size() - 10));
    }
    if (t.rfind(meta, 0) == 0) return metadata(t.substr(meta.size()));
    return reply(404, R"({"errors":[]})");
  }
};

struct Fixture {
  TestLoop loop;
  FakeVault vault;
  TestHttpServer server{loop.get(), [this](const TestRequest& r) {
                          TestReply rep = vault.handle(r);
                          if (vault.after) vault.after(r, rep);
                          return rep;
                        }};
  esd::HttpClient http{loop.get()};
  std::unique_ptr<esd::Deferrer> deferrer = std::make_unique<esd::Deferrer>(loop.get());
  std::map<std::string, std::string> secrets{{"approle/secret-id", "sid"}, {"tok/token", "tok-s"}};
  std::map<std::string, int> calls;  // "<call>/<ok>" → count
  std::vector<std::string> token_requests;  // "<ns>/<name>/<audiences>/<expiration>"
  std::unique_ptr<SecretClient> client;

  Fixture() { esd::http_global_init(); }

  json approle_spec() {
    return json{{"server", server.url("")}, {"path", "secret"},
                {"auth", {{"appRole", {{"roleId", "rid"},
                                       {"secretRef", {{"name", "approle"}, {"key", "secret-id"}}}}}}}};
  }
  void create(const json& spec_json, vault::ClientOptions opts = {}) {
    auto spec = vault::parse_vault_spec(spec_json);
    REQUIRE(spec.ok());
    esd::providers::ProviderContext ctx;
    ctx.loop = loop.get();
    ctx.http = &http;
    ctx.deferrer = deferrer.get();
    ctx.store_name = "vault-store";
    ctx.refs.read_secret_key = [this](const std::string&, const std::string& name,
                                      const std::string& key,
                                      std::function<void(Result<Sensitive>)> done) {
      auto it = secrets.find(name + "/" + key);
      if (it == secrets.end()) return done(esd::Error(ErrorCode::kNotFound, "not found"));
      done(Sensitive(it->second));
    };
    ctx.tokens.request_token = [this](const std::string& ns, const std::string& name,
                                      std::vector<std::string> aud, int64_t exp,
                                      std::function<void(Result<Sensitive>)> done) {
      std::string a;
      for (const auto& x : aud) a += x + ",";
      token_requests.push_back(ns + "/" + name + "/" + a + "/" + std::to_string(exp));
      done(Sensitive(std::string("sa-jwt")));
    };
    ctx.count_call = [this](std::string_view, std::string_view call, bool ok) {
      ++calls[std::string(call) + (ok ? "/ok" : "/err")];
    };
    auto c = vault::make_vault_client(std::move(*spec), std::move(ctx), opts);
    REQUIRE(c.ok());
    client = std::move(*c);
  }
  std::vector<Result<Fetched>> get(std::vector<RemoteRef> refs) {
    std::optional<std::vector<Result<Fetched>>> out;
    client->get_secrets(std::move(refs), [&](std::vector<Result<Fetched>> r) { out = std::move(r); });
    REQUIRE(loop.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  }
  Result<Fetched> get_one(const std::string& key, const std::string& property = "") {
    RemoteRef ref;
    ref.key = key;
    ref.property = property;
    auto all = get({ref});
    REQUIRE(all.size() == 1);
    return std::move(all[0]);
  }
  int count(const std::string& target) const {
    int n = 0;
    for (const auto& r : server.requests()) n += r.target == target ? 1 : 0;
    return n;
  }
  void finish() {
    client.reset();
    REQUIRE(loop.run_until([&] { return http.in_flight() == 0; }));
    http.shutdown();
    server.close();
    deferrer.reset();
    REQUIRE(loop.close() == 0);
  }
};

RemoteRef ref(std::string key, std::string property = "") {
  RemoteRef r;
  r.key = std::move(key);
  r.property = std::move(property);
  return r;
}

}  // namespace

TEST_CASE("VaultClient: one login reused across many syncs", "[providers][vault]") {
  Fixture f;
  f.vault.kv["app/db"] = {{"user", "admin"}, {"password", "s3cr3t"}};
  f.create(f.approle_spec());
  for (int i = 0; i < 20; ++i) {
    auto r = f.get({ref("app/db", "password"), ref("app/db", "user"), ref("app/db")});
    REQUIRE(r.size() == 3);
    REQUIRE(r[0].ok());
    CHECK(r[0]->value.view() == "s3cr3t");
    CHECK(r[0]->version == "1");
    CHECK(r[1]->value.view() == "admin");
    CHECK(r[2]->value.view() == R"({"password":"s3cr3t","user":"admin"})");
  }
  CHECK(f.vault.logins == 1);
  CHECK(f.vault.reads == 20);  // identical refs of one batch share one read
  CHECK(f.calls["Login/ok"] == 1);
  CHECK(f.calls["ReadSecretData/ok"] == 20);
  const auto& seen = f.server.requests().back();
  CHECK(seen.headers.at("x-vault-token") == "tok-1");
  CHECK(seen.headers.at("x-vault-request") == "true");
  f.finish();
  CHECK(f.count("/v1/auth/token/revoke-self") == 1);  // login tokens are revoked on close
}

TEST_CASE("VaultClient: concurrent callers share one login and one read", "[providers][vault]") {
  Fixture f;
  f.vault.kv["k"] = {{"a", "1"}};
  f.create(f.approle_spec());
  int done = 0;
  for (int i = 0; i < 25; ++i) {
    f.client->get_secrets({ref("k", "a")}, [&](std::vector<Result<Fetched>> r) {
      CHECK(r.at(0).ok());
      ++done;
    });
  }
  CHECK(done == 0);  // never synchronous
  REQUIRE(f.loop.run_until([&] { return done == 25; }));
  CHECK(f.vault.logins == 1);
  CHECK(f.vault.reads == 1);
  f.finish();
}

TEST_CASE("VaultClient: renews the token at a fraction of its TTL", "[providers][vault]") {
  Fixture f;
  f.vault.ttl_s = 1;
  f.vault.kv["k"] = {{"a", "1"}};
  vault::ClientOptions opts;
  opts.renew_fraction = 0.2;  // 200 ms of loop time for a 1 s TTL
  f.create(f.approle_spec(), opts);
  REQUIRE(f.get_one("k", "a").ok());
  REQUIRE(f.loop.run_until([&] { return f.vault.renewals >= 2; }));
  REQUIRE(f.get_one("k", "a").ok());
  CHECK(f.vault.logins == 1);
  CHECK(f.calls["RenewSelf/ok"] >= 2);
  f.finish();
}

TEST_CASE("VaultClient: a failed renewal makes the next caller log in", "[providers][vault]") {
  Fixture f;
  f.vault.ttl_s = 1;
  f.vault.kv["k"] = {{"a", "1"}};
  vault::ClientOptions opts;
  opts.renew_fraction = 0.1;
  f.create(f.approle_spec(), opts);
  REQUIRE(f.get_one("k", "a").ok());
  f.vault.valid.clear();  // the token died (expired or revoked)
  REQUIRE(f.loop.run_until([&] { return f.calls["RenewSelf/err"] >= 1; }));
  REQUIRE(f.get_one("k", "a").ok());
  CHECK(f.vault.logins == 2);
  CHECK(f.vault.lookups == 0);  // no 403 round trip: the renewal already told us
  f.finish();
}

TEST_CASE("VaultClient: 403 with an invalid token re-logs in once; a policy 403 does not",
          "[providers][vault]") {
  Fixture f;
  f.vault.kv["k"] = {{"a", "1"}};
  f.create(f.approle_spec());
  REQUIRE(f.get_one("k", "a").ok());
  f.vault.valid.clear();
  auto again = f.get_one("k", "a");
  REQUIRE(again.ok());
  CHECK(again->value.view() == "1");
  CHECK(f.vault.logins == 2);
  CHECK(f.vault.lookups == 1);
  auto denied = f.get_one("denied");
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == ErrorCode::kPermission);
  CHECK(denied.error().message.find("permission denied") != std::string::npos);
  CHECK(f.vault.logins == 2);
  CHECK(f.calls["LookupSelf/ok"] == 1);
  // The same token was just confirmed valid: another policy 403 costs no lookup-self.
  const int lookups = f.vault.lookups;
  CHECK(f.get_one("denied").error().code == ErrorCode::kPermission);
  CHECK(f.vault.lookups == lookups);
  f.finish();
}

TEST_CASE("VaultClient: not-found, transient, retries and login failures are classified",
          "[providers][vault]") {
  Fixture f;
  f.vault.kv["k"] = {{"a", "1"}};
  int failures = 0;
  f.vault.fault = [&](const TestRequest& r) -> std::optional<TestReply> {
    if (r.target.find("/v1/secret/data/flaky") == 0 && failures-- > 0) {
      return reply(503, R"({"errors":["Vault is sealed"]})");
    }
    return std::nullopt;
  };
  vault::ClientOptions opts;
  opts.backoff_base_ms = 10;
  json spec = f.approle_spec();
  spec["retrySettings"] = {{"maxRetries", 1}};
  f.create(spec, opts);
  auto missing = f.get_one("nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  f.vault.kv["flaky"] = {{"a", "2"}};
  failures = 1;  // one 503, then the retry succeeds
  CHECK(f.get_one("flaky", "a").ok());
  failures = 5;  // more than the retries
  auto sealed = f.get_one("flaky", "a");
  REQUIRE_FALSE(sealed.ok());
  CHECK(sealed.error().code == ErrorCode::kTransient);
  CHECK(sealed.error().message.find("Vault is sealed") != std::string::npos);
  auto prop = f.get_one("k", "missing");
  CHECK(prop.error().code == ErrorCode::kInvalidRef);
  f.secrets["approle/secret-id"] = "wrong";
  f.vault.valid.clear();
  auto login = f.get_one("k", "a");
  REQUIRE_FALSE(login.ok());
  CHECK(login.error().code == ErrorCode::kAuth);
  CHECK(login.error().message.find("wrong") == std::string::npos);
  CHECK(f.calls["Login/err"] == 1);
  f.finish();
}

TEST_CASE("VaultClient: a changed tokenSecretRef takes effect without a restart",
          "[providers][vault]") {
  Fixture f;
  f.vault.kv["k"] = {{"a", "1"}};
  f.vault.valid = {"tok-s", "tok-new"};
  vault::ClientOptions opts;
  opts.static_recheck_ms = 0;  // re-read the Secret on every call
  json spec = {{"server", f.server.url("")}, {"path", "secret"}, {"namespace", "team"},
               {"auth", {{"tokenSecretRef", {{"name", "tok"}, {"key", "token"}}}}}};
  f.create(spec, opts);
  REQUIRE(f.get_one("k", "a").ok());
  CHECK(f.server.requests().back().headers.at("x-vault-token") == "tok-s");
  CHECK(f.server.requests().back().headers.at("x-vault-namespace") == "team");
  f.secrets["tok/token"] = "tok-new";
  REQUIRE(f.get_one("k", "a").ok());
  CHECK(f.server.requests().back().headers.at("x-vault-token") == "tok-new");
  f.vault.valid.clear();  // a static token that dies is an auth error, after one check
  auto dead = f.get_one("k", "a");
  REQUIRE_FALSE(dead.ok());
  CHECK(dead.error().code == ErrorCode::kAuth);
  CHECK(f.vault.logins == 0);
  CHECK(f.vault.renewals == 0);
  f.finish();
  CHECK(f.count("/v1/auth/token/revoke-self") == 0);  // static tokens are never revoked
}

TEST_CASE("VaultClient: extract and find", "[providers][vault]") {
  Fixture f;
  f.vault.kv["dev/config"] = {{"foo", {{"nested", {{"bar", "x"}}}}}};
  f.vault.kv["dev/db"] = {{"pw", "p"}};
  f.vault.kv["prod/db"] = {{"pw", "q"}};
  f.vault.custom["prod/db"] = {{"team", "a"}};
  f.create(f.approle_spec());
  std::optional<Result<esd::SecretMap>> m;
  f.client->get_secret_map(ref("dev/config", "foo.nested"), [&](Result<esd::SecretMap> r) { m = std::move(r); });
  REQUIRE(f.loop.run_until([&] { return m.has_value(); }));
  REQUIRE(m->ok());
  CHECK((*m)->at("bar").view() == "x");
  auto find = [&](FindRef fr) {
    std::optional<Result<esd::SecretMap>> out;
    f.client->get_all_secrets(std::move(fr), [&](Result<esd::SecretMap> r) { out = std::move(r); });
    REQUIRE(f.loop.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  };
  FindRef by_name;
  by_name.name_regexp = "db$";
  auto found = find(by_name);
  REQUIRE(found.ok());
  CHECK(found->size() == 2);
  CHECK(found->at("dev/db").view() == R"({"pw":"p"})");
  FindRef by_tag;
  by_tag.tags = {{"team", "a"}};
  auto tagged = find(by_tag);
  REQUIRE(tagged.ok());
  REQUIRE(tagged->size() == 1);
  CHECK(tagged->count("prod/db") == 1);
  FindRef under;
  under.path = "dev";
  auto dev = find(under);
  REQUIRE(dev.ok());
  CHECK(dev->size() == 2);
  CHECK(dev->count("dev/config") == 1);
  FindRef none;
  none.path = "nothing";
  CHECK(find(none).error().code == ErrorCode::kNotFound);
  f.finish();
}

TEST_CASE("VaultClient: close() stops callbacks, transfers and timers", "[providers][vault]") {
  Fixture f;
  f.vault.kv["k"] = {{"a", "1"}};
  f.vault.ttl_s = 100;  // a renewal timer is pending at close
  f.create(f.approle_spec());
  REQUIRE(f.get_one("k", "a").ok());
  f.vault.hang_reads = true;
  bool called = false;
  f.client->get_secrets({ref("k", "a")}, [&](std::vector<Result<Fetched>>) { called = true; });
  REQUIRE(f.loop.run_until([&] { return f.vault.reads == 2; }));
  f.client->close();
  f.client->get_secrets({ref("k", "a")}, [&](std::vector<Result<Fetched>>) { called = true; });
  REQUIRE(f.loop.run_until([&] { return f.http.in_flight() == 0; }));
  CHECK_FALSE(called);
  f.finish();
}

TEST_CASE("VaultClient: kubernetes auth with a TokenRequest token and auth.namespace",
          "[providers][vault]") {
  Fixture f;
  f.vault.kv["k"] = {{"a", "1"}};
  json spec = {{"server", f.server.url("")}, {"path", "secret"}, {"namespace", "app-ns"},
               {"auth", {{"namespace", "auth-ns"},
                         {"kubernetes", {{"role", "app"},
                                         {"serviceAccountRef", {{"name", "sa"}, {"audiences", {"vault"}}}}}}}}};
  f.create(spec);
  REQUIRE(f.get_one("k", "a").ok());
  REQUIRE(f.get_one("k", "a").ok());
  CHECK(f.vault.logins == 1);
  CHECK(f.token_requests == std::vector<std::string>{"/sa/vault,/600"});
  const auto& reqs = f.server.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].target == "/v1/auth/kubernetes/login");
  CHECK(reqs[0].headers.at("x-vault-namespace") == "auth-ns");
  CHECK(reqs[0].headers.count("x-vault-token") == 0);
  CHECK(reqs[1].headers.at("x-vault-namespace") == "app-ns");
  f.finish();
}

// ---- headers, readYourWrites, forwardInconsistent ------------------------------------------

namespace {

std::string header_of(const TestRequest& r, const std::string& lower_name) {
  auto it = r.headers.find(lower_name);
  return it == r.headers.end() ? "<none>" : it->second;
}

// Every reply of the fake carries a new X-Vault-Index ("idx-1", "idx-2", ... in reply order),
// like a Vault Enterprise node reporting its replication state.
void number_replies(Fixture& f) {
  f.vault.after = [n = 0](const TestRequest&, TestReply& rep) mutable {
    rep.headers.emplace_back("X-Vault-Index", "idx-" + std::to_string(++n));
  };
}

std::optional<Result<esd::SecretMap>> run_find(Fixture& f, FindRef fr) {
  std::optional<Result<esd::SecretMap>> out;
  f.client->get_all_secrets(std::move(fr), [&](Result<esd::SecretMap> r) { out = std::move(r); });
  REQUIRE(f.loop.run_until([&] { return out.has_value(); }));
  return out;
}

}  // namespace

TEST_CASE("VaultClient: spec headers go on every request, logins and token calls included",
          "[providers][vault]") {
  Fixture f;
  f.vault.ttl_s = 1;  // renewed at 200 ms of loop time (renew_fraction 0.2)
  f.vault.kv["k"] = {{"a", "1"}};
  f.vault.kv["dir/x"] = {{"b", "2"}};
  f.vault.custom["dir/x"] = {{"team", "a"}};
  vault::ClientOptions opts;
  opts.renew_fraction = 0.2;
  json spec = f.approle_spec();
  spec["namespace"] = "team";
  spec["headers"] = {{"X-Custom-One", "one"}, {"X-Tenant", "Team A"}};
  f.create(spec, opts);

  std::optional<Result<bool>> valid;
  f.client->validate([&](Result<bool> r) { valid = std::move(r); });  // login + lookup-self
  REQUIRE(f.loop.run_until([&] { return valid.has_value(); }));
  REQUIRE(valid->ok());
  REQUIRE(f.get_one("k", "a").ok());                                 // KV read
  CHECK(f.get_one("denied").error().code == ErrorCode::kPermission);  // 403 → lookup-self (given)
  FindRef by_tag;
  by_tag.tags = {{"team", "a"}};
  auto tagged = run_find(f, by_tag);                                  // LIST + metadata + read
  REQUIRE(tagged->ok());
  CHECK((*tagged)->count("dir/x") == 1);
  REQUIRE(f.loop.run_until([&] { return f.vault.renewals >= 1; }));   // renew-self
  f.vault.ttl_s = 3600;
  f.finish();                                                         // revoke-self

  std::set<std::string> seen;
  for (const auto& r : f.server.requests()) {
    CAPTURE(r.target);
    CHECK(header_of(r, "x-custom-one") == "one");
    CHECK(header_of(r, "x-tenant") == "Team A");
    CHECK(header_of(r, "x-vault-request") == "true");
    seen.insert(r.target.substr(0, r.target.find('?')));
  }
  for (const char* t : {"/v1/auth/approle/login", "/v1/auth/token/lookup-self",
                        "/v1/auth/token/renew-self", "/v1/auth/token/revoke-self",
                        "/v1/secret/data/k", "/v1/secret/data/denied", "/v1/secret/metadata/",
                        "/v1/secret/metadata/dir/", "/v1/secret/metadata/dir/x",
                        "/v1/secret/data/dir/x"}) {
    CAPTURE(t);
    CHECK(seen.count(t) == 1);  // every kind of request was made (and checked above)
  }
  CHECK(f.calls["LookupSelf/ok"] == 2);
}

// What providers/vault/vault_core.cpp (VaultCore::build, on_response) implements:
// As ESO (newConfig: ReadYourWrites = readYourWrites || forwardInconsistent; initClient adds
// X-Vault-Inconsistent only when both are set):
// - either flag: the X-Vault-Index of the latest response (any status, 404 included) goes on
//   every later request of the client, logins and revoke-self included; nothing before the
//   first response; the index survives across syncs (the client lives as long as its store).
// - both flags: X-Vault-Inconsistent: forward-active-node on every request.
TEST_CASE("VaultClient: X-Vault-Index and X-Vault-Inconsistent for each readYourWrites and "
          "forwardInconsistent combination",
          "[providers][vault]") {
  const bool ryw = GENERATE(false, true);
  const bool fwd = GENERATE(false, true);
  CAPTURE(ryw, fwd);
  Fixture f;
  number_replies(f);
  f.vault.kv["k"] = {{"a", "1"}};
  json spec = f.approle_spec();
  spec["readYourWrites"] = ryw;
  spec["forwardInconsistent"] = fwd;
  f.create(spec);
  REQUIRE(f.get_one("k", "a").ok());                                 // login (idx-1), read (idx-2)
  CHECK(f.get_one("missing").error().code == ErrorCode::kNotFound);  // 404 (idx-3)
  REQUIRE(f.get_one("k", "a").ok());                                 // read (idx-4), next sync
  f.finish();                                                        // revoke-self
  const auto& reqs = f.server.requests();
  const std::vector<std::string> targets = {"/v1/auth/approle/login", "/v1/secret/data/k",
                                            "/v1/secret/data/missing", "/v1/secret/data/k",
                                            "/v1/auth/token/revoke-self"};
  REQUIRE(reqs.size() == targets.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    CAPTURE(i, reqs[i].target);
    CHECK(reqs[i].target == targets[i]);
    const std::string index = (ryw || fwd) && i > 0 ? "idx-" + std::to_string(i) : "<none>";
    CHECK(header_of(reqs[i], "x-vault-index") == index);
    CHECK(header_of(reqs[i], "x-vault-inconsistent") ==
          (ryw && fwd ? "forward-active-node" : "<none>"));
  }
}

// The case that once differed from ESO, spelled out: forwardInconsistent alone still records
// X-Vault-Index and sends it on later requests, and sends no X-Vault-Inconsistent.
TEST_CASE("VaultClient: forwardInconsistent alone tracks X-Vault-Index and sends no "
          "X-Vault-Inconsistent (as ESO)",
          "[providers][vault]") {
  Fixture f;
  number_replies(f);
  f.vault.kv["k"] = {{"a", "1"}};
  json spec = f.approle_spec();
  spec["forwardInconsistent"] = true;
  f.create(spec);
  REQUIRE(f.get_one("k", "a").ok());  // login (idx-1), read (idx-2)
  REQUIRE(f.get_one("k", "a").ok());  // read
  const auto& reqs = f.server.requests();
  REQUIRE(reqs.size() == 3);
  for (size_t i = 0; i < reqs.size(); ++i) {
    CAPTURE(i, reqs[i].target);
    CHECK(header_of(reqs[i], "x-vault-index") == (i == 0 ? "<none>" : "idx-" + std::to_string(i)));
    CHECK(header_of(reqs[i], "x-vault-inconsistent") == "<none>");
  }
  f.finish();
}

TEST_CASE("VaultClient: find by tags on KV v1 is an error, before any request",
          "[providers][vault]") {
  Fixture f;
  json spec = f.approle_spec();
  spec["version"] = "v1";
  f.create(spec);
  FindRef by_tag;
  by_tag.tags = {{"team", "a"}};
  FindRef by_name_and_tag;  // ESO checks the tags before anything else
  by_name_and_tag.name_regexp = ".*";
  by_name_and_tag.path = "dir";
  by_name_and_tag.tags = {{"team", "a"}};
  for (const FindRef& fr : {by_tag, by_name_and_tag}) {
    auto r = run_find(f, fr);
    REQUIRE_FALSE(r->ok());
    CHECK(r->error().code == ErrorCode::kInvalidRef);
    CHECK(r->error().message == "cannot perform find by tag operations with kv version v1");
  }
  CHECK(f.server.requests().empty());  // neither a login nor a LIST
  // Positive control: a v1 find by name does go to Vault (a LIST on the v1 mount itself).
  FindRef by_name;
  by_name.name_regexp = ".*";
  auto listed = run_find(f, by_name);
  CHECK(listed->error().code == ErrorCode::kNotFound);  // the tiny fake has no v1 mount
  CHECK(f.count("/v1/secret/?list=true") == 1);
  CHECK(f.vault.logins == 1);
  f.finish();
}
