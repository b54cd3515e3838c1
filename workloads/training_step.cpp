#include "workloads/training_step.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>
#include <span>
#include <utility>

#include <nlohmann/json.hpp>

#include "models/flop_formulas.hpp"
#include "sim/engine/dag_executor.hpp"
#include "topologies/collective_tuner.hpp"
#include "workloads/local_sgd.hpp"
#include "workloads/network_collectives.hpp"

namespace foresight {
namespace {
ShapeConfig shape_of(const TrainingConfig& c) {
  ShapeConfig s;
  s.micro_batch = c.micro_batch;
  s.sequence = c.sequence;
  s.dtype = c.dtype == Dtype::kFp8 ? Dtype::kBf16 : c.dtype;
  s.fp8_saved_inputs = c.dtype == Dtype::kFp8 && c.fp8_saved_inputs;
  s.tp = c.tp;
  s.sequence_parallel = c.sequence_parallel && c.tp > 1;
  s.attention = c.attention;
  s.dropout = c.dropout > 0;
  if (c.recompute == Recompute::kSelective) s.recompute = c.recompute_modules;
  s.cp = c.cp;
  s.cp_ring = c.cp_ring;
  s.ep = c.ep;
  s.experts_folded = c.experts_folded();
  s.expert_load = c.expert_load;
  s.dropless_routing = c.dropless_routing;
  s.sort_received_by_expert = c.sorts_received_by_expert;
  s.shared_expert_overlap = c.moe_shared_expert_overlap;
  s.delay_expert_wgrad = c.delay_wgrad_compute;
  s.document = c.document_length;
  s.eager_elementwise = c.eager_elementwise;
  s.fp32_cross_entropy = c.fp32_cross_entropy;
  s.grad_accumulation_fusion = c.grad_accumulation_fusion;
  s.grad_dtype = c.grad_dtype;
  s.lora = c.lora;
  return s;
}

// The first replica's draws: its costliest micro-batch over its mean (packed by cost, the
// shares average more than 1), and the mean over its micro-batches of the CP group's
// costliest rank over the group's mean.
std::pair<double, double> attention_share_summary(const std::vector<double>& shares, std::int64_t cp) {
  const auto ranks = static_cast<std::size_t>(cp);
  const double overall = std::accumulate(shares.begin(), shares.end(), 0.0) / static_cast<double>(shares.size());
  double spread = 0, imbalance = 0;
  for (std::size_t first = 0; first < shares.size(); first += ranks) {
    const auto group = std::span<const double>(shares).subspan(first, ranks);
    const double mean = std::accumulate(group.begin(), group.end(), 0.0) / static_cast<double>(ranks);
    spread = std::max(spread, mean);
    imbalance += *std::max_element(group.begin(), group.end()) / mean;
  }
  return {spread / overall, imbalance / static_cast<double>(shares.size() / ranks)};
}

// A document stream's seed under the scenario's `seed`: `base` itself under the default, 1.
std::uint64_t document_seed(std::uint64_t base, std::uint64_t seed) { return base + (seed - 1) * 0x9e3779b97f4a7c15ULL; }

MemoryFootprint peak_memory(const ModelArch& model, const ModelOps& ops, const GpuSpec& gpu, const TrainingConfig& config,
                            const PipelineSchedule& schedule) {
  if (config.packing_max_tokens > 1) {
    // Variable-length packing: activations as if every micro-batch in flight held the most
    // tokens it may (an upper bound; which ones do is drawn per step).
    TrainingConfig longest = config;
    longest.sequence = static_cast<std::int64_t>(std::floor(static_cast<double>(config.sequence) * config.packing_max_tokens));
    longest.packing_max_tokens = 1;
    return peak_memory(model, build_model_ops(model, shape_of(longest)), gpu, longest, schedule);
  }
  const auto orders = schedule.orders(static_cast<int>(config.pp), static_cast<int>(config.micro_batches()));
  return training_memory(model, ops, config, gpu.usable_memory_bytes(), activations_in_flight(orders, schedule.chunks_per_copy()));
}
}  // namespace

TrainingStep::TrainingStep(const ModelArch& model, const GpuSpec& gpu, const NodeFabric& fabric,
                           const TrainingConfig& config, const OpCostModel& cost_model)
    : model_(model), gpu_(gpu), fabric_(fabric), config_(config), cost_model_(cost_model),
      ops_(build_model_ops(model, shape_of(config))), slowest_gpu_(gpu.slowest_of(static_cast<int>(config.gpus()))) {
  if (config.packing == Packing::kMask && config.documents) {
    attention_imbalance_ = masked_attention_imbalance(*config.documents, config.sequence, config.global_batch / config.dp, config.dp,
                                                      config.document_balance, 200, document_seed(0x5eedULL, config.seed));
  }
  if (config.packing != Packing::kConcat && config.documents) draw_attention_shares();
  if (fabric.network == NetworkModel::kFlow) {
    topology_ = std::make_unique<Topology>(build_node_topology(fabric));
    router_ = make_router(*topology_);
  }
  build();
}

// Packed under a mask, with one stage a replica's micro-batches run in turn and only their
// sum counts (the DP imbalance); with stages each micro-batch's cost shapes the pipeline, and
// under the sequence CP split each CP group waits for its costliest rank. Padded to less than
// the sequence, every layout draws. Each replica's draws are its own stream, seeded by its
// index and the scenario's seed.
void TrainingStep::draw_attention_shares() {
  const std::uint64_t first_seed = document_seed(0x5eed0001ULL, config_.seed);
  if (config_.packing == Packing::kPad) {
    if (config_.pad_to != PadTo::kSequence) draw_padded_micro_batches(first_seed);
    return;
  }
  const bool sequence_split = config_.cp > 1 && config_.cp_split == CpSplit::kSequence;
  if (config_.pp <= 1 && !sequence_split) return;
  const MicroBatchPacking packing{config_.document_balance, config_.packing_max_tokens,
                                  config_.packing_max_tokens > 1 ? attention_fraction() : 1.0,
                                  static_cast<double>(config_.outlier_delay_tokens)};
  for (std::int64_t d = 0; d < config_.simulated_replicas(); ++d) {
    MicroBatchWork work = micro_batch_work(*config_.documents, config_.sequence, config_.micro_batch,
                                           static_cast<int>(config_.micro_batches()), static_cast<int>(config_.cp), config_.cp_split,
                                           packing, first_seed + static_cast<std::uint64_t>(d));
    attention_shares_.push_back(std::move(work.attention));
    token_shares_.push_back(std::move(work.tokens));
  }
}

// Padded to less than the sequence, a micro-batch does less work in any layout, and replicas
// whose documents are longer do more. Simulating one replica for all, the step waits for the
// one with the most work (of up to 1,024 drawn), so the simulated replica runs its draws.
void TrainingStep::draw_padded_micro_batches(std::uint64_t first_seed) {
  const double f = attention_fraction();
  const auto draw = [&](std::int64_t d) {
    return padded_micro_batch_work(*config_.documents, config_.sequence, config_.micro_batch, static_cast<int>(config_.micro_batches()),
                                   static_cast<int>(config_.cp), config_.pad_to, first_seed + static_cast<std::uint64_t>(d), f,
                                   static_cast<int>(config_.pp));
  };
  const auto workload = [&](const MicroBatchWork& w) {
    double sum = 0;
    for (std::size_t m = 0; m < w.tokens.size(); ++m) {
      sum += (1 - f) * w.tokens[m] + f * w.attention[m * static_cast<std::size_t>(config_.cp)];
    }
    return sum;
  };
  std::vector<MicroBatchWork> drawn;
  if (config_.simulated_replicas() > 1) {
    for (std::int64_t d = 0; d < config_.simulated_replicas(); ++d) drawn.push_back(draw(d));
  } else {
    drawn.push_back(draw(0));
    for (std::int64_t d = 1; d < std::min<std::int64_t>(config_.dp, 1024); ++d) {
      MicroBatchWork next = draw(d);
      if (workload(next) > workload(drawn.front())) drawn.front() = std::move(next);
    }
  }
  for (MicroBatchWork& work : drawn) {
    attention_shares_.push_back(std::move(work.attention));
    token_shares_.push_back(std::move(work.tokens));
  }
}

// Attention's share of a decoder layer's compute, forward and backward, at the mean: what the
// cost packer weighs a micro-batch's attention work by against its tokens.
double TrainingStep::attention_fraction() const {
  double attention = 0, compute = 0;
  for (const std::vector<Op>* ops : {&ops_.layer_forward, &ops_.layer_backward}) {
    for (const Op& op : *ops) {
      if (op.kind == OpClass::kCollective) continue;
      const auto duration = static_cast<double>(cost_model_.estimate(op, gpu_).duration);
      compute += duration;
      if (op.kind == OpClass::kAttention) attention += duration;
    }
  }
  return compute > 0 ? attention / compute : 0;
}

double TrainingStep::attention_share(int rank) const {
  if (attention_shares_.empty() || context_.micro_batch < 0) return 1;
  const std::int64_t slot = rank / config_.tp % (config_.dp * config_.cp);
  const auto replica = static_cast<std::size_t>(slot / config_.cp);
  const auto index = static_cast<std::size_t>(context_.micro_batch * config_.cp + slot % config_.cp);
  if (replica >= attention_shares_.size() || index >= attention_shares_[replica].size()) return 1;
  return attention_shares_[replica][index];
}

double TrainingStep::token_share(int rank) const {
  if (token_shares_.empty() || context_.micro_batch < 0) return 1;
  const auto replica = static_cast<std::size_t>(rank / config_.tp % (config_.dp * config_.cp) / config_.cp);
  const auto index = static_cast<std::size_t>(context_.micro_batch);
  if (replica >= token_shares_.size() || index >= token_shares_[replica].size()) return 1;
  return token_shares_[replica][index];
}

double TrainingStep::collective_bytes(OpId op) const {
  const double nominal = templates_[template_of_op_[op]].op.collective_bytes;
  const auto scaled = collective_shares_.find(op);
  return scaled == collective_shares_.end() ? nominal : nominal * scaled->second;
}

PieceScales TrainingStep::deepep_scales(const std::vector<int>& member_nodes) const {
  std::vector<int> nodes = member_nodes;
  std::sort(nodes.begin(), nodes.end());
  const auto distinct = std::unique(nodes.begin(), nodes.end()) - nodes.begin();
  return deepep_piece_scales(model_.experts, model_.experts_per_token, static_cast<std::int64_t>(member_nodes.size()), distinct);
}

std::int64_t TrainingStep::expert_group_nodes() const {
  const std::int64_t spacing = config_.experts_folded() ? 1 : config_.tp * config_.cp;
  const std::int64_t span = (config_.ep - 1) * spacing + 1;
  return fabric_.nodes > 1 && span > fabric_.gpus ? (span + fabric_.gpus - 1) / fabric_.gpus : 1;
}

double TrainingStep::analytic_deepep_scale(const Op& op) const {
  if (op.group != CommGroup::kExpert || op.collective != CollectiveKind::kAllToAll || config_.sorts_received_by_expert) return 1;
  const std::int64_t nodes = expert_group_nodes();  // a node per member at most, when members sit a node apart or more
  const PieceScales scales = deepep_piece_scales(model_.experts, model_.experts_per_token, config_.ep, std::min(nodes, config_.ep));
  return nodes > 1 ? scales.remote : scales.local;
}

// Runs each collective op of the graph on the flow network when the executor starts it,
// and completes the op when the last rank has its data.
class TrainingStep::CollectiveDriver : public ExternalOpRunner {
 public:
  CollectiveDriver(const TrainingStep& step, FlowNetwork& network, DagExecutor& executor)
      : step_(step), collectives_(network, executor),
        costs_(step.fabric_.nccl_costs ? nccl_h100_costs(step.fabric_.bandwidth) : bare_network_costs()),
        single_node_(*step.topology_, *step.router_, costs_, {CollectiveAlgorithm::kRing, CollectiveAlgorithm::kNvls}),
        all_to_all_(*step.topology_, *step.router_, costs_, {CollectiveAlgorithm::kDirect}) {
    if (!step.fabric_.nccl_costs) costs_.launch = kNcclLaunchLatency;  // the bare network's stand-in
  }

