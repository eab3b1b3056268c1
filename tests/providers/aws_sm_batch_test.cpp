// SmBatcher against a same-loop fake that counts calls, with a FakeClock: one batch per loop turn
// or per 20 ids, shared fetches, the batch-denied fallback, recent values by max_age, ride-along
// prefetch, forgetting, and the figure: 1000 requests over 200 keys in waves of 16 make at
// most 13 calls on a first cycle and at most 10 on the next.
#include "providers/aws/aws_sm_batch.h"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "daemon/common/log.h"
#include "providers/aws_sm_fixture.h"

using esd::ErrorCode;
using esd::Result;
using esd::providers::Fetched;
using esd::test::TestReply;
using esd::test::awssm::aws_error;
using esd::test::awssm::Fixture;
using nlohmann::json;
namespace aws = esd::providers::aws;

namespace {

constexpr int64_t kMinute = 60'000;

std::string key(int i) { return "key-" + std::to_string(i); }

struct BatchFixture : Fixture {
  std::shared_ptr<aws::SmApi> api;
  std::shared_ptr<aws::SmBatcher> batcher;

  explicit BatchFixture(int secrets = 0) {
    for (int i = 0; i < secrets; ++i) sm.put(key(i), "value-of-" + key(i));
  }

  void make(aws::BatchOptions options = {}) {
    aws::SmSetup setup;
    setup.ctx = ctx();
    setup.creds = creds;
    setup.endpoint = server.url("");
    setup.region = "us-east-1";
    setup.options.retry_interval_ms = 1;
    api = aws::SmApi::create(std::move(setup));
    batcher = aws::SmBatcher::create(api, options);
  }

  // Issues every request in the current loop turn, then runs the loop until all are answered.
  std::vector<Result<aws::ValuePtr>> wave(const std::vector<std::string>& ids, int64_t max_age) {
    std::vector<std::optional<Result<aws::ValuePtr>>> out(ids.size());
    size_t done = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      batcher->get(ids[i], max_age, [&out, &done, i](Result<aws::ValuePtr> r) {
        out[i] = std::move(r);
        ++done;
      });
    }
    CHECK(done == 0);  // never synchronous, not even from the cache
    REQUIRE(loop.run_until([&] { return done == ids.size(); }));
    std::vector<Result<aws::ValuePtr>> results;
    for (auto& r : out) results.push_back(std::move(*r));
    return results;
  }

  Result<aws::ValuePtr> one(const std::string& id, int64_t max_age) {
    auto r = wave({id}, max_age);
    return std::move(r[0]);
  }

  // Ids sent in the n-th request body (BatchGetSecretValue only).
  std::vector<std::string> sent(size_t n) const {
    std::vector<std::string> ids;
    for (const auto& id : sm.bodies.at(n).at("SecretIdList")) ids.push_back(id.get<std::string>());
    return ids;
  }

  void end() {
    batcher->close();
    api->close();
    batcher.reset();
    api.reset();
    finish();
  }
};

void check_values(const std::vector<std::string>& ids, const std::vector<Result<aws::ValuePtr>>& r) {
  REQUIRE(ids.size() == r.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    INFO(ids[i]);
    REQUIRE(r[i].ok());
    CHECK((*r[i])->data.view() == "value-of-" + ids[i]);
  }
}

}  // namespace

TEST_CASE("aws batch: 40 distinct ids in one turn make 2 calls of 20", "[providers][aws]") {
  BatchFixture f(45);
  f.make();
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(key(i));
  check_values(ids, f.wave(ids, 0));
  CHECK(f.sm.count("BatchGetSecretValue") == 2);
  CHECK(f.sent(0).size() == 20);
  CHECK(f.sent(1).size() == 20);
  CHECK(f.sent(1).front() == key(20));
  // 5 more in another turn: one more call.
  ids = {key(40), key(41), key(42), key(43), key(44)};
  check_values(ids, f.wave(ids, 0));
  CHECK(f.sm.count("BatchGetSecretValue") == 3);
  CHECK(f.counted["BatchGetSecretValue/ok"] == 3);
  f.end();
}

