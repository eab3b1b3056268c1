// TestLoop: a libuv loop for one test case plus a watchdog. run_until() drives the loop until a
// predicate holds and fails (returns false) if the watchdog fires first, instead of hanging.
// finish() closes every remaining handle and returns uv_loop_close()'s result; the owners of
// handles on the loop (HttpClient, KubeClient, Informer) must be gone or shut down before it.
#pragma once

#include <uv.h>

#include <functional>

namespace esd::testing {

class TestLoop {
 public:
  TestLoop() { uv_loop_init(&loop_); }
  ~TestLoop() {
    if (!closed_) (void)finish();
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }

  // Runs loop iterations until `pred()` is true; false on timeout. An extra `tick_ms` timer
  // re-checks predicates that depend on other processes (the fake server) between events.
  bool run_until(const std::function<bool()>& pred, uint64_t timeout_ms = 10'000,
                 uint64_t tick_ms = 0) {
    bool fired = false;
    uv_timer_t watchdog;
    uv_timer_t tick;
    uv_timer_init(&loop_, &watchdog);
    uv_timer_init(&loop_, &tick);
    watchdog.data = &fired;
    uv_timer_start(
        &watchdog, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, timeout_ms, 0);
    if (tick_ms > 0)
      uv_timer_start(
          &tick, [](uv_timer_t*) {}, tick_ms, tick_ms);
    while (!pred() && !fired) uv_run(&loop_, UV_RUN_ONCE);
    const bool ok = pred();
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);  // runs the close callbacks before the stack timers go away
    return ok;
  }

  // Runs the loop for `ms` of loop time (to check that nothing happens), bounded by a timer.
  void run_for(uint64_t ms) {
    bool fired = false;
    uv_timer_t t;
    uv_timer_init(&loop_, &t);
    t.data = &fired;
    uv_timer_start(
        &t, [](uv_timer_t* h) { *static_cast<bool*>(h->data) = true; }, ms, 0);
    while (!fired) uv_run(&loop_, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }

  // Lets pending close callbacks run, then closes the loop. 0 means every handle was closed;
  // a handle left active gives UV_EBUSY rather than a hang.
  int finish() {
    for (int i = 0; i < 4; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    closed_ = true;
    return uv_loop_close(&loop_);
  }

 private:
  uv_loop_t loop_;
  bool closed_ = false;
};

}  // namespace esd::testing
