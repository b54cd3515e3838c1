#include "topologies/flow_network.hpp"

#include <cmath>
#include <limits>

namespace foresight {
namespace {
// Re-rating runs after everything else at its time, so all the flows that start or end
// at one instant are rated together.
constexpr Priority kReratePriority = 100;
constexpr int kKindBits = 2;
constexpr std::uint64_t kKindMask = (1u << kKindBits) - 1;
}  // namespace

FlowNetwork::FlowNetwork(Engine& engine, const Topology& topology, const Router& router)
    : engine_(engine), topology_(topology), router_(router), link_bytes_(topology.link_count(), 0.0) {
  capacity_.reserve(topology.link_count());
  for (LinkId l = 0; l < topology.link_count(); ++l) capacity_.push_back(topology.link(l).bandwidth);
}

std::uint32_t FlowNetwork::allocate_flow() {
  if (!free_.empty()) {
    const std::uint32_t id = free_.back();
    free_.pop_back();
    return id;
  }
  flows_.emplace_back();
  return static_cast<std::uint32_t>(flows_.size() - 1);
}

void FlowNetwork::start_flow(NodeId from, NodeId to, double bytes, std::uint64_t flow_hash,
                             FlowListener& listener, std::uint64_t tag) {
  const std::uint32_t id = allocate_flow();
  Flow& flow = flows_[id];
  flow.path.clear();
  if (from != to) router_.route(from, to, flow_hash, flow.path);
  double latency = 0;
  for (LinkId l : flow.path) latency += topology_.link(l).latency_seconds;
  flow.latency = from_seconds(latency);
  flow.remaining = bytes;
  flow.rate = 0;
  flow.updated = engine_.now();
  flow.finish = kTimeMax;
  flow.listener = &listener;
  flow.tag = tag;
  ++started_;
  if (flow.path.empty() || bytes <= 0) {
    // Nothing crosses a link: the data is there after the path latency (zero locally).
    engine_.schedule_in(flow.latency, *this, (std::uint64_t{id} << kKindBits) | kArrival);
    return;
  }
  active_.push_back(id);
  mark_dirty();
}

void FlowNetwork::mark_dirty() {
  if (rerate_pending_) return;
  rerate_pending_ = true;
  engine_.schedule_in(0, *this, kRerate, kReratePriority);
}

void FlowNetwork::handle_event(Engine&, std::uint64_t tag) {
  switch (tag & kKindMask) {
    case kRerate:
      rerate_pending_ = false;
      rerate();
      break;
    case kCompletion:
      if ((tag >> kKindBits) == completion_generation_) complete_finished();
      break;
    case kArrival: {
      const auto id = static_cast<std::uint32_t>(tag >> kKindBits);
      Flow& flow = flows_[id];
      FlowListener* listener = flow.listener;
      const std::uint64_t flow_tag = flow.tag;
      free_.push_back(id);
      listener->on_flow_arrived(engine_, flow_tag);
      break;
    }
  }
}

void FlowNetwork::advance_to_now() {
  const Time now = engine_.now();
  for (std::uint32_t id : active_) {
    Flow& flow = flows_[id];
    if (flow.updated == now) continue;
    const double moved = std::min(flow.remaining, flow.rate * to_seconds(now - flow.updated));
    flow.remaining -= moved;
    flow.updated = now;
    for (LinkId l : flow.path) link_bytes_[l] += moved;
  }
}

void FlowNetwork::rerate() {
  advance_to_now();
  paths_scratch_.clear();
  for (std::uint32_t id : active_) paths_scratch_.emplace_back(flows_[id].path);
  solver_.solve(capacity_, paths_scratch_, rates_scratch_);
  ++solves_;
  const Time now = engine_.now();
  for (std::size_t i = 0; i < active_.size(); ++i) {
    Flow& flow = flows_[active_[i]];
    flow.rate = rates_scratch_[i];
    // Round the finish up to a whole picosecond so the flow has truly finished by then.
    const double seconds = flow.remaining / flow.rate;
    flow.finish = now + static_cast<Time>(std::ceil(seconds * 1e12));
  }
  schedule_next_completion();
}

void FlowNetwork::schedule_next_completion() {
  ++completion_generation_;
  Time next = kTimeMax;
  for (std::uint32_t id : active_) next = std::min(next, flows_[id].finish);
  if (next != kTimeMax) engine_.schedule_at(next, *this, (completion_generation_ << kKindBits) | kCompletion);
}

void FlowNetwork::complete_finished() {
  advance_to_now();
  const Time now = engine_.now();
  std::size_t kept = 0;
  for (std::uint32_t id : active_) {
    Flow& flow = flows_[id];
    if (flow.finish <= now) {
      for (LinkId l : flow.path) link_bytes_[l] += flow.remaining;  // rounding leftovers
      flow.remaining = 0;
      engine_.schedule_in(flow.latency, *this, (std::uint64_t{id} << kKindBits) | kArrival);
    } else {
      active_[kept++] = id;
    }
  }
  active_.resize(kept);
  if (active_.empty()) {
    ++completion_generation_;
  } else {
    mark_dirty();
  }
}

}  // namespace foresight
