// Deferrer runs callbacks on a later loop turn. It is how asynchronous APIs keep the contract
// "the completion callback is never called synchronously": a result that is ready at once is
// posted here instead of being delivered from inside the call. Owned by the loop's owner; after
// close(), queued work is dropped and nothing runs.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>

#include "daemon/loop/uv_handle.h"

namespace esd {

class Deferrer {
 public:
  explicit Deferrer(uv_loop_t* loop);
  ~Deferrer();
  Deferrer(const Deferrer&) = delete;
  Deferrer& operator=(const Deferrer&) = delete;

  void post(std::function<void()> fn);
  void close() noexcept;
  size_t pending() const noexcept { return queue_.size(); }

 private:
  static void on_idle(uv_idle_t* h) noexcept;
  void run();

  UvHandle<uv_idle_t> idle_;
  std::deque<std::function<void()>> queue_;
  bool active_ = false;
  bool closed_ = false;
};

}  // namespace esd
