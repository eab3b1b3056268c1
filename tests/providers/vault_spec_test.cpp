// spec.provider.vault parsing: defaults, ESO's auth order, validation errors, Go durations.
#include "providers/vault/vault_spec.h"

#include <catch2/catch.hpp>

#include "daemon/common/crypto.h"
#include "providers/registry.h"

using esd::ErrorCode;
using esd::providers::vault::AuthMethod;
using esd::providers::vault::JwtSource;
using esd::providers::vault::KvVersion;
using esd::providers::vault::parse_duration_ms;
using esd::providers::vault::parse_vault_spec;
using nlohmann::json;

namespace {

json with_auth(json auth) {
  return json{{"server", "https://vault.example:8200/"}, {"path", "secret"}, {"auth", auth}};
}

std::string error_of(const json& spec) {
  auto r = parse_vault_spec(spec);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidConfig);
  return r.error().message;
}

}  // namespace

TEST_CASE("vault spec: defaults and basic fields", "[providers][vault]") {
  auto r = parse_vault_spec(json::parse(R"({
    "server": "https://vault.example:8200/", "path": "/secret/", "namespace": "team-a",
    "readYourWrites": true, "forwardInconsistent": true, "headers": {"X-A": "b"},
    "auth": {"namespace": "admin", "tokenSecretRef": {"name": "tok", "key": "token"}}})"));
  REQUIRE(r.ok());
  CHECK(r->server == "https://vault.example:8200");
  CHECK(r->mount == "secret");
  CHECK(r->has_mount);
  CHECK(r->version == KvVersion::kV2);
  CHECK(r->ns == "team-a");
  CHECK(r->read_your_writes);
  CHECK(r->forward_inconsistent);
  REQUIRE(r->headers.size() == 1);
  CHECK(r->headers[0].first == "X-A");
  CHECK(r->auth.method == AuthMethod::kToken);
  CHECK(r->auth.has_ns);
  CHECK(r->auth.ns == "admin");
  CHECK(r->auth.secret.name == "tok");
  CHECK(r->retry.max_retries == 2);
  CHECK(r->retry.interval_ms == -1);
}

