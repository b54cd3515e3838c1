#pragma once
// The discrete-event engine: an ordinary object (no globals), so tests and sweeps can
// run many simulations in one process. Events fire in (time, priority, insertion
// sequence) order, which makes every run with the same inputs replay identically.
#include <cstdint>
#include <functional>
#include <vector>

#include "sim/time.hpp"

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
  std::size_t pending() const { return heap_.size(); }

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
  static bool before(const Entry& a, const Entry& b) {
    return a.when < b.when || (a.when == b.when && a.order < b.order);
  }
  void push(const Entry& entry);
  Entry pop();

  class ClosureHandler : public EventHandler {
   public:
    void handle_event(Engine& engine, std::uint64_t slot) override;
    std::uint64_t store(std::function<void()> action);
   private:
    std::vector<std::function<void()>> slots_;
    std::vector<std::uint64_t> free_;
  };

  std::vector<Entry> heap_;  // a 4-ary min-heap: shallower than binary, cache-friendlier
  Time now_ = 0;
  std::uint64_t sequence_ = 0;
  std::uint64_t processed_ = 0;
  ClosureHandler closures_;
};

}  // namespace foresight
