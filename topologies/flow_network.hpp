#pragma once
// A flow-level network on the event engine. A transfer is a flow along a routed path;
// all active flows share every link by max-min fairness and are re-rated whenever a flow
// starts or ends. The last byte of a flow arrives its path latency after the flow
// finishes transmitting.
//
// Re-rating is batched: every start and end at one simulated time marks the network
// dirty, and a single low-priority event at that time solves the rates once. Max-min rates
// split over the connected components of the flow-link graph, so only the components the
// changes touched are solved again: those holding a link that a started or ended flow
// crosses. When no such flow shares a link with another, the new flows simply get their
// narrowest link and the solve is skipped. Concurrent collectives on disjoint parts of a
// cluster (each pipeline stage's all-to-all) are thus rated apart. The component is found
// through each link's list of the active flows crossing it, kept as flows start and end;
// when it held nearly all of them, the next few re-ratings solve everything without the
// search (the same rates). Flow objects are pooled and reused, so a long collective
// allocates only for its peak number of concurrent flows.
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "sim/engine/engine.hpp"
#include "topologies/max_min.hpp"
#include "topologies/routing.hpp"

namespace foresight {

class FlowListener {
 public:
  virtual ~FlowListener() = default;
  // The flow's last byte has arrived at its destination.
  virtual void on_flow_arrived(Engine& engine, std::uint64_t tag) = 0;
  // The flow's last byte has left its source (its path latency before it arrives), when
  // the sender may put the next piece on the wire.
  virtual void on_flow_transmitted(Engine& /*engine*/, std::uint64_t /*tag*/) {}
};

class LinkLoadObserver {
 public:
  virtual ~LinkLoadObserver() = default;
  // After every re-rating: the bytes/s flowing over each watched link, in watch order.
  virtual void on_link_loads(Time now, std::span<const LinkId> links, std::span<const double> bytes_per_second) = 0;
};

// How a sender moves data beyond what the links allow: NCCL's protocols interleave flags
// with the payload (wire_efficiency), the SMs running a rank's channels copy only so
// fast (max_rate, shared by everything the rank sends in one collective, which the
// collective enforces through a virtual link), and each step waits on a handshake
// (extra_latency). The default is the bare network.
struct Transport {
  double wire_efficiency = 1.0;  // payload bytes per byte on the wire
  double max_rate = std::numeric_limits<double>::infinity();  // wire bytes/s per rank
  Time extra_latency = 0;        // added to the path latency
  // The flow stands for this many transfers back to back (merged ring steps): it pays
  // (path latency + extra_latency) that many times.
  int latency_repeats = 1;
  bool operator==(const Transport&) const = default;
};

class FlowNetwork : public EventHandler {
 public:
  FlowNetwork(Engine& engine, const Topology& topology, const Router& router);
  // The network keeps references: temporaries would dangle.
  FlowNetwork(Engine& engine, const Topology&& topology, const Router& router) = delete;
  FlowNetwork(Engine& engine, const Topology& topology, const Router&& router) = delete;

  // Starts a transfer of `bytes` of payload from one node to another now. `flow_hash`
  // selects the ECMP path; the listener hears `tag` when the data has arrived.
  // The flow also crosses `via` (a virtual link) unless it is kNoLink.
  void start_flow(NodeId from, NodeId to, double bytes, std::uint64_t flow_hash, FlowListener& listener,
                  std::uint64_t tag, const Transport& transport = {}, LinkId via = kNoLink);

  // A link outside the topology, without latency, that flows can cross as well as their
  // route: a limit shared by a set of flows (a rank's copy throughput). Ids of removed
  // virtual links are reused; remove one only when no flow crosses it any more.
  static constexpr LinkId kNoLink = ~LinkId{0};
  LinkId add_virtual_link(double bandwidth);
  void remove_virtual_link(LinkId link);
  std::size_t virtual_links() const { return capacity_.size() - topology_.link_count() - free_virtual_.size(); }

