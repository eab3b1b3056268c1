// Wall-clock time in Unix milliseconds, behind an interface so that schedulers and state
// bookkeeping can be driven by a fake clock in tests. Timers still use the loop's own clock.
#pragma once

#include <cstdint>
#include <string>

namespace esd {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t now_ms() const override { return now_; }
  void advance(int64_t ms) { now_ += ms; }
  void set(int64_t ms) { now_ = ms; }

 private:
  int64_t now_;
};

// RFC 3339 / ISO-8601 UTC, second precision: 2026-01-01T00:00:00Z (Kubernetes metav1.Time).
std::string format_rfc3339(int64_t unix_ms);
// Microsecond precision, as events.k8s.io MicroTime: 2026-01-01T00:00:00.000000Z.
std::string format_micro_time(int64_t unix_ms);
// Parses RFC 3339 (with or without fraction, Z or offset). Returns -1 on failure.
int64_t parse_rfc3339(const std::string& s);

}  // namespace esd
