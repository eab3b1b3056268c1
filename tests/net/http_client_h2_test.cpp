// HttpClient over HTTP/2 against nghttpd (Debian's nghttp2-server, installed by the Makefile):
// ALPN negotiates h2 over TLS; concurrent requests each get a connection of their own (the
// client does not multiplex: see init_multi in http_client.cpp) and every body arrives whole;
// a later request reuses a connection. The HTTP/1.1-only peer of http_client_tls_test.cpp
// checks the fallback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/http/http_client.h"
#include "support/loop_runner.h"
#include "support/subprocess.h"
#include "support/test_certs.h"

using esd::HttpClient;
using esd::HttpRequest;
using esd::HttpResponse;
using esd::Result;
using esd::TlsOptions;
using esd::test::Subprocess;
using esd::test::TestLoop;
using esd::test::TestPki;

namespace {

// A loopback port that was free a moment ago (nghttpd cannot report an ephemeral one).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

bool accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// nghttpd serving a document root with one file, on TLS with the test PKI's server key.
struct H2Fixture {
  TestPki pki;
  std::string url;
  std::string body = std::string(100000, 'h');  // several DATA frames
  std::unique_ptr<Subprocess> server;
  H2Fixture() {
    if (!pki.ok()) return;
    const std::string root = pki.cert_file("h2-root") + ".d";
    mkdir(root.c_str(), 0700);
    std::ofstream(root + "/doc") << body;
    const int port = free_port();
    server = Subprocess::start({"nghttpd", "-a", "127.0.0.1", "-d", root, std::to_string(port),
                                pki.key_file("server"), pki.cert_file("server")});
    // Wait for the listener (a readiness check with a deadline, not a timing assumption).
    for (int i = 0; server && i < 500 && !accepts(port); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (server && accepts(port)) url = "https://127.0.0.1:" + std::to_string(port) + "/doc";
  }
  bool ok() const { return !url.empty(); }
};

H2Fixture& fixture() {
  static H2Fixture f;
  return f;
}

HttpRequest get(const std::string& url, const TestPki& pki) {
  HttpRequest r;
  r.url = url;
  r.timeout_ms = 10000;
  auto tls = std::make_shared<TlsOptions>();
  tls->ca_pem = pki.cert_pem("ca");
  r.tls = std::move(tls);
  return r;
}

}  // namespace

TEST_CASE("HttpClient: HTTP/2 over TLS, concurrent and reused connections", "[net][http][h2]") {
  esd::http_global_init();
  if (!fixture().ok()) FAIL("nghttpd did not start: is Debian's nghttp2-server installed? (make)");
  const H2Fixture& f = fixture();
  TestLoop loop;
  HttpClient http(loop.get());

  // Three rounds of eight concurrent requests: with multiplexing, libcurl 7.88 stalled here.
  constexpr size_t kRequests = 8;
  long connections[3] = {0, 0, 0};
  for (int round = 0; round < 3; ++round) {
    std::vector<Result<HttpResponse>> results;
    for (size_t i = 0; i < kRequests; ++i) {
      http.start(get(f.url, f.pki),
                 [&](Result<HttpResponse> r) { results.push_back(std::move(r)); });
    }
    REQUIRE(loop.run_until([&] { return results.size() == kRequests; }, 30000));
    for (const auto& r : results) {
      INFO((r.ok() ? std::string() : r.error().message));
      REQUIRE(r.ok());
      CHECK(r.value().status == 200);
      CHECK(r.value().http_version == 2);
      CHECK(r.value().body.view() == f.body);
      connections[round] += r.value().new_connections;
    }
  }
  // The first round opens one connection per request; later rounds mostly reuse them (libcurl
  // may close some idle ones from its cache).
  CHECK(connections[0] == static_cast<long>(kRequests));
  CHECK(connections[1] + connections[2] < static_cast<long>(kRequests));

  std::optional<Result<HttpResponse>> again;
  http.start(get(f.url, f.pki), [&](Result<HttpResponse> r) { again.emplace(std::move(r)); });
  REQUIRE(loop.run_until([&] { return again.has_value(); }, 15000));
  REQUIRE(again->ok());
  CHECK(again->value().http_version == 2);
  CHECK(again->value().new_connections == 0);
  http.shutdown();
  REQUIRE(loop.close() == 0);
}
