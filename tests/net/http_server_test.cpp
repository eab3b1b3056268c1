// HttpServer on the test loop, exercised with HttpClient over loopback; plus the pure request
// parser and response formatter (daemon/server/http_wire.h).
#include "daemon/server/http_server.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "daemon/http/http_client.h"
#include "daemon/server/http_wire.h"
#include "daemon/server/metrics.h"
#include "support/loop_runner.h"

using esd::HttpClient;
using esd::HttpRequest;
using esd::HttpResponse;
using esd::HttpServer;
using esd::Result;
using esd::detail::RequestHead;
using esd::test::TestLoop;

namespace {

std::optional<Result<HttpResponse>> call(
    TestLoop& loop, HttpClient& http, const std::string& url, const std::string& method = "GET",
    std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpRequest req;
  req.url = url;
  req.method = method;
  req.headers = std::move(headers);
  req.timeout_ms = 5000;
  std::optional<Result<HttpResponse>> out;
  http.start(std::move(req), [&](Result<HttpResponse> r) { out.emplace(std::move(r)); });
  REQUIRE(loop.run_until([&] { return out.has_value(); }));
  return out;
}

// A plain TCP client that sends fixed bytes and records what comes back until EOF.
struct RawClient {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_write_t write_req;
  std::string to_send;
  std::string received;
  bool eof = false;

  RawClient(uv_loop_t* loop, int port, std::string bytes) : to_send(std::move(bytes)) {
    uv_tcp_init(loop, &tcp);
    tcp.data = this;
    connect_req.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_connect(
        &connect_req, &tcp, reinterpret_cast<const sockaddr*>(&addr),
        [](uv_connect_t* c, int status) {
          auto* self = static_cast<RawClient*>(c->data);
          if (status < 0) {
            self->eof = true;
            return;
          }
          uv_buf_t buf =
              uv_buf_init(self->to_send.data(), static_cast<unsigned>(self->to_send.size()));
          uv_write(&self->write_req, reinterpret_cast<uv_stream_t*>(&self->tcp), &buf, 1, nullptr);
          uv_read_start(
              reinterpret_cast<uv_stream_t*>(&self->tcp),
              [](uv_handle_t*, size_t, uv_buf_t* b) {
                static char scratch[4096];
                *b = uv_buf_init(scratch, sizeof(scratch));
              },
              [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
                auto* me = static_cast<RawClient*>(s->data);
                if (n > 0) me->received.append(b->base, static_cast<size_t>(n));
                if (n < 0) me->eof = true;
              });
        });
  }
  // The test drains the loop afterwards, so the handle (a member) outlives its close callback.
  void close() { uv_close(reinterpret_cast<uv_handle_t*>(&tcp), nullptr); }
};

}  // namespace

