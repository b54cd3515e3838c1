#include "workloads/training_step.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "models/flop_formulas.hpp"
#include "sim/dag_executor.hpp"
#include "topologies/collective_tuner.hpp"
#include "workloads/network_collectives.hpp"

namespace foresight {
namespace {
// FP8 training (Transformer Engine style) casts both GEMM operands to fp8 and writes a
// bf16 result; everything outside GEMMs stays in bf16.
void use_fp8_operands(Op& op) {
  const GemmShape& g = op.gemm;
  const double m = static_cast<double>(g.m), n = static_cast<double>(g.n), k = static_cast<double>(g.k);
  op.dtype = Dtype::kFp8;
  op.bytes = (m * k + k * n + 2 * m * n) * static_cast<double>(g.batch);
}

ShapeConfig shape_of(const TrainingConfig& c) {
  ShapeConfig s;
  s.micro_batch = c.micro_batch;
  s.sequence = c.sequence;
  s.dtype = c.dtype == Dtype::kFp8 ? Dtype::kBf16 : c.dtype;
  s.tp = c.tp;
  s.sequence_parallel = c.sequence_parallel && c.tp > 1;
  return s;
}

}  // namespace

TrainingStep::TrainingStep(const ModelArch& model, const GpuSpec& gpu, const NodeFabric& fabric,
                           const TrainingConfig& config, const OpCostModel& cost_model)
    : model_(model), gpu_(gpu), fabric_(fabric), config_(config), cost_model_(cost_model),
      ops_(build_model_ops(model, shape_of(config))) {
  if (fabric.network == NetworkModel::kFlow) {
    topology_ = std::make_unique<Topology>(build_node_topology(fabric));
    router_ = make_router(*topology_);
  }
  build();
}

// Runs each collective op of the graph on the flow network when the executor starts it,
// and completes the op when the last rank has its data.
class TrainingStep::CollectiveDriver : public ExternalOpRunner {
 public:
  CollectiveDriver(const TrainingStep& step, FlowNetwork& network, DagExecutor& executor)
      : step_(step), collectives_(network, executor),
        costs_(step.fabric_.nccl_costs ? nccl_h100_costs(step.fabric_.bandwidth) : bare_network_costs()),
        single_node_(*step.topology_, *step.router_, costs_, {CollectiveAlgorithm::kRing, CollectiveAlgorithm::kNvls}) {
    if (!step.fabric_.nccl_costs) costs_.launch = kNcclLaunchLatency;
  }

  void start_external(OpId op) override {
    const Op& collective = step_.templates_[step_.template_of_op_[op]].op;
    CollectiveRequest request;
    request.kind = collective.collective;
    request.algorithm = CollectiveAlgorithm::kRing;
    // A DP group that spans nodes holds gpus_per_node / tp consecutive members per node:
    // reduce inside each node first, then across nodes on each rail, as NCCL does.
    const int per_node = step_.fabric_.gpus / static_cast<int>(step_.config_.tp);
    const auto group = step_.group_of(op);
    const bool across_nodes = collective.group == CommGroup::kData && step_.fabric_.nodes > 1 && static_cast<int>(group.size()) > per_node;
    if (across_nodes) {
      request.algorithm = CollectiveAlgorithm::kHierarchical;
      request.ranks_per_node = per_node;
    }
    request.bytes = collective.collective_bytes;
    request.flow_salt = op;
    for (int rank : group) request.ranks.push_back(step_.topology_->gpu(static_cast<std::size_t>(rank)));
    if (!step_.fabric_.nccl_costs) {
      apply_costs(costs_, Protocol::kSimple, request);
    } else if (across_nodes) {
      // NCCL's NVLS-tree and protocol choice across nodes are not modeled: the
      // hierarchical ring runs with Simple's costs, NCCL's choice for bulk transfers.
      apply_costs(costs_, Protocol::kSimple, request);
    } else {
      single_node_.tune(request);
    }
    collectives_.start(op, request);
  }