TEST_CASE("vault spec: auth methods, defaults and ESO's precedence", "[providers][vault]") {
  SECTION("tokenSecretRef wins over everything") {
    auto r = parse_vault_spec(with_auth(json::parse(R"({
      "appRole": {"roleId": "r", "secretRef": {"name": "s", "key": "k"}},
      "tokenSecretRef": {"name": "t", "key": "token"}})")));
    REQUIRE(r.ok());
    CHECK(r->auth.method == AuthMethod::kToken);
  }
  SECTION("appRole with roleRef and the default path") {
    auto r = parse_vault_spec(with_auth(json::parse(R"({"appRole": {
      "roleRef": {"name": "r", "key": "id"}, "secretRef": {"name": "s", "key": "k"}}})")));
    REQUIRE(r.ok());
    CHECK(r->auth.method == AuthMethod::kAppRole);
    CHECK(r->auth.mount == "approle");
    CHECK(r->auth.role_ref.name == "r");
    CHECK(r->auth.secret.key == "k");
  }
  SECTION("kubernetes: service account, secret (default key token) or own token") {
    auto sa = parse_vault_spec(with_auth(json::parse(R"({"kubernetes": {"role": "app",
      "serviceAccountRef": {"name": "sa", "audiences": ["vault"]}}})")));
    REQUIRE(sa.ok());
    CHECK(sa->auth.mount == "kubernetes");
    CHECK(sa->auth.jwt_source == JwtSource::kServiceAccount);
    CHECK(sa->auth.sa.audiences == std::vector<std::string>{"vault"});
    CHECK(sa->auth.sa_expiration_s == 600);
    auto sec = parse_vault_spec(with_auth(json::parse(
        R"({"kubernetes": {"role": "app", "mountPath": "k8s", "secretRef": {"name": "jwt"}}})")));
    REQUIRE(sec.ok());
    CHECK(sec->auth.mount == "k8s");
    CHECK(sec->auth.jwt_source == JwtSource::kSecret);
    CHECK(sec->auth.secret.key == "token");
    auto own = parse_vault_spec(with_auth(json::parse(R"({"kubernetes": {"role": "app"}})")));
    REQUIRE(own.ok());
    CHECK(own->auth.jwt_source == JwtSource::kOwnToken);
  }
  SECTION("jwt with a service-account token gets the default audience vault") {
    auto r = parse_vault_spec(with_auth(json::parse(R"({"jwt": {"role": "r",
      "kubernetesServiceAccountToken": {"serviceAccountRef": {"name": "sa", "audiences": ["x"]}}}})")));
    REQUIRE(r.ok());
    CHECK(r->auth.method == AuthMethod::kJwt);
    CHECK(r->auth.mount == "jwt");
    CHECK(r->auth.sa.audiences == std::vector<std::string>{"x", "vault"});
  }
  SECTION("ldap comes before userPass, cert has its own defaults") {
    auto r = parse_vault_spec(with_auth(json::parse(R"({
      "userPass": {"username": "u", "secretRef": {"name": "p", "key": "k"}},
      "ldap": {"username": "l", "secretRef": {"name": "p", "key": "k"}}})")));
    REQUIRE(r.ok());
    CHECK(r->auth.method == AuthMethod::kLdap);
    CHECK(r->auth.mount == "ldap");
    auto c = parse_vault_spec(with_auth(json::parse(R"({"cert": {"vaultRole": "web",
      "clientCert": {"name": "c", "key": "tls.crt"}, "secretRef": {"name": "c", "key": "tls.key"}}})")));
    REQUIRE(c.ok());
    CHECK(c->auth.method == AuthMethod::kCert);
    CHECK(c->auth.mount == "cert");
    CHECK(c->auth.role == "web");
  }
  SECTION("no auth at all is allowed (no token is sent)") {
    auto r = parse_vault_spec(json{{"server", "http://127.0.0.1:8200"}});
    REQUIRE(r.ok());
    CHECK(r->auth.method == AuthMethod::kNone);
    CHECK_FALSE(r->has_mount);
  }
}

TEST_CASE("vault spec: validation errors name the field", "[providers][vault]") {
  CHECK(error_of(json::object()).find("server is required") != std::string::npos);
  CHECK(error_of(json{{"server", "ftp://x"}}).find("http(s) URL") != std::string::npos);
  CHECK(error_of(json{{"server", "https://x"}, {"version", "v3"}}).find("v1 or v2") !=
        std::string::npos);
  CHECK(error_of(with_auth(json::object())).find("no valid auth method") != std::string::npos);
  CHECK(error_of(with_auth(json{{"iam", json::object()}})).find("not supported yet") !=
        std::string::npos);
  CHECK(error_of(with_auth(json{{"gcp", json::object()}})).find("gcp") != std::string::npos);
  CHECK(error_of(with_auth(json::parse(R"({"appRole": {"secretRef": {"name": "s", "key": "k"}}})")))
            .find("roleId or roleRef") != std::string::npos);
  CHECK(error_of(with_auth(json::parse(R"({"kubernetes": {"mountPath": "k"}})")))
            .find("role is required") != std::string::npos);
  CHECK(error_of(with_auth(json::parse(R"({"jwt": {"role": "r"}})")))
            .find("neither secretRef") != std::string::npos);
  CHECK(error_of(with_auth(json::parse(R"({"tokenSecretRef": {"name": "t"}})")))
            .find("key is required") != std::string::npos);
  CHECK(error_of(json::parse(R"({"server": "https://x", "tls": {"certSecretRef": {"name": "c"}}})"))
            .find("both") != std::string::npos);
  CHECK(error_of(json::parse(R"({"server": "https://x", "caBundle": "%%%"})"))
            .find("caBundle") != std::string::npos);
  CHECK(error_of(json::parse(R"({"server": "https://x", "caProvider": {"type": "Vault", "name": "a", "key": "b"}})"))
            .find("Secret or ConfigMap") != std::string::npos);
}

TEST_CASE("vault spec: caBundle, caProvider, tls and retrySettings", "[providers][vault]") {
  const std::string pem = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n";
  json spec = {{"server", "https://x"},
               {"caBundle", esd::base64_encode(pem)},
               {"caProvider", {{"type", "ConfigMap"}, {"name", "ca"}, {"key", "ca.crt"}}},
               {"tls", {{"certSecretRef", {{"name", "client"}}}, {"keySecretRef", {{"name", "client"}}}}},
               {"retrySettings", {{"retryInterval", "1m30s"}}}};
  auto r = parse_vault_spec(spec);
  REQUIRE(r.ok());
  CHECK(r->ca_pem == pem);
  CHECK(r->has_ca_provider);
  CHECK_FALSE(r->ca_provider.secret);
  CHECK(r->ca_provider.key == "ca.crt");
  CHECK(r->tls_cert.key == "tls.crt");
  CHECK(r->tls_key.key == "tls.key");
  CHECK(r->retry.max_retries == 0);  // ESO: retrySettings without maxRetries → no retries
  CHECK(r->retry.interval_ms == 90'000);
}

TEST_CASE("vault spec: Go durations", "[providers][vault]") {
  CHECK(*parse_duration_ms("0") == 0);
  CHECK(*parse_duration_ms("250ms") == 250);
  CHECK(*parse_duration_ms("1.5s") == 1500);
  CHECK(*parse_duration_ms("1h2m3s") == 3'723'000);
  CHECK_FALSE(parse_duration_ms("").ok());
  CHECK_FALSE(parse_duration_ms("5").ok());
  CHECK_FALSE(parse_duration_ms("5 s").ok());
  CHECK_FALSE(parse_duration_ms("-1s").ok());
}

TEST_CASE("vault spec: the registry row validates a sample store", "[providers][vault]") {
  const auto* p = esd::providers::find_provider("vault");
  REQUIRE(p != nullptr);
  CHECK(p->name() == "vault");
  CHECK(p->validate(with_auth(json{{"tokenSecretRef", {{"name", "t"}, {"key", "token"}}}})).ok());
  CHECK_FALSE(p->validate(json::object()).ok());
}
