#include "workloads/replay.hpp"

#include <algorithm>
#include <set>
#include <cstdio>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "models/roofline_model.hpp"
#include "sim/engine/dag_executor.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/object_reader.hpp"
#include "topologies/collective_tuner.hpp"
#include "topologies/topology_spec.hpp"
#include "workloads/network_collectives.hpp"

namespace foresight {
namespace {
std::vector<std::string> collective_names() {
  std::vector<std::string> names;
  for (CollectiveKind kind : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter,
                              CollectiveKind::kAllToAll, CollectiveKind::kBroadcast, CollectiveKind::kReduce,
                              CollectiveKind::kSendRecv}) {
    names.emplace_back(collective_name(kind));
  }
  return names;
}

CollectiveKind collective_of(const std::string& name) {
  for (CollectiveKind kind : {CollectiveKind::kAllReduce, CollectiveKind::kAllGather, CollectiveKind::kReduceScatter,
                              CollectiveKind::kAllToAll, CollectiveKind::kBroadcast, CollectiveKind::kReduce,
                              CollectiveKind::kSendRecv}) {
    if (name == collective_name(kind)) return kind;
  }
  return CollectiveKind::kNone;
}

// Reads one op's fields; names in "after" are resolved once every op is known.
ReplayOp read_op(ObjectReader& r, const ReplayGraph& g, std::vector<std::string>& after_names) {
  ReplayOp op;
  op.name = r.required_string("name", {"Unique name; other ops refer to it in \"after\"."});
  const std::string collective = r.string("collective", "", {"A collective over \"group\".", "", {}, {}, false, collective_names()});
  const std::optional<double> duration = r.optional_number("duration_us", {"Measured duration.", "us", 0.0});
  if (duration) op.duration = from_seconds(*duration * 1e-6);
  if (const nlohmann::json* after = r.raw("after", "array of names", "Ops this one waits for, besides earlier ops on its streams.")) {
    if (!after->is_array()) {
      r.error("after", "expected an array of op names");
    } else {
      for (const auto& name : *after) {
        if (name.is_string()) {
          after_names.push_back(name.get<std::string>());
        } else {
          r.error("after", "expected op names (strings), got " + name.dump());
        }
      }
    }
  }
  if (!collective.empty()) {
    op.stream = r.string("stream", "comm", {"Stream the collective occupies on every member."});
    op.shape.kind = OpClass::kCollective;
    op.shape.collective = collective_of(collective);
    op.shape.collective_bytes = r.required_number("bytes", {"Buffer size, nccl-tests convention.", "B", 0.0});
    if (const nlohmann::json* group = r.raw("group", "array of ranks", "The member ranks, in ring order.")) {
      if (!group->is_array()) r.error("group", "expected an array of ranks");
      for (const auto& rank : group->is_array() ? *group : nlohmann::json::array()) {
        // Checked before narrowing: rank 4294967297 must not wrap to rank 1.
        const bool in_range = rank.is_number_integer() && rank.get<std::int64_t>() >= 0 && rank.get<std::int64_t>() < g.ranks;
        if (!in_range) {
          r.error("group", "rank " + rank.dump() + " is not an integer in 0.." + std::to_string(g.ranks - 1));
          continue;
        }
        const int member = static_cast<int>(rank.get<std::int64_t>());
        if (std::find(op.ranks.begin(), op.ranks.end(), member) != op.ranks.end()) {
          r.error("group", "rank " + std::to_string(member) + " is listed twice");
          continue;
        }
        op.ranks.push_back(member);
      }
    }
    if (op.ranks.size() < 2) r.error("group", "expected an array of at least two distinct ranks");
    if (op.shape.collective == CollectiveKind::kSendRecv && op.ranks.size() > 2) {
      r.error("group", "send_recv moves a buffer from one rank to another: give exactly two ranks, sender first");
    }
    if (!duration && g.topology.empty()) {
      r.error("duration_us", "a collective needs a duration, or a \"topology\" at the top level to time it on");
    }
  } else {
    op.ranks.push_back(static_cast<int>(r.required_integer("rank", {"The rank (GPU) that runs the op.", "", 0.0, 1048575.0})));
    op.stream = r.string("stream", "compute", {"Stream on the rank; ops on one stream run in the order listed."});
    if (r.has("gemm")) {
      auto gemm = r.object("gemm", "A GEMM timed by the cost model.");
      GemmShape shape;
      // Bounds keep tile and wave counts (products of two dimensions) inside int64.
      shape.m = gemm.required_integer("m", {"Rows of A and C.", "", 1.0, 1e8});
      shape.n = gemm.required_integer("n", {"Columns of B and C.", "", 1.0, 1e8});
      shape.k = gemm.required_integer("k", {"Inner dimension.", "", 1.0, 1e8});
      shape.batch = gemm.integer("batch", 1, {"Batched GEMMs.", "", 1.0, 1e6});
      const std::string dtype = r.string("dtype", "bf16", {"Element type.", "", {}, {}, false, dtype_names()});
      op.shape = gemm_op(op.name, shape, parse_dtype(dtype).value_or(Dtype::kBf16), Phase::kForward);
      if (duration) r.error("gemm", "give a duration or a shape, not both");
      if (r.has("work")) r.error("work", "give a \"gemm\" shape or \"work\", not both");
    } else if (r.has("work")) {
      auto work = r.object("work", "A kernel known by its FLOPs and memory traffic alone (Chakra's num_ops and tensor_size), "
                                   "timed by the roofline whatever the cost model: its FLOPs at the tensor peak of \"dtype\".");
      op.work = true;
      op.shape.name = op.name;
      op.shape.kind = OpClass::kGemm;
      op.shape.flops = work.required_number("flops", {"Floating-point operations.", "", 0.0, 1e21});
      op.shape.bytes = work.number("bytes", 0.0, {"Device-memory traffic.", "B", 0.0, 1e18});
      const std::string dtype = r.string("dtype", "bf16", {"Element type.", "", {}, {}, false, dtype_names()});
      op.shape.dtype = parse_dtype(dtype).value_or(Dtype::kBf16);
      if (duration) r.error("work", "give a duration or \"work\", not both");
    } else if (!duration) {
      r.error("duration_us", "a compute op needs a duration, a \"gemm\" shape or \"work\"");
    }
  }
  if (collective.empty() && (op.ranks.front() < 0 || op.ranks.front() >= g.ranks)) {
    r.error("rank", "rank " + std::to_string(op.ranks.front()) + " is outside 0.." + std::to_string(g.ranks - 1));
  }
  return op;
}
}  // namespace

