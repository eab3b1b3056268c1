// Loop helpers for tests (header-only; any test binary may include "support/loop_runner.h").
// TestLoop owns a uv_loop_t for one test; run_until() drives it until a condition holds, with a
// watchdog timer so a broken test fails instead of hanging; close_loop() runs every pending close
// callback and returns uv_loop_close() (tests REQUIRE it to be 0). No sleeps anywhere.
// TestLoop also ignores SIGPIPE for the test process, as the daemon's main does: a peer that
// hangs up must give EPIPE on write, not kill the test binary.
#pragma once

#include <uv.h>

#include <csignal>
#include <cstdint>
#include <functional>

namespace esd::test {

// Runs the loop until done() is true. Returns false if the watchdog fired first (or the loop ran
// out of work with done() still false). The watchdog handle is closed before returning.
inline bool run_until(uv_loop_t* loop, const std::function<bool()>& done,
                      uint64_t timeout_ms = 5000) {
  struct Watchdog {
    uv_timer_t timer;
    bool fired = false;
  };
  auto* dog = new Watchdog();
  uv_timer_init(loop, &dog->timer);
  dog->timer.data = dog;
  uv_timer_start(
      &dog->timer, [](uv_timer_t* t) { static_cast<Watchdog*>(t->data)->fired = true; }, timeout_ms,
      0);
  bool ok = done();
  while (!ok && !dog->fired) {
    const int alive = uv_run(loop, UV_RUN_ONCE);
    ok = done();
    if (alive == 0) break;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&dog->timer),
           [](uv_handle_t* h) { delete static_cast<Watchdog*>(h->data); });
  return ok;
}

// Runs the loop until no handle is active, then closes it. 0 means every handle was closed;
// UV_EBUSY means something leaked a handle.
inline int close_loop(uv_loop_t* loop) {
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop);
}

// One loop per test. Declare it before any object that uses the loop, so those are destroyed
// (and close their handles) first. The destructor only cleans up after a failed test: it
// force-closes what is left so the next test starts clean.
class TestLoop {
 public:
  TestLoop() {
    std::signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&loop_);
  }
  ~TestLoop() {
    if (closed_) return;
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }
  bool run_until(const std::function<bool()>& done, uint64_t timeout_ms = 5000) {
    return esd::test::run_until(&loop_, done, timeout_ms);
  }
  // Drains the loop and closes it; returns uv_loop_close()'s result.
  int close() {
    const int rc = close_loop(&loop_);
    closed_ = rc == 0;
    return rc;
  }

 private:
  uv_loop_t loop_{};
  bool closed_ = false;
};

}  // namespace esd::test
