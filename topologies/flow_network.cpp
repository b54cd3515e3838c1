#include "topologies/flow_network.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace foresight {
namespace {
// Re-rating runs after everything else at its time, so all the flows that start or end
// at one instant are rated together.
constexpr Priority kReratePriority = 100;
constexpr int kKindBits = 2;
constexpr std::uint64_t kKindMask = (1u << kKindBits) - 1;
}  // namespace

FlowNetwork::FlowNetwork(Engine& engine, const Topology& topology, const Router& router)
    : engine_(engine), topology_(topology), router_(router) {
  capacity_.reserve(topology.link_count());
  for (LinkId l = 0; l < topology.link_count(); ++l) {
    capacity_.push_back(topology.link(l).bandwidth);
    link_latency_.push_back(from_seconds(topology.link(l).latency_seconds));
  }
  flows_on_link_.assign(topology.link_count(), 0);
  link_mark_.assign(topology.link_count(), 0);
  flows_of_link_.resize(topology.link_count());
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
                             FlowListener& listener, std::uint64_t tag, const Transport& transport, LinkId via) {
  const std::uint32_t id = allocate_flow();
  Flow& flow = flows_[id];
  flow.path.clear();
  if (from != to) router_.route(from, to, flow_hash, flow.path);
  flow.latency = transport.extra_latency;
  for (LinkId l : flow.path) flow.latency += link_latency_[l];
  flow.latency *= transport.latency_repeats;
  if (via != kNoLink && !flow.path.empty()) flow.path.push_back(via);
  flow.remaining = bytes / transport.wire_efficiency;
  flow.rate = 0;
  flow.updated = engine_.now();
  flow.finish = kTimeMax;
  flow.listener = &listener;
  flow.tag = tag;
  ++started_;
  if (flow.path.empty() || bytes <= 0) {
    // Nothing crosses a link: the data is there after the path latency (zero locally).
    schedule_arrival(std::span<const std::uint32_t>(&id, 1), flow.latency);
    return;
  }
  active_.push_back(id);
  count_on_links(flow, +1);
  if (lists_kept_) list_on_links(id);
  ++changes_since_search_;
  started_unrated_.push_back(id);
  mark_dirty();
}

void FlowNetwork::count_on_links(const Flow& flow, int change) {
  for (LinkId l : flow.path) {
    if (change < 0) --flows_on_link_[l];
    touch(l);
    if (change > 0) ++flows_on_link_[l];
  }
}

void FlowNetwork::list_on_links(std::uint32_t id) {
  const Flow& flow = flows_[id];
  if (places_.size() <= id) places_.resize(flows_.size());
  std::vector<std::uint32_t>& places = places_[id];
  places.resize(flow.path.size());
  for (std::uint32_t hop = 0; hop < flow.path.size(); ++hop) {
    std::vector<Crossing>& list = flows_of_link_[flow.path[hop]];
    places[hop] = static_cast<std::uint32_t>(list.size());
    list.push_back({id, hop});
  }
}

// Each of the flow's places goes to the last crossing of that link's list, whose flow's
// record of its place there follows.
void FlowNetwork::unlist_from_links(std::uint32_t id) {
  const Flow& flow = flows_[id];
  for (std::size_t hop = 0; hop < flow.path.size(); ++hop) {
    std::vector<Crossing>& list = flows_of_link_[flow.path[hop]];
    const std::uint32_t place = places_[id][hop];
    const Crossing last = list.back();
    list.pop_back();
    if (place == list.size()) continue;
    list[place] = last;
    places_[last.flow][last.hop] = place;
  }
}

void FlowNetwork::list_active_flows() {
  for (std::uint32_t id : active_) list_on_links(id);
}

// Keeping the lists costs a push and a pop per link of every flow that starts and ends;
// listing them for each search costs a push per link of every active flow, and as much
// again to clear them. Kept while the changes between searches are under half the flows.
void FlowNetwork::maybe_keep_lists() {
  lists_kept_ = changes_since_search_ * 2 < active_.size();
  changes_since_search_ = 0;
  if (lists_kept_) return;
  for (std::uint32_t id : active_) {
    for (LinkId l : flows_[id].path) flows_of_link_[l].clear();
  }
}

