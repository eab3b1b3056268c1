#include "daemon/kube/kube_config.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "daemon/common/crypto.h"
#include "kube/temp_dir.h"

namespace esd::kube {
namespace {

using esd::testing::TempDir;

constexpr const char* kCaPem = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr const char* kCertPem = "-----BEGIN CERTIFICATE-----\nME\n-----END CERTIFICATE-----\n";
constexpr const char* kKeyPem = "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n";

// A kubeconfig with one context "ctx" -> cluster "c" / user "u"; `cluster` and `user` are the
// bodies (already indented by 4 spaces).
std::string kubeconfig(const std::string& cluster, const std::string& user,
                       const std::string& extra_context = "") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: ctx\n"
         "clusters:\n- name: c\n  cluster:\n" +
         cluster + "users:\n- name: u\n  user:\n" + user +
         "contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\n" + extra_context;
}

const std::string kServer = "    server: https://k8s.example:6443/\n";

std::string error_of(const Result<KubeConfig>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidConfig);
  return r.error().message;
}

}  // namespace

TEST_CASE("kubeconfig: token user with current-context", "[kube][config]") {
  auto r = parse_kubeconfig(kubeconfig(kServer, "    token: abc123\n", "    namespace: team-a\n"),
                            "/nowhere", "");
  REQUIRE(r.ok());
  CHECK(r->server == "https://k8s.example:6443");  // trailing slash stripped
  CHECK(r->token.view() == "abc123");
  CHECK(r->token_file.empty());
  CHECK(r->namespace_ == "team-a");
  REQUIRE(r->tls != nullptr);
  CHECK(r->tls->ca_pem.empty());
  CHECK_FALSE(r->tls->insecure_skip_verify);
}

TEST_CASE("kubeconfig: inline -data certificates are base64-decoded", "[kube][config]") {
  const std::string cluster = kServer + "    certificate-authority-data: " + base64_encode(kCaPem) +
                              "\n    tls-server-name: api.internal\n" +
                              "    insecure-skip-tls-verify: true\n";
  const std::string user = "    client-certificate-data: " + base64_encode(kCertPem) +
                           "\n    client-key-data: " + base64_encode(kKeyPem) + "\n";
  auto r = parse_kubeconfig(kubeconfig(cluster, user), "/nowhere", "");
  REQUIRE(r.ok());
  CHECK(r->tls->ca_pem == kCaPem);
  CHECK(r->tls->client_cert_pem == kCertPem);
  CHECK(r->tls->client_key_pem.view() == kKeyPem);
  CHECK(r->tls->server_name == "api.internal");
  CHECK(r->tls->insecure_skip_verify);
  CHECK(r->token.empty());
  CHECK(r->namespace_ == "default");
}

TEST_CASE("kubeconfig: file paths resolve relative to the kubeconfig's directory",
          "[kube][config]") {
  TempDir dir;
  dir.write("conf/pki/ca.crt", kCaPem);
  dir.write("conf/pki/me.crt", kCertPem);
  dir.write("conf/pki/me.key", kKeyPem);
  dir.write("conf/token", "file-token\n");
  const std::string path = dir.write(
      "conf/config", kubeconfig(kServer + "    certificate-authority: pki/ca.crt\n",
                                "    client-certificate: pki/me.crt\n    client-key: " +
                                    dir.file("conf/pki/me.key") + "\n    tokenFile: token\n"));
  auto r = load_kubeconfig_file(path, "");
  REQUIRE(r.ok());
  CHECK(r->tls->ca_pem == kCaPem);
  CHECK(r->tls->client_cert_pem == kCertPem);
  CHECK(r->tls->client_key_pem.view() == kKeyPem);
  CHECK(r->token_file == dir.file("conf/token"));
  CHECK(r->source == "kubeconfig:" + path);
}

TEST_CASE("kubeconfig: explicit context wins over current-context", "[kube][config]") {
  const std::string doc =
      "current-context: ctx\n"
      "clusters:\n- name: c\n  cluster:\n    server: https://one\n"
      "- name: c2\n  cluster:\n    server: https://two\n"
      "contexts:\n- name: ctx\n  context: {cluster: c}\n- name: other\n  context: {cluster: c2}\n";
  auto r = parse_kubeconfig(doc, "", "other");
  REQUIRE(r.ok());
  CHECK(r->server == "https://two");
  CHECK(r->token.empty());  // no user in that context: anonymous
  auto r2 = parse_kubeconfig(doc, "", "");
  REQUIRE(r2.ok());
  CHECK(r2->server == "https://one");
}

