#include "sim/engine.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace foresight {
namespace {
constexpr std::size_t kArity = 4;
constexpr int kSequenceBits = 56;
}  // namespace

void Engine::schedule_at(Time when, EventHandler& handler, std::uint64_t tag, Priority priority) {
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
  while (!heap_.empty() && heap_.front().when <= horizon) step();
}

bool Engine::step() {
  if (heap_.empty()) return false;
  const Entry entry = pop();
  now_ = entry.when;
  ++processed_;
  entry.handler->handle_event(*this, entry.tag);
  return true;
}

void Engine::push(const Entry& entry) {
  std::size_t hole = heap_.size();
  heap_.push_back(entry);
  while (hole > 0) {
    const std::size_t parent = (hole - 1) / kArity;
    if (!before(entry, heap_[parent])) break;
    heap_[hole] = heap_[parent];
    hole = parent;
  }
  heap_[hole] = entry;
}

Engine::Entry Engine::pop() {
  const Entry top = heap_.front();
  const Entry last = heap_.back();
  heap_.pop_back();
  const std::size_t size = heap_.size();
  if (size == 0) return top;
  std::size_t hole = 0;
  for (;;) {
    const std::size_t first_child = hole * kArity + 1;
    if (first_child >= size) break;
    std::size_t best = first_child;
    const std::size_t end = first_child + kArity < size ? first_child + kArity : size;
    for (std::size_t c = first_child + 1; c < end; ++c) {
      if (before(heap_[c], heap_[best])) best = c;
    }
    if (!before(heap_[best], last)) break;
    heap_[hole] = heap_[best];
    hole = best;
  }
  heap_[hole] = last;
  return top;
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
