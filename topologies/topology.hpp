#pragma once
// A cluster's devices and links as a directed Boost.Graph: GPUs, NICs and switches are
// vertices; every link direction is its own edge with its own bandwidth, since NVLink,
// PCIe and InfiniBand are full duplex. Links are numbered densely so that the flow
// network can keep per-link state in flat arrays.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

namespace foresight {

using NodeId = std::uint32_t;
using LinkId = std::uint32_t;

enum class NodeKind { kGpu, kNic, kSwitch };

struct TopoNode {
  std::string name;
  NodeKind kind = NodeKind::kSwitch;
  // The switch can reduce data in flight (NVLink SHARP on third-generation NVSwitch and
  // later), which NCCL's NVLS all-reduce uses.
  bool reduces_in_switch = false;
};

struct TopoLink {
  NodeId from = 0;
  NodeId to = 0;
  double bandwidth = 0;        // bytes/s in this direction
  double latency_seconds = 0;  // propagation plus per-hop switching
};

// How build_fat_tree wired a fat tree, so that routes can be computed from the structure
// instead of searched for (a search per destination dominates at 16k GPUs). GPU rank r
// is node r. Link ids per rank: up = rank -> next tier, down = next tier -> rank.
struct FatTreeLayout {
  int gpus_per_node = 8;
  int spines = 0;
  std::vector<LinkId> gpu_to_nvswitch, nvswitch_to_gpu;
  std::vector<LinkId> gpu_to_nic, nic_to_gpu;
  std::vector<LinkId> nic_to_leaf, leaf_to_nic;
  std::vector<std::uint32_t> leaf_of_rank;
  std::vector<LinkId> leaf_to_spine, spine_to_leaf;  // [leaf * spines + spine]
};

class Topology {
 public:
  struct EdgeData {
    LinkId link = 0;
  };
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, TopoNode, EdgeData>;

  // Boost 1.74's adjacency_list has no move operations (its swap even copies three
  // times), so the graph lives behind a pointer and moving a Topology moves only that.
  // Copies are never needed and are not allowed.
  Topology() = default;
  Topology(Topology&&) noexcept = default;
  Topology& operator=(Topology&&) noexcept = default;
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  NodeId add_node(std::string name, NodeKind kind);
  NodeId add_gpu(std::string name);  // GPUs are ranked in the order they are added
  void enable_in_switch_reduction(NodeId node) { (*graph_)[node].reduces_in_switch = true; }
  LinkId add_link(NodeId from, NodeId to, double bandwidth, double latency_seconds);
  // Both directions, each with the full bandwidth (a full-duplex cable or port).
  void add_duplex(NodeId a, NodeId b, double bandwidth, double latency_seconds);

  std::size_t node_count() const { return boost::num_vertices(*graph_); }
  std::size_t link_count() const { return links_.size(); }
  std::size_t gpu_count() const { return gpus_.size(); }
  NodeId gpu(std::size_t rank) const { return gpus_[rank]; }
  const TopoNode& node(NodeId id) const { return (*graph_)[id]; }
  const TopoLink& link(LinkId id) const { return links_[id]; }
  const Graph& graph() const { return *graph_; }
  const FatTreeLayout* fat_tree_layout() const { return fat_tree_.get(); }
  void set_fat_tree_layout(FatTreeLayout layout) { fat_tree_ = std::make_shared<const FatTreeLayout>(std::move(layout)); }

  // Problems that make the topology unusable, each a sentence naming nodes: GPUs that
  // cannot reach each other, links without bandwidth. Empty when usable.
  std::vector<std::string> problems() const;

  // Hop distance from every node to `target` (breadth-first over reversed links);
  // unreachable nodes get kUnreachable.
  static constexpr std::uint32_t kUnreachable = ~std::uint32_t{0};
  std::vector<std::uint32_t> distances_to(NodeId target) const;

 private:
  std::unique_ptr<Graph> graph_ = std::make_unique<Graph>();
  std::vector<TopoLink> links_;
  std::vector<NodeId> gpus_;
  std::vector<std::vector<LinkId>> incoming_;  // for reverse breadth-first search
  std::shared_ptr<const FatTreeLayout> fat_tree_;
};

}  // namespace foresight
