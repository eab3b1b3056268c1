#include "daemon/loop/deferrer.h"

namespace esd {

Deferrer::Deferrer(uv_loop_t* loop) {
  if (uv_idle_init(loop, idle_.get()) == 0) {
    idle_.mark_initialized();
    idle_.get()->data = this;
  }
}

Deferrer::~Deferrer() { close(); }

void Deferrer::close() noexcept {
  closed_ = true;
  queue_.clear();
  idle_.close();
}

void Deferrer::post(std::function<void()> fn) {
  if (closed_) return;
  queue_.push_back(std::move(fn));
  if (!active_) {
    active_ = true;
    uv_idle_start(idle_.get(), &Deferrer::on_idle);
  }
}

void Deferrer::on_idle(uv_idle_t* h) noexcept { static_cast<Deferrer*>(h->data)->run(); }

void Deferrer::run() {
  // Only what was queued before this turn runs now; work posted by these callbacks waits for the
  // next turn, so a callback that re-posts itself cannot starve I/O.
  size_t n = queue_.size();
  while (n-- > 0 && !queue_.empty() && !closed_) {
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    fn();
  }
  if (queue_.empty() && !closed_) {
    active_ = false;
    uv_idle_stop(idle_.get());
  }
}

}  // namespace esd
