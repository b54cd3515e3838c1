#include "sim/engine/engine.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>
#include <utility>

namespace foresight {
namespace {
constexpr int kSequenceBits = 56;

struct LaterOrder {
  template <class Entry>
  bool operator()(const Entry& a, const Entry& b) const { return a.order > b.order; }
};
}  // namespace

void Engine::schedule_at(Time when, EventHandler& handler, std::uint64_t tag, Priority priority) {
  if (when > kTimeLimit) throw SimulatedTimeOverflow(to_seconds(when));
  if (when < now_) {
    throw std::logic_error("event scheduled in the past: at " + std::to_string(when) +
                           " ps while now is " + std::to_string(now_) + " ps");
  }
  const auto priority_bits = static_cast<std::uint64_t>(static_cast<std::uint8_t>(priority ^ 0x80));
  push(Entry{when, (priority_bits << kSequenceBits) | sequence_++, &handler, tag});
}

void Engine::call_at(Time when, std::function<void()> action, Priority priority) {
  schedule_at(when, closures_, closures_.store(std::move(action)), priority);
}

void Engine::run(Time horizon) {
  while (refill_current() && last_ <= horizon) fire(pop_current());
}

bool Engine::step() {
  if (!refill_current()) return false;
  fire(pop_current());
  return true;
}

void Engine::fire(const Entry& entry) {
  now_ = entry.when;
  ++processed_;
  entry.handler->handle_event(*this, entry.tag);
}

std::size_t Engine::bucket_of(Time when) const {
  const auto differing = static_cast<std::uint64_t>(when ^ last_);
  return differing == 0 ? 0 : static_cast<std::size_t>(64 - std::countl_zero(differing));
}

void Engine::push(const Entry& entry) {
  ++size_;
  const std::size_t bucket = bucket_of(entry.when);
  if (bucket == 0) {
    current_.push_back(entry);
    std::push_heap(current_.begin(), current_.end(), LaterOrder{});
  } else {
    buckets_[bucket].push_back(entry);
    filled_buckets_ |= std::uint64_t{1} << bucket;
  }
}

bool Engine::refill_current() {
  if (!current_.empty()) return true;
  if (size_ == 0) return false;
  const auto bucket = static_cast<std::size_t>(std::countr_zero(filled_buckets_));
  std::vector<Entry>& source = buckets_[bucket];
  filled_buckets_ &= ~(std::uint64_t{1} << bucket);
  Time earliest = source.front().when;
  for (const Entry& entry : source) earliest = std::min(earliest, entry.when);
  last_ = earliest;
  // Every entry of `source` now differs from last_ below bit `bucket`, so each moves to
  // a lower bucket; those at the new time form the current heap.
  for (const Entry& entry : source) {
    const std::size_t target = bucket_of(entry.when);
    if (target == 0) {
      current_.push_back(entry);
    } else {
      buckets_[target].push_back(entry);
      filled_buckets_ |= std::uint64_t{1} << target;
    }
  }
  source.clear();
  if (current_.size() > 1) std::make_heap(current_.begin(), current_.end(), LaterOrder{});
  return true;
}

Engine::Entry Engine::pop_current() {
  if (current_.size() > 1) std::pop_heap(current_.begin(), current_.end(), LaterOrder{});
  const Entry entry = current_.back();
  current_.pop_back();
  --size_;
  return entry;
}

void Engine::ClosureHandler::handle_event(Engine&, std::uint64_t slot) {
  std::function<void()> action = std::move(slots_[slot]);
  slots_[slot] = nullptr;
  free_.push_back(slot);
  action();
}

std::uint64_t Engine::ClosureHandler::store(std::function<void()> action) {
  if (!free_.empty()) {
    const std::uint64_t slot = free_.back();
    free_.pop_back();
    slots_[slot] = std::move(action);
    return slot;
  }
  slots_.push_back(std::move(action));
  return slots_.size() - 1;
}

}  // namespace foresight
