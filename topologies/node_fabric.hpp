#pragma once
// The scale-up fabric of one node, timed analytically (alpha-beta per algorithm step).
// This is the foundation's stand-in: the flow-level network over Boost.Graph, with
// congestion, multi-node fabrics and real collective algorithms, replaces it behind
// the same collective_duration() call.
#include <string>
#include <vector>

#include "models/gpu_spec.hpp"
#include "models/op.hpp"
#include "sim/time.hpp"

namespace foresight {

class ObjectReader;

enum class FabricKind { kSwitch, kFullMesh, kPcie };

struct NodeFabric {
  std::string preset;
  FabricKind kind = FabricKind::kSwitch;
  int gpus = 8;
  double bandwidth = 0;               // bytes/s per direction per GPU
  double step_latency_seconds = 0;    // per algorithm step (one hop and its synchronisation)
  double launch_latency_seconds = 0;  // fixed cost of a collective (kernel launch, handshakes)
  double efficiency = 1;              // fraction of `bandwidth` a bulk transfer sustains
};

struct FabricPreset {
  std::string name;
  std::string description;
  FabricKind kind;
};
const std::vector<FabricPreset>& fabric_presets();

// Reads hardware.topology; the GPU supplies the default link bandwidth.
NodeFabric read_node_fabric(ObjectReader& hardware, const GpuSpec& gpu);

// Ring algorithms: all-reduce 2(n-1)/n S/B + 2(n-1)a; all-gather, reduce-scatter and
// all-to-all (n-1)/n S/B + (n-1)a; plus the launch latency. S follows nccl-tests: the
// full buffer (all-gather output, reduce-scatter input).
Time collective_duration(const NodeFabric& fabric, CollectiveKind kind, double bytes, int ranks);

}  // namespace foresight
