#include "daemon/controller/backoff.h"

#include <catch2/catch.hpp>

using namespace esd::controller;

TEST_CASE("backoff: doubles from 1 s and caps at 5 min", "[controller][backoff]") {
  // u = 0.5 is the middle of the jitter band: factor exactly 1.0.
  CHECK(backoff_ms(1, 0.5) == 1000);
  CHECK(backoff_ms(2, 0.5) == 2000);
  CHECK(backoff_ms(3, 0.5) == 4000);
  CHECK(backoff_ms(9, 0.5) == 256000);
  CHECK(backoff_ms(10, 0.5) == 300000);
  CHECK(backoff_ms(64, 0.5) == 300000);
  CHECK(backoff_ms(1'000'000, 0.5) == 300000);
  SECTION("n < 1 counts as the first failure") {
    CHECK(backoff_ms(0, 0.5) == 1000);
    CHECK(backoff_ms(-5, 0.5) == 1000);
  }
}

TEST_CASE("backoff: jitter is +-10% and never exceeds the cap", "[controller][backoff]") {
  CHECK(backoff_ms(1, 0.0) == 900);
  CHECK(backoff_ms(1, 0.999999) == 1100);
  CHECK(backoff_ms(4, 0.25) == 7600);
  CHECK(backoff_ms(9, 0.0) == 230400);
  CHECK(backoff_ms(9, 0.999) == 281549);
  CHECK(backoff_ms(20, 0.0) == 270000);
  CHECK(backoff_ms(20, 0.999) == 300000);
  SECTION("out-of-range draws are clamped") {
    CHECK(backoff_ms(1, -3.0) == 900);
    CHECK(backoff_ms(1, 7.0) == 1100);
  }
}

TEST_CASE("backoff: refreshes of non-batching stores get +-10% jitter", "[controller][backoff]") {
  const int64_t hour = 3'600'000;
  CHECK(jittered_refresh_ms(hour, 0.0) == 3'240'000);
  CHECK(jittered_refresh_ms(hour, 0.5) == hour);
  CHECK(jittered_refresh_ms(hour, 0.999999) == 3'959'999);
  CHECK(jittered_refresh_ms(hour, 7.0) == 3'960'000);  // clamped draw: never above +10%
  CHECK(jittered_refresh_ms(0, 0.5) == 0);
  CHECK(jittered_refresh_ms(-1, 0.5) == 0);
}

TEST_CASE("backoff: refreshes land on the store's grid, 0.9 to 1.0 interval later", "[controller][backoff]") {
  const int64_t hour = 3'600'000;
  const uint64_t seed = phase_seed_of("SecretStore/ns/store");
  const int64_t step = hour / 10;
  const int64_t phase = static_cast<int64_t>(seed % static_cast<uint64_t>(step));
  for (int64_t now : {int64_t{1'700'000'000'000}, int64_t{1'700'000'123'456}, int64_t{1'700'000'359'999}}) {
    const int64_t due = aligned_refresh_due(now, hour, seed);
    CHECK(due - now >= hour - step);
    CHECK(due - now < hour);
    CHECK((due - phase) % step == 0);
  }
  // Syncs that ended close together refresh at the same moment; another store has its own phase.
  const int64_t a = aligned_refresh_due(1'700'000'000'000, hour, seed);
  CHECK(aligned_refresh_due(1'700'000'000'000 + 2'000, hour, seed) == a);
  CHECK(aligned_refresh_due(1'700'000'000'000, hour, phase_seed_of("SecretStore/ns/other")) != a);
  // Short intervals: a 1 s grid, never sooner than half the interval.
  const int64_t d1 = aligned_refresh_due(5'000'250, 1000, seed);
  CHECK(d1 - 5'000'250 >= 500);
  CHECK(d1 - 5'000'250 < 1500);
  CHECK(aligned_refresh_due(5'000'000, 0, seed) == 0);
  CHECK(aligned_refresh_due(5'000'000, -1, seed) == 0);
  CHECK(phase_seed_of("abc") == phase_seed_of("abc"));
  CHECK(phase_seed_of("abc") != phase_seed_of("abd"));
}

TEST_CASE("backoff: a rate-limit hint wins when it is longer", "[controller][backoff]") {
  esd::Error limited(esd::ErrorCode::kRateLimited, "throttled");
  limited.retry_after_ms = 30'000;
  CHECK(retry_after_or_backoff(1, limited, 0.5) == 30'000);
  CHECK(retry_after_or_backoff(10, limited, 0.5) == 300'000);
  esd::Error no_hint(esd::ErrorCode::kRateLimited, "throttled");
  CHECK(retry_after_or_backoff(2, no_hint, 0.5) == 2000);
  esd::Error transient(esd::ErrorCode::kTransient, "boom");
  transient.retry_after_ms = 30'000;  // only honoured for kRateLimited
  CHECK(retry_after_or_backoff(2, transient, 0.5) == 2000);
}

TEST_CASE("backoff: Random draws from 0 up to 1 (exclusive) and is reproducible with a seed",
          "[controller][backoff]") {
  Random a(42);
  Random b(42);
  Random fresh;
  double sum = 0;
  for (int i = 0; i < 1000; ++i) {
    const double x = a.unit();
    CHECK(x == b.unit());
    REQUIRE(x >= 0.0);
    REQUIRE(x < 1.0);
    const double y = fresh.unit();
    REQUIRE(y >= 0.0);
    REQUIRE(y < 1.0);
    sum += x;
  }
  CHECK(sum / 1000 > 0.4);
  CHECK(sum / 1000 < 0.6);
}
