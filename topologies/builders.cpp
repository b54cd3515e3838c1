#include "topologies/builders.hpp"

#include <stdexcept>
#include <string>

namespace foresight {
namespace {
std::string gpu_name(int i) { return "gpu" + std::to_string(i); }
}  // namespace

Topology build_switch_node(int gpus, LinkSpec gpu_link, bool in_switch_reduction) {
  Topology t;
  for (int i = 0; i < gpus; ++i) t.add_gpu(gpu_name(i));
  const NodeId sw = t.add_node("switch", NodeKind::kSwitch);
  if (in_switch_reduction) t.enable_in_switch_reduction(sw);
  for (int i = 0; i < gpus; ++i) t.add_duplex(t.gpu(i), sw, gpu_link.bandwidth, gpu_link.latency_seconds);
  return t;
}

Topology build_full_mesh(int gpus, LinkSpec pair_link) {
  Topology t;
  for (int i = 0; i < gpus; ++i) t.add_gpu(gpu_name(i));
  for (int i = 0; i < gpus; ++i) {
    for (int j = i + 1; j < gpus; ++j) t.add_duplex(t.gpu(i), t.gpu(j), pair_link.bandwidth, pair_link.latency_seconds);
  }
  return t;
}

Topology build_ring(int gpus, LinkSpec link) {
  Topology t;
  for (int i = 0; i < gpus; ++i) t.add_gpu(gpu_name(i));
  if (gpus < 2) return t;
  // Two GPUs share one cable; more close the ring with the last-to-first link.
  const int cables = gpus == 2 ? 1 : gpus;
  for (int i = 0; i < cables; ++i) t.add_duplex(t.gpu(i), t.gpu((i + 1) % gpus), link.bandwidth, link.latency_seconds);
  return t;
}

Topology build_torus(const std::vector<int>& dims, LinkSpec link) {
  if (dims.empty() || dims.size() > 3) throw std::invalid_argument("a torus has 2 or 3 dimensions");
  int total = 1;
  for (int d : dims) total *= d;
  Topology t;
  for (int i = 0; i < total; ++i) t.add_gpu(gpu_name(i));
  int stride = 1;
  for (int d : dims) {
    // Along this dimension, join each GPU to its successor (wrapping); a dimension of 2
    // has one link between the pair, not two.
    for (int i = 0; i < total; ++i) {
      const int coordinate = (i / stride) % d;
      if (d < 2 || (d == 2 && coordinate == 1)) continue;
      const int next = i - coordinate * stride + ((coordinate + 1) % d) * stride;
      t.add_duplex(t.gpu(i), t.gpu(next), link.bandwidth, link.latency_seconds);
    }
    stride *= d;
  }
  return t;
}

Topology build_fat_tree(const FatTreeSpec& s) {
  Topology t;
  FatTreeLayout layout;
  layout.gpus_per_node = s.gpus_per_node;
  // A duplex link adds a -> b, then b -> a.
  const auto duplex = [&t](NodeId a, NodeId b, LinkSpec link, std::vector<LinkId>& up, std::vector<LinkId>& down) {
    const auto first = static_cast<LinkId>(t.link_count());
    t.add_duplex(a, b, link.bandwidth, link.latency_seconds);
    up.push_back(first);
    down.push_back(first + 1);
  };
  const int gpus = s.nodes * s.gpus_per_node;
  for (int i = 0; i < gpus; ++i) t.add_gpu(gpu_name(i));
  std::vector<NodeId> nics;
  for (int n = 0; n < s.nodes; ++n) {
    const NodeId nvswitch = t.add_node("node" + std::to_string(n) + ".nvswitch", NodeKind::kSwitch);
    if (s.in_switch_reduction) t.enable_in_switch_reduction(nvswitch);
    for (int g = 0; g < s.gpus_per_node; ++g) {
      const int rank = n * s.gpus_per_node + g;
      duplex(t.gpu(rank), nvswitch, s.scale_up, layout.gpu_to_nvswitch, layout.nvswitch_to_gpu);
      const NodeId nic = t.add_node("node" + std::to_string(n) + ".nic" + std::to_string(g), NodeKind::kNic);
      duplex(t.gpu(rank), nic, s.nic, layout.gpu_to_nic, layout.nic_to_gpu);
      nics.push_back(nic);
    }
  }
  const int groups = (s.nodes + s.nodes_per_leaf - 1) / s.nodes_per_leaf;
  const int leaves_per_group = s.rail_optimized ? s.gpus_per_node : 1;
  std::vector<NodeId> leaves;
  for (int g = 0; g < groups; ++g) {
    for (int r = 0; r < leaves_per_group; ++r) {
      leaves.push_back(t.add_node((s.rail_optimized ? "pod" : "rack") + std::to_string(g) +
                                      (s.rail_optimized ? ".rail" + std::to_string(r) : std::string(".leaf")),
                                  NodeKind::kSwitch));
    }
  }
  std::vector<int> leaf_ports(leaves.size(), 0);
  for (int n = 0; n < s.nodes; ++n) {
    for (int g = 0; g < s.gpus_per_node; ++g) {
      const auto leaf = static_cast<std::uint32_t>((n / s.nodes_per_leaf) * leaves_per_group + (s.rail_optimized ? g : 0));
      duplex(nics[static_cast<std::size_t>(n * s.gpus_per_node + g)], leaves[leaf], s.nic, layout.nic_to_leaf, layout.leaf_to_nic);
      layout.leaf_of_rank.push_back(leaf);
      ++leaf_ports[leaf];
    }
  }
  if (leaves.size() > 1) {  // with one leaf, the leaf is the whole fabric
    const int spine_count = s.adaptive_routing ? 1 : s.spines;
    std::vector<NodeId> spines;
    for (int i = 0; i < spine_count; ++i) {
      spines.push_back(t.add_node(s.adaptive_routing ? "spines" : "spine" + std::to_string(i), NodeKind::kSwitch));
    }
    layout.spines = spine_count;
    for (std::size_t l = 0; l < leaves.size(); ++l) {
      const double downlink = leaf_ports[l] * s.nic.bandwidth;
      const LinkSpec uplink{downlink / s.oversubscription / spine_count, s.fabric.latency_seconds};
      for (NodeId spine : spines) duplex(leaves[l], spine, uplink, layout.leaf_to_spine, layout.spine_to_leaf);
    }
  }
  t.set_fat_tree_layout(std::move(layout));
  return t;
}

}  // namespace foresight
