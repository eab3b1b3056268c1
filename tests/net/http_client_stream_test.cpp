// HttpClient streaming mode (watches): on_headers/on_data, consumer abort, and cancel or
// shutdown in the middle of a stream, from outside and from inside on_data.
#include <curl/curl.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "daemon/http/http_client.h"
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

TestReply stream_reply(const TestRequest& r) {
  TestReply reply;
  if (r.target.rfind("/watch", 0) == 0) {
    reply.action = TestReply::Action::kStream;
    reply.headers = {{"Content-Type", "application/json"}};
  } else {
    reply.body = "plain";
  }
  return reply;
}

// Records everything a streaming request delivers.
struct StreamLog {
  int headers_calls = 0;
  long status = 0;
  std::string data;
  int data_calls = 0;
  int done_calls = 0;
  std::optional<Result<HttpResponse>> result;
};

HttpRequest watch_request(const TestHttpServer& server, StreamLog& log) {
  HttpRequest req;
  req.url = server.url("/watch?watch=1");
  req.timeout_ms = 0;  // none: streams stay open
  req.on_headers = [&log](long status) {
    ++log.headers_calls;
    log.status = status;
  };
  req.on_data = [&log](std::string_view chunk) {
    ++log.data_calls;
    log.data.append(chunk);
    return true;
  };
  return req;
}

HttpClient::Done record_done(StreamLog& log) {
  return [&log](Result<HttpResponse> r) {
    ++log.done_calls;
    log.result.emplace(std::move(r));
  };
}

}  // namespace

TEST_CASE("HttpClient: streaming delivers headers then chunks, then completes", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), stream_reply);
  HttpClient http(loop.get());
  StreamLog log;
  http.start(watch_request(server, log), record_done(log));
  REQUIRE(loop.run_until([&] { return log.headers_calls == 1; }));
  CHECK(log.status == 200);
  CHECK(log.data_calls == 0);
  const int conn = server.requests().at(0).connection;
  for (const std::string part : {"{\"type\":\"ADDED\"}\n", "{\"type\":", "\"MODIFIED\"}\n"}) {
    const size_t want = log.data.size() + part.size();
    server.send_chunk(conn, part);
    REQUIRE(loop.run_until([&] { return log.data.size() == want; }));
  }
  CHECK(log.data == "{\"type\":\"ADDED\"}\n{\"type\":\"MODIFIED\"}\n");
  CHECK(log.done_calls == 0);
  server.end_stream(conn);
  REQUIRE(loop.run_until([&] { return log.done_calls == 1; }));
  REQUIRE(log.result->ok());
  CHECK(log.result->value().status == 200);
  CHECK(log.result->value().body.empty());
  CHECK(log.result->value().header("content-type") == "application/json");
  CHECK(log.headers_calls == 1);
  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: on_data returning false ends the stream with kCancelled", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), stream_reply);
  HttpClient http(loop.get());
  StreamLog log;
  HttpRequest req = watch_request(server, log);
  req.on_data = [&log](std::string_view chunk) {
    ++log.data_calls;
    log.data.append(chunk);
    return false;
  };
  http.start(std::move(req), record_done(log));
  REQUIRE(loop.run_until([&] { return log.headers_calls == 1; }));
  server.send_chunk(server.requests().at(0).connection, "stop");
  REQUIRE(loop.run_until([&] { return log.done_calls == 1; }));
  REQUIRE_FALSE(log.result->ok());
  CHECK(log.result->error().code == ErrorCode::kCancelled);
  CHECK(log.data_calls == 1);
  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: cancel mid-stream stops every callback", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), stream_reply);
  HttpClient http(loop.get());
  StreamLog log;
  esd::TransferId id = 0;
  HttpRequest req = watch_request(server, log);
  const bool from_inside = GENERATE(false, true);
  if (from_inside) {
    req.on_data = [&](std::string_view chunk) {
      ++log.data_calls;
      log.data.append(chunk);
      http.cancel(id);  // curl is on the stack: the client must defer the removal
      return true;
    };
  }
  id = http.start(std::move(req), record_done(log));
  REQUIRE(loop.run_until([&] { return log.headers_calls == 1; }));
  const int conn = server.requests().at(0).connection;
  server.send_chunk(conn, "first");
  REQUIRE(loop.run_until([&] { return log.data == "first"; }));
  if (!from_inside) http.cancel(id);
  CHECK(http.in_flight() == 0);
  server.send_chunk(conn, "second");
  server.end_stream(conn);
  // The client drops the half-read connection; after that nothing can arrive any more.
  REQUIRE(loop.run_until([&] { return server.connections_closed() == 1; }));
  CHECK(log.data == "first");
  CHECK(log.data_calls == 1);
  CHECK(log.done_calls == 0);
  http.shutdown();
  server.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("HttpClient: start and shutdown from inside on_data", "[net][http]") {
  esd::http_global_init();
  TestLoop loop;
  TestHttpServer server(loop.get(), stream_reply);
  HttpClient http(loop.get());
  StreamLog log;
  std::optional<Result<HttpResponse>> inner;
  HttpRequest req = watch_request(server, log);
  req.on_data = [&](std::string_view chunk) {
    ++log.data_calls;
    if (chunk == "start") {
      HttpRequest plain;
      plain.url = server.url("/plain");
      http.start(std::move(plain), [&](Result<HttpResponse> r) { inner.emplace(std::move(r)); });
    } else {
      http.shutdown();
    }
    return true;
  };
  http.start(std::move(req), record_done(log));
  REQUIRE(loop.run_until([&] { return log.headers_calls == 1; }));
  const int conn = server.requests().at(0).connection;
  server.send_chunk(conn, "start");
  REQUIRE(loop.run_until([&] { return inner.has_value(); }));
  REQUIRE(inner->ok());
  CHECK(inner->value().body.view() == "plain");
  server.send_chunk(conn, "stop");
  REQUIRE(loop.run_until([&] { return log.data_calls == 2; }));
  server.send_chunk(conn, "after");
  REQUIRE(loop.run_until([&] { return server.open_connections() == 0; }));
  CHECK(log.data_calls == 2);
  CHECK(log.done_calls == 0);
  CHECK(http.in_flight() == 0);
  server.close();
  REQUIRE(loop.close() == 0);
}