void FlowNetwork::touch(LinkId link) {
  // A flow joined or left beside others, whose rates may change; alone, it moves nobody.
  if (flows_on_link_[link] == 0) return;
  changes_shared_a_link_ = true;
  // Listed once: marked with the epoch of the next re-rating, whose search starts here.
  if (link_mark_[link] == epoch_ + 1) return;
  link_mark_[link] = epoch_ + 1;
  touched_links_.push_back(link);
}

LinkId FlowNetwork::add_virtual_link(double bandwidth) {
  if (!free_virtual_.empty()) {
    const LinkId link = free_virtual_.back();
    free_virtual_.pop_back();
    capacity_[link] = bandwidth;
    return link;
  }
  capacity_.push_back(bandwidth);
  link_latency_.push_back(0);
  flows_on_link_.push_back(0);
  link_mark_.push_back(0);
  flows_of_link_.emplace_back();
  return static_cast<LinkId>(capacity_.size() - 1);
}

void FlowNetwork::remove_virtual_link(LinkId link) {
  if (link < topology_.link_count() || link >= capacity_.size()) throw std::logic_error("not a virtual link");
  free_virtual_.push_back(link);
}

void FlowNetwork::watch_links(std::vector<LinkId> links, LinkLoadObserver& observer) {
  watched_ = std::move(links);
  watched_load_.assign(watched_.size(), 0.0);
  link_load_.assign(topology_.link_count(), 0.0);  // virtual links are never watched
  load_observer_ = &observer;
}

void FlowNetwork::report_loads() {
  if (load_observer_ == nullptr) return;
  for (LinkId l : watched_) link_load_[l] = 0;
  const LinkId physical = static_cast<LinkId>(topology_.link_count());
  for (std::uint32_t id : active_) {
    for (LinkId l : flows_[id].path) {
      if (l < physical) link_load_[l] += flows_[id].rate;
    }
  }
  for (std::size_t i = 0; i < watched_.size(); ++i) watched_load_[i] = link_load_[watched_[i]];
  load_observer_->on_link_loads(engine_.now(), watched_, watched_load_);
  for (std::uint32_t id : active_) {
    for (LinkId l : flows_[id].path) {
      if (l < physical) link_load_[l] = 0;
    }
  }
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
      const auto batch = static_cast<std::uint32_t>(tag >> kKindBits);
      // Listeners may start flows (and batches) while we deliver: index, don't hold references.
      for (std::size_t i = 0; i < arrival_batches_[batch].size(); ++i) {
        const std::uint32_t id = arrival_batches_[batch][i];
        FlowListener* listener = flows_[id].listener;
        const std::uint64_t flow_tag = flows_[id].tag;
        free_.push_back(id);
        listener->on_flow_arrived(engine_, flow_tag);
      }
      arrival_batches_[batch].clear();
      free_batches_.push_back(batch);
      break;
    }
  }
}

void FlowNetwork::advance_to_now() {
  const Time now = engine_.now();
  for (std::uint32_t id : active_) {
    Flow& flow = flows_[id];
    if (flow.updated == now) continue;
    flow.remaining -= std::min(flow.remaining, flow.rate * to_seconds(now - flow.updated));
    flow.updated = now;
  }
}

void FlowNetwork::solve(std::span<const std::uint32_t> flows) {
  paths_scratch_.clear();
  for (std::uint32_t id : flows) paths_scratch_.emplace_back(flows_[id].path);
  solver_.solve(capacity_, paths_scratch_, rates_scratch_);
  solved_ += flows.size();
  for (std::size_t i = 0; i < flows.size(); ++i) flows_[flows[i]].rate = rates_scratch_[i];
}

void FlowNetwork::solve_all() { solve(active_); }

// The flows connected, link by shared link, to a link a change touched: the only ones
// whose rates can differ from the last re-rating's.
void FlowNetwork::solve_touched() {
  if (!lists_kept_) list_active_flows();
  component_.clear();
  std::vector<LinkId>& pending = touched_links_;  // consumed as the search's stack, already marked
  while (!pending.empty()) {
    const LinkId l = pending.back();
    pending.pop_back();
    for (const Crossing crossing : flows_of_link_[l]) {
      const std::uint32_t id = crossing.flow;
      Flow& flow = flows_[id];
      if (flow.mark == epoch_) continue;
      flow.mark = epoch_;
      component_.push_back(id);
      for (LinkId next : flow.path) {
        if (link_mark_[next] == epoch_) continue;
        link_mark_[next] = epoch_;
        pending.push_back(next);
      }
    }
  }
  maybe_keep_lists();
  solve(component_);
  // When the changes reach nearly every flow (one collective's flows sharing its ranks'
  // copy rates), the search costs as much as it saves: solve everything for a while.
  if (component_.size() * 10 >= active_.size() * 9) searches_to_skip_ = kSearchesSkipped;
}

