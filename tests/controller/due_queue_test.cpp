#include <catch2/catch.hpp>

#include "daemon/controller/due_queue.h"

using esd::controller::DueQueue;

TEST_CASE("DueQueue: fast lane goes before due timed items", "[controller][queue]") {
  DueQueue q;
  q.push_at("periodic", 100);
  q.push_now("new");
  CHECK(q.next_due() == 0);
  CHECK(q.pop_ready(1000) == "new");
  CHECK(q.pop_ready(1000) == "periodic");
  CHECK_FALSE(q.pop_ready(1000).has_value());
  CHECK(q.size() == 0);
}

TEST_CASE("DueQueue: timed items come out in due order and only when due", "[controller][queue]") {
  DueQueue q;
  q.push_at("c", 300);
  q.push_at("a", 100);
  q.push_at("b", 200);
  CHECK(q.next_due() == 100);
  CHECK_FALSE(q.pop_ready(99).has_value());
  CHECK(q.pop_ready(250) == "a");
  CHECK(q.pop_ready(250) == "b");
  CHECK_FALSE(q.pop_ready(250).has_value());
  CHECK(q.next_due() == 300);
}

TEST_CASE("DueQueue: rescheduling moves an item instead of duplicating it", "[controller][queue]") {
  DueQueue q;
  q.push_at("x", 100);
  q.push_at("x", 500);
  CHECK(q.size() == 1);
  CHECK_FALSE(q.pop_ready(200).has_value());
  CHECK(q.next_due() == 500);
  q.push_now("x");
  q.push_now("x");
  CHECK(q.fast_size() == 1);
  CHECK(q.pop_ready(0) == "x");
  CHECK_FALSE(q.pop_ready(10'000).has_value());
  // Moving from the fast lane back to the timed lane.
  q.push_now("y");
  q.push_at("y", 50);
  CHECK(q.fast_size() == 0);
  CHECK(q.pop_ready(49) == std::nullopt);
  CHECK(q.pop_ready(50) == "y");
}

TEST_CASE("DueQueue: removed items never come out", "[controller][queue]") {
  DueQueue q;
  q.push_now("a");
  q.push_at("b", 10);
  q.remove("a");
  q.remove("b");
  CHECK(q.size() == 0);
  CHECK_FALSE(q.next_due().has_value());
  CHECK_FALSE(q.pop_ready(1000).has_value());
}

TEST_CASE("DueQueue: fast lane keeps arrival order", "[controller][queue]") {
  DueQueue q;
  for (const char* id : {"1", "2", "3"}) q.push_now(id);
  CHECK(q.pop_ready(0) == "1");
  CHECK(q.pop_ready(0) == "2");
  CHECK(q.pop_ready(0) == "3");
}

TEST_CASE("DueQueue: in_fast_lane tells the fast lane from the timed lane", "[controller][queue]") {
  DueQueue q;
  q.push_at("a", 100);
  q.push_now("b");
  CHECK_FALSE(q.in_fast_lane("a"));
  CHECK(q.in_fast_lane("b"));
  CHECK_FALSE(q.in_fast_lane("missing"));
  q.push_now("a");
  CHECK(q.in_fast_lane("a"));
}
