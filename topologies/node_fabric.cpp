#include "topologies/node_fabric.hpp"

#include <nlohmann/json.hpp>

#include "sim/input/object_reader.hpp"
#include "topologies/builders.hpp"

namespace foresight {

const std::vector<FabricPreset>& fabric_presets() {
  static const std::vector<FabricPreset> kPresets = {
      {"nvswitch_node", "GPUs on NVSwitch (HGX/DGX): one port per GPU at its NVLink bandwidth", FabricKind::kSwitch},
      {"xgmi_mesh_node", "GPUs fully connected by xGMI/Infinity Fabric links (MI300X platform)", FabricKind::kFullMesh},
      {"pcie_node", "GPUs talking over PCIe through the host (L40S servers)", FabricKind::kPcie},
  };
  return kPresets;
}

namespace {
// hardware.gpus: up to a node's worth sizes the one node; beyond, whole nodes of the
// topology's GPUs each.
void size_by_total(ObjectReader& hardware, ObjectReader& topology, std::int64_t total, NodeFabric& fabric) {
  if (total == 0 || hardware.is_documenting()) return;
  if (topology.has("nodes")) {
    hardware.error("gpus", "give either hardware.gpus or hardware.topology.nodes, not both");
  } else if (total <= fabric.gpus) {
    fabric.gpus = static_cast<int>(total);
  } else if (total % fabric.gpus != 0) {
    hardware.error("gpus", std::to_string(total) + " GPUs are not a whole number of nodes of " + std::to_string(fabric.gpus) +
                               " (hardware.topology.gpus)");
  } else {
    fabric.nodes = static_cast<int>(total / fabric.gpus);
  }
}
}  // namespace

NodeFabric read_node_fabric(ObjectReader& hardware, const GpuSpec& gpu) {
  const std::int64_t total = hardware.integer("gpus", 0, {"All the cluster's GPUs: a shortcut for topology.gpus (up to a node's worth) "
                                                          "or topology.nodes (whole nodes beyond); 0: as the topology says. "
                                                          "`foresight run --gpus N` sets it with training.parallel.dp = auto.", "", 0.0, 65536.0});
  auto r = hardware.object("topology", "The GPUs of each node, the fabric between them, and the fabric between nodes.");
  std::vector<std::string> names;
  for (const FabricPreset& preset : fabric_presets()) names.push_back(preset.name);
  NodeFabric fabric;
  fabric.preset = r.string("preset", "nvswitch_node", {"Fabric preset (`foresight list topologies`).", "", {}, {}, false, names});
  for (const FabricPreset& preset : fabric_presets()) {
    if (preset.name == fabric.preset) fabric.kind = preset.kind;
  }
  fabric.gpus = static_cast<int>(r.integer("gpus", 8, {"GPUs in the node.", "", 1.0, 72.0}));
  fabric.nodes = static_cast<int>(r.integer("nodes", 1, {"Nodes; more than one needs the flow network and NVSwitch nodes.", "", 1.0, 8192.0}));
  size_by_total(hardware, r, total, fabric);
  const double default_bandwidth = fabric.kind == FabricKind::kPcie ? gpu.pcie_bandwidth : gpu.scale_up_bandwidth;
  fabric.bandwidth = r.number("bandwidth_gbps", default_bandwidth / 1e9,
                              {"Per-direction bandwidth per GPU; defaults to the GPU's NVLink/xGMI (or PCIe) figure.", "GB/s", {}, {}, true}) * 1e9;
  // Analytic-model defaults, picked so that an 8-byte all-reduce on 8 H100 costs about
  // what nccl-tests measures (13.7 us, published-cases.md V3) and bulk transfers sustain
  // 90% of the link. That is one row, not a fit: the V3 validation test shows the rest of
  // the curve is within 35%. The flow network (the default) does not use these.
  fabric.step_latency_seconds = r.number("step_latency_us", 0.25, {"Analytic model: latency of one algorithm step.", "us", 0.0}) * 1e-6;
  fabric.launch_latency_seconds = r.number("collective_latency_us", 10.0, {"Analytic model: fixed cost of each collective.", "us", 0.0}) * 1e-6;
  fabric.efficiency = r.number("efficiency", 0.9, {"Analytic model: fraction of the bandwidth bulk transfers sustain.", "", {}, 1.0, true});
  const std::string network = r.string("network", "flow",
      {"How collectives are timed: the flow-level network (congestion-aware, docs/network.md) or the analytic alpha-beta formulas.",
       "", {}, {}, false, {"flow", "analytic"}});
  fabric.network = network == "analytic" ? NetworkModel::kAnalytic : NetworkModel::kFlow;
  fabric.hop_latency_seconds = r.number("hop_latency_us", 0.25, {"Flow network: latency of each NVLink hop.", "us", 0.0}) * 1e-6;
  const std::string costs = r.string("collective_costs", "nccl_h100",
      {"Flow network: NCCL's launch and protocol costs fitted on H100, algorithm (ring or NVLS) and protocol tuned per collective; "
       "or none: the bare network, ring algorithms, 5 us launch (docs/network.md).",
       "", {}, {}, false, {"nccl_h100", "none"}});
  fabric.nccl_costs = costs == "nccl_h100";
  // NVLink SHARP came with the third-generation NVSwitch of H100 systems, whose GPUs
  // have 450 GB/s of NVLink; earlier NVSwitch GPUs have at most 300.
  fabric.in_switch_reduction = r.boolean("in_switch_reduction", fabric.kind == FabricKind::kSwitch && gpu.scale_up_bandwidth >= 450e9,
      "NVSwitch nodes: the switch reduces in flight (NVLink SHARP), enabling the nvls all-reduce. Default: true for "
      "GPUs with 450 GB/s or more of NVLink (H100 and later).");
  {
    auto s = r.object("scale_out", "Between nodes: one NIC per GPU on a two-tier leaf-spine (used when nodes > 1).");
    fabric.nic_bandwidth = s.number("nic_gbps", 50, {"NIC bandwidth per direction (50 = 400 Gb/s).", "GB/s", {}, {}, true}) * 1e9;
    fabric.scale_out_latency_seconds = s.number("latency_us", 1.0, {"Latency of each NIC or switch hop.", "us", 0.0}) * 1e-6;
    fabric.rail_optimized = s.boolean("rail_optimized", true,
                                      "NIC r of every node in a pod on the pod's rail-r leaf; false: a node's NICs share one leaf.");
    fabric.nodes_per_leaf = static_cast<int>(s.integer("nodes_per_leaf", 32, {"Nodes per pod (rail-optimized) or per rack.", "", 1.0, 8192.0}));
    fabric.spines = static_cast<int>(s.integer("spines", 16, {"Spine switches.", "", 1.0, 4096.0}));
    fabric.oversubscription = s.number("oversubscription", 1.0, {"Leaf downlink : uplink bandwidth.", "", 1.0, 64.0});
    fabric.adaptive_routing = s.boolean("adaptive_routing", true,
                                        "Spread each flow over all spines (InfiniBand adaptive routing); false pins it to one by ECMP.");
  }
  if (!r.is_documenting() && fabric.nodes > 1) {
    if (fabric.network == NetworkModel::kAnalytic) r.error("network", "more than one node needs the flow network (\"flow\")");
    if (fabric.kind != FabricKind::kSwitch) r.error("preset", "more than one node needs NVSwitch nodes (\"nvswitch_node\")");
  }
  return fabric;
}

Topology build_node_topology(const NodeFabric& fabric) {
  const LinkSpec link{fabric.bandwidth, fabric.hop_latency_seconds};
  if (fabric.nodes > 1) {
    FatTreeSpec spec;
    spec.nodes = fabric.nodes;
    spec.gpus_per_node = fabric.gpus;
    spec.scale_up = link;
    spec.in_switch_reduction = fabric.in_switch_reduction;
    spec.nic = {fabric.nic_bandwidth, fabric.scale_out_latency_seconds};
    spec.fabric = {0, fabric.scale_out_latency_seconds};
    spec.nodes_per_leaf = fabric.nodes_per_leaf;
    spec.spines = fabric.spines;
    spec.oversubscription = fabric.oversubscription;
    spec.rail_optimized = fabric.rail_optimized;
    spec.adaptive_routing = fabric.adaptive_routing;
    return build_fat_tree(spec);
  }
  if (fabric.kind == FabricKind::kFullMesh && fabric.gpus > 1) {
    return build_full_mesh(fabric.gpus, {fabric.bandwidth / (fabric.gpus - 1), fabric.hop_latency_seconds});
  }
  return build_switch_node(fabric.gpus, link, fabric.kind == FabricKind::kSwitch && fabric.in_switch_reduction);
}

std::string_view network_model_name(NetworkModel model) {
  return model == NetworkModel::kFlow ? "flow-level network" : "alpha-beta";
}

Time collective_duration(const NodeFabric& fabric, CollectiveKind kind, double bytes, int ranks) {
  if (ranks <= 1 || kind == CollectiveKind::kNone) return 0;
  const double n = ranks;
  // Point to point and pipelined chains (send/recv, broadcast, reduce) move the whole
  // buffer over each link once, one step per hop; the rings move a share per step.
  const bool chain = kind == CollectiveKind::kSendRecv || kind == CollectiveKind::kBroadcast || kind == CollectiveKind::kReduce;
  const double steps = kind == CollectiveKind::kAllReduce ? 2 * (n - 1) : n - 1;
  const double wire_bytes = chain ? bytes : steps / n * bytes;
  const double seconds = fabric.launch_latency_seconds + steps * fabric.step_latency_seconds +
                         wire_bytes / (fabric.bandwidth * fabric.efficiency);
  return from_seconds(seconds);
}

}  // namespace foresight
