// KV wire format: ESO's path building, read/metadata/list parsing (deleted versions included),
// error classification and value shaping.
#include "providers/vault/vault_kv.h"

#include <catch2/catch.hpp>

#include "providers/vault/vault_auth.h"

using esd::ErrorCode;
using esd::HttpResponse;
using esd::Sensitive;
using namespace esd::providers::vault;
using nlohmann::json;

namespace {

VaultSpec spec(bool mount, KvVersion v) {
  VaultSpec s;
  s.server = "http://127.0.0.1:1";
  s.version = v;
  if (mount) {
    s.mount = "secret";
    s.has_mount = true;
  }
  return s;
}

HttpResponse resp(long status, std::string body, std::map<std::string, std::string> h = {}) {
  HttpResponse r;
  r.status = status;
  r.body = Sensitive(std::move(body));
  r.headers = std::move(h);
  return r;
}

}  // namespace

TEST_CASE("vault kv: data paths for v1/v2 with and without a mount", "[providers][vault]") {
  const auto v2 = spec(true, KvVersion::kV2);
  const auto v1 = spec(true, KvVersion::kV1);
  CHECK(data_path(v2, "foo") == "secret/data/foo");
  CHECK(data_path(v2, "dir/foo") == "secret/data/dir/foo");
  CHECK(data_path(v2, "secret/foo") == "secret/data/foo");
  CHECK(data_path(v2, "secret/data/foo") == "secret/data/foo");
  CHECK(data_path(v1, "foo") == "secret/foo");
  CHECK(data_path(v1, "secret/foo") == "secret/foo");
  const auto bare2 = spec(false, KvVersion::kV2);
  const auto bare1 = spec(false, KvVersion::kV1);
  CHECK(data_path(bare2, "secret/path/foo") == "secret/data/path/foo");
  CHECK(data_path(bare2, "secret/path/data/foo") == "secret/path/data/foo");
  CHECK(data_path(bare1, "secret_v1/foo") == "secret_v1/foo");
  CHECK(data_path(v2, "a b/ü") == "secret/data/a%20b/%C3%BC");
}

TEST_CASE("vault kv: metadata, list and version paths", "[providers][vault]") {
  const auto v2 = spec(true, KvVersion::kV2);
  CHECK(*metadata_path(v2, "foo") == "secret/metadata/foo");
  CHECK(*metadata_path(spec(false, KvVersion::kV2), "secret/foo") == "secret/metadata/foo");
  CHECK(*metadata_path(spec(false, KvVersion::kV2), "secret/data/foo") == "secret/metadata/foo");
  auto v1 = metadata_path(spec(true, KvVersion::kV1), "foo");
  REQUIRE_FALSE(v1.ok());
  CHECK(v1.error().code == ErrorCode::kInvalidRef);
  CHECK(*list_path(v2, "") == "secret/metadata/");
  CHECK(*list_path(v2, "dev/") == "secret/metadata/dev/");
  CHECK(*list_path(spec(true, KvVersion::kV1), "dev/") == "secret/dev/");
  CHECK_FALSE(list_path(spec(false, KvVersion::kV2), "").ok());
  CHECK(*version_query(v2, "3") == "version=3");
  CHECK(version_query(v2, "").value().empty());
  CHECK(version_query(spec(true, KvVersion::kV1), "3").value().empty());
  CHECK(version_query(v2, "latest").error().code == ErrorCode::kInvalidRef);
}

TEST_CASE("vault kv: reads, deleted versions and not-found", "[providers][vault]") {
  auto ok = parse_read(resp(200, R"({"data":{"data":{"a":"1"},"metadata":{"version":4}}})"),
                       KvVersion::kV2, "p");
  REQUIRE(ok.ok());
  CHECK(ok->data == json{{"a", "1"}});
  CHECK(ok->version == "4");
  auto v1 = parse_read(resp(200, R"({"data":{"a":"1"},"lease_duration":2764800})"), KvVersion::kV1, "p");
  REQUIRE(v1.ok());
  CHECK(v1->version.empty());
  const char* deleted =
      R"({"data":{"data":null,"metadata":{"version":2,"deletion_time":"2026-01-01T00:00:00Z","destroyed":false}}})";
  for (const auto& r : {resp(404, deleted), resp(404, R"({"errors":[]})"), resp(404, ""),
                        resp(200, R"({"data":{"data":null,"metadata":{"destroyed":true}}})"),
                        resp(200, R"({"data":null})")}) {
    auto res = parse_read(r, KvVersion::kV2, "p");
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().code == ErrorCode::kNotFound);
    CHECK(res.error().message == "Secret does not exist");
  }
}

TEST_CASE("vault kv: status classification never turns failures into not-found",
          "[providers][vault]") {
  struct Case {
    long status;
    ErrorCode code;
  };
  for (const Case& c : {Case{403, ErrorCode::kPermission}, Case{401, ErrorCode::kAuth},
                        Case{429, ErrorCode::kRateLimited}, Case{500, ErrorCode::kTransient},
                        Case{502, ErrorCode::kTransient}, Case{503, ErrorCode::kTransient},
                        Case{412, ErrorCode::kTransient}, Case{400, ErrorCode::kInvalidRef}}) {
    INFO(c.status);
    auto r = parse_read(resp(c.status, R"({"errors":["Vault is sealed"]})", {{"retry-after", "7"}}),
                        KvVersion::kV2, "secret/data/x");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == c.code);
    CHECK(r.error().native == c.status);
    CHECK(r.error().message.find("secret/data/x") != std::string::npos);
    CHECK(r.error().message.find("Vault is sealed") != std::string::npos);
    if (c.status == 429) CHECK(r.error().retry_after_ms == 7000);
  }
  auto garbage = parse_read(resp(200, "<html>"), KvVersion::kV2, "p");
  CHECK(garbage.error().code == ErrorCode::kTransient);
  CHECK(vault_errors(R"({"errors":["a","b"]})") == "a; b");
}