ReplayGraph read_replay_graph(const nlohmann::json& document, const std::string& file) {
  Diagnostics diagnostics(file);
  ReplayGraph g;
  g.file = file;
  {
    ObjectReader root(document, "", diagnostics);
    g.ranks = static_cast<int>(root.required_integer("ranks", {"Ranks (GPUs) in the graph.", "", 1.0, 1048576.0}));
    g.topology = root.string("topology", "", {"Preset or topology file whose first GPUs are the ranks; times collectives without a duration."});
    GpuSpec default_gpu = *find_builtin_gpu("h100_sxm");
    g.gpu = root.has("gpu") ? read_gpu(root, "gpu") : default_gpu;
    if (const nlohmann::json* model = root.raw("cost_model", "object", "The cost model that times shaped ops, as a scenario's cost_model "
                                                                        "(default: roofline); replay --cost-model sets its name.")) {
      if (model->is_object()) {
        g.cost_model = *model;
      } else {
        root.error("cost_model", "expected an object like {\"name\": \"learned\"}");
      }
    }
    const nlohmann::json* ops = root.raw("ops", "array", "The ops, in program order per stream.");
    if (ops == nullptr || !ops->is_array() || ops->empty()) root.error("ops", "expected a non-empty array of ops");
    std::vector<std::vector<std::string>> after_names;
    std::map<std::string, std::size_t> index;
    std::vector<std::string> names;
    for (std::size_t i = 0; ops && ops->is_array() && i < ops->size(); ++i) {
      ObjectReader r((*ops)[i], "ops[" + std::to_string(i) + "]", diagnostics);
      after_names.emplace_back();
      ReplayOp op = read_op(r, g, after_names.back());
      if (!op.name.empty() && !index.emplace(op.name, i).second) r.error("name", "duplicate op name \"" + op.name + "\"");
      names.push_back(op.name);
      g.ops.push_back(std::move(op));
    }
    for (std::size_t i = 0; i < after_names.size(); ++i) {
      for (const std::string& name : after_names[i]) {
        const auto it = index.find(name);
        if (it == index.end()) {
          diagnostics.error("ops[" + std::to_string(i) + "].after", "unknown op \"" + name + "\"" + did_you_mean(name, names));
        } else {
          g.ops[i].after.push_back(it->second);
        }
      }
    }
  }
  if (diagnostics.empty() && !g.topology.empty()) {
    try {
      const Topology topology = topology_from_argument(g.topology);
      if (topology.gpu_count() < static_cast<std::size_t>(g.ranks)) {
        diagnostics.error("topology", g.topology + " has " + std::to_string(topology.gpu_count()) + " GPUs, fewer than the " +
                                          std::to_string(g.ranks) + " ranks");
      }
    } catch (const InputError& e) {
      for (const Problem& p : e.problems()) diagnostics.error("topology", p.message);
    }
  }
  diagnostics.throw_if_any();
  return g;
}

