#include "providers/aws/aws_gather.h"

#include <algorithm>
#include <utility>

namespace esd::providers::aws {

GatherQueue::GatherQueue(uv_loop_t* loop, size_t max_per_call, int64_t gather_ms, Send send)
    : loop_(loop),
      max_per_call_(std::max<size_t>(1, max_per_call)),
      gather_ms_(std::max<int64_t>(0, gather_ms)),
      send_(std::move(send)) {}

void GatherQueue::push(std::string id) {
  if (closed_) return;
  queue_.push_back(std::move(id));
  if (queue_.size() >= max_per_call_) return flush();
  arm();
}

void GatherQueue::arm() {
  if (armed_) return;
  if (!timer_ready_) {
    if (uv_timer_init(loop_, timer_.get()) != 0) return flush();
    timer_.mark_initialized();
    timer_.get()->data = this;
    timer_ready_ = true;
  }
  armed_ = uv_timer_start(timer_.get(), &GatherQueue::on_timer, static_cast<uint64_t>(gather_ms_), 0) == 0;
  if (!armed_) flush();
}

void GatherQueue::on_timer(uv_timer_t* t) noexcept {
  auto* self = static_cast<GatherQueue*>(t->data);
  self->armed_ = false;
  self->flush();
}

void GatherQueue::flush() {
  if (armed_) {
    uv_timer_stop(timer_.get());
    armed_ = false;
  }
  std::vector<std::string> all = std::move(queue_);
  queue_.clear();
  for (size_t i = 0; i < all.size() && !closed_; i += max_per_call_) {
    const size_t end = std::min(all.size(), i + max_per_call_);
    send_(std::vector<std::string>(all.begin() + static_cast<ptrdiff_t>(i),
                                   all.begin() + static_cast<ptrdiff_t>(end)));
  }
}

void GatherQueue::close() {
  if (closed_) return;
  closed_ = true;
  armed_ = false;
  timer_.close();
  queue_.clear();
}

}  // namespace esd::providers::aws