void FlowNetwork::rerate() {
  ++epoch_;  // the touched links' marks now mean "reached" in this re-rating's search
  advance_to_now();
  if (always_solve_) {
    solve_all();
  } else if (changes_shared_a_link_ && searches_to_skip_ > 0) {
    --searches_to_skip_;
    solve_all();
  } else {
    if (changes_shared_a_link_) solve_touched();
    // The new flows the search did not reach are alone on their links, and those that
    // ended left nobody behind.
    for (std::uint32_t id : started_unrated_) {
      Flow& flow = flows_[id];
      if (flow.mark == epoch_) continue;
      flow.rate = std::numeric_limits<double>::infinity();
      for (LinkId l : flow.path) flow.rate = std::min(flow.rate, capacity_[l]);
    }
  }
  started_unrated_.clear();
  touched_links_.clear();
  changes_shared_a_link_ = false;
  // Every finish again, not only the new flows': each flow's remaining bytes were just
  // advanced, and its finish is rounded from them.
  const Time now = engine_.now();
  for (std::uint32_t id : active_) {
    Flow& flow = flows_[id];
    // Round the finish up to a whole picosecond so the flow has truly finished by then.
    const double seconds = flow.remaining / flow.rate;
    flow.finish = now + static_cast<Time>(std::ceil(seconds * 1e12));
  }
  schedule_next_completion();
  report_loads();
}

void FlowNetwork::schedule_next_completion() {
  ++completion_generation_;
  Time next = kTimeMax;
  for (std::uint32_t id : active_) next = std::min(next, flows_[id].finish);
  if (next != kTimeMax) engine_.schedule_at(next, *this, (completion_generation_ << kKindBits) | kCompletion);
}

void FlowNetwork::schedule_arrival(std::span<const std::uint32_t> flows, Time latency) {
  std::uint32_t batch;
  if (free_batches_.empty()) {
    batch = static_cast<std::uint32_t>(arrival_batches_.size());
    arrival_batches_.emplace_back();
  } else {
    batch = free_batches_.back();
    free_batches_.pop_back();
  }
  arrival_batches_[batch].assign(flows.begin(), flows.end());  // keeps the batch's capacity
  engine_.schedule_in(latency, *this, (std::uint64_t{batch} << kKindBits) | kArrival);
}

void FlowNetwork::complete_finished() {
  advance_to_now();
  const Time now = engine_.now();
  std::size_t kept = 0;
  finished_scratch_.clear();
  for (std::uint32_t id : active_) {
    Flow& flow = flows_[id];
    if (flow.finish <= now) {
      flow.remaining = 0;
      finished_scratch_.push_back(id);
      count_on_links(flow, -1);
      if (lists_kept_) unlist_from_links(id);
      ++changes_since_search_;
    } else {
      active_[kept++] = id;
    }
  }
  active_.resize(kept);
  // One arrival event per distinct path latency, flows in completion order within it.
  const auto by_latency = [this](std::uint32_t a, std::uint32_t b) { return flows_[a].latency < flows_[b].latency; };
  if (!std::is_sorted(finished_scratch_.begin(), finished_scratch_.end(), by_latency)) {
    std::stable_sort(finished_scratch_.begin(), finished_scratch_.end(), by_latency);
  }
  for (std::size_t begin = 0; begin < finished_scratch_.size();) {
    std::size_t end = begin + 1;
    const Time latency = flows_[finished_scratch_[begin]].latency;
    while (end < finished_scratch_.size() && flows_[finished_scratch_[end]].latency == latency) ++end;
    schedule_arrival(std::span<const std::uint32_t>(finished_scratch_).subspan(begin, end - begin), latency);
    begin = end;
  }
  if (active_.empty()) {
    ++completion_generation_;
    report_loads();  // everything has drained
  } else {
    mark_dirty();
  }
  // Listeners may start flows here, which never touches this list of finished flows.
  for (std::uint32_t id : finished_scratch_) {
    flows_[id].listener->on_flow_transmitted(engine_, flows_[id].tag);
  }
}

}  // namespace foresight
