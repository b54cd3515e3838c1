// TrainingStep's graph: one optimizer step expanded into per-rank ops in each pipeline
// stage's schedule order (see training_step.hpp for the layout and the rules).
#include "workloads/training_step.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "models/attention_dropout.hpp"
#include "workloads/activation_offload.hpp"
#include "workloads/fp8_gradients.hpp"
#include "workloads/local_sgd.hpp"
#include "workloads/onebit_adam.hpp"
#include "workloads/stage_balance.hpp"
#include "workloads/zeropp.hpp"

namespace foresight {
namespace {
bool is_collective(const Op& op, CommGroup group, CollectiveKind kind) {
  return op.kind == OpClass::kCollective && op.group == group && op.collective == kind;
}

// The output layer and the MoE router stay in bf16: torchtitan converts every nn.Linear
// but "output" to Float8Linear, and Megatron's output layer (its own ColumnParallelLinear)
// and router (a plain matmul) sit outside Transformer Engine's fp8 autocast, as do LoRA's
// adapters (NeMo's fused LoRA branch runs with fp8_autocast disabled).
bool runs_in_fp8(const Op& op) {
  return op.kind == OpClass::kGemm && op.gemm.weight_operand && !op.name.starts_with("lm_head") && !op.name.starts_with("moe.router") &&
         op.name.find(".lora_") == std::string::npos;
}

// Transformer Engine's cast-transpose before an FP8 GEMM: reads the bf16 activation (A,
// or the incoming gradient for dgrad) and writes it in fp8 twice, as is and transposed
// for the weight-gradient GEMM, which therefore needs no cast of its own. Weights are
// cast once per step and left out.
// A pass over the GEMM's bf16 input A: `flops` and `bytes` per element of it.
Op fp8_input_pass(const Op& gemm, const char* suffix, double flops, double bytes) {
  const double elements = static_cast<double>(gemm.gemm.m * gemm.gemm.k * gemm.gemm.batch);
  Op pass;
  pass.name = gemm.name + suffix;
  pass.kind = OpClass::kElementwise;
  pass.phase = gemm.phase;
  pass.kernels = gemm.kernels;  // Transformer Engine quantizes each expert's input on its own
  pass.dtype = Dtype::kBf16;
  pass.flops = flops * elements;
  pass.bytes = bytes * elements;
  return pass;
}

Op fp8_cast_op(const Op& gemm) { return fp8_input_pass(gemm, ".fp8_cast", 2, 2 + 1 + 1); }  // scale and amax

// Before a frozen weight's GEMM (LoRA) only the copy as is: no weight gradient reads the
// transposed one (Transformer Engine 2's quantizers take columnwise usage only when
// weight.requires_grad, transformer_engine/pytorch/module/linear.py, backward_needs_input).
Op fp8_rowwise_cast_op(const Op& gemm) { return fp8_input_pass(gemm, ".fp8_cast", 2, 2 + 1); }

// Current scaling reads the bf16 tensor once more first, for its amax.
Op fp8_amax_op(const Op& gemm) { return fp8_input_pass(gemm, ".fp8_amax", 1, 2); }

// Whether op i's input comes out of a norm or an activation (past any TP collective):
// Transformer Engine 2.6+ computes current scaling's amax inside those kernels, forward and
// backward (its PRs 2004 and 2013).
bool input_from_norm_or_activation(const std::vector<Op>& ops, std::size_t i) {
  for (std::size_t j = i; j-- > 0;) {
    const Op& op = ops[j];
    if (op.kind == OpClass::kCollective) continue;
    return op.kind == OpClass::kNorm || (op.kind == OpClass::kElementwise && op.name.find(".act") != std::string::npos);
  }
  return false;
}

// A pass over one of `ranks` equal shards of its tensor.
Op shard_of(Op pass, std::int64_t ranks) {
  pass.flops /= static_cast<double>(ranks);
  pass.bytes /= static_cast<double>(ranks);
  return pass;
}

std::vector<Op> with_phase(const std::vector<Op>& ops, bool weight_gradients) {
  std::vector<Op> kept;
  for (const Op& op : ops) {
    if ((op.phase == Phase::kBackwardWeight) == weight_gradients) kept.push_back(op);
  }
  return kept;
}
}  // namespace

// A decoder layer's templates.
struct TrainingStep::LayerSequences {
  Sequence fwd, bwd, wgrad;  // bwd holds everything when backward is not split
  Sequence recompute;        // rerun before the layer's backward
};

// The templates of every unit of work, and what each virtual stage holds.
struct TrainingStep::Sequences {
  Sequence embedding_fwd, embedding_bwd, embedding_wgrad;
  Sequence encoder_fwd, encoder_bwd;
  LayerSequences layer;
  Sequence encoder_recompute;  // rerun before each encoder layer's backward
  LayerSequences dense;        // an MoE model's leading dense layers (ModelArch::dense_layers)
  // Under fp8, the layers kept in bf16 (bf16_layers_at_start and _at_end), of either kind.
  LayerSequences layer_bf16, dense_bf16;
  Sequence head_fwd, head_bwd, head_wgrad;
  Sequence mtp_fwd, mtp_bwd, mtp_wgrad;  // a multi-token prediction depth's projection
  std::vector<std::int64_t> layers_of_position;  // decoder layers at each position along the model
  ParameterCount params;
};

// Gradients of the last micro-batch, gathered into buckets of one stage as backward
// produces them; a full bucket is reduced over the stage's DP group when overlap is on.
// With expert parallelism, expert gradients fill a bucket of their own, reduced over the
// ranks that hold the same experts.
struct TrainingStep::GradientBucket {
  double bytes = 0;  // in grad_dtype
  double layers = 0;
  int index = 0;
  double expert_bytes = 0;
  double expert_layers = 0;
  int expert_index = 0;
};

int TrainingStep::rank_of(int stage, std::int64_t slot, std::int64_t t) const {
  return static_cast<int>((stage * config_.dp * config_.cp + slot) * config_.tp + t);
}

// Members of an op's group follow from its first rank: TP ranks are consecutive; CP and
// gradient (DP x CP) groups take every tp-th rank, EP groups every (cp x tp)-th; an
// expert gradient group takes the CP ranks of every ep-th replica. Folded over TP ranks
// (expert_tp 1), an EP group is ep consecutive ranks and an expert gradient group every ep-th.
std::vector<int> TrainingStep::group_of(OpId op) const {
  const int first = rank_of_op_[op];
  const CommGroup kind = templates_[template_of_op_[op]].op.group;
  if (kind == CommGroup::kPipeline) return {first, p2p_receiver_.at(op)};
  const auto tp = config_.tp, cp = config_.cp;
  std::vector<int> group;
  const auto add = [&](std::int64_t size, std::int64_t stride) {
    for (std::int64_t i = 0; i < size; ++i) group.push_back(first + static_cast<int>(i * stride));
  };
  switch (kind) {
    case CommGroup::kTensor: add(tp, 1); break;
    case CommGroup::kContext: add(cp, tp); break;
    case CommGroup::kExpert: config_.experts_folded() ? add(config_.ep, 1) : add(config_.ep, cp * tp); break;
    case CommGroup::kData:
      add(config_.gradient_ranks(), tp);
      add_other_copy(first, group);
      break;
    case CommGroup::kOuter: add(config_.outer_replicas(), config_.gradient_ranks() * tp); break;
    case CommGroup::kExpertData:
      if (config_.experts_folded()) {
        add(config_.expert_data_ranks(), config_.ep);  // every ep-th rank of the stage, CP ranks among them
      } else {
        for (std::int64_t j = 0; j < config_.dp / config_.ep; ++j) {
          for (std::int64_t c = 0; c < cp; ++c) group.push_back(first + static_cast<int>((j * config_.ep * cp + c) * tp));
        }
      }
      add_other_copy(first, group);
      break;
    case CommGroup::kDataPartition: add(config_.zero_hpz_partition_size, tp); break;
    case CommGroup::kPipeline: break;
  }
  return group;
}

// A bidirectional pipeline's gradient groups take in the same ranks of stage p-1-s too, which
// hold the other copy of the same layers.
void TrainingStep::add_other_copy(int first, std::vector<int>& group) const {
  if (schedule_->model_copies() == 1) return;
  const std::int64_t stage_ranks = config_.dp * config_.cp * config_.tp;
  const std::int64_t stage = first / stage_ranks;
  const auto partner = static_cast<int>((config_.pp - 1 - 2 * stage) * stage_ranks);
  for (std::size_t i = 0, n = group.size(); i < n; ++i) group.push_back(group[i] + partner);
}

std::uint32_t TrainingStep::add_template(Op op, CostEstimate cost) {
  templates_.push_back({std::move(op), cost});
  return static_cast<std::uint32_t>(templates_.size() - 1);
}

TrainingStep::Sequence TrainingStep::add_templates(const std::vector<Op>& ops) { return add_templates(ops, config_.dtype == Dtype::kFp8); }

TrainingStep::Sequence TrainingStep::add_templates(const std::vector<Op>& ops, bool fp8) {
  Sequence sequence;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    Op op = ops[i];
    // A sequence-parallel all-gather that feeds an fp8 GEMM carries fp8: Transformer Engine
    // casts the norm's output and the incoming gradient before gathering them, and torchao's
    // Float8ColwiseParallel / Float8RowwiseParallel do the same (torchtitan's float8 TP).
    // The reduce-scatters carry the GEMMs' bf16 outputs.
    if (fp8 && is_collective(op, CommGroup::kTensor, CollectiveKind::kAllGather) && i + 1 < ops.size() && runs_in_fp8(ops[i + 1])) {
      op.collective_bytes *= dtype_bytes(Dtype::kFp8) / dtype_bytes(Dtype::kBf16);
    }
    if (fp8 && runs_in_fp8(op)) {
      if (op.phase != Phase::kBackwardWeight) {
        // The cast comes before a TP all-gather of the same input, on this rank's shard of it.
        const bool gathered = !sequence.empty() && is_collective(templates_[sequence.back()].op, CommGroup::kTensor, CollectiveKind::kAllGather);
        const std::int64_t shards = gathered ? config_.tp : 1;
        const auto at = gathered ? sequence.end() - 1 : sequence.end();
        // Casts run where their GEMM runs: beside an all-to-all when it does.
        Op cast = shard_of(config_.lora.on() ? fp8_rowwise_cast_op(op) : fp8_cast_op(op), shards);
        cast.beside_exchange = op.beside_exchange;
        const auto cast_at = sequence.insert(at, add_template(cast, cost_model_.estimate(cast, gpu_)));
        if (config_.fp8_current_scaling && !(config_.fp8_amax_fused && input_from_norm_or_activation(ops, i))) {
          Op amax = shard_of(fp8_amax_op(op), shards);
          amax.beside_exchange = op.beside_exchange;
          sequence.insert(cast_at, add_template(amax, cost_model_.estimate(amax, gpu_)));
        }
      }
      use_fp8_operands(op);
    }
    CostEstimate cost;
    if (op.kind == OpClass::kCollective) {
      const auto ranks = op.group == CommGroup::kContext ? config_.cp : op.group == CommGroup::kExpert ? config_.ep : config_.tp;
      cost = {collective_duration(fabric_, op.collective, op.collective_bytes * analytic_deepep_scale(op), static_cast<int>(ranks)),
              Bound::kMemory, network_model_name(fabric_.network), 0, {}};
    } else {
      cost = cost_model_.estimate(op, gpu_);
      // No cost model measured attention with dropout: its draws come on top of the kernel.
      cost.duration += from_seconds(attention_dropout_seconds(op, gpu_));
      // Every collective waits for the slowest GPU: tensor kernels, whose pace a GPU's
      // power-managed clock sets, run at the slowest of the job's GPUs'; masked attention
      // also at the DP rank whose documents cost it most.
      if (op.kind == OpClass::kGemm || op.kind == OpClass::kAttention) {
        const double pace = slowest_gpu_ * (op.kind == OpClass::kAttention ? attention_imbalance_ : 1.0);
        cost.duration = static_cast<Time>(std::llround(static_cast<double>(cost.duration) * pace));
      }
    }
    sequence.push_back(add_template(std::move(op), cost));
  }
  if (config_.tp_comm_overlap_separate_sum) add_separate_sums(sequence);
  charge_pipeline_fill(sequence);
  return sequence;
}

