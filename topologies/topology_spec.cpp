#include "topologies/topology_spec.hpp"

#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "models/gpu_spec.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/json_document.hpp"
#include "sim/input/object_reader.hpp"
#include "topologies/builders.hpp"

namespace foresight {
namespace {
// Hop latencies: an NVLink/xGMI hop through a switch, and an InfiniBand NIC or switch
// hop. Starting points from vendor figures (sub-microsecond switch traversal plus
// endpoint overhead); the collective validation tests compare the resulting curves
// with nccl-tests measurements.
// NVLink: 0.25 us per hop, so 0.5 us GPU to GPU through an NVSwitch; with 0.5 us per
// hop the fit of NCCL's protocol costs to nccl-tests tables
// (scripts/fit_nccl_protocols.py) wants a negative handshake for LL.
constexpr double kScaleUpHopSeconds = 0.25e-6;
constexpr double kScaleOutHopSeconds = 1.0e-6;
constexpr double kNdrNicBytesPerSecond = 50e9;  // 400 Gb/s per direction

LinkSpec scale_up_of(const char* gpu) { return {find_builtin_gpu(gpu)->scale_up_bandwidth, kScaleUpHopSeconds}; }

std::vector<int> parse_dims(const std::string& text, const std::string& argument) {
  std::vector<int> dims;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = text.find('x', begin);
    const std::string part = text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    try {
      std::size_t used = 0;
      const int value = std::stoi(part, &used);
      if (used != part.size() || value < 1 || value > 1 << 20) throw std::invalid_argument(part);
      dims.push_back(value);
    } catch (const std::exception&) {
      throw InputError("--topology " + argument, "", "expected positive whole numbers separated by 'x', got \"" + text + "\"");
    }
    if (end == std::string::npos) break;
    begin = end + 1;
  }
  return dims;
}

FatTreeSpec h100_cluster(int nodes) {
  FatTreeSpec s;
  s.nodes = nodes;
  s.gpus_per_node = 8;
  s.scale_up = scale_up_of("h100_sxm");
  s.nic = {kNdrNicBytesPerSecond, kScaleOutHopSeconds};
  s.fabric = {0, kScaleOutHopSeconds};
  s.nodes_per_leaf = 32;
  s.spines = 16;
  s.oversubscription = 1.0;
  s.rail_optimized = true;
  return s;
}
}  // namespace

const std::vector<TopologyPreset>& topology_presets() {
  static const std::vector<TopologyPreset> kPresets = {
      {"hgx_h100", "8x H100 SXM on NVSwitch, 450 GB/s per GPU per direction"},
      {"hgx_h200", "8x H200 SXM on NVSwitch, 450 GB/s per GPU per direction"},
      {"dgx_a100", "8x A100 SXM on NVSwitch, 300 GB/s per GPU per direction"},
      {"hgx_b200", "8x B200 on NVSwitch, 900 GB/s per GPU per direction"},
      {"nvl72", "72 B200-class GPUs on one NVLink switch domain, 900 GB/s per GPU per direction"},
      {"mi300x_node", "8x MI300X fully connected by xGMI, 64 GB/s per link per direction"},
      {"ring:N", "N GPUs in a bidirectional ring of 50 GB/s links"},
      {"torus:AxB or torus:AxBxC", "a 2D or 3D torus of 50 GB/s links"},
      {"fat_tree:NODES", "NODES x 8 H100 (NVSwitch) with one 400 Gb/s NIC per GPU on a rail-optimized leaf-spine, 32 nodes per pod, 1:1"},
      {"fat_tree_2to1:NODES", "as fat_tree, with leaf uplinks oversubscribed 2:1"},
      {"leaf_spine:NODES", "as fat_tree, but each node's NICs share one top-of-rack leaf (not rail-optimized)"},
  };
  return kPresets;
}