TEST_CASE("vault kv: property rules and the whole-map JSON", "[providers][vault]") {
  const json data = json::parse(R"({"foo":{"nested":{"bar":"mysecret","baz":"bang"}},
    "a.b":"literal","n":5432,"z":null})");
  CHECK(secret_value(data, "").value().view() ==
        R"({"a.b":"literal","foo":{"nested":{"bar":"mysecret","baz":"bang"}},"n":5432,"z":null})");
  CHECK(secret_value(data, "foo.nested").value().view() == R"({"bar":"mysecret","baz":"bang"})");
  CHECK(secret_value(data, "foo.nested.bar").value().view() == "mysecret");
  CHECK(secret_value(data, "a.b").value().view() == "literal");
  CHECK(secret_value(data, "n").value().view() == "5432");
  auto missing = secret_value(data, "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kInvalidRef);
  CHECK(missing.error().message == "cannot find secret data for key: \"nope\"");
  auto map = value_to_map(secret_value(data, "foo.nested").value());
  REQUIRE(map.ok());
  CHECK(map->at("bar").view() == "mysecret");
  auto whole = value_to_map(secret_value(json::parse(R"({"foo":{"nested":{"bar":"x"}}})"), "").value());
  CHECK(whole->at("foo").view() == R"({"nested":{"bar":"x"}})");
}

TEST_CASE("vault kv: metadata, list parsing and tag filtering", "[providers][vault]") {
  auto m = parse_metadata(resp(200, R"({"data":{"created_time":"2026-01-01T00:00:00Z",
    "current_version":3,"delete_version_after":"0s","max_versions":0,
    "custom_metadata":{"owner":"jdoe","current_version":"custom"}}})"), "p");
  REQUIRE(m.ok());
  CHECK(m->at("owner") == "jdoe");
  CHECK(m->at("current_version") == "custom");  // custom keys win
  CHECK(m->at("delete_version_after") == "0s");
  CHECK(m->count("max_versions") == 0);
  CHECK(metadata_value(*m, "owner").value().view() == "jdoe");
  CHECK(metadata_value({}, "").value().empty());
  CHECK(tags_match(*m, {{"owner", "jdoe"}}));
  CHECK_FALSE(tags_match(*m, {{"owner", "other"}}));
  CHECK_FALSE(tags_match(*m, {{"team", "x"}}));
  CHECK(tags_match(*m, {}));
  CHECK(parse_metadata(resp(404, R"({"errors":[]})"), "p").error().code == ErrorCode::kInvalidRef);
  auto keys = parse_list(resp(200, R"({"data":{"keys":["a","dir/"]}})"), "p");
  REQUIRE(keys.ok());
  CHECK(*keys == std::vector<std::string>{"a", "dir/"});
  CHECK(parse_list(resp(404, R"({"errors":[]})"), "p").error().code == ErrorCode::kNotFound);
  CHECK(parse_list(resp(503, R"({"errors":["Vault is sealed"]})"), "p").error().code ==
        ErrorCode::kTransient);
}

TEST_CASE("vault auth: login requests and auth responses", "[providers][vault]") {
  AuthSpec a;
  a.method = AuthMethod::kAppRole;
  a.mount = "approle";
  LoginInputs in{Sensitive(std::string("sid")), "rid"};
  auto req = build_login(a, in);
  CHECK(req.path == "auth/approle/login");
  CHECK(json::parse(req.body.view()) == json{{"role_id", "rid"}, {"secret_id", "sid"}});
  a.method = AuthMethod::kUserPass;
  a.mount = "userpass";
  a.username = "bob";
  req = build_login(a, in);
  CHECK(req.path == "auth/userpass/login/bob");
  CHECK(json::parse(req.body.view()) == json{{"password", "sid"}});
  a.method = AuthMethod::kKubernetes;
  a.mount = "kubernetes";
  a.role = "app";
  CHECK(json::parse(build_login(a, in).body.view()) == json{{"role", "app"}, {"jwt", "sid"}});

  auto g = parse_auth_response(
      resp(200, R"({"auth":{"client_token":"hvs.X","lease_duration":30,"renewable":true}})"), "login");
  REQUIRE(g.ok());
  CHECK(g->token.view() == "hvs.X");
  CHECK(g->ttl_s == 30);
  CHECK(g->renewable);
  for (long st : {400L, 403L}) {
    auto bad = parse_auth_response(resp(st, R"({"errors":["invalid role ID"]})"), "login");
    CHECK(bad.error().code == ErrorCode::kAuth);
  }
  CHECK(parse_auth_response(resp(503, "{}"), "login").error().code == ErrorCode::kTransient);
  CHECK(parse_auth_response(resp(200, R"({"auth":null})"), "login").error().code == ErrorCode::kAuth);
}