TEST_CASE("aws batch: duplicate and in-flight requests share one fetch", "[providers][aws]") {
  BatchFixture f(3);
  std::vector<esd::test::TestRequest> hung;
  bool hang = true;
  f.sm.fault = [&](const std::string&, const json&) -> std::optional<TestReply> {
    if (!hang) return std::nullopt;
    TestReply h;
    h.action = TestReply::Action::kHang;
    return h;
  };
  f.make();
  int answered = 0;
  auto count = [&](Result<aws::ValuePtr> r) {
    CHECK(r.ok());
    ++answered;
  };
  for (int i = 0; i < 10; ++i) f.batcher->get(key(0), 0, count);
  f.batcher->get(key(1), 0, count);
  REQUIRE(f.loop.run_until([&] { return f.server.requests().size() == 1; }));
  CHECK(f.sent(0) == std::vector<std::string>{key(0), key(1)});
  // While the call hangs, more requests for the same ids wait for it.
  f.batcher->get(key(0), 0, count);
  f.batcher->get(key(1), kMinute, count);
  REQUIRE(f.loop.run_until([&] { return f.batcher->known() == 1; }));
  hang = false;
  f.server.respond(f.server.requests()[0].connection, f.sm.batch_get(f.sm.bodies[0]));
  REQUIRE(f.loop.run_until([&] { return answered == 13; }));
  CHECK(f.sm.count("BatchGetSecretValue") == 1);
  f.end();
}

TEST_CASE("aws batch: a denied batch API falls back to one GetSecretValue per id",
          "[providers][aws]") {
  std::vector<std::string> logs;
  esd::log::set_sink([&](std::string_view line) { logs.emplace_back(line); });
  {
    BatchFixture f(10);
    std::string code = "AccessDeniedException";
    f.sm.fault = [&](const std::string& op, const json&) -> std::optional<TestReply> {
      if (op == "BatchGetSecretValue") return aws_error(code, "not allowed");
      return std::nullopt;
    };
    SECTION("AccessDeniedException") {}
    SECTION("UnknownOperationException") { code = "UnknownOperationException"; }
    f.make();
    // Known ids that would ride along must not turn into extra calls.
    check_values({key(5), key(6)}, f.wave({key(5), key(6)}, kMinute));
    f.clock.advance(5 * kMinute);
    f.sm.reset_counts();
    const std::vector<std::string> ids{key(0), key(1), key(2), key(0), key(1)};
    check_values(ids, f.wave(ids, 0));
    CHECK(f.sm.count("BatchGetSecretValue") == 0);  // already denied: no further attempt
    CHECK(f.sm.count("GetSecretValue") == 3);
    CHECK(f.batcher->batch_denied());
    // An hour later the batch API is tried again.
    f.clock.advance(61 * kMinute);
    code = "none";
    f.sm.fault = nullptr;
    check_values({key(3), key(4)}, f.wave({key(3), key(4)}, 0));
    CHECK(f.sm.count("BatchGetSecretValue") == 1);
    CHECK(f.sm.count("GetSecretValue") == 3);
    f.end();
  }
  esd::log::reset_sink();
  int warnings = 0;
  for (const auto& l : logs) warnings += l.find("aws_batch_denied") != std::string::npos ? 1 : 0;
  CHECK(warnings == 1);
}

