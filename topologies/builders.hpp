#pragma once
// Topology builders for the shapes clusters come in. Bandwidths are bytes/s per
// direction, latencies seconds per hop.
#include <vector>

#include "topologies/topology.hpp"

namespace foresight {

struct LinkSpec {
  double bandwidth = 0;
  double latency_seconds = 0;
};

// GPUs each wired to one switch (NVSwitch in HGX/DGX, the NVLink switch tray of NVL72),
// which reduces in flight where `in_switch_reduction` (NVLink SHARP, from H100 on).
Topology build_switch_node(int gpus, LinkSpec gpu_link, bool in_switch_reduction);
// Every pair of GPUs joined by its own link (MI300X's xGMI mesh).
Topology build_full_mesh(int gpus, LinkSpec pair_link);
// GPU i joined to GPU i+1, and the last to the first.
Topology build_ring(int gpus, LinkSpec link);
// A 2D or 3D torus: dims {x, y} or {x, y, z}, wrap-around links in every dimension.
Topology build_torus(const std::vector<int>& dims, LinkSpec link);

// Nodes of GPUs on an NVSwitch, each GPU with its own NIC, NICs on a two-tier leaf-spine
// fabric. Rail-optimized: NIC r of every node in a pod goes to the pod's rail-r leaf, so
// same-rank GPUs of different nodes are one leaf apart. Plain: all NICs of a node go to
// the same top-of-rack leaf. Each leaf's uplink bandwidth to the spines is its downlink
// bandwidth divided by `oversubscription`.
struct FatTreeSpec {
  int nodes = 2;
  int gpus_per_node = 8;
  LinkSpec scale_up;             // GPU <-> node switch
  bool in_switch_reduction = true;  // the node switch supports NVLink SHARP
  LinkSpec nic;                  // GPU <-> its NIC, NIC <-> leaf
  LinkSpec fabric;               // leaf <-> spine latency; bandwidth derived
  int nodes_per_leaf = 16;       // rail-optimized: nodes per pod; plain: nodes per rack
  int spines = 8;
  double oversubscription = 1.0; // downlink : uplink bandwidth at each leaf
  bool rail_optimized = true;
  // InfiniBand adaptive routing sprays a flow over every spine, so a flow can use all of
  // its leaf's uplink: modeled as one aggregate spine. Without it, each flow is pinned by
  // ECMP to one spine link of 1/spines of the uplink.
  bool adaptive_routing = false;
};
Topology build_fat_tree(const FatTreeSpec& spec);

}  // namespace foresight
