#include "topologies/in_switch_all_reduce.hpp"

#include <stdexcept>

namespace foresight {
namespace {
class InSwitchAllReduce : public CollectiveRun, public FlowListener {
 public:
  InSwitchAllReduce(FlowNetwork& network, const CollectiveRequest& request, NodeId reducing_switch)
      : network_(network), request_(request), switch_(reducing_switch) {}

  void start() override {
    const auto n = static_cast<double>(request_.ranks.size());
    if (request_.ranks.size() < 2) {
      mark_done(network_.engine());
      return;
    }
    const double each_way = request_.bytes * (n + 1) / n;
    const std::size_t ranks = request_.ranks.size();
    outstanding_ = 2 * ranks;
    // A rank's SMs drive both streams: its reads of reduced shards and its multicast
    // stores, each at the copy rate (both run at once in the fit to nccl-tests).
    limit_copy_rate(network_, request_.transport.max_rate, 2 * ranks);
    for (std::size_t i = 0; i < ranks; ++i) {
      const std::uint64_t hash = request_.flow_salt ^ (static_cast<std::uint64_t>(i) << 24);
      network_.start_flow(request_.ranks[i], switch_, each_way, hash, *this, 0, request_.transport, copy_engine(i));
      network_.start_flow(switch_, request_.ranks[i], each_way, hash ^ 1u, *this, 0, request_.transport, copy_engine(ranks + i));
    }
  }

  void on_flow_arrived(Engine& engine, std::uint64_t) override {
    if (--outstanding_ == 0) mark_done(engine);
  }

 private:
  FlowNetwork& network_;
  CollectiveRequest request_;
  NodeId switch_;
  std::size_t outstanding_ = 0;
};

bool linked(const Topology& topology, NodeId from, NodeId to) {
  for (auto [edge, end] = boost::out_edges(from, topology.graph()); edge != end; ++edge) {
    if (topology.link(topology.graph()[*edge].link).to == to) return true;
  }
  return false;
}
}  // namespace

std::optional<NodeId> reducing_switch_of(const Topology& topology, const std::vector<NodeId>& ranks) {
  if (ranks.empty()) return std::nullopt;
  for (auto [edge, end] = boost::out_edges(ranks.front(), topology.graph()); edge != end; ++edge) {
    const NodeId candidate = topology.link(topology.graph()[*edge].link).to;
    if (!topology.node(candidate).reduces_in_switch) continue;
    bool everyone = true;
    for (NodeId rank : ranks) everyone = everyone && linked(topology, rank, candidate) && linked(topology, candidate, rank);
    if (everyone) return candidate;
  }
  return std::nullopt;
}

std::unique_ptr<CollectiveRun> make_in_switch_all_reduce(FlowNetwork& network, const CollectiveRequest& request) {
  const std::optional<NodeId> reducing = reducing_switch_of(network.topology(), request.ranks);
  if (!reducing) {
    throw std::invalid_argument("the nvls algorithm needs every rank wired to one switch that reduces in flight "
                                "(NVLink SHARP: hgx_h100, hgx_h200, hgx_b200, nvl72, or \"in_switch_reduction\" in a topology file)");
  }
  return std::make_unique<InSwitchAllReduce>(network, request, *reducing);
}

}  // namespace foresight
