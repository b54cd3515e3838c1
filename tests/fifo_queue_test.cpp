#include <doctest/doctest.h>

#include <deque>

#include "sim/engine/fifo_queue.hpp"
#include "sim/engine/random.hpp"

using namespace foresight;

TEST_CASE("the ring-buffer FIFO behaves like std::deque through wraparound and growth") {
  // Random pushes and pops (up to ~1000 queued) against std::deque as the reference.
  FifoQueue<std::uint32_t> queue;
  std::deque<std::uint32_t> reference;
  RandomStream rng(5, "fifo");
  for (std::uint32_t i = 0; i < 100000; ++i) {
    const bool push = reference.empty() || rng.next_u64() % 100 < (reference.size() < 1000 ? 55 : 45);
    if (push) {
      queue.push(i);
      reference.push_back(i);
    } else {
      REQUIRE(queue.pop() == reference.front());
      reference.pop_front();
    }
    REQUIRE(queue.size() == reference.size());
  }
  while (!reference.empty()) {
    CHECK(queue.pop() == reference.front());
    reference.pop_front();
  }
  CHECK(queue.empty());
}
