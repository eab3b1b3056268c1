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

TEST_CASE("backoff: jittered refresh interval", "[controller][backoff]") {
  CHECK(jittered_interval_ms(3'600'000, 0.0) == 3'240'000);
  CHECK(jittered_interval_ms(3'600'000, 0.5) == 3'600'000);
  CHECK(jittered_interval_ms(3'600'000, 0.75) == 3'780'000);
  CHECK(jittered_interval_ms(0, 0.9) == 0);
  CHECK(jittered_interval_ms(-1, 0.9) == -1);
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