TEST_CASE("HttpServer: serves routes, 404, 405 and closes each connection", "[net][server]") {
  esd::http_global_init();
  TestLoop loop;
  esd::Metrics metrics;
  metrics.declare("esd_up", esd::Metrics::Type::kGauge, "1 when running");
  metrics.set("esd_up", {}, 1);
  HttpServer server(loop.get());
  server.add_route({"/metrics", [&](int&, std::string& type, std::string& body) {
                      type = "text/plain; version=0.0.4; charset=utf-8";
                      body = metrics.render();
                    }});
  server.add_route({"/readyz", [](int& status, std::string&, std::string& body) {
                      status = 503;
                      body = "not ready\n";
                    }});
  std::string large;  // a multi-megabyte body (the head and body go out as two buffers)
  for (int i = 0; large.size() < 3'000'000; ++i) large += "line " + std::to_string(i) + "\n";
  server.add_route({"/large", [&](int&, std::string&, std::string& body) { body = large; }});
  REQUIRE(server.listen("127.0.0.1:0").ok());
  REQUIRE(server.port() > 0);
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  HttpClient http(loop.get());

  auto l = call(loop, http, base + "/large");
  REQUIRE(l->ok());
  CHECK(l->value().header("content-length") == std::to_string(large.size()));
  CHECK(l->value().body.view() == large);

  auto m = call(loop, http, base + "/metrics?x=1");
  REQUIRE(m->ok());
  CHECK(m->value().status == 200);
  CHECK(m->value().body.view() == metrics.render());
  CHECK(m->value().header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(m->value().header("connection") == "close");

  auto ready = call(loop, http, base + "/readyz");
  REQUIRE(ready->ok());
  CHECK(ready->value().status == 503);
  CHECK(ready->value().body.view() == "not ready\n");

  auto missing = call(loop, http, base + "/nope");
  REQUIRE(missing->ok());
  CHECK(missing->value().status == 404);

  auto post = call(loop, http, base + "/metrics", "POST");
  REQUIRE(post->ok());
  CHECK(post->value().status == 405);
  CHECK(post->value().header("allow") == "GET, HEAD");

  auto head = call(loop, http, base + "/metrics", "HEAD");
  REQUIRE(head->ok());
  CHECK(head->value().status == 200);
  CHECK(head->value().body.empty());

  auto big = call(loop, http, base + "/metrics", "GET", {{"X-Big", std::string(20000, 'x')}});
  REQUIRE(big->ok());
  CHECK(big->value().status == 431);

  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpServer: close() and the request deadline end half-open connections",
          "[net][server]") {
  TestLoop loop;
  HttpServer server(loop.get());
  REQUIRE(server.listen("localhost:0").ok());
  const bool by_deadline = GENERATE(false, true);
  if (by_deadline) server.set_timeouts(50, 50);
  RawClient client(loop.get(), server.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n");
  REQUIRE(loop.run_until([&] { return server.open_connections() == 1; }));
  if (!by_deadline) server.close();
  REQUIRE(loop.run_until([&] { return client.eof; }));
  CHECK(client.received.empty());  // the head never completed: no response
  CHECK(server.open_connections() == 0);
  client.close();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpServer: listen address errors", "[net][server]") {
  TestLoop loop;
  HttpServer first(loop.get());
  REQUIRE(first.listen("127.0.0.1:0").ok());
  CHECK_FALSE(first.listen("127.0.0.1:0").ok());  // already listening
  const std::string taken = "127.0.0.1:" + std::to_string(first.port());
  HttpServer second(loop.get());
  for (const char* bad : {"nonsense", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:8x", "[::1",
                          "no-such-host.invalid:0"}) {
    INFO(bad);
    auto s = second.listen(bad);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == esd::ErrorCode::kInvalidConfig);
  }
  auto busy = second.listen(taken);
  REQUIRE_FALSE(busy.ok());
  CHECK(busy.error().code == esd::ErrorCode::kInvalidConfig);
  REQUIRE(second.listen("127.0.0.1:0").ok());  // a failed listen leaves it usable
  first.close();
  second.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpServer: request head parsing", "[net][server]") {
  using State = RequestHead::State;
  struct Case {
    std::string in;
    State state;
    std::string method;
    std::string path;
  };
  const Case cases[] = {
      {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", State::kComplete, "GET", "/metrics"},
      {"GET /metrics?a=b#f HTTP/1.0\r\n\r\n", State::kComplete, "GET", "/metrics"},
      {"POST /x HTTP/1.1\r\n\r\nbody", State::kComplete, "POST", "/x"},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\n", State::kIncomplete, "", ""},
      {"", State::kIncomplete, "", ""},
      {"GET /metrics\r\n\r\n", State::kBad, "", ""},
      {"GET  /metrics HTTP/1.1\r\n\r\n", State::kBad, "", ""},
      {"GET http://h/metrics HTTP/1.1\r\n\r\n", State::kBad, "", ""},
      {"GET /metrics HTTP/2.0\r\n\r\n", State::kBad, "", ""},
      {"G(T /metrics HTTP/1.1\r\n\r\n", State::kBad, "", ""},
      {"GET /" + std::string(esd::detail::kMaxRequestHead, 'a'), State::kTooLarge, "", ""},
  };
  for (const Case& c : cases) {
    INFO(c.in.substr(0, 60));
    const RequestHead h = esd::detail::parse_request_head(c.in);
    CHECK(h.state == c.state);
    CHECK(h.method == c.method);
    CHECK(h.path == c.path);
  }
}

TEST_CASE("HttpServer: response formatting", "[net][server]") {
  CHECK(esd::detail::format_response(200, "text/plain", "hi", false) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\nhi");
  CHECK(esd::detail::format_response(404, "text/plain", "nf", true) ==
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\n");
}