 private:
  const TrainingStep& step_;
  NetworkCollectives collectives_;
  NcclCosts costs_;
  CollectiveTuner single_node_;  // ring or NVLS, and the protocol, per distinct collective
};

// Keeps a sample whenever the load on a GPU's outgoing port changes.
class TrainingStep::LinkLoadRecorder : public LinkLoadObserver {
 public:
  LinkLoadRecorder(const Topology& topology, std::vector<LinkLoadSample>& samples) : samples_(samples) {
    const Topology::Graph& graph = topology.graph();
    for (std::size_t rank = 0; rank < topology.gpu_count(); ++rank) {
      for (auto [edge, end] = boost::out_edges(topology.gpu(rank), graph); edge != end; ++edge) {
        const LinkId l = graph[*edge].link;
        links_.push_back(l);
        ranks_.push_back(static_cast<int>(rank));
        ports_.push_back("to " + topology.node(topology.link(l).to).name);
      }
    }
    last_.assign(links_.size(), 0.0);
  }
  std::vector<LinkId> links() const { return links_; }

  void on_link_loads(Time now, std::span<const LinkId>, std::span<const double> load) override {
    for (std::size_t i = 0; i < load.size(); ++i) {
      const double gbps = load[i] / 1e9;
      if (std::fabs(gbps - last_[i]) < 1e-9) continue;
      last_[i] = gbps;
      samples_.push_back({now, ranks_[i], ports_[i], gbps});
    }
  }

