// DueQueue: which ExternalSecret to reconcile next. Two lanes: the fast lane holds new, changed
// and drifted items (FIFO) and always goes first; the timed lane holds periodic refreshes and
// retries ordered by due time. An item is in at most one place: scheduling it again moves it.
// Pure data structure (no libuv); the controller owns the timer that waits for next_due().
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace esd::controller {

class DueQueue {
 public:
  // Puts `id` in the fast lane (unless it is already there).
  void push_now(const std::string& id);
  // Puts `id` in the timed lane at `due_ms` (replacing any earlier placement).
  void push_at(const std::string& id, int64_t due_ms);
  void remove(const std::string& id);
  // The next item ready at `now_ms` (fast lane first), or nullopt.
  std::optional<std::string> pop_ready(int64_t now_ms);
  // Earliest due time in the timed lane; nullopt when empty. 0 if the fast lane is non-empty.
  std::optional<int64_t> next_due() const;
  bool contains(const std::string& id) const { return where_.count(id) != 0; }
  bool in_fast_lane(const std::string& id) const {
    auto it = where_.find(id);
    return it != where_.end() && it->second.fast;
  }
  size_t size() const { return where_.size(); }
  size_t fast_size() const { return fast_count_; }

 private:
  struct Timed {
    int64_t due_ms;
    uint64_t seq;
    std::string id;
    bool operator>(const Timed& o) const {
      return due_ms != o.due_ms ? due_ms > o.due_ms : seq > o.seq;
    }
  };
  // Placement of a live item: kFast, or the seq of its valid heap entry. Stale heap entries and
  // stale fast-lane entries are skipped lazily.
  struct Place {
    bool fast = false;
    uint64_t seq = 0;
  };
  void skip_stale();

  std::deque<std::pair<std::string, uint64_t>> fast_;
  std::priority_queue<Timed, std::vector<Timed>, std::greater<Timed>> timed_;
  std::unordered_map<std::string, Place> where_;
  uint64_t seq_ = 0;
  size_t fast_count_ = 0;
};

}  // namespace esd::controller