// PyTorch's fused_matmul_reduce_scatter computes, chunk by chunk, each destination's rows
// of the GEMM's partial product and sends them whole; each rank then sums the tp partials
// of its rows in one kernel after the last chunk: it reads m x n outputs and writes m/tp x n.
// The pair's successor waits for that kernel, which waits for both.
void TrainingStep::add_separate_sums(Sequence& sequence) {
  const Dtype out = config_.dtype == Dtype::kFp8 ? Dtype::kBf16 : config_.dtype;  // fp8 GEMMs write bf16
  const double tp = static_cast<double>(config_.tp);
  for (std::size_t i = 0; i + 1 < sequence.size(); ++i) {
    const Op& gemm = templates_[sequence[i]].op;
    if (gemm.kind != OpClass::kGemm || !overlaps_next(sequence, i)) continue;
    const double outputs = static_cast<double>(gemm.gemm.m * gemm.gemm.n * gemm.gemm.batch);
    Op sum;
    sum.name = gemm.name + ".rs_sum";
    sum.kind = OpClass::kElementwise;
    sum.phase = gemm.phase;
    sum.dtype = out;
    sum.flops = outputs;
    sum.bytes = outputs * (1 + 1 / tp) * dtype_bytes(out);
    sequence.insert(sequence.begin() + static_cast<std::ptrdiff_t>(i + 2), add_template(sum, cost_model_.estimate(sum, gpu_)));
  }
}

bool TrainingStep::simulated(int rank) const {
  return (rank / config_.replica_ranks()) % config_.dp < config_.simulated_replicas() &&
         rank % config_.tp < config_.simulated_tp_ranks();
}

