#include "topologies/topology.hpp"

#include <boost/graph/strong_components.hpp>
#include <stdexcept>

namespace foresight {

NodeId Topology::add_node(std::string name, NodeKind kind) {
  // Adding the vertex bare and then naming it keeps Boost off its named-graph lookup path,
  // which GCC 12 misreports as reading uninitialized memory.
  const auto id = static_cast<NodeId>(boost::add_vertex(*graph_));
  (*graph_)[id] = TopoNode{std::move(name), kind};
  incoming_.emplace_back();
  return id;
}

NodeId Topology::add_gpu(std::string name) {
  const NodeId id = add_node(std::move(name), NodeKind::kGpu);
  gpus_.push_back(id);
  return id;
}

LinkId Topology::add_link(NodeId from, NodeId to, double bandwidth, double latency_seconds) {
  if (from >= node_count() || to >= node_count()) throw std::logic_error("link between unknown nodes");
  const auto id = static_cast<LinkId>(links_.size());
  links_.push_back({from, to, bandwidth, latency_seconds});
  boost::add_edge(from, to, EdgeData{id}, *graph_);
  incoming_[to].push_back(id);
  return id;
}

void Topology::add_duplex(NodeId a, NodeId b, double bandwidth, double latency_seconds) {
  add_link(a, b, bandwidth, latency_seconds);
  add_link(b, a, bandwidth, latency_seconds);
}

std::vector<std::string> Topology::problems() const {
  std::vector<std::string> found;
  for (const TopoLink& l : links_) {
    if (!(l.bandwidth > 0)) {
      found.push_back("link " + node(l.from).name + " -> " + node(l.to).name + " has no bandwidth");
    }
    if (l.latency_seconds < 0) {
      found.push_back("link " + node(l.from).name + " -> " + node(l.to).name + " has a negative latency");
    }
  }
  if (gpus_.empty()) {
    found.push_back("the topology has no GPUs");
    return found;
  }
  // Every GPU must reach every other: all GPUs in one strongly connected component.
  std::vector<int> component(node_count());
  // GCC 12 reports a false "maybe uninitialized" inside Boost's Tarjan implementation.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
  boost::strong_components(*graph_, boost::make_iterator_property_map(component.begin(), boost::get(boost::vertex_index, *graph_)));
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  const int first = component[gpus_.front()];
  for (NodeId g : gpus_) {
    if (component[g] != first) {
      found.push_back("GPU " + node(g).name + " cannot exchange data with GPU " + node(gpus_.front()).name +
                      " (the graph is disconnected)");
    }
  }
  return found;
}

std::vector<std::uint32_t> Topology::distances_to(NodeId target) const {
  std::vector<std::uint32_t> distance(node_count(), kUnreachable);
  std::vector<NodeId> frontier{target};
  distance[target] = 0;
  for (std::size_t i = 0; i < frontier.size(); ++i) {
    const NodeId node = frontier[i];
    for (LinkId l : incoming_[node]) {
      const NodeId previous = links_[l].from;
      if (distance[previous] == kUnreachable) {
        distance[previous] = distance[node] + 1;
        frontier.push_back(previous);
      }
    }
  }
  return distance;
}

}  // namespace foresight