  // Reports the load of `links` to the observer whenever rates change.
  void watch_links(std::vector<LinkId> links, LinkLoadObserver& observer);
  Time now() const { return engine_.now(); }
  const Topology& topology() const { return topology_; }
  Engine& engine() { return engine_; }
  std::uint64_t flows_started() const { return started_; }
  // Flows given a rate by the max-min solver so far, summed over re-ratings.
  std::uint64_t flows_solved() const { return solved_; }
  // Solve every active flow at each re-rating, whatever the changes touched: the reference
  // the shortcuts are tested against (same rates, bit for bit).
  void set_always_solve(bool on) { always_solve_ = on; }

  void handle_event(Engine& engine, std::uint64_t tag) override;

 private:
  struct Flow {
    std::vector<LinkId> path;
    double remaining = 0;  // bytes not yet transmitted at `updated`
    double rate = 0;       // bytes/s
    Time updated = 0;
    Time finish = 0;       // transmission end at the current rate
    Time latency = 0;
    FlowListener* listener = nullptr;
    std::uint64_t tag = 0;
    std::uint64_t mark = 0;  // visited in the component search of this epoch
  };
  enum EventKind : std::uint64_t { kRerate = 0, kCompletion = 1, kArrival = 2 };

  void mark_dirty();
  void advance_to_now();
  void rerate();
  void solve_all();
  void solve_touched();
  void solve(std::span<const std::uint32_t> flows);
  void count_on_links(const Flow& flow, int change);  // +1 on start, -1 at the end
  void list_on_links(std::uint32_t id);
  void unlist_from_links(std::uint32_t id);
  void touch(LinkId link);
  void complete_finished();
  void schedule_next_completion();
  void schedule_arrival(std::span<const std::uint32_t> flows, Time latency);
  std::uint32_t allocate_flow();

  Engine& engine_;
  const Topology& topology_;
  const Router& router_;
  std::vector<double> capacity_;
  std::vector<Time> link_latency_;  // integer, so path latencies add up exactly
  std::vector<LinkId> free_virtual_;
  std::vector<Flow> flows_;             // pool; indices are stable
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> active_;   // transmitting flows
  // Flows whose last bytes arrive together are delivered by one event: a collective's
  // step finishes n flows at once, and one event instead of n keeps the queue small.
  std::vector<std::vector<std::uint32_t>> arrival_batches_;
  std::vector<std::uint32_t> free_batches_;
  std::vector<std::uint32_t> finished_scratch_;
  bool rerate_pending_ = false;
  std::uint64_t completion_generation_ = 0;  // stale completion events are ignored
  std::uint64_t started_ = 0;
  std::uint64_t solved_ = 0;
  bool always_solve_ = false;
  std::vector<std::uint32_t> flows_on_link_;    // active flows crossing each link
  std::vector<std::uint32_t> started_unrated_;  // flows started since the last re-rating
  bool changes_shared_a_link_ = false;          // since the last re-rating
  // Links a flow started or ended on beside others since the last re-rating, and the
  // search from them over each link's active flows, listed only when a search needs them.
  std::vector<LinkId> touched_links_;
  std::vector<std::uint64_t> link_mark_;
  std::uint64_t epoch_ = 0;
  // Per link, the active flows crossing it, in no particular order: the search's edges.
  // Listed from the active flows for a search, or, while searches come often among many
  // flows (collectives at once on disjoint parts of a cluster), kept up to date as flows
  // start and end, whichever costs less (maybe_keep_lists).
  struct Crossing {
    std::uint32_t flow;
    std::uint32_t hop;  // the link's index in the flow's path
  };
  std::vector<std::vector<Crossing>> flows_of_link_;
  std::vector<std::vector<std::uint32_t>> places_;  // per flow, per link of its path: its place in that link's list
  bool lists_kept_ = false;
  std::uint64_t changes_since_search_ = 0;  // flows started and ended
  void list_active_flows();
  void maybe_keep_lists();
  std::vector<std::uint32_t> component_;
  static constexpr int kSearchesSkipped = 16;
  int searches_to_skip_ = 0;
  MaxMinSolver solver_;
  std::vector<std::span<const LinkId>> paths_scratch_;
  std::vector<double> rates_scratch_;
  std::vector<LinkId> watched_;
  std::vector<double> watched_load_;
  std::vector<double> link_load_;
  LinkLoadObserver* load_observer_ = nullptr;
  void report_loads();
};

}  // namespace foresight
