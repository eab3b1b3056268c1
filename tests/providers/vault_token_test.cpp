// TokenManager with scripted hooks: single-flight login, renewal until the max TTL caps it, then
// a fresh login once the token goes stale; static tokens re-read but never renewed.
#include "providers/vault/vault_token.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "support/loop_runner.h"

using esd::ErrorCode;
using esd::Result;
using esd::Sensitive;
using esd::providers::vault::CurrentToken;
using esd::providers::vault::TokenGrant;
using esd::providers::vault::TokenManager;
using esd::providers::vault::TokenOptions;
using esd::test::TestLoop;

namespace {

struct Script {
  int logins = 0;
  int renewals = 0;
  std::vector<int64_t> renew_ttls;  // TTL granted by each renewal, in order
  std::vector<TokenManager::GrantDone> pending_logins;

  TokenManager::Hooks hooks(bool answer_now, int64_t ttl_s) {
    TokenManager::Hooks h;
    h.login = [this, answer_now, ttl_s](TokenManager::GrantDone done) {
      ++logins;
      if (!answer_now) return pending_logins.push_back(std::move(done));
      done(TokenGrant{Sensitive("t" + std::to_string(logins)), ttl_s, true});
    };
    h.renew = [this](const Sensitive& token, TokenManager::GrantDone done) {
      const size_t i = static_cast<size_t>(renewals++);
      const int64_t ttl = i < renew_ttls.size() ? renew_ttls[i] : 0;
      done(TokenGrant{token.clone(), ttl, true});
    };
    return h;
  }
};

}  // namespace

TEST_CASE("TokenManager: callers during a login wait for it", "[providers][vault]") {
  TestLoop loop;
  Script s;
  TokenManager tm(loop.get(), s.hooks(false, 0), TokenOptions{});
  std::vector<std::string> got;
  for (int i = 0; i < 5; ++i) {
    tm.get([&](Result<CurrentToken> t) { got.emplace_back(t->token.view()); });
  }
  CHECK(s.logins == 1);
  REQUIRE(s.pending_logins.size() == 1);
  s.pending_logins[0](TokenGrant{Sensitive(std::string("abc")), 0, false});
  CHECK(got == std::vector<std::string>(5, "abc"));
  tm.get([&](Result<CurrentToken> t) { got.emplace_back(t->token.view()); });
  CHECK(got.size() == 6);
  CHECK(s.logins == 1);
  tm.invalidate(tm.generation());
  tm.get([&](Result<CurrentToken>) {});
  CHECK(s.logins == 2);
  tm.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("TokenManager: renewals stop at the max TTL, then the next caller logs in",
          "[providers][vault]") {
  TestLoop loop;
  Script s;
  // A 10 s TTL renewed at 1 % (every 100 ms): two renewals extend it, the third is cut short
  // by Vault's max TTL (9 s granted with 9.9 s left), which ends the renewals.
  s.renew_ttls = {10, 10, 9};
  TokenOptions opts;
  opts.renew_fraction = 0.01;
  TokenManager tm(loop.get(), s.hooks(true, 10), opts);
  tm.get([](Result<CurrentToken> t) { REQUIRE(t.ok()); });
  const uint64_t start = uv_now(loop.get());
  REQUIRE(loop.run_until([&] { return s.renewals == 3; }));
  // Let loop time pass (the run_until watchdog keeps the loop alive while nothing else is).
  (void)loop.run_until([&] { return uv_now(loop.get()) >= start + 600; }, 700);
  REQUIRE(uv_now(loop.get()) >= start + 600);
  CHECK(s.renewals == 3);  // no fourth renewal
  CHECK(s.logins == 1);
  tm.get([](Result<CurrentToken> t) { REQUIRE(t.ok()); });
  CHECK(s.logins == 2);  // stale after 1 % of the last grant
  tm.close();
  REQUIRE(loop.close() == 0);
}

TEST_CASE("TokenManager: static tokens are re-read, never renewed", "[providers][vault]") {
  TestLoop loop;
  Script s;
  TokenOptions opts;
  opts.is_static = true;
  opts.static_recheck_ms = 60'000;
  TokenManager tm(loop.get(), s.hooks(true, 0), opts);
  uint64_t gen = 0;
  tm.get([&](Result<CurrentToken> t) { gen = t->generation; });
  tm.get([&](Result<CurrentToken>) {});
  CHECK(s.logins == 1);  // within the recheck window
  tm.invalidate(gen);
  tm.get([&](Result<CurrentToken> t) { CHECK(t->generation != gen); });
  CHECK(s.logins == 2);
  CHECK(s.renewals == 0);
  CHECK_FALSE(tm.take_revocable().has_value());
  tm.close();
  tm.get([](Result<CurrentToken>) { FAIL("called after close"); });
  REQUIRE(loop.close() == 0);
}