TEST_CASE("aws batch: the first denial answers every waiter through GetSecretValue",
          "[providers][aws]") {
  BatchFixture f(3);
  f.sm.fault = [&](const std::string& op, const json&) -> std::optional<TestReply> {
    if (op == "BatchGetSecretValue") return aws_error("AccessDeniedException", "no");
    return std::nullopt;
  };
  f.make();
  const std::vector<std::string> ids{key(0), key(1), key(2), key(1), "absent"};
  auto r = f.wave(ids, 0);
  check_values({key(0), key(1), key(2), key(1)}, {r[0], r[1], r[2], r[3]});
  REQUIRE_FALSE(r[4].ok());
  CHECK(r[4].error().code == ErrorCode::kNotFound);
  CHECK(f.sm.count("BatchGetSecretValue") == 1);
  CHECK(f.sm.count("GetSecretValue") == 4);
  f.end();
}

TEST_CASE("aws batch: recent values serve requests within their max_age", "[providers][aws]") {
  BatchFixture f(2);
  f.make();
  SECTION("max_age 0 never uses the cache") {
    REQUIRE(f.one(key(0), kMinute).ok());
    REQUIRE(f.one(key(0), 0).ok());
    REQUIRE(f.one(key(0), 0).ok());
    CHECK(f.sm.count("BatchGetSecretValue") == 3);
  }
  SECTION("a value as old as max_age is served; an older one is not") {
    auto first = f.one(key(0), kMinute);
    REQUIRE(first.ok());
    f.clock.advance(kMinute);
    auto second = f.one(key(0), kMinute);
    REQUIRE(second.ok());
    CHECK(*second == *first);  // the same kept value
    CHECK(f.sm.count("BatchGetSecretValue") == 1);
    CHECK(f.batcher->cached() == 1);
    f.clock.advance(1);
    REQUIRE(f.one(key(0), kMinute).ok());
    CHECK(f.sm.count("BatchGetSecretValue") == 2);
    // A shorter max_age than the value's age reads again.
    f.clock.advance(30'000);
    REQUIRE(f.one(key(0), 10'000).ok());
    CHECK(f.sm.count("BatchGetSecretValue") == 3);
  }
  SECTION("errors are not kept") {
    CHECK(f.one("absent", kMinute).error().code == ErrorCode::kNotFound);
    CHECK(f.one("absent", kMinute).error().code == ErrorCode::kNotFound);
    CHECK(f.sm.count("BatchGetSecretValue") == 2);
    CHECK(f.batcher->cached() == 0);
  }
  SECTION("values expire after the largest max_age seen") {
    REQUIRE(f.one(key(0), kMinute).ok());
    REQUIRE(f.one(key(1), 10 * kMinute).ok());
    CHECK(f.batcher->cached() == 2);
    f.clock.advance(2 * kMinute);
    REQUIRE(f.one("absent", 0).error().code == ErrorCode::kNotFound);  // a sweep runs
    CHECK(f.batcher->cached() == 1);
  }
  f.end();
}

TEST_CASE("aws batch: values answer requests by name, ARN or partial ARN", "[providers][aws]") {
  BatchFixture f(1);
  f.make();
  const std::string arn = std::string(esd::test::awssm::kArnPrefix) + key(0) + "-AbCdEf";
  const std::string partial = std::string(esd::test::awssm::kArnPrefix) + key(0);
  check_values({key(0), key(0), key(0)}, [&] {
    auto r = f.wave({key(0), arn, partial}, 0);
    return r;
  }());
  CHECK(f.sm.count("BatchGetSecretValue") == 1);
  CHECK(f.sent(0) == std::vector<std::string>{key(0), arn, partial});
  f.end();
}

TEST_CASE("aws batch: ride-alongs fill free slots with known ids that are due soon",
          "[providers][aws]") {
  BatchFixture f(5);
  f.make();
  REQUIRE(f.one(key(0), kMinute).ok());  // known: next request expected 5 min later
  f.clock.advance(2 * kMinute);
  REQUIRE(f.one(key(1), 0).ok());  // key-0 is due in 3 min: more than its max_age away
  CHECK(f.sent(1) == std::vector<std::string>{key(1)});
  f.clock.advance(2 * kMinute + 10'000);
  REQUIRE(f.one(key(2), 0).ok());  // key-0 is due in 50 s: it rides along
  CHECK(f.sent(2) == std::vector<std::string>{key(2), key(0)});
  f.clock.advance(40'000);
  REQUIRE(f.one(key(0), kMinute).ok());  // answered from the ride-along's value
  CHECK(f.sm.count("BatchGetSecretValue") == 3);
  // Fresh values and ids requested with max_age 0 never ride along.
  REQUIRE(f.one(key(3), 0).ok());
  CHECK(f.sent(3) == std::vector<std::string>{key(3)});
  f.end();
}

TEST_CASE("aws batch: known ids are forgotten and capped", "[providers][aws]") {
  BatchFixture f(6);
  aws::BatchOptions o;
  o.max_known = 3;
  f.make(o);
  check_values({key(0), key(1), key(2)}, f.wave({key(0), key(1), key(2)}, kMinute));
  f.clock.advance(1000);
  check_values({key(3), key(4)}, f.wave({key(3), key(4)}, kMinute));
  CHECK(f.batcher->known() == 3);  // two of the oldest were evicted, with their values
  CHECK(f.batcher->cached() == 3);
  CHECK(f.sent(1) == std::vector<std::string>{key(3), key(4)});
  // Forgotten after twice the expected interval (2 * 5 * max_age) without a request.
  f.clock.advance(10 * kMinute + 1);
  REQUIRE(f.one(key(5), 0).ok());
  CHECK(f.batcher->known() == 0);
  CHECK(f.sent(2) == std::vector<std::string>{key(5)});
  f.end();
}

TEST_CASE("aws batch: 1000 requests for 200 keys in waves of 16", "[providers][aws]") {
  BatchFixture f(200);
  f.make();
  // ExternalSecret i reads key i % 200; the controller runs 16 at a time per store, so each
  // wave starts when the previous one is answered. max_age = refresh / 5 = 60 s.
  auto cycle = [&] {
    f.sm.reset_counts();
    for (int start = 0; start < 1000; start += 16) {
      std::vector<std::string> ids;
      for (int i = start; i < std::min(start + 16, 1000); ++i) ids.push_back(key(i % 200));
      check_values(ids, f.wave(ids, kMinute));
    }
    CHECK(f.sm.count("GetSecretValue") == 0);
    return f.sm.count("BatchGetSecretValue");
  };
  const int first = cycle();
  CHECK(first <= 13);
  CHECK(first == 13);  // 200 new ids, 16 per wave
  f.clock.advance(5 * kMinute);  // one refresh interval later
  const int second = cycle();
  CHECK(second <= 10);
  CHECK(second == 10);  // every call full: 16 requested ids + 4 ride-alongs
  f.clock.advance(5 * kMinute);
  CHECK(cycle() <= 10);
  f.end();
}

TEST_CASE("aws batch: through the client, 16 ExternalSecrets per wave", "[providers][aws]") {
  Fixture f;
  for (int i = 0; i < 200; ++i) f.sm.put(key(i), "value-of-" + key(i));
  f.create();
  auto cycle = [&] {
    f.sm.reset_counts();
    for (int start = 0; start < 1000; start += 16) {
      int answered = 0;
      const int n = std::min(16, 1000 - start);
      for (int i = start; i < start + n; ++i) {
        const std::string k = key(i % 200);
        f.client->get_secrets({Fixture::ref(k, "", "", kMinute)},
                              [&answered, k](std::vector<Result<Fetched>> r) {
                                ++answered;
                                CHECK(r.size() == 1);
                                if (r.size() != 1 || !r[0].ok()) return;
                                CHECK(r[0]->value.view() == "value-of-" + k);
                              });
      }
      REQUIRE(f.loop.run_until([&] { return answered == n; }));
    }
    return f.sm.total();
  };
  CHECK(cycle() <= 13);
  f.clock.advance(5 * kMinute);
  CHECK(cycle() <= 10);
  CHECK(f.counted["BatchGetSecretValue/ok"] == 23);
  f.finish();
}
