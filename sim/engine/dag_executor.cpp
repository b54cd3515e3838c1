#include "sim/engine/dag_executor.hpp"

#include <algorithm>
#include <stdexcept>

namespace foresight {

DagExecutor::DagExecutor(Engine& engine, const OpGraph& graph)
    : engine_(engine), graph_(graph), state_(graph.op_count()), unfinished_predecessors_(graph.op_count(), 0),
      resources_(graph.resource_count()) {
  for (ResourceId r = 0; r < graph.resource_count(); ++r) resources_[r].concurrency = graph.resource(r).concurrency;
  successor_begin_.assign(graph.op_count() + 1, 0);
  for (auto [from, to] : graph.dependencies()) {
    ++successor_begin_[from + 1];
    ++unfinished_predecessors_[to];
  }
  for (std::size_t i = 0; i < graph.op_count(); ++i) successor_begin_[i + 1] += successor_begin_[i];
  successors_.resize(graph.dependencies().size());
  std::vector<std::uint32_t> cursor(successor_begin_.begin(), successor_begin_.end() - 1);
  for (auto [from, to] : graph.dependencies()) successors_[cursor[from]++] = to;
}

void DagExecutor::start() {
  for (OpId op = 0; op < graph_.op_count(); ++op) {
    if (unfinished_predecessors_[op] == 0) acquire_resources(op);
  }
}

void DagExecutor::handle_event(Engine&, std::uint64_t tag) {
  const auto op = static_cast<OpId>((tag >> 1) & 0xffffffffu);
  if ((tag & 1) == kFinished) {
    if ((tag >> 33) == (state_[op].end_version & 0x7fffffffu)) finish(op);  // else a moved end
  } else {
    acquire_resources(op);
  }
}

void DagExecutor::schedule_end(OpId op, Time end) {
  const std::uint32_t version = ++state_[op].end_version & 0x7fffffffu;
  engine_.schedule_at(end, *this, tag_of(op, kFinished, version));
}

void DagExecutor::reschedule_end(OpId op, Time end) {
  if (graph_.is_external(op) || state_[op].start < 0) throw std::logic_error("reschedule_end: op is not a running kernel");
  schedule_end(op, std::max(end, engine_.now()));
}

void DagExecutor::acquire_resources(OpId op) {
  OpState& state = state_[op];
  const auto needed = graph_.resources_of(op);
  while (state.resources_held < needed.size()) {
    const ResourceId r = needed[state.resources_held];
    ResourceState& resource = resources_[r];
    if (resource.in_use >= resource.concurrency) {
      resource.waiting.push(op);  // resumes when finish() hands this resource over
      return;
    }
    ++resource.in_use;
    ++state.resources_held;
  }
  begin(op);
}

void DagExecutor::begin(OpId op) {
  const Time now = engine_.now();
  state_[op].start = now;
  for (ExecutionObserver* observer : observers_) observer->on_op_start(graph_, op, now);
  if (graph_.is_external(op)) {
    if (external_ == nullptr) throw std::logic_error("an external op started but no ExternalOpRunner is set");
    external_->start_external(op);
    return;
  }
  const Time nominal = graph_.op(op).duration;
  const Time duration = adjuster_ != nullptr ? adjuster_->duration_at_start(op, now, nominal) : nominal;
  schedule_end(op, now + duration);
}

void DagExecutor::finish(OpId op) {
  for (ResourceId r : graph_.resources_of(op)) {
    ResourceState& resource = resources_[r];
    if (resource.waiting.empty()) {
      --resource.in_use;
      continue;
    }
    // Hand the slot straight to the longest waiter so that no later arrival overtakes it.
    const OpId next = resource.waiting.pop();
    ++state_[next].resources_held;
    engine_.schedule_in(0, *this, tag_of(next, kResourcesGranted));
  }
  ++finished_;
  last_end_ = engine_.now();
  for (ExecutionObserver* observer : observers_) {
    observer->on_op_end(graph_, op, state_[op].start, engine_.now());
  }
  for (std::uint32_t i = successor_begin_[op]; i < successor_begin_[op + 1]; ++i) {
    const OpId next = successors_[i];
    if (--unfinished_predecessors_[next] == 0) {
      acquire_resources(next);
    } else {
      // It will start soon: fetch what starting it reads while the memory is idle (large
      // graphs do not fit in the cache, and every op's first touch would otherwise stall).
      __builtin_prefetch(&graph_.op(next));
      __builtin_prefetch(&state_[next]);
    }
  }
}

}  // namespace foresight
