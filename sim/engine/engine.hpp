#pragma once
// The discrete-event engine: an ordinary object (no globals), so tests and sweeps can
// run many simulations in one process. Events fire in (time, priority, insertion
// sequence) order, which makes every run with the same inputs replay identically.
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "sim/engine/time.hpp"

namespace foresight {

class Engine;

// Lower values fire first among events at the same time.
using Priority = std::int8_t;

// Components that receive events implement this. The tag lets one handler tell its
// events apart without allocating a closure per event (the hot path of every model).
class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void handle_event(Engine& engine, std::uint64_t tag) = 0;
};

class Engine {
 public:
  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Time now() const { return now_; }
  std::uint64_t events_processed() const { return processed_; }
  std::size_t pending() const { return size_; }

  // Throws std::logic_error when `when` lies in the past: a model bug, not user input.
  void schedule_at(Time when, EventHandler& handler, std::uint64_t tag, Priority priority = 0);
  void schedule_in(Time delay, EventHandler& handler, std::uint64_t tag, Priority priority = 0) {
    schedule_at(now_ + delay, handler, tag, priority);
  }
  // Convenience for setup code and tests; models on hot paths use EventHandler.
  void call_at(Time when, std::function<void()> action, Priority priority = 0);

  // Fires events until none are left or the next one lies beyond `horizon`.
  void run(Time horizon = kTimeMax);
  bool step();

 private:
  struct Entry {
    Time when;
    std::uint64_t order;  // priority in the top byte, insertion sequence below it
    EventHandler* handler;
    std::uint64_t tag;
  };
  // The queue is a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan 1990), which suits a
  // simulator because event times never go below `now`: an event lives in the bucket
  // of the highest bit where its time differs from the last time popped, so a push is
  // O(1) and each event moves down at most 64 buckets in its life. Events at exactly
  // the current time sit in a small binary heap ordered by (priority, sequence), which
  // keeps the tie order exact.
  static constexpr std::size_t kBuckets = 64;  // times are never negative: bit 63 never differs
  std::size_t bucket_of(Time when) const;
  void push(const Entry& entry);
  bool refill_current();  // moves the earliest events into current_; false when empty
  Entry pop_current();
  void fire(const Entry& entry);

  class ClosureHandler : public EventHandler {
   public:
    void handle_event(Engine& engine, std::uint64_t slot) override;
    std::uint64_t store(std::function<void()> action);
   private:
    std::vector<std::function<void()>> slots_;
    std::vector<std::uint64_t> free_;
  };

  std::vector<Entry> current_;  // events at time last_, a min-heap on `order`
  std::array<std::vector<Entry>, kBuckets> buckets_;
  // Bit b set while buckets_[b] holds events: the next bucket to refill from is a count
  // of trailing zeros away instead of a scan over up to 63 vectors.
  std::uint64_t filled_buckets_ = 0;
  Time last_ = 0;
  std::size_t size_ = 0;
  Time now_ = 0;
  std::uint64_t sequence_ = 0;
  std::uint64_t processed_ = 0;
  ClosureHandler closures_;
};

}  // namespace foresight
