// HttpClient against the same-loop TestHttpServer: bodies, headers, errors, caps, concurrency,
// connection reuse, cancellation and the never-synchronous callback contract.
#include "daemon/http/http_client.h"

#include <curl/curl.h>

#include <catch2/catch.hpp>
#include <optional>
#include <set>
#include <string>

#include "support/loop_runner.h"
#include "support/test_http_server.h"

using esd::ErrorCode;
using esd::HttpClient;
using esd::HttpRequest;
using esd::HttpResponse;
using esd::Result;
using esd::test::TestHttpServer;
using esd::test::TestLoop;
using esd::test::TestReply;
using esd::test::TestRequest;

namespace {

HttpRequest get(const std::string& url) {
  HttpRequest r;
  r.url = url;
  r.timeout_ms = 5000;
  return r;
}

TestReply ok_reply(std::string body) {
  TestReply r;
  r.body = std::move(body);
  return r;
}

// Starts one request and runs the loop until its callback arrives.
std::optional<Result<HttpResponse>> fetch(TestLoop& loop, HttpClient& http, HttpRequest req) {
  std::optional<Result<HttpResponse>> out;
  http.start(std::move(req), [&](Result<HttpResponse> r) { out.emplace(std::move(r)); });
  REQUIRE(loop.run_until([&] { return out.has_value(); }));
  return out;
}

}  // namespace