namespace {
// A group spread evenly over several nodes of a fat tree, each node's members one after
// another in the group: its members per node, which lets it run hierarchically (inside
// each node, then across nodes on each rail, as NCCL's rings do). 0 for any other group.
int ranks_per_node(const Topology& topology, const std::vector<int>& group) {
  const FatTreeLayout* layout = topology.fat_tree_layout();
  if (layout == nullptr || layout->gpus_per_node <= 0 || group.empty()) return 0;
  const int node_size = layout->gpus_per_node;
  std::size_t per_node = 1;
  while (per_node < group.size() && group[per_node] / node_size == group[0] / node_size) ++per_node;
  if (per_node == group.size() || group.size() % per_node != 0) return 0;
  std::set<int> nodes;
  for (std::size_t start = 0; start < group.size(); start += per_node) {
    const int node = group[start] / node_size;
    if (!nodes.insert(node).second) return 0;  // one block per node
    for (std::size_t i = start; i < start + per_node; ++i) {
      if (group[i] / node_size != node) return 0;
    }
  }
  return static_cast<int>(per_node);
}
}  // namespace

// Times each networked collective on the flow network when the executor starts it, with
// NCCL's algorithm and protocol for the op (one tuner per kind remembers its choices).
class Replay::CollectiveDriver : public ExternalOpRunner {
 public:
  CollectiveDriver(const Replay& replay, FlowNetwork& network, DagExecutor& executor)
      : replay_(replay), collectives_(network, executor), costs_(nccl_h100_costs_for(*replay.topology_)) {}

  void start_external(OpId op) override {
    const ReplayOp& r = replay_.replay_.ops[op];  // one graph op per replay op, in order
    CollectiveRequest request{r.shape.collective, CollectiveAlgorithm::kRing, r.shape.collective_bytes, {}, op};
    for (int rank : r.ranks) request.ranks.push_back(replay_.topology_->gpu(static_cast<std::size_t>(rank)));
    request.ranks_per_node = ranks_per_node(*replay_.topology_, r.ranks);
    auto [tuner, fresh] = tuners_.try_emplace(request.kind, *replay_.topology_, *replay_.router_, costs_, nccl_algorithms(request.kind));
    tuner->second.tune(request);
    collectives_.start(op, request);
  }

 private:
  const Replay& replay_;
  NetworkCollectives collectives_;
  NcclCosts costs_;
  std::map<CollectiveKind, CollectiveTuner> tuners_;
};

Replay::Replay(ReplayGraph graph, const OpCostModel& cost_model) : replay_(std::move(graph)), cost_model_(cost_model) {
  if (!replay_.topology.empty()) {
    topology_ = std::make_unique<Topology>(topology_from_argument(replay_.topology));
    router_ = make_router(*topology_);
  }
  build();
}

Replay::~Replay() = default;