  void start_external(OpId op) override {
    const Op& collective = step_.templates_[step_.template_of_op_[op]].op;
    CollectiveRequest request;
    request.kind = collective.collective;
    const bool all_to_all = request.kind == CollectiveKind::kAllToAll;  // each rank sends to every other directly
    request.algorithm = all_to_all ? CollectiveAlgorithm::kDirect : CollectiveAlgorithm::kRing;
    // A DP group that spans nodes holds gpus_per_node / tp consecutive members per node:
    // reduce inside each node first, then across nodes on each rail, as NCCL does.
    const int per_node = step_.fabric_.gpus / static_cast<int>(step_.config_.tp);
    const auto group = step_.group_of(op);
    const bool gradient_group = collective.group == CommGroup::kData || collective.group == CommGroup::kDataPartition;
    const bool dp_across_nodes = gradient_group && step_.fabric_.nodes > 1 && static_cast<int>(group.size()) > per_node;
    if (dp_across_nodes) {
      request.algorithm = CollectiveAlgorithm::kHierarchical;
      request.ranks_per_node = per_node;
    }
    const bool across_nodes = dp_across_nodes || (!gradient_group &&
                                                  group.front() / step_.fabric_.gpus != group.back() / step_.fabric_.gpus);
    request.bytes = step_.collective_bytes(op);
    request.flow_salt = op;
    for (int rank : group) request.ranks.push_back(step_.topology_->gpu(static_cast<std::size_t>(rank)));
    if (all_to_all && collective.group == CommGroup::kExpert && !step_.config_.sorts_received_by_expert) {
      for (int rank : group) request.member_nodes.push_back(rank / step_.fabric_.gpus);
      const PieceScales scales = step_.deepep_scales(request.member_nodes);
      request.local_piece_scale = scales.local;
      request.remote_piece_scale = scales.remote;
    }
    // NCCL's NVLS-tree and protocol choice across nodes are not modeled: the hierarchical
    // ring and send/recv between nodes run with Simple's costs, NCCL's choice for bulk
    // transfers (on the bare network every protocol costs the same).
    if (step_.fabric_.nccl_costs && !across_nodes) {
      (all_to_all ? all_to_all_ : single_node_).tune(request);
    } else {
      apply_costs(costs_, Protocol::kSimple, request);
    }
    collectives_.start(op, request);
  }

