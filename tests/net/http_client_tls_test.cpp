// HttpClient over TLS against tests/support/tls_echo_server.py, with a PKI generated at test
// time: CA from memory and from a file, wrong CA, server-name override, insecure mode, mTLS.
#include <curl/curl.h>

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>

#include "daemon/http/http_client.h"
#include "support/loop_runner.h"
#include "support/subprocess.h"
#include "support/test_certs.h"

using esd::ErrorCode;
using esd::HttpClient;
using esd::HttpRequest;
using esd::HttpResponse;
using esd::Result;
using esd::TlsOptions;
using esd::test::Subprocess;
using esd::test::TestLoop;
using esd::test::TestPki;

namespace {

// Starts the Python TLS peer; returns it and its base URL.
std::unique_ptr<Subprocess> start_tls_server(const TestPki& pki, bool require_client_cert,
                                             std::string& base_url) {
  std::vector<std::string> argv = {esd::test::python3(),
                                   ESD_SOURCE_DIR "/tests/support/tls_echo_server.py",
                                   "--cert",
                                   pki.cert_file("server"),
                                   "--key",
                                   pki.key_file("server")};
  if (require_client_cert) {
    argv.push_back("--client-ca");
    argv.push_back(pki.cert_file("ca"));
  }
  auto proc = Subprocess::start(argv);
  if (proc == nullptr) return nullptr;
  const std::string port = proc->read_line();
  if (port.empty()) return nullptr;
  base_url = "https://127.0.0.1:" + port;
  return proc;
}

// One PKI and two servers (plain TLS, mTLS) for the whole binary: generating keys and starting
// Python is the slow part. The servers are killed when the test process exits.
struct TlsFixture {
  TestPki pki;
  std::string tls_url;
  std::string mtls_url;
  std::unique_ptr<Subprocess> tls_server;
  std::unique_ptr<Subprocess> mtls_server;
  TlsFixture() {
    if (!pki.ok()) return;
    tls_server = start_tls_server(pki, false, tls_url);
    mtls_server = start_tls_server(pki, true, mtls_url);
  }
  bool ok() const { return pki.ok() && tls_server && mtls_server; }
};

TlsFixture& fixture() {
  static TlsFixture f;
  return f;
}

std::optional<Result<HttpResponse>> fetch(TestLoop& loop, HttpClient& http, const std::string& url,
                                          std::shared_ptr<const TlsOptions> tls) {
  HttpRequest req;
  req.url = url;
  req.timeout_ms = 10000;
  req.tls = std::move(tls);
  std::optional<Result<HttpResponse>> out;
  http.start(std::move(req), [&](Result<HttpResponse> r) { out.emplace(std::move(r)); });
  REQUIRE(loop.run_until([&] { return out.has_value(); }, 15000));
  return out;
}

std::shared_ptr<TlsOptions> ca_pem(const TestPki& pki, const std::string& ca) {
  auto tls = std::make_shared<TlsOptions>();
  tls->ca_pem = pki.cert_pem(ca);
  return tls;
}

}  // namespace

TEST_CASE("HttpClient: TLS verifies against the configured CA", "[net][http][tls]") {
  esd::http_global_init();
  REQUIRE(fixture().ok());
  const TestPki& pki = fixture().pki;
  const std::string base = fixture().tls_url;
  TestLoop loop;
  HttpClient http(loop.get());

  SECTION("CA in memory") {
    auto res = fetch(loop, http, base + "/mem", ca_pem(pki, "ca"));
    REQUIRE(res->ok());
    CHECK(res->value().status == 200);
    CHECK(res->value().http_version == 1);  // the peer offers no h2 in ALPN: HTTP/1.1
    CHECK(res->value().body.view().find("\"path\": \"/mem\"") != std::string_view::npos);
  }
  SECTION("CA from a file") {
    auto tls = std::make_shared<TlsOptions>();
    tls->ca_file = pki.cert_file("ca");
    auto res = fetch(loop, http, base + "/file", tls);
    REQUIRE(res->ok());
    CHECK(res->value().status == 200);
  }
  SECTION("a wrong CA is a transient verification failure") {
    auto res = fetch(loop, http, base + "/x", ca_pem(pki, "other-ca"));
    REQUIRE_FALSE(res->ok());
    CHECK(res->error().code == ErrorCode::kTransient);
    CHECK(res->error().native == CURLE_PEER_FAILED_VERIFICATION);
  }
  SECTION("system CAs do not know the test CA") {
    auto res = fetch(loop, http, base + "/x", nullptr);
    REQUIRE_FALSE(res->ok());
    CHECK(res->error().code == ErrorCode::kTransient);
  }
  SECTION("insecure skips verification") {
    auto tls = std::make_shared<TlsOptions>();
    tls->insecure_skip_verify = true;
    auto res = fetch(loop, http, base + "/insecure", tls);
    REQUIRE(res->ok());
  }
  SECTION("server_name overrides the name that is verified") {
    auto good = ca_pem(pki, "ca");
    good->server_name = "esd-test.internal";
    auto res = fetch(loop, http, base + "/sni", good);
    REQUIRE(res->ok());
    CHECK(res->value().body.view().find("/sni") != std::string_view::npos);
    auto bad = ca_pem(pki, "ca");
    bad->server_name = "not-in-the-cert.internal";
    auto res2 = fetch(loop, http, base + "/sni", bad);
    REQUIRE_FALSE(res2->ok());
    CHECK(res2->error().code == ErrorCode::kTransient);
    CHECK(res2->error().native == CURLE_PEER_FAILED_VERIFICATION);
  }
  http.shutdown();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: mTLS client certificate", "[net][http][tls]") {
  esd::http_global_init();
  REQUIRE(fixture().ok());
  const TestPki& pki = fixture().pki;
  const std::string base = fixture().mtls_url;
  TestLoop loop;
  HttpClient http(loop.get());

  SECTION("accepted when presented") {
    auto tls = ca_pem(pki, "ca");
    tls->client_cert_pem = pki.cert_pem("client");
    tls->client_key_pem = esd::Sensitive(pki.key_pem("client"));
    HttpRequest req;
    req.url = base + "/mtls";
    req.method = "POST";
    req.body = esd::Sensitive(std::string("payload"));
    req.tls = tls;
    std::optional<Result<HttpResponse>> res;
    http.start(std::move(req), [&](Result<HttpResponse> r) { res.emplace(std::move(r)); });
    REQUIRE(loop.run_until([&] { return res.has_value(); }, 15000));
    REQUIRE(res->ok());
    CHECK(res->value().body.view().find("\"client_cn\": \"esd-test-client\"") !=
          std::string_view::npos);
    CHECK(res->value().body.view().find("\"body\": \"payload\"") != std::string_view::npos);
  }
  SECTION("refused without one") {
    auto res = fetch(loop, http, base + "/mtls", ca_pem(pki, "ca"));
    REQUIRE_FALSE(res->ok());
    CHECK(res->error().code == ErrorCode::kTransient);
  }
  SECTION("an unreadable client key is a config error") {
    auto tls = ca_pem(pki, "ca");
    tls->client_cert_pem = pki.cert_pem("client");
    tls->client_key_pem = esd::Sensitive(std::string("-----BEGIN PRIVATE KEY-----\nnope\n"));
    auto res = fetch(loop, http, base + "/mtls", tls);
    REQUIRE_FALSE(res->ok());
    CHECK(res->error().code == ErrorCode::kInvalidConfig);
  }
  http.shutdown();
  REQUIRE(loop.close() == 0);
}
