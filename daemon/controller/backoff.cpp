#include "daemon/controller/backoff.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "daemon/common/crypto.h"

namespace esd::controller {
namespace {

double clamp_unit(double u) {
  if (!(u >= 0.0)) return 0.0;  // also catches NaN
  if (u >= 1.0) return std::nextafter(1.0, 0.0);
  return u;
}

int64_t jitter(int64_t base_ms, double unit_random) {
  const double factor = 0.9 + 0.2 * clamp_unit(unit_random);
  return std::llround(static_cast<double>(base_ms) * factor);
}

uint64_t random_seed() {
  auto bytes = random_bytes(sizeof(uint64_t));
  if (bytes) {
    uint64_t seed = 0;
    std::memcpy(&seed, bytes->data(), sizeof seed);
    return seed;
  }
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

int64_t backoff_ms(int64_t consecutive_failures, double unit_random) {
  const int64_t n = std::max<int64_t>(consecutive_failures, 1);
  int64_t base = kBackoffMaxMs;
  if (n <= 20) base = std::min(kBackoffMaxMs, kBackoffBaseMs << (n - 1));
  return std::min(kBackoffMaxMs, jitter(base, unit_random));
}

int64_t jittered_refresh_ms(int64_t interval_ms, double unit_random) {
  if (interval_ms <= 0) return 0;
  return jitter(interval_ms, unit_random);
}

int64_t aligned_refresh_due(int64_t now_ms, int64_t interval_ms, uint64_t phase_seed) {
  if (interval_ms <= 0) return 0;
  const int64_t step = std::max<int64_t>(1000, interval_ms / 10);
  const int64_t earliest = now_ms + std::max(interval_ms - step, interval_ms / 2);
  const int64_t phase = static_cast<int64_t>(phase_seed % static_cast<uint64_t>(step));
  // The smallest phase + k*step >= earliest (earliest >= phase for any real clock; guard anyway).
  const int64_t k = earliest <= phase ? 0 : (earliest - phase + step - 1) / step;
  return phase + k * step;
}

uint64_t phase_seed_of(std::string_view text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

int64_t retry_after_or_backoff(int64_t consecutive_failures, const Error& error,
                               double unit_random) {
  const int64_t b = backoff_ms(consecutive_failures, unit_random);
  if (error.code == ErrorCode::kRateLimited && error.retry_after_ms > b) {
    return error.retry_after_ms;
  }
  return b;
}

Random::Random() : engine_(random_seed()) {}

// The top 53 bits scaled by 2^-53: exactly uniform over representable steps, never 1.0.
double Random::unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

}  // namespace esd::controller