 private:
  std::vector<LinkLoadSample>& samples_;
  std::vector<LinkId> links_;
  std::vector<int> ranks_;
  std::vector<std::string> ports_;
  std::vector<double> last_;
};

std::vector<int> TrainingStep::group_of(OpId op) const {
  const int first = rank_of_op_[op];
  const bool tensor = templates_[template_of_op_[op]].op.group == CommGroup::kTensor;
  const auto size = tensor ? config_.tp : config_.dp;
  const auto stride = tensor ? 1 : config_.tp;
  std::vector<int> group;
  for (std::int64_t i = 0; i < size; ++i) group.push_back(first + static_cast<int>(i * stride));
  return group;
}

std::uint32_t TrainingStep::add_template(Op op, CostEstimate cost) {
  templates_.push_back({std::move(op), cost});
  return static_cast<std::uint32_t>(templates_.size() - 1);
}

TrainingStep::Sequence TrainingStep::add_templates(const std::vector<Op>& ops) {
  Sequence sequence;
  for (Op op : ops) {
    if (config_.dtype == Dtype::kFp8 && op.kind == OpClass::kGemm) use_fp8_operands(op);
    CostEstimate cost;
    if (op.kind == OpClass::kCollective) {
      cost = {collective_duration(fabric_, op.collective, op.collective_bytes, static_cast<int>(config_.tp)),
              Bound::kMemory, network_model_name(fabric_.network)};
    } else {
      cost = cost_model_.estimate(op, gpu_);
    }
    sequence.push_back(add_template(std::move(op), cost));
  }
  return sequence;
}

// Ranks are numbered TP-fastest (rank = d * tp + t), as Megatron lays them out, so each
// TP group is contiguous and each DP group strides by tp.
std::vector<std::vector<int>> TrainingStep::groups(CommGroup kind) const {
  const std::int64_t count = kind == CommGroup::kTensor ? config_.dp : config_.tp;
  const std::int64_t size = kind == CommGroup::kTensor ? config_.tp : config_.dp;
  std::vector<std::vector<int>> groups;
  for (std::int64_t g = 0; g < count; ++g) {
    std::vector<int> group;
    for (std::int64_t i = 0; i < size; ++i) {
      group.push_back(static_cast<int>(kind == CommGroup::kTensor ? g * config_.tp + i : i * config_.tp + g));
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

void TrainingStep::after(OpId previous, OpId op) {
  if (previous != kNoOp) graph_.add_dependency(previous, op);
}

OpId TrainingStep::add(std::uint32_t template_index, int rank, std::vector<ResourceId> resources) {
  const Template& t = templates_[template_index];
  const LabelId name = graph_.label(t.op.name);
  const LabelId category = graph_.label(op_class_name(t.op.kind));
  const bool on_network = topology_ != nullptr && t.op.kind == OpClass::kCollective;
  const OpId id = on_network ? graph_.add_external_op(resources, name, category)
                             : graph_.add_op(t.cost.duration, resources, name, category);
  template_of_op_.push_back(template_index);
  rank_of_op_.push_back(rank);
  return id;
}

void TrainingStep::emit(const Sequence& sequence, const std::vector<int>& group) {
  for (std::uint32_t index : sequence) {
    const Op& op = templates_[index].op;
    if (op.kind == OpClass::kCollective) {
      std::vector<ResourceId> resources;
      for (int r : group) {
        resources.push_back(ranks_[r].tp_comm);
        resources.push_back(ranks_[r].link);
      }
      const OpId id = add(index, group.front(), resources);
      for (int r : group) {
        after(last_[r], id);
        last_[r] = id;
      }
      continue;
    }
    for (int r : group) {
      const OpId id = add(index, r, {ranks_[r].compute});
      after(last_[r], id);
      last_[r] = id;
    }
  }
}

void TrainingStep::emit_dp_collective(CollectiveKind kind, double bytes, const std::string& name) {
  if (config_.dp == 1) return;
  Op op;
  op.name = name;
  op.kind = OpClass::kCollective;
  op.phase = Phase::kBackwardWeight;
  op.dtype = config_.grad_dtype;
  op.collective = kind;
  op.group = CommGroup::kData;
  op.collective_bytes = bytes;
  const CostEstimate cost{collective_duration(fabric_, kind, bytes, static_cast<int>(config_.dp)),
                          Bound::kMemory, network_model_name(fabric_.network)};
  const std::uint32_t index = add_template(op, cost);
  for (const std::vector<int>& group : groups(CommGroup::kData)) {
    std::vector<ResourceId> resources;
    for (int r : group) {
      resources.push_back(ranks_[r].dp_comm);
      resources.push_back(ranks_[r].link);
    }
    const OpId id = add(index, group.front(), resources);
    for (int r : group) {
      after(last_[r], id);
      after(last_dp_[r], id);
      last_dp_[r] = id;
    }
  }
}

void TrainingStep::emit_optimizer_and_gather() {
  const double local_params = count_parameters(model_).total / static_cast<double>(config_.tp);
  const bool sharded = config_.zero_stage >= 1 && config_.dp > 1;
  const double updated = sharded ? local_params / static_cast<double>(config_.dp) : local_params;
  Op adam = optimizer_op(updated, config_.grad_dtype);
  const std::uint32_t index = add_template(adam, cost_model_.estimate(adam, gpu_));
  for (std::size_t r = 0; r < ranks_.size(); ++r) {
    const OpId id = add(index, static_cast<int>(r), {ranks_[r].compute});
    after(last_[r], id);
    after(last_dp_[r], id);
    last_[r] = id;
  }
  // ZeRO: each rank updated its shard; the group gathers the new low-precision weights.
  if (sharded) emit_dp_collective(CollectiveKind::kAllGather, local_params * 2, "dp.param_all_gather");
}

void TrainingStep::build() {
  const int gpus = static_cast<int>(config_.gpus());
  // With the analytic model the link is the only thing that makes TP and DP traffic on
  // a GPU share its port, so collectives take turns on it. The flow network shares the
  // port itself (max-min), so there the link is a trace track only and never makes a
  // collective wait.
  const std::uint32_t link_concurrency = topology_ ? 1u << 20 : 1u;
  for (int r = 0; r < gpus; ++r) {
    const std::string device = "GPU " + std::to_string(r);
    ranks_.push_back({graph_.add_resource({device, "compute", 1}),
                      graph_.add_resource({device, "tp comm", 1}),
                      graph_.add_resource({device, "dp comm", 1}),
                      graph_.add_resource({device, "link", link_concurrency})});
  }
  last_.assign(gpus, kNoOp);
  last_dp_.assign(gpus, kNoOp);

  const Sequence embedding_fwd = add_templates(ops_.embedding_forward);
  const Sequence embedding_bwd = add_templates(ops_.embedding_backward);
  const Sequence encoder_fwd = add_templates(ops_.encoder_layer_forward);
  const Sequence encoder_bwd = add_templates(ops_.encoder_layer_backward);
  const Sequence layer_fwd = add_templates(ops_.layer_forward);
  const Sequence layer_bwd = add_templates(ops_.layer_backward);
  const Sequence head_fwd = add_templates(ops_.head_forward);
  const Sequence head_bwd = add_templates(ops_.head_backward);

  const ParameterCount params = count_parameters(model_);
  const double tp = static_cast<double>(config_.tp);
  const double grad_bytes = dtype_bytes(config_.grad_dtype);
  const bool sharded_grads = config_.zero_stage >= 1;
  const CollectiveKind reduce = sharded_grads ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce;
  double bucket = 0;
  int bucket_index = 0;
  const auto add_gradients = [&](double parameters, bool last_micro_batch) {
    if (!last_micro_batch) return;
    bucket += parameters / tp * grad_bytes;
    if (config_.overlap_grad_reduce && bucket >= config_.grad_bucket_bytes) {
      emit_dp_collective(reduce, bucket, "dp.grad_bucket_" + std::to_string(bucket_index++));
      bucket = 0;
    }
  };

  const std::int64_t micro_batches = config_.micro_batches();
  const bool recompute = config_.recompute == Recompute::kFull;
  for (std::int64_t mb = 0; mb < micro_batches; ++mb) {
    const bool last = mb + 1 == micro_batches;
    for (const std::vector<int>& group : groups(CommGroup::kTensor)) {
      emit(embedding_fwd, group);
      for (std::int64_t l = 0; l < model_.encoder_layers; ++l) emit(encoder_fwd, group);
      for (std::int64_t l = 0; l < model_.layers; ++l) emit(layer_fwd, group);
      emit(head_fwd, group);
    }
    for (const std::vector<int>& group : groups(CommGroup::kTensor)) emit(head_bwd, group);
    add_gradients(params.lm_head + params.final_norms, last);
    for (std::int64_t l = 0; l < model_.layers; ++l) {
      for (const std::vector<int>& group : groups(CommGroup::kTensor)) {
        if (recompute) emit(layer_fwd, group);
        emit(layer_bwd, group);
      }
      add_gradients(params.per_layer, last);
    }
    for (std::int64_t l = 0; l < model_.encoder_layers; ++l) {
      for (const std::vector<int>& group : groups(CommGroup::kTensor)) {
        if (recompute) emit(encoder_fwd, group);
        emit(encoder_bwd, group);
      }
      add_gradients(params.per_encoder_layer, last);
    }
    for (const std::vector<int>& group : groups(CommGroup::kTensor)) emit(embedding_bwd, group);
    add_gradients(params.embedding, last);
  }
  if (bucket > 0) emit_dp_collective(reduce, bucket, "dp.grad_bucket_" + std::to_string(bucket_index));
  emit_optimizer_and_gather();
}

TrainingResult TrainingStep::run(const std::vector<ExecutionObserver*>& observers) {
  Engine engine;
  DagExecutor executor(engine, graph_);
  std::unique_ptr<FlowNetwork> network;
  std::unique_ptr<CollectiveDriver> driver;
  std::unique_ptr<LinkLoadRecorder> recorder;
  link_loads_.clear();
  if (topology_) {
    network = std::make_unique<FlowNetwork>(engine, *topology_, *router_);
    driver = std::make_unique<CollectiveDriver>(*this, *network, executor);
    executor.set_external_runner(*driver);
    if (record_link_loads_) {
      recorder = std::make_unique<LinkLoadRecorder>(*topology_, link_loads_);
      network->watch_links(recorder->links(), *recorder);
    }
  }
  BusyTimeRecorder busy(graph_.resource_count());
  executor.add_observer(busy);
  for (ExecutionObserver* observer : observers) executor.add_observer(*observer);
  executor.start();
  engine.run();
  if (!executor.all_finished()) {
    throw std::logic_error("training step stalled: " + std::to_string(graph_.op_count() - executor.finished_ops()) +
                           " ops never ran (a dependency cycle in the generated graph)");
  }

  TrainingResult result;
  result.step_time = engine.now();
  result.ops = graph_.op_count();
  result.events = engine.events_processed();
  const double seconds = to_seconds(result.step_time);
  const double gpus = static_cast<double>(config_.gpus());
  result.tokens_per_step = static_cast<double>(config_.global_batch * config_.sequence);
  result.tokens_per_second = result.tokens_per_step / seconds;
  result.tokens_per_second_per_gpu = result.tokens_per_second / gpus;
  result.model_flops_per_token = training_flops_per_token(model_, static_cast<double>(config_.sequence));
  result.model_tflops_per_gpu = result.model_flops_per_token * result.tokens_per_second_per_gpu / 1e12;
  const Dtype gemm_dtype = config_.dtype;
  result.mfu = result.model_tflops_per_gpu * 1e12 / gpu_.peak(gemm_dtype);

  const RankResources& r0 = ranks_.front();
  result.compute_busy = busy.busy_union({r0.compute});
  const Time with_tp = busy.busy_union({r0.compute, r0.tp_comm});
  const Time with_all = busy.busy_union({r0.compute, r0.tp_comm, r0.dp_comm});
  result.exposed_tp = with_tp - result.compute_busy;
  result.exposed_dp = with_all - with_tp;
  result.idle = result.step_time - with_all;

  std::map<std::string, ClassTime> by_class;
  double executed_flops = 0;
  for (OpId op = 0; op < graph_.op_count(); ++op) {
    if (rank_of_op_[op] != 0) continue;
    const Template& t = templates_[template_of_op_[op]];
    if (t.op.kind == OpClass::kCollective) continue;
    ClassTime& entry = by_class[std::string(op_class_name(t.op.kind))];
    entry.op_class = op_class_name(t.op.kind);
    entry.total += t.cost.duration;
    entry.kernels += 1;
    entry.cost_model = t.cost.model;
    executed_flops += t.op.flops;
  }
  for (auto& [name, entry] : by_class) result.compute_by_class.push_back(entry);
  std::stable_sort(result.compute_by_class.begin(), result.compute_by_class.end(),
                   [](const ClassTime& a, const ClassTime& b) { return a.total > b.total; });
  result.executed_tflops_per_gpu = executed_flops / seconds / 1e12;
  result.memory = training_memory(model_, ops_, config_, gpu_.memory_bytes);
  return result;
}

std::string TrainingStep::trace_args(OpId op) const {
  const Template& t = templates_[template_of_op_[op]];
  char buf[320];
  if (t.op.kind == OpClass::kCollective) {
    std::snprintf(buf, sizeof buf, "{\"collective\":\"%s\",\"group\":\"%s\",\"bytes\":%.0f,\"model\":\"%s\"}",
                  std::string(collective_name(t.op.collective)).c_str(),
                  t.op.group == CommGroup::kTensor ? "tp" : "dp", t.op.collective_bytes,
                  std::string(t.cost.model).c_str());
  } else {
    std::snprintf(buf, sizeof buf,
                  "{\"class\":\"%s\",\"phase\":\"%s\",\"dtype\":\"%s\",\"flops\":%.0f,\"bytes\":%.0f,"
                  "\"bound\":\"%s\",\"model\":\"%s\"}",
                  std::string(op_class_name(t.op.kind)).c_str(), std::string(phase_name(t.op.phase)).c_str(),
                  std::string(dtype_name(t.op.dtype)).c_str(), t.op.flops, t.op.bytes,
                  std::string(bound_name(t.cost.bound)).c_str(), std::string(t.cost.model).c_str());
  }
  return buf;
}

}  // namespace foresight