// A stage's ranks are slots (d x cp + c) of tp ranks each: the simulated ranks of each
// TP group, or the gradient groups (all DP x CP slots of one TP rank; for experts, the
// replicas holding the same experts).
std::vector<std::vector<int>> TrainingStep::groups(CommGroup kind, int stage) const {
  const std::int64_t slots = config_.simulated_replicas() * config_.cp;
  std::vector<std::vector<int>> groups;
  const auto add_group = [&](std::int64_t first_slot, std::int64_t slot_step, std::int64_t size, std::int64_t t, bool along_tp) {
    std::vector<int> group;
    for (std::int64_t i = 0; i < size; ++i) {
      group.push_back(along_tp ? rank_of(stage, first_slot, i) : rank_of(stage, first_slot + i * slot_step, t));
    }
    groups.push_back(std::move(group));
  };
  switch (kind) {
    case CommGroup::kTensor:  // the simulated TP ranks only; a TP collective's other members are on the network
      for (std::int64_t slot = 0; slot < slots; ++slot) add_group(slot, 0, config_.simulated_tp_ranks(), 0, true);
      break;
    case CommGroup::kData:  // each replica's with local SGD (one group without)
      for (std::int64_t first = 0; first < config_.dp * config_.cp; first += config_.gradient_ranks()) {
        for (std::int64_t t = 0; t < config_.tp; ++t) add_group(first, 1, config_.gradient_ranks(), t, false);
      }
      break;
    case CommGroup::kOuter:  // a slot of the first replica and its counterparts in the others
      for (std::int64_t first = 0; first < config_.gradient_ranks(); ++first) {
        for (std::int64_t t = 0; t < config_.tp; ++t) add_group(first, config_.gradient_ranks(), config_.outer_replicas(), t, false);
      }
      break;
    case CommGroup::kPipeline:
      for (std::int64_t t = 0; t < config_.tp; ++t) add_group(0, 1, config_.dp * config_.cp, t, false);
      break;
    case CommGroup::kExpertData:  // those holding a simulated rank: replica e < ep is the first of its group
      if (config_.experts_folded()) {  // position e < ep of the stage's ranks (slot x tp + t) is the first of its group
        const std::int64_t simulated = config_.simulated_replicas() * config_.tp;
        for (std::int64_t e = 0; e < std::min(config_.ep, simulated); ++e) {
          if (e % config_.tp >= config_.simulated_tp_ranks()) continue;
          std::vector<int> group;
          for (std::int64_t j = 0; j < config_.expert_data_ranks(); ++j) {
            const std::int64_t position = e + j * config_.ep;
            group.push_back(rank_of(stage, position / config_.tp, position % config_.tp));
          }
          groups.push_back(std::move(group));
        }
        break;
      }
      for (std::int64_t e = 0; e < std::min(config_.ep, config_.simulated_replicas()); ++e) {
        for (std::int64_t t = 0; t < config_.tp; ++t) {
          std::vector<int> group;
          for (std::int64_t j = 0; j < config_.dp / config_.ep; ++j) {
            for (std::int64_t c = 0; c < config_.cp; ++c) group.push_back(rank_of(stage, (e + j * config_.ep) * config_.cp + c, t));
          }
          groups.push_back(std::move(group));
        }
      }
      break;
    case CommGroup::kDataPartition: {  // consecutive slots of the gradient group, those holding a simulated rank
      const std::int64_t size = config_.zero_hpz_partition_size;
      for (std::int64_t first = 0; first < slots; first += size) {
        for (std::int64_t t = 0; t < config_.tp; ++t) add_group(first, 1, size, t, false);
      }
      break;
    }
    case CommGroup::kContext:
    case CommGroup::kExpert:
      break;  // built by emit() from the TP groups, whose simulated ranks it knows
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
  // Masked attention at this micro-batch's own cost on this CP rank, and its other work at
  // its own tokens (1 when not drawn), its collectives' bytes too (the flow network sends
  // them); the DP group's traffic does not depend on them.
  const bool data_traffic = t.op.kind == OpClass::kCollective && t.op.group != CommGroup::kTensor &&
                            t.op.group != CommGroup::kContext && t.op.group != CommGroup::kExpert &&
                            t.op.group != CommGroup::kPipeline;
  double share = 1;
  if (t.op.kind == OpClass::kAttention) {
    share = attention_share(rank);
  } else if (token_scaled_ && !data_traffic) {
    share = token_share(rank);
  }
  const Time duration = share == 1.0 ? t.cost.duration : static_cast<Time>(std::llround(static_cast<double>(t.cost.duration) * share));
  const OpId id = on_network ? graph_.add_external_op(resources, name, category) : graph_.add_op(duration, resources, name, category);
  if (t.op.kind == OpClass::kCollective && share != 1.0) collective_shares_.emplace(id, share);
  template_of_op_.push_back(template_index);
  rank_of_op_.push_back(rank);
  context_of_op_.push_back(context_);
  return id;
}

bool TrainingStep::host_modeled() const { return config_.host.launch_seconds > 0 || config_.host.cuda_graphs; }

Time TrainingStep::launch_time(const Op& op, bool in_graph, bool starts_graph) const {
  if (in_graph) return starts_graph ? from_seconds(config_.host.graph_launch_seconds) : 0;
  return from_seconds(config_.host.launch_seconds * static_cast<double>(op.kernels));
}

// Whether a layer's op is inside a captured CUDA graph: every op of a graphed layer, or with
// scopes, those of the parts named; collectives belong to the part they sit in (`scope`
// carries the part of the op before).
bool TrainingStep::captured(const Op& op, std::string& scope) const {
  if (!graphed_) return false;
  const std::vector<std::string>& scopes = config_.host.graph_scopes;
  if (scopes.empty()) return true;
  if (std::string own = graph_scope_of(op.name, model_.is_moe()); !own.empty()) scope = std::move(own);
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

// Launches are recorded while the GPU's ops are built and become host ops of the graph
// only where the host could hold its GPU up (add_host_ops).
void TrainingStep::launch(int rank, OpId op, Time host_time) {
  if (!host_modeled() || !simulated(rank)) return;
  const OpId reads = std::exchange(host_reads_[rank], kNoOp);
  if (host_time == 0 && reads == kNoOp) return;
  if (rank == 0) host_busy_ += host_time;  // the step reports rank 0's host
  launches_.push_back({op, reads, host_time, rank});
}

// The earliest each op could start whatever the resources and the network do: the longest
// chain of op durations before it (a network op counts as taking no time).
namespace {
// The longest chain of op durations (collectives counted as free) before each op starts,
// or, `after`, after each op ends: a DAG's longest paths, in Kahn's order.
std::vector<Time> longest_chains(const OpGraph& graph, bool after) {
  const std::size_t n = graph.op_count();
  std::vector<std::uint32_t> waiting(n, 0), first_edge(n + 1, 0);
  for (auto [before, later] : graph.dependencies()) {
    if (after) std::swap(before, later);
    ++waiting[later];
    ++first_edge[before + 1];
  }
  for (std::size_t i = 0; i < n; ++i) first_edge[i + 1] += first_edge[i];
  std::vector<OpId> next(graph.dependencies().size());
  std::vector<std::uint32_t> fill(first_edge.begin(), first_edge.end() - 1);
  for (auto [before, later] : graph.dependencies()) {
    if (after) std::swap(before, later);
    next[fill[before]++] = later;
  }
  const auto duration = [&graph](OpId op) { return std::max<Time>(0, graph.op(op).duration); };
  std::vector<Time> chain(n, 0);
  std::vector<OpId> ready;
  for (OpId op = 0; op < n; ++op) {
    if (waiting[op] == 0) ready.push_back(op);
  }
  while (!ready.empty()) {
    const OpId op = ready.back();
    ready.pop_back();
    // Forward: an op starts after the chain before it and its own run; backward: the chain
    // after an op's predecessor holds this op's run and what follows it.
    const Time through = chain[op] + duration(op);
    for (std::uint32_t e = first_edge[op]; e < first_edge[op + 1]; ++e) {
      chain[next[e]] = std::max(chain[next[e]], through);
      if (--waiting[next[e]] == 0) ready.push_back(next[e]);
    }
  }
  return chain;
}
}  // namespace

std::vector<Time> TrainingStep::earliest_starts() const { return longest_chains(graph_, false); }

Time TrainingStep::compute_lower_bound() const {
  // A rank's compute stream cannot start before the shortest chain ahead of any of its
  // kernels, runs them one at a time, and leaves at least the shortest chain after any.
  const std::vector<Time> before = longest_chains(graph_, false), after = longest_chains(graph_, true);
  struct Stream {
    Time busy = 0, head = kTimeMax, tail = kTimeMax;
  };
  std::vector<Stream> streams(graph_.resource_count());
  for (OpId op = 0; op < graph_.op_count(); ++op) {
    if (graph_.is_external(op)) continue;
    for (ResourceId r : graph_.resources_of(op)) {
      Stream& s = streams[r];
      s.busy += graph_.op(op).duration;
      s.head = std::min(s.head, before[op]);
      s.tail = std::min(s.tail, after[op]);
    }
  }
  Time bound = 0;
  for (const RankResources& rank : ranks_) {
    if (rank.compute == kNoResource || streams[rank.compute].busy == 0) continue;
    const Stream& s = streams[rank.compute];
    bound = std::max(bound, s.head + s.busy + s.tail);
  }
  return bound;
}

// A host that never waits for its GPU launches on a fixed timeline: launch k is done at the
// sum of the launch times up to k, whatever the GPU does. Its only effect is then a release
// time per kernel, and only kernels that could otherwise start before their launch need one:
// a host op of that length ahead of each such kernel, exact and few (the step's first
// kernels, short ones the host falls behind on). A host that waits for a kernel's result
// (dropless routing) runs on the GPU's timeline: each rank's launches become a chain of host
// ops, each after the one before and after any kernel it waits for.
void TrainingStep::add_host_ops() {
  if (launches_.empty()) return;
  const bool waits = std::any_of(launches_.begin(), launches_.end(), [](const Launch& l) { return l.reads != kNoOp; });
  for (std::size_t r = 0; r < ranks_.size(); ++r) {
    if (simulated(static_cast<int>(r))) ranks_[r].host = graph_.add_resource({"GPU " + std::to_string(r), "host", waits ? 1u : 1u << 20});
  }
  const LabelId name = graph_.label("host.launch"), category = graph_.label("host");
  const auto add_host_op = [&](const Launch& l, Time duration) {
    const OpId host = graph_.add_op(duration, std::vector<ResourceId>{ranks_[static_cast<std::size_t>(l.rank)].host}, name, category);
    template_of_op_.push_back(kHostLaunch);
    rank_of_op_.push_back(l.rank);
    const OpContext where = context_of_op_[l.op];  // a copy: push_back may move the vector
    context_of_op_.push_back(where);
    graph_.add_dependency(host, l.op);
    return host;
  };
  if (!waits) {
    const std::vector<Time> earliest = earliest_starts();
    std::vector<Time> launched(ranks_.size(), 0);
    for (const Launch& l : launches_) {
      Time& done = launched[static_cast<std::size_t>(l.rank)];
      done += l.host_time;
      if (done > earliest[l.op]) add_host_op(l, done);
    }
    return;
  }
  std::vector<OpId> host_last(ranks_.size(), kNoOp);
  for (const Launch& l : launches_) {
    const OpId host = add_host_op(l, l.host_time);
    after(std::exchange(host_last[static_cast<std::size_t>(l.rank)], host), host);
    after(l.reads, host);
  }
}

// DualPipe's overlapped forward-backward launches its two passes piece by piece from one host
// thread: the pair's launches alternate, each pass's in its own order, rather than all of the
// forward's first (from `forward` the forward's, from `backward` to the end the backward's).
void TrainingStep::interleave_launches(std::size_t forward, std::size_t backward) {
  std::vector<Launch> merged;
  merged.reserve(launches_.size() - forward);
  for (std::size_t f = forward, b = backward; f < backward || b < launches_.size();) {
    if (f < backward) merged.push_back(launches_[f++]);
    if (b < launches_.size()) merged.push_back(launches_[b++]);
  }
  std::copy(merged.begin(), merged.end(), launches_.begin() + static_cast<std::ptrdiff_t>(forward));
}

// Pairs of ops that run side by side, the op after the pair waiting for both (each pair
// takes about the longer of its two ops):
// - with TP communication overlap (Megatron-core's tp_comm_overlap, which needs sequence
//   parallelism), an all-gather and the GEMM that consumes it, and a GEMM and the
//   reduce-scatter of its output, as the chunked ring exchange runs them;
// - with context parallelism, the ring pass of K and V and the attention kernel that
//   works through the chunks as they arrive (not the all-gather without a ring, which the
//   kernel waits for).
bool TrainingStep::overlaps_next(const Sequence& sequence, std::size_t i) const {
  if (i + 2 >= sequence.size()) return false;  // a pair needs an op after it to join on
  const Op& op = templates_[sequence[i]].op;
  const Op& next = templates_[sequence[i + 1]].op;
  if (is_collective(op, CommGroup::kContext, CollectiveKind::kAllGather)) {
    return next.kind == OpClass::kAttention && config_.cp_ring != CpRing::kAllGather;
  }
  if (!config_.tp_comm_overlap) return false;
  if (is_collective(op, CommGroup::kTensor, CollectiveKind::kAllGather)) return next.kind == OpClass::kGemm;
  return op.kind == OpClass::kGemm && is_collective(next, CommGroup::kTensor, CollectiveKind::kReduceScatter) &&
         (next.phase == Phase::kForward || config_.tp_comm_overlap_backward_rs);
}

// Overlap splits a TP collective and its GEMM into tp chunks (Megatron's userbuffers ring
// exchange; PyTorch's micro-pipelined async TP; Wang et al., ASPLOS 2023): the GEMM's first
// chunk waits for the all-gather's first, and the reduce-scatter's last chunk for the
// GEMM's last. The GEMM's side carries that unhidden chunk: the pair takes
// max(C, G + C / tp) rather than max(C, G). Context parallelism's ring starts on the rank's own K
// and V, so its pairs need no such charge while attention is the longer side.
void TrainingStep::charge_pipeline_fill(const Sequence& sequence) {
  for (std::size_t i = 0; i + 1 < sequence.size(); ++i) {
    if (!overlaps_next(sequence, i)) continue;
    Template& a = templates_[sequence[i]];
    Template& b = templates_[sequence[i + 1]];
    Template& exchange = a.op.kind == OpClass::kCollective ? a : b;
    Template& gemm = a.op.kind == OpClass::kCollective ? b : a;
    if (exchange.op.group != CommGroup::kTensor || gemm.op.kind != OpClass::kGemm) continue;
    gemm.cost.duration += exchange.cost.duration / static_cast<Time>(config_.tp);
  }
}

// Emits a sequence on every TP group of a stage (ordered by slot, see groups()): compute
// per rank, TP collectives per TP group, CP collectives across the groups of a replica.
void TrainingStep::emit(const Sequence& sequence, const std::vector<std::vector<int>>& tp_groups) {
  const std::size_t tp = tp_groups.front().size();  // simulated TP ranks per group
  const auto cp = static_cast<std::size_t>(config_.cp);
  // Per rank, indexed slot x tp + t: the op emitted now, and the first op of an
  // overlapped pair, which the op after the pair also waits for.
  std::vector<OpId> ids(tp_groups.size() * tp), alongside(tp_groups.size() * tp, kNoOp);
  const auto collective = [&](std::uint32_t index, const std::vector<std::size_t>& members, ResourceId RankResources::*stream) {
    std::vector<ResourceId> resources;
    for (std::size_t k : members) {
      const int r = tp_groups[k / tp][k % tp];
      resources.push_back(ranks_[r].*stream);
      resources.push_back(ranks_[r].link);
    }
    const OpId id = add(index, tp_groups[members.front() / tp][members.front() % tp], resources);
    for (std::size_t k : members) ids[k] = id;
  };
  std::size_t run_left = 0;  // ops still to come beside the open op (the first of a pair or run)
  bool in_capture = false;  // the previous op was inside a captured CUDA graph
  std::string scope;
  for (std::size_t i = 0; i < sequence.size(); ++i) {
    const std::uint32_t index = sequence[i];
    const Op& op = templates_[index].op;
    const bool in_run = run_left > 0;
    const std::size_t run = in_run ? 0 : ops_beside(sequence, i);
    if (op.kind != OpClass::kCollective) {
      for (std::size_t k = 0; k < ids.size(); ++k) {
        const int r = tp_groups[k / tp][k % tp];
        ids[k] = add(index, r, {ranks_[r].compute});
      }
    } else if (op.group == CommGroup::kExpert) {
      emit_expert_exchange(index, tp_groups, ids);
    } else if (op.group == CommGroup::kContext) {
      for (std::size_t first = 0; first < tp_groups.size(); first += cp) {
        for (std::size_t t = 0; t < tp; ++t) {
          std::vector<std::size_t> members;
          for (std::size_t c = 0; c < cp; ++c) members.push_back((first + c) * tp + t);
          collective(index, members, &RankResources::cp_comm);
        }
      }
    } else {
      for (std::size_t g = 0; g < tp_groups.size(); ++g) {
        std::vector<std::size_t> members;
        for (std::size_t t = 0; t < tp; ++t) members.push_back(g * tp + t);
        collective(index, members, &RankResources::tp_comm);
      }
    }
    const bool capture = captured(op, scope);
    const Time host_time = launch_time(op, capture, capture && !in_capture);
    in_capture = capture;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const int r = tp_groups[k / tp][k % tp];
      launch(r, ids[k], host_time);
      if (op.host_reads_result) host_reads_[r] = ids[k];
      after(last_[r], ids[k]);
      after(std::exchange(waits_for_[r], kNoOp), ids[k]);
      after(std::exchange(joins_[r], kNoOp), ids[k]);
      after(std::exchange(copy_waits_[r], kNoOp), ids[k]);
      if (in_run) {
        last_[r] = ids[k];  // beside the open op, which stays in `alongside`
        continue;
      }
      after(alongside[k], ids[k]);
      // The first of a pair or run leaves last_ alone so that the ops beside it start with it.
      alongside[k] = run > 0 ? ids[k] : kNoOp;
      if (run == 0) last_[r] = ids[k];
    }
    run_left = in_run ? run_left - 1 : run;
  }
}

// How many of the ops after op i run beside it: its partner when it begins an overlapped
// pair; with the shared expert's overlap, the flagged ops after an expert all-to-all. A run
// needs an op after it to join on.
std::size_t TrainingStep::ops_beside(const Sequence& sequence, std::size_t i) const {
  if (overlaps_next(sequence, i)) return 1;
  if (!is_collective(templates_[sequence[i]].op, CommGroup::kExpert, CollectiveKind::kAllToAll)) return 0;
  std::size_t n = 0;
  while (i + 1 + n < sequence.size() && templates_[sequence[i + 1 + n]].op.beside_exchange) ++n;
  return i + 1 + n < sequence.size() ? n : 0;
}

// An all-to-all over each EP group that holds simulated ranks: the ep replicas from a
// multiple of ep, at one CP and TP rank (folded: ep consecutive ranks). Members outside the simulated replicas still
// move their data on the network; `ids` gets the op for the simulated ones.
void TrainingStep::emit_expert_exchange(std::uint32_t index, const std::vector<std::vector<int>>& tp_groups,
                                        std::vector<OpId>& ids) {
  const std::size_t tp = tp_groups.front().size(), cp = static_cast<std::size_t>(config_.cp);
  const std::size_t slots = tp_groups.size();
  if (config_.experts_folded()) {  // ep consecutive positions slot x tp + t of the stage (a slot: a replica's CP rank)
    // The simulated ranks, in order, have rising positions, so a group's are consecutive here;
    // its first is the group's first position (ep divides tp, or tp divides ep).
    const auto all_tp = static_cast<std::size_t>(config_.tp), ep = static_cast<std::size_t>(config_.ep);
    const auto group_of_member = [&](std::size_t k) { return ((k / tp) * all_tp + k % tp) / ep; };
    for (std::size_t first = 0; first < ids.size();) {
      std::size_t end = first + 1;
      while (end < ids.size() && group_of_member(end) == group_of_member(first)) ++end;
      std::vector<ResourceId> resources;
      for (std::size_t k = first; k < end; ++k) {
        resources.push_back(ranks_[tp_groups[k / tp][k % tp]].ep_comm);
        resources.push_back(ranks_[tp_groups[k / tp][k % tp]].link);
      }
      const OpId id = add(index, tp_groups[first / tp][first % tp], resources);
      std::fill(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.begin() + static_cast<std::ptrdiff_t>(end), id);
      first = end;
    }
    return;
  }
  const std::size_t group_slots = static_cast<std::size_t>(config_.ep) * cp;
  for (std::size_t first = 0; first < slots; first += group_slots) {
    for (std::size_t c = 0; c < cp; ++c) {
      for (std::size_t t = 0; t < tp; ++t) {
        std::vector<ResourceId> resources;
        for (std::size_t slot = first + c; slot < std::min(slots, first + group_slots); slot += cp) {
          const int r = tp_groups[slot][t];
          resources.push_back(ranks_[r].ep_comm);
          resources.push_back(ranks_[r].link);
        }
        const OpId id = add(index, tp_groups[first + c][t], resources);
        for (std::size_t slot = first + c; slot < std::min(slots, first + group_slots); slot += cp) ids[slot * tp + t] = id;
      }
    }
  }
}

// The gradient group (CP ranks hold the same weights too), its expert share, hpZ's
// partition, or local SGD's outer group.
std::int64_t TrainingStep::dp_group_size(CommGroup kind) const {
  switch (kind) {
    case CommGroup::kDataPartition: return config_.zero_hpz_partition_size;
    case CommGroup::kOuter: return config_.outer_replicas();
    // A bidirectional pipeline's other copy of this stage's layers sits on stage p-1-s: its
    // replicas join the reduction (the network moves their data; their timelines mirror this one's).
    case CommGroup::kExpertData: return config_.expert_data_ranks() * schedule_->model_copies();
    case CommGroup::kData: return config_.gradient_ranks() * schedule_->model_copies();
    default: return config_.gradient_ranks();
  }
}

std::vector<OpId> TrainingStep::emit_dp_collective(CollectiveKind kind, double bytes, const std::string& name, int stage,
                                                   CommGroup group_kind, bool beside_step) {
  const std::int64_t members = dp_group_size(group_kind);
  std::vector<OpId> ids(static_cast<std::size_t>(config_.tp), kNoOp);
  if (members == 1) return ids;
  // A bidirectional pipeline reduces a stage pair's gradients (and gathers its weights) over
  // both stages' replicas; each stage of the pair posts half the data, beside the other's
  // half: their timelines mirror each other, so the halves move together, as one would.
  if (group_kind == CommGroup::kData || group_kind == CommGroup::kExpertData) bytes /= static_cast<double>(schedule_->model_copies());
  Op op;
  op.name = name;
  op.kind = OpClass::kCollective;
  op.phase = Phase::kBackwardWeight;
  op.dtype = config_.grad_dtype;
  op.collective = kind;
  op.group = group_kind;
  op.collective_bytes = bytes;
  const CostEstimate cost{collective_duration(fabric_, kind, bytes, static_cast<int>(members)),
                          Bound::kMemory, network_model_name(fabric_.network), 0, {}};
  const std::uint32_t index = add_template(op, cost);
  const auto gradient_groups = groups(group_kind, stage);
  for (std::size_t t = 0; t < gradient_groups.size(); ++t) {
    const std::vector<int>& group = gradient_groups[t];
    std::vector<ResourceId> resources;
    for (int r : group) {
      if (!simulated(r)) continue;  // a replica that is not simulated: the network still moves its data
      resources.push_back(beside_step ? ranks_[r].outer_comm : ranks_[r].dp_comm);
      resources.push_back(ranks_[r].link);
    }
    // The group of a TP rank that is not simulated runs the same reduction on its own
    // rail, beside the simulated one's.
    if (resources.empty()) continue;
    const OpId id = add(index, group.front(), resources);
    if (t < ids.size()) ids[t] = id;
    for (int r : group) {
      if (!simulated(r)) continue;
      launch(r, id, launch_time(op, false, false));
      if (beside_step) continue;
      after(last_[r], id);
      after(last_dp_[r], id);
      last_dp_[r] = id;
    }
  }
  return ids;
}

// The syncing step's average (workloads/local_sgd.hpp) of the `parameters` this rank
// updates (its shard when the replica shards its optimizer): the outer gradient, its
// all-reduce with the rank's counterparts in the other replicas, the outer optimizer; the
// outer gradients' starts end the inner step.
//
// Streaming DiLoCo averages one fragment at a time. With overlap_steps, the all-reduce is
// not in this sequence: emit_averages_in_flight puts the one in flight beside the step's
// work, and the step merges it here without waiting (TrainingStep::run charges what it
// takes beyond the steps it overlaps).
void TrainingStep::emit_local_sgd_average(double parameters, int stage) {
  const std::vector<OpId> outer = emit_optimizer_pass(outer_gradient_op(parameters, config_.local_sgd_sync_bytes()), stage);
  averages_.insert(averages_.end(), outer.begin(), outer.end());
  if (!config_.local_sgd_overlapped()) {
    emit_dp_collective(CollectiveKind::kAllReduce, average_bytes(parameters), "local_sgd.average", stage, CommGroup::kOuter);
  }
  emit_optimizer_pass(outer_optimizer_op(parameters, config_.local_sgd_sync_bytes()), stage);
}

double TrainingStep::average_bytes(double parameters) const { return parameters * config_.local_sgd_sync_bytes(); }

// Streaming DiLoCo's average in flight: the all-reduce of a fragment's outer gradient, on a
// stream of its own from the step's start, beside its work and sharing its links.
void TrainingStep::emit_averages_in_flight() {
  const double fragments = static_cast<double>(config_.local_sgd_fragments);
  for (int stage = 0; stage < config_.pp; ++stage) {
    const std::vector<OpId> ids = emit_dp_collective(CollectiveKind::kAllReduce, average_bytes(updated_parameters(stage) / fragments),
                                                     "local_sgd.average", stage, CommGroup::kOuter, true);
    for (OpId id : ids) {
      if (id != kNoOp) averages_in_flight_.push_back(id);
    }
  }
}

// 1-bit Adam's compression stage (workloads/onebit_adam.hpp): compress, the sign exchange
// (both phases as the ring all-reduce that moves their bytes), the server's average, the update.
void TrainingStep::emit_onebit_adam(double parameters, int stage) {
  emit_optimizer_pass(onebit_compress_op(parameters, config_.grad_dtype), stage);
  emit_dp_collective(CollectiveKind::kAllReduce, parameters * kSignBytes, "onebit_adam.sign_exchange", stage);
  emit_optimizer_pass(onebit_server_op(parameters, static_cast<double>(config_.dp)), stage);
  emit_optimizer_pass(onebit_update_op(parameters), stage);
}

// One gradient bucket's data-parallel reduction: `bytes` of gradients in grad_dtype from
// `layers` layers. With fp8 gradients (workloads/fp8_gradients.hpp) the bucket's scales are
// agreed on, its gradients cast, reduced at a byte each and cast back, all on the DP stream.
void TrainingStep::emit_gradient_bucket(CollectiveKind kind, double bytes, double layers, const std::string& name, int stage,
                                        CommGroup group) {
  if (!config_.fp8_gradients) {
    emit_dp_collective(kind, bytes, name, stage, group);
    return;
  }
  const double grad_bytes = dtype_bytes(config_.grad_dtype);
  const double parameters = bytes / grad_bytes;
  const auto members = static_cast<double>(dp_group_size(group));
  if (members <= 1) return;
  emit_dp_kernel(fp8_gradient_amax_op(parameters, grad_bytes), stage);
  emit_dp_collective(CollectiveKind::kAllReduce, std::max(1.0, layers) * kFp8ScaleBytesPerLayer, name + ".scales", stage, group);
  emit_dp_kernel(fp8_gradient_cast_op(parameters, grad_bytes), stage);
  emit_dp_collective(kind, parameters * kFp8GradientBytes, name + ".fp8", stage, group);
  const double received = kind == CollectiveKind::kReduceScatter ? parameters / members : parameters;
  emit_dp_kernel(fp8_gradient_restore_op(received, grad_bytes), stage);
}

void TrainingStep::emit_dp_kernel(const Op& op, int stage) {
  const std::uint32_t index = kernel_template(op);
  for (const std::vector<int>& group : groups(CommGroup::kData, stage)) {
    for (int r : group) {
      if (!simulated(r)) continue;
      const OpId id = add(index, r, {ranks_[r].dp_comm});
      launch(r, id, launch_time(op, false, false));
      after(last_[r], id);
      after(last_dp_[r], id);
      last_dp_[r] = id;
    }
  }
}

std::uint32_t TrainingStep::kernel_template(const Op& op) {
  const auto key = std::pair{op.name, op.bytes};
  if (const auto it = kernel_templates_.find(key); it != kernel_templates_.end()) return it->second;
  const std::uint32_t index = add_template(op, cost_model_.estimate(op, gpu_));
  kernel_templates_.emplace(key, index);
  return index;
}

std::vector<OpId> TrainingStep::emit_optimizer_pass(const Op& op, int stage) {
  const std::uint32_t index = add_template(op, cost_model_.estimate(op, gpu_));
  std::vector<OpId> ids;
  for (const std::vector<int>& group : groups(CommGroup::kTensor, stage)) {
    for (int r : group) {
      const OpId id = add(index, r, {ranks_[r].compute});
      launch(r, id, launch_time(op, false, false));
      after(last_[r], id);
      after(last_dp_[r], id);
      last_[r] = id;
      ids.push_back(id);
    }
  }
  return ids;
}

bool TrainingStep::shards_optimizer() const { return config_.zero_stage >= 1 && config_.gradient_ranks() > 1; }

bool TrainingStep::gathers_in_forward() const {
  return config_.overlap_param_gather && shards_optimizer() && config_.zero_stage != 3 && !config_.local_sgd();
}

// Every expert is held by dp x cp / ep ranks, so a shard is the stage's parameters over all
// its ranks, dense and expert alike.
double TrainingStep::updated_parameters(int stage) const {
  if (!shards_optimizer()) return trainable_parameters_on_rank(model_, config_, stage);
  return trainable_parameters_on_stage(model_, config_, stage) / static_cast<double>(config_.tp) / static_cast<double>(config_.gradient_ranks());
}

void TrainingStep::emit_optimizer_and_gather() {
  const bool sharded = shards_optimizer();
  for (int stage = 0; stage < config_.pp; ++stage) {
    const double updated = updated_parameters(stage);
    // Gradient clipping (Megatron-LM's --clip-grad and NeMo's gradient_clip_val default to
    // 1.0): each rank reads its shard's gradients for their norm, the squared norms are
    // summed over the gradient group, and the optimizer waits for the sum.
    const bool reduced_gradients = !config_.onebit_adam;
    if (config_.grad_clip) {
      emit_optimizer_pass(grad_norm_op(updated, config_.grad_dtype), stage);
      if (reduced_gradients) emit_dp_collective(CollectiveKind::kAllReduce, 4, "dp.grad_norm_all_reduce", stage);
    }
    if (config_.onebit_adam) {
      emit_onebit_adam(updated, stage);
    } else if (config_.plain_sgd) {
      emit_optimizer_pass(sgd_optimizer_op(updated, config_.weight_dtype(), config_.grad_dtype), stage);
    } else {
      emit_optimizer_pass(optimizer_op(updated, config_.grad_dtype), stage);
    }
    // The next step accumulates into zeroed gradient buffers: every local gradient, written once.
    emit_optimizer_pass(zero_grad_op(trainable_parameters_on_rank(model_, config_, stage), config_.grad_dtype), stage);
    // ZeRO-1/2: each rank updated its shard; the group gathers the new low-precision
    // weights, here or, under overlap_param_gather, layer by layer before the next step's
    // first forward of each. ZeRO-3 gathers them when they are next used. A local SGD
    // average moves the shards again, and the replica gathers them again.
    const bool gathers = sharded && config_.zero_stage != 3;
    if (gathers && !gathers_in_forward()) emit_param_all_gather(stage);
    if (!config_.local_sgd()) continue;
    emit_local_sgd_average(updated / static_cast<double>(config_.local_sgd_fragments), stage);
    if (gathers) emit_param_all_gather(stage);
  }
}

// ZeRO-1/2's gather of the weights each rank updated: the stage's low-precision weights over
// the gradient group.
void TrainingStep::emit_param_all_gather(int stage) {
  const double tp = static_cast<double>(config_.tp);
  if (config_.lora.on()) {  // the adapters, in 16 bits
    emit_dp_collective(CollectiveKind::kAllGather, 2 * trainable_parameters_on_stage(model_, config_, stage) / tp, "dp.param_all_gather", stage);
    return;
  }
  const double experts = expert_parameters_on_stage(model_, config_, stage);
  const double dense = parameters_on_stage(model_, config_, stage) - experts;
  // The fp8 decoder layers' dense weights and experts move at gathered_weight_bytes(true),
  // the embedding, the head and the layers kept in bf16 at gathered_weight_bytes(false).
  const LayerParameters bf16 = bf16_layer_parameters_on_stage(model_, config_, stage);
  const double layer_dense = decoder_parameters_on_stage(model_, config_, stage) - experts - (bf16.all - bf16.experts);
  const double dense_bytes = 2 * (dense - layer_dense) + config_.gathered_weight_bytes(true) * layer_dense;
  const double expert_bytes = config_.gathered_weight_bytes(true) * (experts - bf16.experts) + config_.gathered_weight_bytes(false) * bf16.experts;
  if (!config_.experts_apart() || experts <= 0) {
    emit_dp_collective(CollectiveKind::kAllGather, (dense_bytes + expert_bytes) / tp, "dp.param_all_gather", stage);
    return;
  }
  emit_dp_collective(CollectiveKind::kAllGather, dense_bytes / tp, "dp.param_all_gather", stage);
  emit_dp_collective(CollectiveKind::kAllGather, expert_bytes / config_.expert_split(), "edp.param_all_gather",
                     stage, CommGroup::kExpertData);
}

// Posts the receive of a unit's input from the neighbouring stage: one send/recv per TP
// rank, in the receiver's program order, unless overlap_p2p posts it ahead so that it
// moves while the receiver still computes; it starts once the sender's unit has ended
// too (added after every stage is emitted, since the sender may come later).
void TrainingStep::receive(int stage, const PipeTask& task, int virtual_stage, const std::vector<int>& group) {
  const int pp = static_cast<int>(config_.pp);
  const int entry = schedule_->entry_virtual_stage(task.micro_batch, static_cast<int>(config_.micro_batches()), pp);
  const bool forward = task.work == PipeWork::kForward;
  const int from_virtual = forward ? virtual_stage - 1 : virtual_stage + 1;  // along the micro-batch's copy
  if (task.work == PipeWork::kWeightGrad || from_virtual < entry || from_virtual >= entry + schedule_->positions(pp)) return;
  const int from_stage = schedule_->stage_of(from_virtual, static_cast<int>(config_.pp));
  // Where a V turns (zb_v's last stage, and stage 0 at the ends), the neighbouring virtual
  // stage is on this rank, earlier in its program order: nothing crosses.
  if (from_stage == stage) return;
  const int producer_work = static_cast<int>(forward ? PipeWork::kForward : PipeWork::kBackward);
  for (int receiver : group) {
    const int sender = receiver + (from_stage - stage) * static_cast<int>(config_.dp * config_.replica_ranks());
    const OpId id = add(p2p_template_, sender, {ranks_[sender].pp_comm, ranks_[receiver].pp_comm, ranks_[sender].link,
                                                ranks_[receiver].link});
    p2p_receiver_[id] = receiver;
    launch(receiver, id, launch_time(templates_[p2p_template_].op, false, false));  // the sender's launch is out of its program order
    if (config_.overlap_p2p) {
      waits_for_[receiver] = id;  // posted ahead: only the unit's first op waits for it
    } else {
      after(last_[receiver], id);
      after(std::exchange(joins_[receiver], kNoOp), id);
      last_[receiver] = id;
    }
    pending_receives_.push_back({UnitKey{producer_work, task.micro_batch, from_virtual, sender}, id});
  }
}

// PyTorch FSDP2's copies around its collectives, at the rate its authors measured and
// scaled by the GPU's HBM bandwidth over an H100's: the all-gather copy-out into
// per-parameter tensors runs at 650-700 GB/s (split_with_sizes_copy, pytorch/pytorch PR
// 115515). The reduce-scatter copy-in ran at about 250 GB/s in its first version (PR
// 117975); it is one fused _chunk_cat kernel since PR 122888, taken here at the copy-out's
// rate (unmeasured).
std::uint32_t TrainingStep::fsdp2_copy(FsdpCopy kind, double bytes) {
  const auto key = std::pair{static_cast<int>(kind), bytes};
  if (const auto it = fsdp2_copies_.find(key); it != fsdp2_copies_.end()) return it->second;
  constexpr double kH100Bandwidth = 3.35e12;
  const double rate = 675e9 * gpu_.memory_bandwidth / kH100Bandwidth;
  Op op;
  op.name = kind == FsdpCopy::kAllGatherOut ? "fsdp2.all_gather_copy_out" : "fsdp2.reduce_scatter_copy_in";
  op.kind = OpClass::kElementwise;
  op.phase = kind == FsdpCopy::kAllGatherOut ? Phase::kForward : Phase::kBackwardWeight;
  op.bytes = 2 * bytes;  // read and write
  const CostEstimate cost{from_seconds(bytes / rate), Bound::kMemory, "fsdp2 measured rate", 0, {}};
  const std::uint32_t index = add_template(op, cost);
  fsdp2_copies_.emplace(key, index);
  return index;
}

std::uint32_t TrainingStep::host_copy(bool to_host, std::int32_t layer) {
  const double bytes = saved_by_layer(model_, ops_, layer);
  const auto key = std::pair{to_host, bytes};
  if (const auto it = host_copies_.find(key); it != host_copies_.end()) return it->second;
  const CostEstimate cost{from_seconds(bytes / gpu_.host_copy_bandwidth), Bound::kMemory, "host copy engine", 0, {}};
  const std::uint32_t index = add_template(host_copy_op(to_host, bytes), cost);
  host_copies_.emplace(key, index);
  return index;
}

// At the end of layer g's forward, TE starts the first copy (g = 0) and, where g closes the
// window of the oldest copy not yet waited for, makes the compute stream wait for it and
// starts the next layer's copy after it.
void TrainingStep::offload_after_forward(std::int32_t layer, const std::vector<std::vector<int>>& tp_groups) {
  const auto offloaded = static_cast<std::int64_t>(offload_windows_.size());
  for (const auto& group : tp_groups) {
    for (int r : group) {
      OffloadProgress& progress = offload_[static_cast<std::size_t>(r)];
      const auto start_copy = [&](std::int32_t of_layer) {
        const OpId copy = add(host_copy(true, of_layer), r, {ranks_[r].to_host});
        after(last_[r], copy);
        after(progress.latest, copy);
        progress.latest = copy;
      };
      if (layer == 0) {
        progress = {};
        start_copy(0);
      }
      if (progress.groups >= offloaded || offload_windows_[static_cast<std::size_t>(progress.groups)] != layer) continue;
      copy_waits_[r] = progress.latest;
      if (++progress.groups < offloaded) start_copy(static_cast<std::int32_t>(progress.groups));
    }
  }
}

// Reaching layer g's backward, where g closes the window of the next copy to reload (TE
// walks its windows back), the compute stream waits for the reload before and starts that
// copy's reload; layer 0's backward waits for the last reload.
void TrainingStep::reload_before_backward(std::int32_t layer, const std::vector<std::vector<int>>& tp_groups) {
  const auto offloaded = static_cast<std::int64_t>(offload_windows_.size());
  for (const auto& group : tp_groups) {
    for (int r : group) {
      OffloadProgress& progress = offload_[static_cast<std::size_t>(r)];
      if (layer + 1 == model_.layers) progress = {offloaded, kNoOp};
      const std::int64_t next = progress.groups - 1;
      if (next >= 0 && offload_windows_[static_cast<std::size_t>(next)] == layer) {
        copy_waits_[r] = progress.latest;
        const OpId reload = add(host_copy(false, static_cast<std::int32_t>(next)), r, {ranks_[r].from_host});
        after(last_[r], reload);
        after(progress.latest, reload);
        progress.latest = reload;
        progress.groups = next;
      }
      if (layer == 0) copy_waits_[r] = progress.latest;
    }
  }
}

// The pieces of a pipeline unit that own parameters, in execution order: the embedding,
// each layer, the head; each with the sequences it runs (recompute, then backward).
struct TrainingStep::ParameterUnit {
  std::vector<const Sequence*> sequences;
  double parameters = 0;
  double expert_parameters = 0;  // the experts' share of `parameters`
  std::int32_t layer = -1;       // the decoder layer, counted over the whole model; -1 for the others
  bool mtp = false;              // a multi-token prediction depth's decoder layer (layer: layers + depth)
};

std::vector<TrainingStep::ParameterUnit> TrainingStep::adapter_units(std::vector<ParameterUnit> units) const {
  for (ParameterUnit& unit : units) {
    const bool adapted = unit.layer >= 0 && !unit.mtp;
    const bool dense_mlp = !model_.is_moe() || model_.leading_dense_layer(unit.layer);
    unit.parameters = adapted ? lora_layer_parameters(model_, config_.lora, dense_mlp) : 0;
    unit.expert_parameters = 0;
  }
  return units;
}

std::vector<TrainingStep::ParameterUnit> TrainingStep::parameter_units(const Sequences& seq, const PipeTask& task,
                                                                       int virtual_stage) const {
  const int positions = schedule_->positions(static_cast<int>(config_.pp));
  const int position = schedule_->position(virtual_stage, static_cast<int>(config_.pp));
  const bool first = position == 0;
  const bool last = position + 1 == positions;
  const std::int64_t layers = seq.layers_of_position[static_cast<std::size_t>(position)];
  std::int64_t first_layer = 0;
  for (int v = 0; v < position; ++v) first_layer += seq.layers_of_position[static_cast<std::size_t>(v)];
  const auto layer = [first_layer](std::int64_t l) { return static_cast<std::int32_t>(first_layer + l); };
  const ParameterCount& params = seq.params;
  // A leading dense layer of an MoE model runs its own kernels and holds its own weights; a
  // layer kept in bf16 under fp8 runs its kernels in bf16.
  const auto dense = [&](std::int64_t l) { return model_.leading_dense_layer(layer(l)); };
  const auto templates_of = [&](std::int64_t l) -> const LayerSequences& {
    const bool bf16 = config_.bf16_layer(layer(l), model_.layers);
    if (dense(l)) return bf16 ? seq.dense_bf16 : seq.dense;
    return bf16 ? seq.layer_bf16 : seq.layer;
  };
  const auto weights_of = [&](std::int64_t l) { return dense(l) ? params.per_dense_layer : params.per_layer; };
  const auto experts_of = [&](std::int64_t l) { return dense(l) ? 0.0 : params.per_layer_experts; };
  std::vector<ParameterUnit> units;
  if (task.work == PipeWork::kForward) {
    if (first) units.push_back({{&seq.embedding_fwd}, params.embedding});
    for (std::int64_t l = 0; first && l < model_.encoder_layers; ++l) units.push_back({{&seq.encoder_fwd}, params.per_encoder_layer});
    for (std::int64_t l = 0; l < layers; ++l) units.push_back({{&templates_of(l).fwd}, weights_of(l), experts_of(l), layer(l)});
    if (last) add_mtp_forward(seq, units);
    if (last) units.push_back({{&seq.head_fwd}, params.lm_head + params.final_norms});
    return units;
  }
  const bool weights = task.work == PipeWork::kWeightGrad;
  if (last) units.push_back({{weights ? &seq.head_wgrad : &seq.head_bwd}, params.lm_head + params.final_norms});
  if (last) add_mtp_backward(seq, weights, units);
  for (std::int64_t l = layers - 1; l >= 0; --l) {  // backward runs the layers last to first
    const bool rerun = (layer(l) + 1) % config_.recompute_every == 0;
    const LayerSequences& own = templates_of(l);
    units.push_back({weights ? std::vector<const Sequence*>{&own.wgrad}
                     : rerun ? std::vector<const Sequence*>{&own.recompute, &own.bwd}
                             : std::vector<const Sequence*>{&own.bwd},
                     weights_of(l), experts_of(l), layer(l)});
  }
  for (std::int64_t l = 0; first && l < model_.encoder_layers; ++l) {
    units.push_back({{&seq.encoder_recompute, &seq.encoder_bwd}, params.per_encoder_layer});
  }
  if (first) units.push_back({{weights ? &seq.embedding_wgrad : &seq.embedding_bwd}, params.embedding});
  return units;
}

// Multi-token prediction on the last position, in Megatron-core's order: every depth's
// embedding, projection and decoder layer after the model's layers, then each depth's output
// head and loss. The head's weights are the model's (no parameters of their own); with pp > 1
// the first depth's embedding is the last stage's copy of the embedding, which it trains.
void TrainingStep::add_mtp_forward(const Sequences& seq, std::vector<ParameterUnit>& units) const {
  const double embedding_copy = config_.pp > 1 ? seq.params.embedding : 0;
  for (std::int64_t depth = 0; depth < config_.mtp_layers; ++depth) {
    units.push_back({{&seq.embedding_fwd}, depth == 0 ? embedding_copy : 0});
    units.push_back({{&seq.mtp_fwd}, mtp_projection_parameters(model_)});
    units.push_back({{&seq.layer.fwd}, seq.params.per_layer, seq.params.per_layer_experts,
                     static_cast<std::int32_t>(model_.layers + depth), true});
  }
  for (std::int64_t depth = 0; depth < config_.mtp_layers; ++depth) units.push_back({{&seq.head_fwd}, 0});
}

void TrainingStep::add_mtp_backward(const Sequences& seq, bool weights, std::vector<ParameterUnit>& units) const {
  const double embedding_copy = config_.pp > 1 ? seq.params.embedding : 0;
  for (std::int64_t depth = 0; depth < config_.mtp_layers; ++depth) units.push_back({{weights ? &seq.head_wgrad : &seq.head_bwd}, 0});
  for (std::int64_t depth = config_.mtp_layers - 1; depth >= 0; --depth) {
    const auto layer = static_cast<std::int32_t>(model_.layers + depth);
    const bool rerun = (layer + 1) % config_.recompute_every == 0;
    units.push_back({weights ? std::vector<const Sequence*>{&seq.layer.wgrad}
                     : rerun ? std::vector<const Sequence*>{&seq.layer.recompute, &seq.layer.bwd}
                             : std::vector<const Sequence*>{&seq.layer.bwd},
                     seq.params.per_layer, seq.params.per_layer_experts, layer, true});
    units.push_back({{weights ? &seq.mtp_wgrad : &seq.mtp_bwd}, mtp_projection_parameters(model_)});
    units.push_back({{weights ? &seq.embedding_wgrad : &seq.embedding_bwd}, depth == 0 ? embedding_copy : 0});
  }
}

// With ZeRO-3 / FSDP, each unit's parameters are gathered over the DP group before it
// runs, forward and again backward, the next unit's gather issued as this one starts
// (one unit of prefetch, so at most two are gathered at a time), and each unit's
// gradients are reduce-scattered as soon as its backward ends, every micro-batch. With
// pipeline stages (fully sharded breadth-first pipelines, Lamy-Poirier 2022), a task that
// continues its chunk's run in the same direction finds the weights still gathered, and
// gradients accumulate unsharded until the chunk's last backward, then are reduce-scattered.
void TrainingStep::emit_unit(const Sequences& seq, int stage, const PipeTask& task, bool final_gradients, bool weights_held,
                             bool first_forward, GradientBucket& bucket) {
  const int virtual_stage = schedule_->virtual_stage(stage, task.chunk, static_cast<int>(config_.pp));
  const auto tp_groups = groups(CommGroup::kTensor, stage);
  const double tp = static_cast<double>(config_.tp);
  const bool zero3 = config_.zero_stage == 3;
  const CollectiveKind reduce = config_.zero_stage >= 1 ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce;
  const double grad_bytes = dtype_bytes(config_.grad_dtype);
  const bool fsdp2 = zero3 && config_.fsdp2_copies && config_.gradient_ranks() > 1;
  const bool pipelined = config_.pp > 1;
  // With EP a unit's dense weights live on the DP group and this rank's experts on the dp / ep
  // ranks that hold the same ones: gradient buckets, and under ZeRO-3 (FSDP2 beside EP, as
  // torchtitan and NeMo AutoModel run it) gathers and reductions, split that way, the expert
  // collective none when ep = dp.
  const bool apart = config_.experts_apart();
  const auto dense_of = [&](const ParameterUnit& unit) { return (unit.parameters - (apart ? unit.expert_parameters : 0)) / tp; };
  const auto experts_of = [&](const ParameterUnit& unit) { return apart ? unit.expert_parameters / config_.expert_split() : 0.0; };
  // FSDP2 copies what it gathers and reduces: the experts only where dp / ep ranks share them.
  const bool experts_sharded = config_.expert_data_ranks() > 1;
  const auto copied = [&](const ParameterUnit& unit) { return dense_of(unit) + (experts_sharded ? experts_of(unit) : 0.0); };
  const double members = static_cast<double>(config_.gradient_ranks());
  const auto add_gradients = [&](const ParameterUnit& unit) {
    if (unit.parameters <= 0) return;  // a multi-token prediction depth's head: the model's weights
    if (zero3 && pipelined && !final_gradients) return;
    if (zero3 && config_.zero_quantized_gradients) {
      const double per_node = std::min(members, static_cast<double>(fabric_.gpus / config_.tp));
      emit_dp_kernel(gradient_quantize_op(dense_of(unit), grad_bytes), stage);
      emit_dp_collective(reduce, dense_of(unit) * kQuantizedGradientBytes, "dp.grad_reduce_scatter_int4", stage);
      emit_dp_kernel(gradient_dequantize_op(dense_of(unit), grad_bytes, per_node, members), stage);
      return;
    }
    if (zero3) {
      if (fsdp2) emit({fsdp2_copy(FsdpCopy::kReduceScatterIn, copied(unit) * grad_bytes)}, tp_groups);
      emit_dp_collective(reduce, dense_of(unit) * grad_bytes, "dp.grad_reduce_scatter", stage);
      if (experts_of(unit) > 0) {
        emit_dp_collective(reduce, experts_of(unit) * grad_bytes, "edp.grad_reduce_scatter", stage, CommGroup::kExpertData);
      }
      return;
    }
    // 1-bit Adam's optimizer exchanges momenta instead. Local SGD's inner steps reduce within
    // their replica: nothing when every DP rank is one (a group of one moves no data).
    if (!final_gradients || config_.onebit_adam) return;
    bucket.bytes += dense_of(unit) * grad_bytes;
    bucket.layers += 1;
    if (experts_of(unit) > 0) {
      bucket.expert_bytes += experts_of(unit) * grad_bytes;
      bucket.expert_layers += 1;
    }
    if (!config_.overlap_grad_reduce) return;
    if (bucket.bytes >= config_.grad_bucket_bytes) {
      emit_gradient_bucket(reduce, bucket.bytes, bucket.layers, "dp.grad_bucket_" + std::to_string(bucket.index++), stage,
                           CommGroup::kData);
      bucket.bytes = 0;
      bucket.layers = 0;
    }
    if (bucket.expert_bytes >= config_.grad_bucket_bytes) {
      emit_gradient_bucket(reduce, bucket.expert_bytes, bucket.expert_layers,
                           "edp.grad_bucket_" + std::to_string(bucket.expert_index++), stage, CommGroup::kExpertData);
      bucket.expert_bytes = 0;
      bucket.expert_layers = 0;
    }
  };
  // hpZ: backward gathers run inside the rank's partition, from its bf16 secondary copy.
  const bool in_partition = config_.zero_hpz_partition_size > 1 && task.work != PipeWork::kForward;
  const bool quantized = config_.zero_quantized_weights && !in_partition;
  const auto weight_bytes = [&](const ParameterUnit& unit) {
    if (in_partition || (config_.lora.on() && !zero3)) return 2.0;  // hpZ's secondary copy; LoRA's updated adapters
    return config_.gathered_weight_bytes(unit.layer >= 0 && !config_.bf16_layer(unit.layer, model_.layers));
  };
  const auto gather = [&](const ParameterUnit& unit) {
    if (unit.parameters <= 0) return std::vector<OpId>(static_cast<std::size_t>(config_.tp), kNoOp);
    if (quantized) emit_dp_kernel(weight_quantize_op(dense_of(unit) / members), stage);
    std::vector<OpId> gathered =
        in_partition ? emit_dp_collective(CollectiveKind::kAllGather, dense_of(unit) * 2, "hpz.param_gather", stage,
                                          CommGroup::kDataPartition)
                     : emit_dp_collective(CollectiveKind::kAllGather, dense_of(unit) * weight_bytes(unit), "dp.param_gather", stage);
    if (experts_of(unit) <= 0) return gathered;
    const std::vector<OpId> experts = emit_dp_collective(CollectiveKind::kAllGather, experts_of(unit) * weight_bytes(unit),
                                                         "edp.param_gather", stage, CommGroup::kExpertData);
    // The expert gather follows the dense one on the rank's DP stream: its end is both's.
    for (std::size_t t = 0; t < gathered.size(); ++t) {
      if (experts[t] != kNoOp) gathered[t] = experts[t];
    }
    return gathered;
  };

  context_ = {task.micro_batch, -1};
  token_scaled_ = true;
  for (const auto& group : tp_groups) receive(stage, task, virtual_stage, group);
  token_scaled_ = false;
  const std::vector<ParameterUnit> units = parameter_units(seq, task, virtual_stage);
  // Under LoRA only the adapters have gradients and are updated; ZeRO-3 still gathers the
  // frozen weights it shards.
  std::vector<ParameterUnit> adapters;
  if (config_.lora.on()) adapters = adapter_units(units);
  const std::vector<ParameterUnit>& updated = config_.lora.on() ? adapters : units;
  const std::vector<ParameterUnit>& gathered_units = zero3 ? units : updated;
  const bool gathers = (zero3 && !weights_held) || (first_forward && gathers_in_forward());
  std::vector<OpId> next_gather = gathers && !units.empty() ? gather(gathered_units.front()) : std::vector<OpId>{};
  for (std::size_t i = 0; i < units.size(); ++i) {
    if (gathers && gathered_units[i].parameters <= 0) {
      if (i + 1 < units.size()) next_gather = gather(gathered_units[i + 1]);
    } else if (gathers) {
      const std::vector<OpId> gathered = next_gather;
      if (i + 1 < units.size()) next_gather = gather(gathered_units[i + 1]);
      for (const auto& group : tp_groups) {
        for (std::size_t t = 0; t < group.size(); ++t) waits_for_[group[t]] = gathered[t];
      }
      const ParameterUnit& unit = gathered_units[i];
      if (fsdp2) emit({fsdp2_copy(FsdpCopy::kAllGatherOut, copied(unit) * weight_bytes(unit))}, tp_groups);
      if (quantized) emit({kernel_template(weight_dequantize_op(dense_of(unit)))}, tp_groups);
    }
    context_.layer = units[i].layer;
    const bool offloading = config_.offload_layers > 0 && units[i].layer >= 0 && !units[i].mtp;
    if (offloading && task.work == PipeWork::kBackward) reload_before_backward(units[i].layer, tp_groups);
    graphed_ = config_.host.cuda_graphs && units[i].layer >= 0;
    token_scaled_ = true;
    for (const Sequence* sequence : units[i].sequences) emit(*sequence, tp_groups);
    token_scaled_ = false;
    graphed_ = false;
    if (offloading && task.work == PipeWork::kForward) offload_after_forward(units[i].layer, tp_groups);
    context_.layer = -1;  // gradient buckets gather several layers
    if (task.work != PipeWork::kForward) add_gradients(updated[i]);
  }
  context_ = {};
  for (const auto& group : tp_groups) {
    for (int r : group) unit_end_[UnitKey{static_cast<int>(task.work), task.micro_batch, virtual_stage, r}] = last_[r];
  }
}

// The split that evens out the virtual stages' time: a layer's passes (its recomputation on
// the layers that rerun), the embedding's on the first stage, the head's and the loss's on
// the last, each with the collectives in its program order unless TP overlap hides them.
std::vector<std::int64_t> TrainingStep::balanced_split(const Sequences& seq) const {
  const auto kernels = [&](std::initializer_list<const Sequence*> parts) {
    double time = 0;
    for (const Sequence* part : parts) {
      for (std::uint32_t t : *part) {
        const Op& op = templates_[t].op;
        const bool hidden = op.kind == OpClass::kCollective && op.group == CommGroup::kTensor && config_.tp_comm_overlap;
        if (!hidden) time += static_cast<double>(templates_[t].cost.duration);
      }
    }
    return time;
  };
  const double rerun = kernels({&seq.layer.recompute}) / static_cast<double>(std::max<std::int64_t>(1, config_.recompute_every));
  const double layer = kernels({&seq.layer.fwd, &seq.layer.bwd, &seq.layer.wgrad}) + rerun;
  const double first = kernels({&seq.embedding_fwd, &seq.embedding_bwd, &seq.embedding_wgrad});
  const double mtp_depth = kernels({&seq.embedding_fwd, &seq.embedding_bwd, &seq.embedding_wgrad, &seq.mtp_fwd, &seq.mtp_bwd,
                                    &seq.mtp_wgrad, &seq.head_fwd, &seq.head_bwd, &seq.head_wgrad}) + layer;
  const double last = kernels({&seq.head_fwd, &seq.head_bwd, &seq.head_wgrad}) + static_cast<double>(config_.mtp_layers) * mtp_depth;
  return balanced_stage_layers(model_.layers, config_.positions(), layer, first, last);
}

// A layer's templates, as the decoder layers' in build(): the same recomputation policy, the
// same split of backward; `fp8` false runs its GEMMs in bf16 under fp8 training.
TrainingStep::LayerSequences TrainingStep::add_layer_templates(const LayerOps& ops, bool split, bool fp8) {
  LayerSequences layer;
  layer.fwd = add_templates(ops.forward, fp8);
  if (config_.recompute == Recompute::kFull) layer.recompute = layer.fwd;
  if (config_.recompute == Recompute::kSelective) layer.recompute = add_templates(ops.selective_recompute, fp8);
  if (config_.recompute == Recompute::kSelectiveOp) layer.recompute = add_templates(ops.op_recompute, fp8);
  layer.bwd = add_templates(split ? with_phase(ops.backward, false) : ops.backward, fp8);
  if (split) layer.wgrad = add_templates(with_phase(ops.backward, true), fp8);
  return layer;
}

// The leading dense layers' templates, and under fp8 those of the layers kept in bf16.
void TrainingStep::add_other_layer_templates(Sequences& seq, bool split) {
  const bool dense = !ops_.dense_layer.forward.empty();
  if (dense) seq.dense = add_layer_templates(ops_.dense_layer, split, config_.dtype == Dtype::kFp8);
  if (!config_.has_bf16_layers()) return;
  const LayerOps layer{ops_.layer_forward, ops_.layer_backward, ops_.layer_selective_recompute, ops_.layer_op_recompute,
                       ops_.layer_op_saved_bytes};
  seq.layer_bf16 = add_layer_templates(layer, split, false);
  if (dense) seq.dense_bf16 = add_layer_templates(ops_.dense_layer, split, false);
}

void TrainingStep::build() {
  const int gpus = static_cast<int>(config_.gpus());
  // With the analytic model the link is the only thing that makes TP and DP traffic on
  // a GPU share its port, so collectives take turns on it. The flow network shares the
  // port itself (max-min), so there the link is a trace track only and never makes a
  // collective wait. Send/recv overlaps everything; its stream is a trace track.
  const std::uint32_t link_concurrency = topology_ ? 1u << 20 : 1u;
  for (int r = 0; r < gpus; ++r) {
    const std::string device = "GPU " + std::to_string(r);
    RankResources resources{kNoResource, kNoResource, kNoResource, kNoResource, kNoResource, kNoResource, kNoResource, kNoResource};
    if (!simulated(r)) {
      ranks_.push_back(resources);
      continue;
    }
    resources.compute = graph_.add_resource({device, "compute", 1});
    resources.tp_comm = graph_.add_resource({device, "tp comm", 1});
    resources.cp_comm = config_.cp > 1 ? graph_.add_resource({device, "cp comm", 1}) : kNoResource;
    resources.ep_comm = config_.ep > 1 ? graph_.add_resource({device, "ep comm", 1}) : kNoResource;
    resources.pp_comm = config_.pp > 1 ? graph_.add_resource({device, "pp comm", 1u << 20}) : kNoResource;
    resources.dp_comm = graph_.add_resource({device, "dp comm", 1});
    resources.link = graph_.add_resource({device, "link", link_concurrency});
    if (config_.local_sgd_overlapped()) resources.outer_comm = graph_.add_resource({device, "local sgd average", 1});
    if (config_.offload_layers > 0) {
      resources.to_host = graph_.add_resource({device, "offload to host", 1});
      resources.from_host = graph_.add_resource({device, "reload from host", 1});
    }
    ranks_.push_back(resources);
  }
  last_.assign(gpus, kNoOp);
  last_dp_.assign(gpus, kNoOp);
  waits_for_.assign(gpus, kNoOp);
  joins_.assign(gpus, kNoOp);
  copy_waits_.assign(gpus, kNoOp);
  offload_.assign(gpus, {});
  offload_windows_ = offload_windows(config_.offload_layers, model_.layers);
  host_reads_.assign(gpus, kNoOp);
  host_busy_ = 0;
  schedule_ = config_.make_schedule();
  const bool split = schedule_->splits_backward();
  Sequences seq;
  seq.params = count_parameters(model_);
  seq.embedding_fwd = add_templates(ops_.embedding_forward);
  seq.encoder_fwd = add_templates(ops_.encoder_layer_forward);
  seq.encoder_bwd = add_templates(ops_.encoder_layer_backward);
  seq.layer.fwd = add_templates(ops_.layer_forward);
  seq.head_fwd = add_templates(ops_.head_forward);
  if (config_.mtp_layers > 0) seq.mtp_fwd = add_templates(ops_.mtp_forward);
  if (config_.recompute == Recompute::kFull) {
    seq.layer.recompute = seq.layer.fwd;
    seq.encoder_recompute = seq.encoder_fwd;
  } else if (config_.recompute == Recompute::kSelective) {
    seq.layer.recompute = add_templates(ops_.layer_selective_recompute);
    seq.encoder_recompute = add_templates(ops_.encoder_selective_recompute);
  } else if (config_.recompute == Recompute::kSelectiveOp) {
    seq.layer.recompute = add_templates(ops_.layer_op_recompute);
  }
  seq.embedding_bwd = add_templates(split ? with_phase(ops_.embedding_backward, false) : ops_.embedding_backward);
  seq.layer.bwd = add_templates(split ? with_phase(ops_.layer_backward, false) : ops_.layer_backward);
  seq.head_bwd = add_templates(split ? with_phase(ops_.head_backward, false) : ops_.head_backward);
  if (config_.mtp_layers > 0) seq.mtp_bwd = add_templates(split ? with_phase(ops_.mtp_backward, false) : ops_.mtp_backward);
  if (split && config_.mtp_layers > 0) seq.mtp_wgrad = add_templates(with_phase(ops_.mtp_backward, true));
  if (split) {
    seq.embedding_wgrad = add_templates(with_phase(ops_.embedding_backward, true));
    seq.layer.wgrad = add_templates(with_phase(ops_.layer_backward, true));
    seq.head_wgrad = add_templates(with_phase(ops_.head_backward, true));
  }
  add_other_layer_templates(seq, split);
  if (config_.balance_stages) config_.stage_layers = balanced_split(seq);
  seq.layers_of_position = config_.layers_per_virtual_stage(model_.layers);
  if (seq.layers_of_position.empty()) {
    throw std::invalid_argument("the model's " + std::to_string(model_.layers) + " layers do not split over " +
                                std::to_string(config_.positions()) + " virtual stages as configured");
  }
  // Activations (forward) or their gradients (backward) of one micro-batch cross a stage
  // boundary, split over the TP ranks (Megatron's scatter-gather of pipeline tensors);
  // each CP rank sends its own share of the sequence.
  Op p2p;
  p2p.name = "pp.send_recv";
  p2p.kind = OpClass::kCollective;
  p2p.collective = CollectiveKind::kSendRecv;
  p2p.group = CommGroup::kPipeline;
  p2p.collective_bytes = static_cast<double>(config_.micro_batch * config_.sequence / config_.cp * model_.hidden) *
                         dtype_bytes(config_.dtype == Dtype::kFp8 ? Dtype::kBf16 : config_.dtype) / static_cast<double>(config_.tp);
  p2p_template_ = add_template(p2p, {collective_duration(fabric_, CollectiveKind::kSendRecv, p2p.collective_bytes, 2),
                                     Bound::kMemory, network_model_name(fabric_.network), 0, {}});

  if (config_.local_sgd_overlapped()) emit_averages_in_flight();
  const auto orders = schedule_->orders(static_cast<int>(config_.pp), static_cast<int>(config_.micro_batches()));
  for (int stage = 0; stage < config_.pp; ++stage) {
    GradientBucket bucket;
    const auto& order = orders[static_cast<std::size_t>(stage)];
    // A chunk's gradients are final after its last weight-gradient work in the stage's
    // order (W for split schedules, B otherwise), whichever micro-batch that is.
    const PipeWork gradient_work = split ? PipeWork::kWeightGrad : PipeWork::kBackward;
    std::vector<std::size_t> last_gradient_task(static_cast<std::size_t>(schedule_->chunks()), order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (order[i].work == gradient_work) last_gradient_task[static_cast<std::size_t>(order[i].chunk)] = i;
    }
    std::vector<bool> forwarded(static_cast<std::size_t>(schedule_->chunks()), false);
    for (std::size_t i = 0; i < order.size(); ++i) {
      const auto unit = [&](std::size_t k) {
        const auto chunk = static_cast<std::size_t>(order[k].chunk);
        const bool same_run = k > 0 && order[k - 1].chunk == order[k].chunk &&
                              (order[k - 1].work == PipeWork::kForward) == (order[k].work == PipeWork::kForward);
        const bool first_forward = order[k].work == PipeWork::kForward && !forwarded[chunk];
        if (first_forward) forwarded[chunk] = true;
        emit_unit(seq, stage, order[k], k == last_gradient_task[chunk], same_run, first_forward, bucket);
      };
      if (!order[i].paired || i + 1 == order.size()) {
        unit(i);
        continue;
      }
      // DualPipe's F&B: the forward and its partner backward (with that backward's W when it
      // follows) run as two chains from where the stage's program stands, so that each one's
      // kernels fill the other's waits on transfers and all-to-alls; the next unit follows both,
      // and, as DeepSeek sends both passes' outputs once the pair's compute is done, so do
      // their receivers on the neighbouring stages.
      const std::vector<OpId> start = last_;
      const std::size_t forward_launches = launches_.size();
      const PipeTask forward_task = order[i];
      unit(i);
      const std::vector<OpId> forward_end = last_;
      const std::size_t backward_launches = launches_.size();
      last_ = start;
      unit(++i);
      const bool weight_follows = i + 1 < order.size() && order[i + 1].work == PipeWork::kWeightGrad &&
                                  order[i + 1].micro_batch == order[i].micro_batch && order[i + 1].chunk == order[i].chunk;
      const PipeTask backward_task = order[i];
      if (weight_follows) unit(++i);
      const int pp = static_cast<int>(config_.pp);
      for (std::size_t r = 0; r < last_.size(); ++r) {
        if (forward_end[r] == start[r]) continue;  // a rank of another stage
        joins_[r] = forward_end[r];
        const int rank = static_cast<int>(r);
        pair_ends_.insert({UnitKey{static_cast<int>(PipeWork::kForward), forward_task.micro_batch,
                                   schedule_->virtual_stage(stage, forward_task.chunk, pp), rank}, last_[r]});
        pair_ends_.insert({UnitKey{static_cast<int>(PipeWork::kBackward), backward_task.micro_batch,
                                   schedule_->virtual_stage(stage, backward_task.chunk, pp), rank}, forward_end[r]});
        pair_ends_.insert({UnitKey{static_cast<int>(PipeWork::kBackward), backward_task.micro_batch,
                                   schedule_->virtual_stage(stage, backward_task.chunk, pp), rank}, last_[r]});
      }
      interleave_launches(forward_launches, backward_launches);
    }
    const CollectiveKind reduce = config_.zero_stage >= 1 ? CollectiveKind::kReduceScatter : CollectiveKind::kAllReduce;
    if (bucket.bytes > 0) {
      emit_gradient_bucket(reduce, bucket.bytes, bucket.layers, "dp.grad_bucket_" + std::to_string(bucket.index), stage,
                           CommGroup::kData);
    }
    if (bucket.expert_bytes > 0) {
      emit_gradient_bucket(reduce, bucket.expert_bytes, bucket.expert_layers,
                           "edp.grad_bucket_" + std::to_string(bucket.expert_index), stage, CommGroup::kExpertData);
    }
  }
  for (const auto& [producer, receive] : pending_receives_) {
    graph_.add_dependency(unit_end_.at(producer), receive);
    const auto [first, end] = pair_ends_.equal_range(producer);
    for (auto it = first; it != end; ++it) graph_.add_dependency(it->second, receive);
  }
  emit_optimizer_and_gather();
  add_host_ops();
}

}  // namespace foresight
