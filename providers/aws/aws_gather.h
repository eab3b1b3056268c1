// GatherQueue: the "due together" half of both AWS batchers (Secrets Manager's SmBatcher and
// Parameter Store's PsBatcher). Ids pushed within gather_ms of the first one queued are handed
// to `send` in chunks of at most `max_per_call`; a full chunk goes out at once. Duplicate
// suppression, sharing and caching stay with the batcher (it pushes each id once).
// Owned by its batcher (a member); `send` runs on the loop thread, from push() when a chunk is
// full, else from the timer; never after close(). One uv timer, initialized on first use.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "daemon/loop/uv_handle.h"

namespace esd::providers::aws {

class GatherQueue {
 public:
  using Send = std::function<void(std::vector<std::string> chunk)>;

  GatherQueue(uv_loop_t* loop, size_t max_per_call, int64_t gather_ms, Send send);
  GatherQueue(const GatherQueue&) = delete;
  GatherQueue& operator=(const GatherQueue&) = delete;

  void push(std::string id);
  // Sends everything queued now (chunked), stopping the timer.
  void flush();
  // Drops what is queued and closes the timer; nothing is sent afterwards.
  void close();

 private:
  void arm();
  static void on_timer(uv_timer_t* t) noexcept;

  uv_loop_t* loop_;
  size_t max_per_call_;
  int64_t gather_ms_;
  Send send_;
  std::vector<std::string> queue_;
  UvHandle<uv_timer_t> timer_;
  bool timer_ready_ = false;
  bool armed_ = false;
  bool closed_ = false;
};

}  // namespace esd::providers::aws