TEST_CASE("HttpClient: GET returns status, headers and body", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), [](const TestRequest&) {
    TestReply r = ok_reply("hello");
    r.status = 203;
    r.headers = {{"X-Thing", "  one "}, {"Content-Type", "text/plain"}};
    return r;
  });
  HttpClient http(loop.get());
  HttpRequest req = get(server.url("/a/b?x=1"));
  req.headers = {{"Authorization", "Bearer t0k"}, {"X-Empty", ""}};
  auto res = fetch(loop, http, std::move(req));
  REQUIRE(res->ok());
  CHECK(res->value().status == 203);
  CHECK(res->value().body.view() == "hello");
  CHECK(res->value().header("x-thing") == "one");
  CHECK(res->value().header("content-type") == "text/plain");
  CHECK(res->value().header("absent").empty());
  REQUIRE(server.requests().size() == 1);
  const TestRequest& seen = server.requests()[0];
  CHECK(seen.method == "GET");
  CHECK(seen.target == "/a/b?x=1");
  CHECK(seen.headers.at("authorization") == "Bearer t0k");
  CHECK(seen.headers.count("x-empty") == 1);
  CHECK(seen.headers.count("expect") == 0);
  CHECK(http.requests_started() == 1);
  CHECK(http.in_flight() == 0);
  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: POST, PUT and DELETE send method and body", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), [](const TestRequest&) { return ok_reply("ok"); });
  HttpClient http(loop.get());
  const std::string big(300 * 1024, 'b');  // large enough that curl would want Expect: 100
  struct Case {
    std::string method;
    std::string body;
  };
  for (const Case& c : {Case{"POST", "{\"a\":1}"}, Case{"PUT", big}, Case{"POST", ""},
                        Case{"DELETE", ""}, Case{"PATCH", "p"}}) {
    HttpRequest req = get(server.url("/x"));
    req.method = c.method;
    req.body = esd::Sensitive(c.body);
    auto res = fetch(loop, http, std::move(req));
    REQUIRE(res->ok());
    const TestRequest& seen = server.requests().back();
    CHECK(seen.method == c.method);
    CHECK(seen.body == c.body);
    CHECK(seen.headers.count("expect") == 0);  // no 100-continue round trip
    if (c.method != "DELETE")
      CHECK(seen.headers.at("content-length") == std::to_string(c.body.size()));
  }
  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: a server that never answers times out as kTransient", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), [](const TestRequest&) {
    TestReply r;
    r.action = TestReply::Action::kHang;
    return r;
  });
  HttpClient http(loop.get());
  HttpRequest req = get(server.url("/hang"));
  req.timeout_ms = 200;
  auto res = fetch(loop, http, std::move(req));
  REQUIRE_FALSE(res->ok());
  CHECK(res->error().code == ErrorCode::kTransient);
  CHECK(res->error().native == CURLE_OPERATION_TIMEDOUT);
  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: a reset connection is kTransient", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), [](const TestRequest&) {
    TestReply r;
    r.action = TestReply::Action::kReset;
    return r;
  });
  HttpClient http(loop.get());
  auto res = fetch(loop, http, get(server.url("/reset")));
  REQUIRE_FALSE(res->ok());
  CHECK(res->error().code == ErrorCode::kTransient);
  CHECK(res->error().native != CURLE_OK);
  // Nothing listens here any more: connection refused is transient too.
  const std::string dead = server.url("/");
  server.close();
  auto refused = fetch(loop, http, get(dead));
  REQUIRE_FALSE(refused->ok());
  CHECK(refused->error().code == ErrorCode::kTransient);
  CHECK(refused->error().native == CURLE_COULDNT_CONNECT);
  http.shutdown();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: a truncated body is kTransient", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), [](const TestRequest&) {
    TestReply r = ok_reply("half");
    r.action = TestReply::Action::kPartial;
    return r;
  });
  HttpClient http(loop.get());
  auto res = fetch(loop, http, get(server.url("/partial")));
  REQUIRE_FALSE(res->ok());
  CHECK(res->error().code == ErrorCode::kTransient);
  CHECK(res->error().native == CURLE_PARTIAL_FILE);
  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: the response size cap", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  const size_t cap = 100 * 1024;
  TestHttpServer server(loop.get(), [&](const TestRequest& r) {
    return ok_reply(std::string(r.target == "/exact" ? cap : cap + 1, 'z'));
  });
  HttpClient http(loop.get());
  SECTION("one byte over the cap is kTooLarge") {
    HttpRequest req = get(server.url("/over"));
    req.max_response_bytes = cap;
    auto res = fetch(loop, http, std::move(req));
    REQUIRE_FALSE(res->ok());
    CHECK(res->error().code == ErrorCode::kTooLarge);
  }
  SECTION("exactly the cap passes") {
    HttpRequest req = get(server.url("/exact"));
    req.max_response_bytes = cap;
    auto res = fetch(loop, http, std::move(req));
    REQUIRE(res->ok());
    CHECK(res->value().body.size() == cap);
  }
  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: 50 concurrent requests complete exactly once each", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), [](const TestRequest& r) { return ok_reply(r.target); });
  HttpClient http(loop.get());
  constexpr int kCount = 50;
  std::vector<int> calls(kCount, 0);
  std::vector<std::string> bodies(kCount);
  int done = 0;
  for (int i = 0; i < kCount; ++i) {
    http.start(get(server.url("/n/" + std::to_string(i))), [&, i](Result<HttpResponse> r) {
      ++calls[i];
      ++done;
      if (r.ok()) bodies[i] = std::string(r.value().body.view());
    });
  }
  CHECK(http.in_flight() == kCount);
  REQUIRE(loop.run_until([&] { return done == kCount; }));
  for (int i = 0; i < kCount; ++i) {
    CHECK(calls[i] == 1);
    CHECK(bodies[i] == "/n/" + std::to_string(i));
  }
  CHECK(http.in_flight() == 0);
  CHECK(http.requests_started() == kCount);
  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: sequential requests reuse one connection", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), [](const TestRequest&) { return ok_reply("r"); });
  HttpClient http(loop.get());
  int done = 0;
  std::function<void(Result<HttpResponse>)> next = [&](Result<HttpResponse> r) {
    REQUIRE(r.ok());
    if (++done < 5) http.start(get(server.url("/again")), next);  // from inside the callback
  };
  http.start(get(server.url("/again")), next);
  REQUIRE(loop.run_until([&] { return done == 5; }));
  CHECK(server.requests().size() == 5);
  CHECK(server.connections_accepted() == 1);
  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: refused URLs fail through the callback, never synchronously",
          "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  HttpClient http(loop.get());
  const char* url = GENERATE("http://example.com/x", "ftp://127.0.0.1/x", "not a url",
                             "http://10.0.0.1:8200/v1", "file:///etc/passwd");
  bool called = false;
  std::optional<esd::Error> err;
  http.start(get(url), [&](Result<HttpResponse> r) {
    called = true;
    if (!r.ok()) err = r.error();
  });
  CHECK_FALSE(called);  // not from inside start()
  REQUIRE(loop.run_until([&] { return called; }));
  REQUIRE(err.has_value());
  CHECK(err->code == ErrorCode::kInvalidConfig);
  CHECK(err->message.find("passwd") == std::string::npos);
  http.shutdown();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: a bad header is refused", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  HttpClient http(loop.get());
  HttpRequest req = get("http://127.0.0.1:1/");
  req.headers = {{"X-Evil", "a\r\nInjected: 1"}};
  auto res = fetch(loop, http, std::move(req));
  REQUIRE_FALSE(res->ok());
  CHECK(res->error().code == ErrorCode::kInvalidConfig);
  http.shutdown();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: cancel and shutdown deliver no callback", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), [](const TestRequest&) {
    TestReply r;
    r.action = TestReply::Action::kHang;
    return r;
  });
  HttpClient http(loop.get());
  int calls = 0;
  auto count = [&](Result<HttpResponse>) { ++calls; };
  const esd::TransferId a = http.start(get(server.url("/a")), count);
  http.start(get(server.url("/b")), count);
  const esd::TransferId bad = http.start(get("http://example.com/"), count);  // posted error
  http.cancel(bad);
  REQUIRE(loop.run_until([&] { return server.requests().size() == 2; }));
  http.cancel(a);
  CHECK(http.in_flight() == 1);
  // The cancelled transfer's connection goes away; the other stays until shutdown.
  REQUIRE(loop.run_until([&] { return server.connections_closed() == 1; }));
  http.shutdown();
  CHECK(http.in_flight() == 0);
  CHECK(http.start(get(server.url("/late")), count) == 0);
  REQUIRE(loop.run_until([&] { return server.connections_closed() == 2; }));
  CHECK(calls == 0);
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: shutdown from inside a completion callback", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), [](const TestRequest& r) {
    TestReply reply = ok_reply("x");
    if (r.target == "/slow") reply.action = TestReply::Action::kHang;
    return reply;
  });
  HttpClient http(loop.get());
  int slow_calls = 0;
  bool fast_done = false;
  http.start(get(server.url("/slow")), [&](Result<HttpResponse>) { ++slow_calls; });
  http.start(get(server.url("/fast")), [&](Result<HttpResponse> r) {
    fast_done = r.ok();
    http.shutdown();
  });
  REQUIRE(loop.run_until([&] { return fast_done; }));
  server.close();
  REQUIRE(loop.close() == 0);
  CHECK(slow_calls == 0);
}

TEST_CASE("HttpClient: is_loopback_url", "[net][http]") {
  esd::http_global_init();
  struct Case {
    const char* url;
    bool loopback;
  };
  const Case cases[] = {
      {"http://127.0.0.1:8080/", true},
      {"http://127.5.6.7/", true},
      {"https://localhost/x", true},
      {"http://LOCALHOST:1/", true},
      {"http://[::1]:9000/", true},
      {"http://[::ffff:127.0.0.1]/", true},
      {"http://128.0.0.1/", false},
      {"http://10.0.0.1/", false},
      {"http://localhost.evil.com/", false},
      {"http://127.0.0.1.nip.io/", false},
      {"http://[::2]/", false},
      {"garbage", false},
      {"http://example.com/?h=127.0.0.1", false},
  };
  for (const Case& c : cases) {
    INFO(c.url);
    CHECK(esd::is_loopback_url(c.url) == c.loopback);
  }
}
