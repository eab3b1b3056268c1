#include "daemon/controller/due_queue.h"

namespace esd::controller {

void DueQueue::push_now(const std::string& id) {
  auto it = where_.find(id);
  if (it != where_.end() && it->second.fast) return;
  const uint64_t seq = ++seq_;
  where_[id] = Place{true, seq};
  fast_.emplace_back(id, seq);
  ++fast_count_;
}

void DueQueue::push_at(const std::string& id, int64_t due_ms) {
  auto it = where_.find(id);
  if (it != where_.end() && it->second.fast) {
    --fast_count_;  // its fast-lane entry becomes stale
  }
  const uint64_t seq = ++seq_;
  where_[id] = Place{false, seq};
  timed_.push(Timed{due_ms, seq, id});
}

void DueQueue::remove(const std::string& id) {
  auto it = where_.find(id);
  if (it == where_.end()) return;
  if (it->second.fast) --fast_count_;
  where_.erase(it);
}

void DueQueue::skip_stale() {
  while (!fast_.empty()) {
    auto it = where_.find(fast_.front().first);
    if (it != where_.end() && it->second.fast && it->second.seq == fast_.front().second) break;
    fast_.pop_front();
  }
  while (!timed_.empty()) {
    auto it = where_.find(timed_.top().id);
    if (it != where_.end() && !it->second.fast && it->second.seq == timed_.top().seq) break;
    timed_.pop();
  }
}

std::optional<std::string> DueQueue::pop_ready(int64_t now_ms) {
  skip_stale();
  if (!fast_.empty()) {
    std::string id = std::move(fast_.front().first);
    fast_.pop_front();
    where_.erase(id);
    --fast_count_;
    return id;
  }
  if (!timed_.empty() && timed_.top().due_ms <= now_ms) {
    std::string id = timed_.top().id;
    timed_.pop();
    where_.erase(id);
    return id;
  }
  return std::nullopt;
}

std::optional<int64_t> DueQueue::next_due() const {
  const_cast<DueQueue*>(this)->skip_stale();
  if (!fast_.empty()) return 0;
  if (timed_.empty()) return std::nullopt;
  return timed_.top().due_ms;
}

}  // namespace esd::controller
