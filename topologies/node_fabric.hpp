#pragma once
// The scale-up fabric of one node, timed analytically (alpha-beta per algorithm step).
// This is the foundation's stand-in: the flow-level network over Boost.Graph, with
// congestion, multi-node fabrics and real collective algorithms, replaces it behind
// the same collective_duration() call.
#include <string>
#include <vector>

#include "models/gpu_spec.hpp"
#include "models/op.hpp"
#include "sim/engine/time.hpp"
#include "topologies/topology.hpp"

namespace foresight {

class ObjectReader;

enum class FabricKind { kSwitch, kFullMesh, kPcie };
// How a training step times its collectives: on the flow-level network over the node's
// topology (congestion-aware), or with the analytic alpha-beta formulas below.
enum class NetworkModel { kAnalytic, kFlow };

struct NodeFabric {
  std::string preset;
  FabricKind kind = FabricKind::kSwitch;
  int gpus = 8;
  double bandwidth = 0;               // bytes/s per direction per GPU
  double step_latency_seconds = 0;    // per algorithm step (one hop and its synchronisation)
  double launch_latency_seconds = 0;  // fixed cost of a collective (kernel launch, handshakes)
  double efficiency = 1;              // fraction of `bandwidth` a bulk transfer sustains
  NetworkModel network = NetworkModel::kAnalytic;
  double hop_latency_seconds = 0.25e-6;  // flow network: per NVLink hop
  // Flow network: NCCL's launch and protocol costs with the algorithm and protocol tuned
  // per collective (nccl_costs.hpp), or the bare network with a fixed launch latency.
  bool nccl_costs = true;
  bool in_switch_reduction = false;  // the NVSwitch reduces in flight (NVLink SHARP)
  int nodes = 1;
  // Between nodes (flow network only): one NIC per GPU on a two-tier leaf-spine.
  double nic_bandwidth = 50e9;          // bytes/s per direction (400 Gb/s)
  double scale_out_latency_seconds = 1e-6;
  bool rail_optimized = true;
  int nodes_per_leaf = 32;
  int spines = 16;
  double oversubscription = 1.0;
  bool adaptive_routing = true;

  int total_gpus() const { return gpus * nodes; }
};

// The cluster as a topology graph for the flow network. One node: GPUs on a switch
// (NVSwitch, or the host for PCIe), or fully meshed with the per-GPU bandwidth split over
// its peers. Several nodes: NVSwitch nodes on the leaf-spine fabric of build_fat_tree.
Topology build_node_topology(const NodeFabric& fabric);
std::string_view network_model_name(NetworkModel model);

struct FabricPreset {
  std::string name;
  std::string description;
  FabricKind kind;
};
const std::vector<FabricPreset>& fabric_presets();

// Reads hardware.topology; the GPU supplies the default link bandwidth.
NodeFabric read_node_fabric(ObjectReader& hardware, const GpuSpec& gpu);

// Ring algorithms: all-reduce 2(n-1)/n S/B + 2(n-1)a; all-gather, reduce-scatter and
// all-to-all (n-1)/n S/B + (n-1)a; send/recv, broadcast and reduce as a pipelined chain
// S/B + (n-1)a; plus the launch latency. S follows nccl-tests: the
// full buffer (all-gather output, reduce-scatter input).
Time collective_duration(const NodeFabric& fabric, CollectiveKind kind, double bytes, int ranks);

}  // namespace foresight