void Replay::build() {
  std::map<std::pair<int, std::string>, ResourceId> streams;
  std::map<std::pair<int, std::string>, OpId> last;
  const auto stream_of = [&](int rank, const std::string& name) {
    auto [it, fresh] = streams.emplace(std::pair{rank, name}, ResourceId{});
    if (fresh) it->second = graph_.add_resource({"GPU " + std::to_string(rank), name, 1});
    return it->second;
  };
  std::vector<OpId> op_of(replay_.ops.size());
  for (std::size_t i = 0; i < replay_.ops.size(); ++i) {
    const ReplayOp& r = replay_.ops[i];
    std::vector<ResourceId> resources;
    for (int rank : r.ranks) resources.push_back(stream_of(rank, r.stream));
    const LabelId name = graph_.label(r.name);
    const bool collective = r.shape.kind == OpClass::kCollective;
    const LabelId category = graph_.label(collective ? "collective" : r.duration >= 0 ? "given" : op_class_name(r.shape.kind));
    OpId id;
    if (r.duration >= 0) {
      id = graph_.add_op(r.duration, resources, name, category);
      cost_source_.push_back("given");
    } else if (collective) {
      id = graph_.add_external_op(resources, name, category);
      cost_source_.push_back("flow-level network, NCCL's costs");
    } else {
      // Fitted models read a GEMM's shape, which FLOPs-and-bytes work does not have.
      static const RooflineModel kRoofline{RooflineParameters{}};
      const CostEstimate cost = (r.work ? static_cast<const OpCostModel&>(kRoofline) : cost_model_).estimate(r.shape, replay_.gpu);
      id = graph_.add_op(cost.duration, resources, name, category);
      cost_source_.push_back(std::string(cost.model));
    }
    op_of[i] = id;
    for (int rank : r.ranks) {
      const auto key = std::pair{rank, r.stream};
      if (auto it = last.find(key); it != last.end()) graph_.add_dependency(it->second, id);
      last[key] = id;
    }
  }
  for (std::size_t i = 0; i < replay_.ops.size(); ++i) {
    for (std::size_t before : replay_.ops[i].after) graph_.add_dependency(op_of[before], op_of[i]);
  }
  streams_of_rank_.assign(static_cast<std::size_t>(replay_.ranks), {});
  compute_of_rank_.assign(static_cast<std::size_t>(replay_.ranks), ~ResourceId{0});
  for (const auto& [key, resource] : streams) {
    streams_of_rank_[static_cast<std::size_t>(key.first)].push_back(resource);
    if (key.second == "compute") compute_of_rank_[static_cast<std::size_t>(key.first)] = resource;
  }
}

ReplayResult Replay::run(const std::vector<ExecutionObserver*>& observers) {
  Engine engine;
  DagExecutor executor(engine, graph_);
  std::unique_ptr<FlowNetwork> network;
  std::unique_ptr<CollectiveDriver> driver;
  if (topology_) {
    network = std::make_unique<FlowNetwork>(engine, *topology_, *router_);
    driver = std::make_unique<CollectiveDriver>(*this, *network, executor);
    executor.set_external_runner(*driver);
  }
  BusyTimeRecorder busy(graph_.resource_count());
  executor.add_observer(busy);
  for (ExecutionObserver* observer : observers) executor.add_observer(*observer);
  executor.start();
  engine.run();
  if (!executor.all_finished()) {
    for (OpId op = 0; op < graph_.op_count(); ++op) {
      if (executor.start_time(op) < 0) {
        throw std::invalid_argument(replay_.file + ": op \"" + replay_.ops[op].name +
                                    "\" never ran: its \"after\" dependencies and stream order form a cycle");
      }
    }
  }
  ReplayResult result;
  result.makespan = executor.last_end();
  result.ops = graph_.op_count();
  for (std::size_t r = 0; r < streams_of_rank_.size(); ++r) {
    ReplayRankTime t;
    t.busy = busy.busy_union(streams_of_rank_[r]);
    if (compute_of_rank_[r] != ~ResourceId{0}) t.compute = busy.busy_union({compute_of_rank_[r]});
    result.ranks.push_back(t);
  }
  return result;
}

std::string Replay::trace_args(OpId op) const {
  const ReplayOp& r = replay_.ops[op];
  const auto whole = [](double value) {
    char text[48];
    std::snprintf(text, sizeof text, "%.0f", value);
    return std::string(text);
  };
  // Names come from the input: escaped as JSON, at any length.
  const std::string timed_by = nlohmann::json(cost_source_[op]).dump();
  if (r.shape.kind == OpClass::kCollective) {
    return "{\"collective\":\"" + std::string(collective_name(r.shape.collective)) + "\",\"bytes\":" + whole(r.shape.collective_bytes) +
           ",\"ranks\":" + std::to_string(r.ranks.size()) + ",\"timed_by\":" + timed_by + "}";
  }
  return "{\"flops\":" + whole(r.shape.flops) + ",\"bytes\":" + whole(r.shape.bytes) + ",\"timed_by\":" + timed_by + "}";
}

}  // namespace foresight
