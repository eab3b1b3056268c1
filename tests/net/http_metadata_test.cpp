// HttpRequest::allow_http_metadata: plain http to the AWS metadata hosts (IMDS, ECS, EKS Pod
// Identity; IPv4 and IPv6) is permitted only with the flag, and the flag permits nothing else.
#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "daemon/http/http_client.h"
#include "daemon/http/http_url.h"
#include "daemon/http/transfer.h"
#include "support/loop_runner.h"
#include "support/test_http_server.h"

using esd::ErrorCode;
using esd::HttpClient;
using esd::HttpRequest;
using esd::HttpResponse;
using esd::Result;
using esd::test::TestLoop;

namespace {

Result<HttpResponse> fetch(TestLoop& loop, HttpClient& http, const std::string& url, bool flag) {
  HttpRequest req;
  req.url = url;
  req.allow_http_metadata = flag;
  req.connect_timeout_ms = 1000;
  req.timeout_ms = 2000;
  std::optional<Result<HttpResponse>> out;
  http.start(std::move(req), [&](Result<HttpResponse> r) { out.emplace(std::move(r)); });
  REQUIRE(loop.run_until([&] { return out.has_value(); }));
  return std::move(*out);
}

}  // namespace

TEST_CASE("HttpClient metadata: which hosts are AWS metadata hosts", "[net][http]") {
  struct Case {
    const char* host;
    bool metadata;
  };
  const Case cases[] = {
      {"169.254.169.254", true},  {"169.254.170.2", true},   {"169.254.170.23", true},
      {"fd00:ec2::254", true},    {"[fd00:ec2::23]", true},  {"FD00:EC2:0::254", true},
      {"169.254.169.253", false}, {"169.254.170.3", false},  {"169.254.1.1", false},
      {"10.0.0.1", false},        {"127.0.0.1", false},      {"fd00:ec2::255", false},
      {"fd00:ec3::254", false},   {"metadata.local", false}, {"", false},
  };
  for (const Case& c : cases) {
    INFO(c.host);
    CHECK(esd::detail::is_aws_metadata_host(c.host) == c.metadata);
  }
}

TEST_CASE("HttpClient metadata: URL policy with and without the flag", "[net][http]") {
  esd::http_global_init();
  for (const char* url :
       {"http://169.254.169.254/latest/api/token", "http://169.254.170.2/v2/credentials/x",
        "http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1/credentials",
        "http://[fd00:ec2::254]/"}) {
    INFO(url);
    auto refused = esd::detail::parse_request_url(url);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::kInvalidConfig);
    auto allowed = esd::detail::parse_request_url(url, true);
    REQUIRE(allowed.ok());
    CHECK(allowed->metadata);
    CHECK_FALSE(allowed->loopback);
  }
  for (const char* url : {"http://10.0.0.1/", "http://169.254.169.253/", "http://example.com/"}) {
    INFO(url);
    auto r = esd::detail::parse_request_url(url, true);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidConfig);
  }
  CHECK(esd::detail::parse_request_url("http://127.0.0.1:1/", true).ok());
  CHECK(esd::detail::parse_request_url("https://10.0.0.1/", true).ok());
}

TEST_CASE("HttpClient metadata: the flag reaches the transfer, and nothing else opens",
          "[net][http]") {
  esd::http_global_init();
  // Never connect to a real metadata address from a test (on EC2 it would answer): check that
  // the transfer is built with the flag and refused without it, without starting it.
  auto request = [](bool flag) {
    HttpRequest req;
    req.url = "http://169.254.169.254/latest/api/token";
    req.method = "PUT";
    req.allow_http_metadata = flag;
    return req;
  };
  auto refused = esd::detail::Transfer::create(1, request(false));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kInvalidConfig);
  auto built = esd::detail::Transfer::create(2, request(true));
  REQUIRE(built.ok());
  CHECK((*built)->easy() != nullptr);

  // Through HttpClient: refused URLs fail before any connection attempt.
  TestLoop loop;
  HttpClient http(loop.get());
  auto no_flag = fetch(loop, http, "http://169.254.170.23/v1/credentials", false);
  REQUIRE_FALSE(no_flag.ok());
  CHECK(no_flag.error().code == ErrorCode::kInvalidConfig);
  auto other = fetch(loop, http, "http://10.255.255.1:1/", true);
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code == ErrorCode::kInvalidConfig);
  http.shutdown();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient metadata: loopback still works with the flag set", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  esd::test::TestHttpServer server(loop.get(), [](const esd::test::TestRequest&) {
    esd::test::TestReply r;
    r.body = "ok";
    return r;
  });
  HttpClient http(loop.get());
  auto r = fetch(loop, http, server.url("/x"), true);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body.view() == "ok");
  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}
