#pragma once
// Where users name a topology: a preset ("hgx_h100", "ring:16", "torus:4x4x4",
// "fat_tree:32") or a JSON file describing nodes and links. Bad input throws InputError
// naming the argument or the file, the JSON path and what was expected.
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "topologies/topology.hpp"

namespace foresight {

struct TopologyPreset {
  std::string name;         // "ring:N" for parameterised presets
  std::string description;
};
const std::vector<TopologyPreset>& topology_presets();

// A preset name, or the path of a JSON topology file.
Topology topology_from_argument(const std::string& argument);

// {"nodes": [{"name", "kind"}], "links": [{"from", "to", "bandwidth_gbps", "latency_us", "duplex"}]}
// GPUs are ranked in the order they are listed.
Topology read_custom_topology(const nlohmann::json& document, const std::string& file);

}  // namespace foresight
