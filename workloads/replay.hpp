#pragma once
// Replays an op graph recorded elsewhere (a framework's profiler, a hand-written what-if),
// in the JSON format of docs/replay.md: compute ops with a duration or a GEMM shape timed
// by the cost model, collectives over rank groups with a duration or timed on the
// flow-level network of a topology, and dependencies by name. Ops on one rank's stream
// run one at a time in the order listed, as on a CUDA stream; a collective holds the
// stream of every member and starts when all have reached it.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/cost_model.hpp"
#include "models/gpu_spec.hpp"
#include "sim/engine/busy_time.hpp"
#include "sim/engine/op_graph.hpp"
#include "topologies/routing.hpp"

namespace foresight {

struct ReplayOp {
  std::string name;
  std::string stream;
  std::vector<int> ranks;          // one rank for compute ops, the group for a collective
  Time duration = -1;              // given; -1: shaped (compute) or on the network (collective)
  Op shape;                        // a GEMM to time with the cost model, or a collective
  bool work = false;               // shape is FLOPs and bytes alone, timed by the roofline
  std::vector<std::size_t> after;  // indices of ops this one waits for, besides its streams
};

struct ReplayGraph {
  std::string file;
  int ranks = 1;
  GpuSpec gpu;
  std::string topology;  // preset or file; "" when every collective has a duration
  // The cost model that times shaped ops, as a scenario's "cost_model" object; null: roofline.
  nlohmann::json cost_model;
  std::vector<ReplayOp> ops;
};

// Throws InputError naming the file, the JSON path and what was expected, for every
// problem found: unknown keys, names used twice, unknown names in "after" (with
// suggestions), ranks out of range, ops with neither duration nor shape, collectives
// without a duration and no topology.
ReplayGraph read_replay_graph(const nlohmann::json& document, const std::string& file);

struct ReplayRankTime {
  Time busy = 0;     // any of its streams
  Time compute = 0;  // its "compute" stream
};

struct ReplayResult {
  Time makespan = 0;
  std::vector<ReplayRankTime> ranks;
  std::size_t ops = 0;
};

class Replay {
 public:
  // `cost_model` times shaped ops and must outlive the replay.
  Replay(ReplayGraph graph, const OpCostModel& cost_model);
  ~Replay();
  const OpGraph& graph() const { return graph_; }
  // Throws std::invalid_argument when the dependencies form a cycle (naming an op on it).
  ReplayResult run(const std::vector<ExecutionObserver*>& observers = {});
  std::string trace_args(OpId op) const;

 private:
  class CollectiveDriver;
  void build();

  ReplayGraph replay_;
  const OpCostModel& cost_model_;
  OpGraph graph_;
  std::vector<std::vector<ResourceId>> streams_of_rank_;
  std::vector<ResourceId> compute_of_rank_;
  std::vector<std::string> cost_source_;  // per op: "given", the cost model, or the network
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<Router> router_;
};

}  // namespace foresight