Topology topology_from_argument(const std::string& argument) {
  const auto colon = argument.find(':');
  const std::string name = argument.substr(0, colon);
  const std::string parameter = colon == std::string::npos ? "" : argument.substr(colon + 1);
  const auto count = [&](int max) {
    const std::vector<int> dims = parse_dims(parameter, argument);
    if (dims.size() != 1 || dims[0] > max) {
      throw InputError("--topology " + argument, "", "expected one whole number from 1 to " + std::to_string(max) + " after ':'");
    }
    return dims[0];
  };
  if (argument == "hgx_h100") return build_switch_node(8, scale_up_of("h100_sxm"), true);
  if (argument == "hgx_h200") return build_switch_node(8, scale_up_of("h200_sxm"), true);
  if (argument == "dgx_a100") return build_switch_node(8, scale_up_of("a100_sxm_80gb"), false);
  if (argument == "hgx_b200") return build_switch_node(8, scale_up_of("b200"), true);
  if (argument == "nvl72") return build_switch_node(72, scale_up_of("b200"), true);
  if (argument == "mi300x_node") return build_full_mesh(8, {64e9, kScaleUpHopSeconds});
  if (name == "ring" && colon != std::string::npos) return build_ring(count(1 << 20), {50e9, kScaleUpHopSeconds});
  if (name == "torus" && colon != std::string::npos) {
    const std::vector<int> dims = parse_dims(parameter, argument);
    if (dims.size() < 2 || dims.size() > 3) throw InputError("--topology " + argument, "", "a torus has 2 or 3 dimensions, e.g. torus:4x4 or torus:8x8x8");
    return build_torus(dims, {50e9, kScaleUpHopSeconds});
  }
  if ((name == "fat_tree" || name == "fat_tree_2to1" || name == "leaf_spine") && colon != std::string::npos) {
    FatTreeSpec spec = h100_cluster(count(1 << 16));
    if (name == "fat_tree_2to1") spec.oversubscription = 2.0;
    if (name == "leaf_spine") {
      spec.rail_optimized = false;
      spec.nodes_per_leaf = 4;
    }
    return build_fat_tree(spec);
  }
  std::error_code error;  // a name too long to be a path is a preset name (and unknown)
  if (std::filesystem::exists(argument, error)) return read_custom_topology(load_json_file(argument), argument);
  std::vector<std::string> names;
  std::string all;
  for (const TopologyPreset& p : topology_presets()) {
    names.push_back(p.name.substr(0, p.name.find(':')));
    all += (all.empty() ? "" : ", ") + p.name;
  }
  throw InputError("--topology " + argument, "",
                   "neither a preset" + did_you_mean(name, names) + " nor an existing topology file; presets: " + all);
}

Topology read_custom_topology(const nlohmann::json& document, const std::string& file) {
  Diagnostics diagnostics(file);
  Topology topology;
  std::map<std::string, NodeId> ids;
  std::vector<std::string> names;
  {
    ObjectReader root(document, "", diagnostics);
    const nlohmann::json* nodes = root.raw("nodes", "array", "Devices: GPUs (ranked in order), NICs, switches.");
    const nlohmann::json* links = root.raw("links", "array", "Directed or duplex links between named nodes.");
    if (nodes == nullptr || !nodes->is_array() || nodes->empty()) root.error("nodes", "expected a non-empty array of nodes");
    if (links == nullptr || !links->is_array()) root.error("links", "expected an array of links");
    for (std::size_t i = 0; nodes && nodes->is_array() && i < nodes->size(); ++i) {
      ObjectReader r((*nodes)[i], "nodes[" + std::to_string(i) + "]", diagnostics);
      const std::string name = r.required_string("name", {"Unique node name."});
      const std::string kind = r.string("kind", "switch", {"Node kind.", "", {}, {}, false, {"gpu", "nic", "switch"}});
      const bool reduces = r.boolean("in_switch_reduction", false,
                                     "A switch that reduces data in flight (NVLink SHARP), for the nvls all-reduce.");
      if (reduces && kind != "switch") r.error("in_switch_reduction", "only a switch can reduce in flight, not a " + kind);
      if (name.empty()) continue;
      if (ids.count(name)) {
        r.error("name", "duplicate node name \"" + name + "\"");
        continue;
      }
      ids[name] = kind == "gpu" ? topology.add_gpu(name) : topology.add_node(name, kind == "nic" ? NodeKind::kNic : NodeKind::kSwitch);
      if (reduces && kind == "switch") topology.enable_in_switch_reduction(ids[name]);
      names.push_back(name);
    }
    for (std::size_t i = 0; links && links->is_array() && i < links->size(); ++i) {
      ObjectReader r((*links)[i], "links[" + std::to_string(i) + "]", diagnostics);
      const std::string from = r.required_string("from", {"Source node name."});
      const std::string to = r.required_string("to", {"Destination node name."});
      const double bandwidth = r.required_number("bandwidth_gbps", {"Bandwidth per direction.", "GB/s", {}, {}, true});
      const double latency = r.number("latency_us", 0.5, {"Latency of the hop.", "us", 0.0});
      const bool duplex = r.boolean("duplex", true, "Add the reverse direction with the same figures.");
      bool known = true;
      for (const auto& [key, value] : {std::pair{"from", from}, std::pair{"to", to}}) {
        if (!value.empty() && !ids.count(value)) {
          r.error(key, "unknown node \"" + value + "\"" + did_you_mean(value, names));
          known = false;
        }
      }
      if (!known || from.empty() || to.empty() || !(bandwidth > 0)) continue;
      if (from == to) {
        r.error("to", "a link must join two different nodes");
        continue;
      }
      if (duplex) {
        topology.add_duplex(ids[from], ids[to], bandwidth * 1e9, latency * 1e-6);
      } else {
        topology.add_link(ids[from], ids[to], bandwidth * 1e9, latency * 1e-6);
      }
    }
  }
  if (diagnostics.empty()) {
    for (const std::string& problem : topology.problems()) diagnostics.error("links", problem);
  }
  diagnostics.throw_if_any();
  return topology;
}

}  // namespace foresight
