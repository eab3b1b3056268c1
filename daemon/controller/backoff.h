// Retry timing for failed syncs and jitter for refresh intervals: pure functions of their inputs,
// with the random draw (unit_random in [0,1)) injected so tests are deterministic. Random is the
// production source of those draws; one instance is owned by the scheduler (single thread).
#pragma once

#include <cstdint>
#include <random>
#include <string_view>

#include "daemon/common/result.h"

namespace esd::controller {

inline constexpr int64_t kBackoffBaseMs = 1000;
inline constexpr int64_t kBackoffMaxMs = 5 * 60 * 1000;

// Exponential backoff with ±10% jitter: base = min(5 min, 1 s × 2^(n-1)) for the n-th consecutive
// failure (n < 1 counts as 1); result = base × (0.9 + 0.2u), never above 5 min.
int64_t backoff_ms(int64_t consecutive_failures, double unit_random);

// The delay until the next periodic refresh, for a store whose provider does not batch reads:
// interval × (0.9 + 0.2u), so ExternalSecrets created together drift apart (no stampede). A
// non-positive interval (no periodic refresh) returns 0.
int64_t jittered_refresh_ms(int64_t interval_ms, double unit_random);

// For a store whose provider batches reads (Provider::gathers_reads): the next periodic refresh
// after a sync that ended at `now_ms`, the first point of a grid with step max(1 s,
// interval/10) and an offset of `phase_seed` (a hash of the store) that lies at least
// max(interval - step, interval/2) after now. So the refresh comes 0.9 to 1.0 interval later
// (never more: no drift), the ExternalSecrets of one store that synced close together refresh
// together (the provider serves them with a few batch calls), and different stores are spread
// over the step (no cluster-wide stampede). A non-positive interval returns 0.
int64_t aligned_refresh_due(int64_t now_ms, int64_t interval_ms, uint64_t phase_seed);

// FNV-1a 64 of `text`: a stable (cross-restart) seed for aligned_refresh_due.
uint64_t phase_seed_of(std::string_view text);

// The delay before retrying after `error`: backoff_ms(), or the server's retry-after hint for a
// kRateLimited error when that is longer.
int64_t retry_after_or_backoff(int64_t consecutive_failures, const Error& error,
                               double unit_random);

// std::mt19937_64 seeded from RAND_bytes (std::random_device if that fails).
class Random {
 public:
  Random();
  explicit Random(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, 1).
  double unit();

 private:
  std::mt19937_64 engine_;
};

}  // namespace esd::controller