 private:
  const TrainingStep& step_;
  NetworkCollectives collectives_;
  NcclCosts costs_;
  CollectiveTuner single_node_;  // ring or NVLS, and the protocol, per distinct collective
  CollectiveTuner all_to_all_;   // the protocol of direct all-to-alls
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

std::vector<InterferenceKind> TrainingStep::interference_kinds() const {
  std::vector<InterferenceKind> kinds(graph_.op_count(), InterferenceKind::kOther);
  for (OpId op = 0; op < graph_.op_count(); ++op) {
    if (template_of_op_[op] == kHostLaunch) continue;
    const Op& o = templates_[template_of_op_[op]].op;
    if (o.kind == OpClass::kCollective) {
      if (o.collective != CollectiveKind::kSendRecv || config_.interference.send_recv) kinds[op] = InterferenceKind::kCollective;
    } else if (o.kind != OpClass::kHostCopy) {  // a copy engine's, beside the SMs
      const bool tensor = o.kind == OpClass::kGemm || o.kind == OpClass::kAttention;
      kinds[op] = tensor ? InterferenceKind::kTensorCompute : InterferenceKind::kMemoryCompute;
    }
  }
  return kinds;
}

CollectiveLoad TrainingStep::collective_load(OpId op) const {
  const Op& o = templates_[template_of_op_[op]].op;
  std::vector<int> group = group_of(op);
  const bool across_nodes = group.front() / fabric_.gpus != group.back() / fabric_.gpus;
  const double link = across_nodes ? fabric_.nic_bandwidth : fabric_.bandwidth;
  // Each byte on the link is read on one side and written on the other; a reduction also
  // reads the receiver's own operand.
  const bool reduces = o.collective == CollectiveKind::kAllReduce || o.collective == CollectiveKind::kReduceScatter ||
                       o.collective == CollectiveKind::kReduce;
  const int sms = o.collective == CollectiveKind::kSendRecv ? config_.interference.sms_per_send_recv
                                                            : config_.interference.sms_per_collective;
  return {link * (reduces ? 3 : 2), sms, std::move(group)};
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
  std::unique_ptr<CommInterference> interference;
  const std::vector<InterferenceKind> kinds = config_.interference.enabled ? interference_kinds() : std::vector<InterferenceKind>{};
  if (config_.interference.enabled) {
    interference = std::make_unique<CommInterference>(
        gpu_, static_cast<int>(config_.gpus()), kinds, rank_of_op_, [this](OpId op) { return collective_load(op); },
        [&executor](OpId op, Time end) { executor.reschedule_end(op, end); });
    executor.add_observer(*interference);
    executor.set_duration_adjuster(*interference);
  }
  BusyTimeRecorder busy(graph_.resource_count());
  executor.add_observer(busy);
  // Only a run with Streaming DiLoCo's overlap needs the averages' ends apart from the step's.
  std::optional<AverageEnds> average_ends;
  if (config_.local_sgd_overlapped()) executor.add_observer(average_ends.emplace(graph_.op_count(), averages_in_flight_));
  for (ExecutionObserver* observer : observers) executor.add_observer(*observer);
  executor.start();
  engine.run();
  if (!executor.all_finished()) {
    throw std::logic_error("training step stalled: " + std::to_string(graph_.op_count() - executor.finished_ops()) +
                           " ops never ran (a dependency cycle in the generated graph)");
  }

  // With local SGD the graph is the syncing step; its inner step ends where the average starts.
  Time inner = executor.last_end();
  if (config_.local_sgd()) {
    inner = 0;
    for (OpId id : averages_) inner = std::max(inner, executor.start_time(id));
  }
  if (average_ends) return with_average_in_flight(inner, *average_ends);
  Time mean_step = config_.local_sgd() ? local_sgd_mean_step(inner, executor.last_end(), config_.local_sgd_interval()) : inner;
  StragglerDelay stragglers;
  if (config_.stragglers.on()) {
    const std::int64_t coupled = config_.coupled_gpus();
    stragglers = straggler_delay(config_.stragglers, to_seconds(mean_step), coupled, std::max<std::int64_t>(1, config_.gpus() / coupled));
    mean_step += from_seconds(stragglers.mean_seconds);
  }
  TrainingResult result = training_rates(model_, gpu_, config_, mean_step);
  result.stragglers = stragglers;
  if (config_.local_sgd()) {
    result.inner_step = inner;
    result.syncing_step = executor.last_end();
  }
  result.ops = graph_.op_count();
  result.events = engine.events_processed();
  const double seconds = to_seconds(result.step_time);

  const RankResources& r0 = ranks_.front();
  // Exposed communication is attributed in order: TP beyond compute, then CP beyond
  // both, EP, PP beyond those, and DP beyond all. `count`: how many of the streams
  // compute, TP, CP, EP, PP, DP to take (those the rank lacks count but add nothing).
  const auto streams = [](const RankResources& r, std::size_t count) {
    const std::array<ResourceId, 6> all = {r.compute, r.tp_comm, r.cp_comm, r.ep_comm, r.pp_comm, r.dp_comm};
    std::vector<ResourceId> ids;
    for (std::size_t i = 0; i < count; ++i) {
      if (all[i] != kNoResource) ids.push_back(all[i]);
    }
    return ids;
  };
  result.compute_busy = busy.busy_union(streams(r0, 1), inner);
  if (interference) result.interference = interference->added_time(0);
  result.slowest_gpu = slowest_gpu_;
  result.attention_imbalance = attention_imbalance_;
  if (!attention_shares_.empty()) {
    const auto [spread, cp_imbalance] = attention_share_summary(attention_shares_.front(), config_.cp);
    result.micro_batch_attention_spread = spread;
    result.cp_attention_imbalance = cp_imbalance;
    result.micro_batch_tokens_max = *std::max_element(token_shares_.front().begin(), token_shares_.front().end());
  }
  const Time with_tp = busy.busy_union(streams(r0, 2), inner);
  const Time with_cp = busy.busy_union(streams(r0, 3), inner);
  const Time with_ep = busy.busy_union(streams(r0, 4), inner);
  const Time with_pp = busy.busy_union(streams(r0, 5), inner);
  const Time with_all = busy.busy_union(streams(r0, 6), inner);
  result.exposed_tp = with_tp - result.compute_busy;
  result.exposed_cp = with_cp - with_tp;
  result.exposed_ep = with_ep - with_cp;
  result.exposed_pp = with_pp - with_ep;
  result.exposed_dp = with_all - with_pp;
  // Offload copies run on copy engines beside everything else: what they add is their busy
  // time beyond all the streams, where the rank waits for them.
  Time with_copies = with_all;
  if (config_.offload_layers > 0) {
    std::vector<ResourceId> all = streams(r0, 6);
    all.insert(all.end(), {r0.to_host, r0.from_host});
    with_copies = busy.busy_union(all, inner);
  }
  result.exposed_offload = with_copies - with_all;
  result.idle = inner - with_copies;
  result.host_busy = host_busy_;
  double idle_share = 0;
  for (int stage = 0; stage < config_.pp; ++stage) {
    const RankResources& first = ranks_[static_cast<std::size_t>(rank_of(stage, 0, 0))];
    idle_share += 1.0 - static_cast<double>(busy.busy_union(streams(first, 6), inner)) / static_cast<double>(inner);
  }
  result.pipeline_bubble = idle_share / static_cast<double>(config_.pp);
  result.stage_layers = stage_layers();

  std::map<std::string, ClassTime> by_class;
  double executed_flops = 0;
  for (OpId op = 0; op < graph_.op_count(); ++op) {
    if (rank_of_op_[op] != 0 || template_of_op_[op] == kHostLaunch) continue;
    if (config_.local_sgd() && executor.start_time(op) >= inner) continue;  // the average's: not the inner step's
    const Template& t = templates_[template_of_op_[op]];
    if (t.op.kind == OpClass::kCollective || t.op.kind == OpClass::kHostCopy) continue;
    ClassTime& entry = by_class[std::string(op_class_name(t.op.kind))];
    entry.op_class = op_class_name(t.op.kind);
    entry.total += graph_.op(op).duration;  // the template's, or masked attention's as this micro-batch drew it
    entry.kernels += 1;
    entry.cost_model = t.cost.model;
    executed_flops += t.op.flops;
  }
  for (auto& [name, entry] : by_class) result.compute_by_class.push_back(entry);
  std::stable_sort(result.compute_by_class.begin(), result.compute_by_class.end(),
                   [](const ClassTime& a, const ClassTime& b) { return a.total > b.total; });
  result.executed_tflops_per_gpu = executed_flops / seconds / 1e12;
  result.memory = peak_memory(model_, ops_, gpu_, config_, *schedule_);
  result.warmup_step = onebit_warmup_step(model_, gpu_, fabric_, config_, cost_model_);
  return result;
}

Time onebit_warmup_step(const ModelArch& model, const GpuSpec& gpu, const NodeFabric& fabric, const TrainingConfig& config,
                        const OpCostModel& cost_model) {
  if (!config.onebit_warmup_counts()) return 0;
  return TrainingStep(model, gpu, fabric, config.onebit_warmup(), cost_model).run().step_time;
}

// Streaming DiLoCo with overlap: inner steps and their breakdown are those of the same run
// with nothing beside them (the step with overlap_steps 0 up to its average); this graph's
// syncing step, with the average in flight beside its work, gives what an average adds.
TrainingResult TrainingStep::with_average_in_flight(Time contended_work, const AverageEnds& ends) const {
  TrainingConfig waiting = config_;
  waiting.local_sgd_overlap_steps = 0;
  TrainingResult result = TrainingStep(model_, gpu_, fabric_, waiting, cost_model_).run();
  const Time plain_step = result.step_time;
  const StreamingAverage average = streaming_average(result.inner_step, contended_work, ends.step_end(), ends.average_end(),
                                                     config_.local_sgd_overlap_steps, config_.local_sgd_interval());
  set_rates(result, model_, gpu_, config_, average.mean_step);
  result.executed_tflops_per_gpu *= static_cast<double>(plain_step) / static_cast<double>(average.mean_step);
  result.syncing_step = average.syncing_step;
  result.average_wait = average.wait;
  result.memory = peak_memory(model_, ops_, gpu_, config_, *schedule_);
  return result;
}

TrainingResult training_rates(const ModelArch& model, const GpuSpec& gpu, const TrainingConfig& config, Time step_time) {
  TrainingResult result;
  set_rates(result, model, gpu, config, step_time);
  return result;
}

void set_rates(TrainingResult& result, const ModelArch& model, const GpuSpec& gpu, const TrainingConfig& config, Time step_time) {
  result.step_time = step_time;
  const double seconds = to_seconds(step_time);
  const double gpus = static_cast<double>(config.gpus());
  // Padded documents: every token is computed, only the data's count.
  const double data_share = config.packing == Packing::kPad ? config.packed.useful_fraction : 1.0;
  result.tokens_per_step = static_cast<double>(config.global_batch * config.sequence) * data_share;
  result.tokens_per_second = result.tokens_per_step / seconds;
  result.tokens_per_second_per_gpu = result.tokens_per_second / gpus;
  const auto sequence = static_cast<double>(config.sequence);
  result.model_flops_per_token = config.lora.on() ? lora_training_flops_per_token(model, sequence, model_lora_parameters(model, config.lora))
                                                  : training_flops_per_token(model, sequence);
  result.model_tflops_per_gpu = result.model_flops_per_token * result.tokens_per_second_per_gpu / 1e12;
  result.mfu = result.model_tflops_per_gpu * 1e12 / gpu.peak(config.dtype);
}

MemoryFootprint training_step_memory(const ModelArch& model, const GpuSpec& gpu, const TrainingConfig& config) {
  const auto schedule = config.make_schedule();
  return peak_memory(model, build_model_ops(model, shape_of(config)), gpu, config, *schedule);
}

std::string TrainingStep::trace_args(OpId op) const {
  if (template_of_op_[op] == kHostLaunch) {
    const OpContext& where = context_of_op_[op];
    nlohmann::json args = {{"rank", rank_of_op_[op]}};
    if (where.micro_batch >= 0) args["micro_batch"] = where.micro_batch;
    if (where.layer >= 0) args["layer"] = where.layer;
    return args.dump();
  }
  const Template& t = templates_[template_of_op_[op]];
  nlohmann::json args;
  if (t.op.kind == OpClass::kCollective) {
    args = {{"collective", std::string(collective_name(t.op.collective))}, {"group", std::string(comm_group_name(t.op.group))},
            {"bytes", collective_bytes(op)}};
  } else {
    args = {{"class", std::string(op_class_name(t.op.kind))}, {"phase", std::string(phase_name(t.op.phase))}, {"dtype", std::string(dtype_name(t.op.dtype))},
            {"flops", t.op.flops}, {"bytes", t.op.bytes}, {"bound", std::string(bound_name(t.cost.bound))}};
    if (t.op.kind == OpClass::kGemm) args.update({{"m", t.op.gemm.m}, {"n", t.op.gemm.n}, {"k", t.op.gemm.k}, {"batch", t.op.gemm.batch}});
    if (t.op.kind == OpClass::kAttention) {
      const AttentionShape& a = t.op.attention;
      args.update({{"batch", a.batch}, {"heads", a.heads}, {"kv_heads", a.kv_heads}, {"q_len", a.q_len}, {"kv_len", a.kv_len}, {"head_dim", a.head_dim},
                   {"causal", a.causal}});
    }
  }
  args["model"] = std::string(t.cost.model);
  const OpContext& where = context_of_op_[op];
  if (where.micro_batch >= 0) args["micro_batch"] = where.micro_batch;
  if (where.layer >= 0) args["layer"] = where.layer;
  args["rank"] = rank_of_op_[op];
  return args.dump();
}

}  // namespace foresight