TEST_CASE("kubeconfig: errors name the missing or bad field", "[kube][config]") {
  struct Case {
    const char* name;
    std::string yaml;
    std::string context;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"missing context", kubeconfig(kServer, "    token: t\n"), "nope",
       "kubeconfig: context \"nope\" not found"},
      {"no current-context", "clusters: []\ncontexts: []\n", "",
       "kubeconfig: no current-context set and no context given"},
      {"missing server", kubeconfig("    insecure-skip-tls-verify: true\n", "    token: t\n"), "",
       "kubeconfig: cluster \"c\" has no server"},
      {"missing cluster entry",
       "current-context: x\ncontexts:\n- name: x\n  context: {cluster: gone}\n", "",
       "kubeconfig: cluster \"gone\" not found"},
      {"missing user entry",
       "current-context: x\nclusters:\n- name: c\n  cluster: {server: https://a}\n"
       "contexts:\n- name: x\n  context: {cluster: c, user: ghost}\n",
       "", "kubeconfig: user \"ghost\" not found"},
      {"exec rejected",
       kubeconfig(kServer,
                  "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                  "      command: aws\n"),
       "", "exec credential plugins are not supported"},
      {"auth-provider rejected", kubeconfig(kServer, "    auth-provider:\n      name: gcp\n"), "",
       "auth-provider plugins are not supported"},
      {"basic auth rejected", kubeconfig(kServer, "    username: a\n    password: b\n"), "",
       "basic auth"},
      {"bad base64", kubeconfig(kServer + "    certificate-authority-data: '!!notb64'\n", ""), "",
       "certificate-authority-data is not valid base64"},
      {"cert without key",
       kubeconfig(kServer, "    client-certificate-data: " + base64_encode(kCertPem) + "\n"), "",
       "client-certificate and client-key must be given together"},
      {"missing CA file",
       kubeconfig(kServer + "    certificate-authority: /nonexistent/ca.crt\n", ""), "",
       "certificate-authority: cannot read \"/nonexistent/ca.crt\""},
      {"missing token file", kubeconfig(kServer, "    tokenFile: /nonexistent/tok\n"), "",
       "tokenFile: cannot read"},
      {"bad bool", kubeconfig(kServer + "    insecure-skip-tls-verify: maybe\n", ""), "",
       "insecure-skip-tls-verify must be a boolean"},
      {"server not a string", kubeconfig("    server: [a, b]\n", ""), "",
       "field server must be a string"},
      {"malformed YAML", "clusters: [\n  - {name: c\n", "", "kubeconfig: malformed YAML"},
      {"not a map", "- just\n- a list\n", "", "kubeconfig: document is not a map"},
      {"empty", "", "", "kubeconfig: empty document"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto r = parse_kubeconfig(c.yaml, "/nowhere", c.context);
    CHECK_THAT(error_of(r), Catch::Contains(c.expect));
  }
}

TEST_CASE("kubeconfig: token never appears in error messages", "[kube][config]") {
  auto r = parse_kubeconfig(kubeconfig(kServer, "    token: sup3r-s3cret\n    exec: {}\n"), "", "");
  CHECK_THAT(error_of(r), !Catch::Contains("sup3r-s3cret"));
}

TEST_CASE("kubeconfig: missing file is a clear error", "[kube][config]") {
  auto r = load_kubeconfig_file("/nonexistent/dir/config", "");
  CHECK_THAT(error_of(r), Catch::Contains("/nonexistent/dir/config"));
}

TEST_CASE("in-cluster: reads token, CA and namespace from the service-account dir",
          "[kube][config]") {
  TempDir sa;
  sa.write("token", "jwt-token\n");
  sa.write("ca.crt", kCaPem);
  sa.write("namespace", "ops\n");
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  auto r = in_cluster_config(env, sa.path());
  REQUIRE(r.ok());
  CHECK(r->server == "https://10.0.0.1:443");
  CHECK(r->token_file == sa.file("token"));
  CHECK(r->token.empty());  // read (and re-read) by the client
  CHECK(r->tls->ca_pem == kCaPem);
  CHECK(r->namespace_ == "ops");
  CHECK(r->source == "in-cluster");

  SECTION("IPv6 hosts are bracketed") {
    env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
    auto v6 = in_cluster_config(env, sa.path());
    REQUIRE(v6.ok());
    CHECK(v6->server == "https://[fd00::1]:443");
  }
  SECTION("missing env is an error") {
    env.erase("KUBERNETES_SERVICE_PORT");
    CHECK_THAT(error_of(in_cluster_config(env, sa.path())),
               Catch::Contains("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT"));
  }
  SECTION("missing token file is an error") {
    TempDir empty;
    empty.write("ca.crt", kCaPem);
    CHECK_THAT(error_of(in_cluster_config(env, empty.path())), Catch::Contains("token"));
  }
  SECTION("missing namespace file defaults to default") {
    TempDir no_ns;
    no_ns.write("token", "t");
    no_ns.write("ca.crt", kCaPem);
    auto d = in_cluster_config(env, no_ns.path());
    REQUIRE(d.ok());
    CHECK(d->namespace_ == "default");
  }
}

TEST_CASE("resolve_config: flag, then KUBECONFIG, then in-cluster, then HOME", "[kube][config]") {
  TempDir dir;
  auto conf = [&](const std::string& rel, const std::string& server) {
    return dir.write(rel, kubeconfig("    server: " + server + "\n", "    token: t\n"));
  };
  const std::string flag = conf("flag/config", "https://flag");
  const std::string env_conf = conf("env/config", "https://env");
  conf("home/.kube/config", "https://home");
  dir.write("sa/token", "t");
  dir.write("sa/ca.crt", kCaPem);
  std::map<std::string, std::string> env = {{"KUBECONFIG", ":" + env_conf + ":/other/config"},
                                            {"KUBERNETES_SERVICE_HOST", "10.1.1.1"},
                                            {"KUBERNETES_SERVICE_PORT", "6443"},
                                            {"HOME", dir.file("home")}};
  const std::string sa = dir.file("sa");

  auto server_of = [&](const std::string& flag_path) {
    auto r = resolve_config(flag_path, "", env, sa);
    REQUIRE(r.ok());
    return r->server;
  };
  CHECK(server_of(flag) == "https://flag");
  CHECK(server_of("") == "https://env");
  env.erase("KUBECONFIG");
  CHECK(server_of("") == "https://10.1.1.1:6443");
  env.erase("KUBERNETES_SERVICE_HOST");
  CHECK(server_of("") == "https://home");
  env["HOME"] = dir.file("nohome");
  CHECK_THAT(error_of(resolve_config("", "", env, sa)),
             Catch::Contains("no Kubernetes configuration found"));
  env["KUBECONFIG"] = dir.file("missing/config");
  CHECK_THAT(error_of(resolve_config("", "", env, sa)), Catch::Contains("missing/config"));
}

}  // namespace esd::kube
