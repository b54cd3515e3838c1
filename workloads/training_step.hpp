#pragma once
// Expands one training step into per-rank op DAGs and runs them on the engine.
//
// Each GPU has up to seven resources: a compute stream, TP-, CP-, EP-, PP- and
// DP-communication streams and its link into the fabric. Ops on one rank are chained in program order (CUDA
// stream semantics); a collective is a single op that holds every participant's stream
// and link, so it starts when the slowest member arrives.
//
// Ranks are numbered TP-fastest, then CP, DP and PP: rank = ((stage x dp + d) x cp + c)
// x tp + t, as Megatron lays them out. Each pipeline stage runs its forward (F), backward (B) and, for
// schedules that split it, weight-gradient (W) units in the order its schedule gives
// (workloads/pipeline_schedule.hpp); with pp = 1 that is plain gradient accumulation. A
// unit that needs another stage's output first receives it with a send/recv between the
// same TP rank of both stages, posted in the receiver's program order and started when
// the sender's unit ends. Gradient buckets of the last micro-batch are reduced over each
// stage's DP group as backward produces them when overlap is on, then the optimizer runs
// and, with ZeRO, the updated shards are gathered.
//
// DP replicas run the same program, so by default only the first is in the graph; its DP
// collectives still run over the whole group on the network, where the other replicas'
// shares of the data move too (TrainingConfig::simulate_all_ranks puts every rank in).
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "models/cost_model.hpp"
#include "models/model_arch.hpp"
#include "models/transformer_ops.hpp"
#include "sim/engine/busy_time.hpp"
#include "sim/engine/engine.hpp"
#include "sim/engine/op_graph.hpp"
#include "topologies/node_fabric.hpp"
#include "topologies/routing.hpp"
#include "workloads/deepep_traffic.hpp"
#include "workloads/memory_footprint.hpp"
#include "workloads/pipeline_schedule.hpp"
#include "workloads/training_config.hpp"

namespace foresight {

class AverageEnds;  // workloads/local_sgd.hpp

struct ClassTime {
  std::string op_class;
  Time total = 0;           // per GPU (rank 0), summed over the step
  std::int64_t kernels = 0;
  std::string cost_model;   // which model timed this class
};

// How busy one of a GPU's outgoing ports was from `when` on (flow network only).
struct LinkLoadSample {
  Time when;
  int rank;
  std::string port;  // "to switch", "to node0.nic3"
  double gigabytes_per_second;
};

struct TrainingResult {
  Time step_time = 0;
  double tokens_per_step = 0;
  double tokens_per_second = 0;
  double tokens_per_second_per_gpu = 0;
  double model_flops_per_token = 0;  // training_flops_per_token()
  double model_tflops_per_gpu = 0;
  double mfu = 0;                    // against the peak of the GEMM dtype
  double executed_tflops_per_gpu = 0;
  Time compute_busy = 0;             // rank 0
  Time exposed_tp = 0;
  Time exposed_cp = 0;               // context-parallel ring passes not hidden behind attention
  Time exposed_ep = 0;               // expert-parallel all-to-alls
  Time exposed_pp = 0;               // pipeline send/recv not hidden behind compute or TP
  Time exposed_dp = 0;
  Time exposed_offload = 0;          // activation copies to and from the host that compute waits for
  Time idle = 0;
  Time host_busy = 0;                // rank 0's host thread launching kernels (near step_time: launch-bound)
  Time interference = 0;             // rank 0's kernel time added by collectives running beside it
  double slowest_gpu = 1;            // tensor kernels' slowdown: the pace of the job's slowest GPU
  double attention_imbalance = 1;    // document-masked attention at the DP rank whose documents cost most, over the mean
  // Document-masked attention as each micro-batch draws it (with pp > 1 or the sequence CP
  // split; otherwise 1): the costliest micro-batch over the mean, and the mean over micro-batches
  // of a CP group's costliest rank over its mean.
  double micro_batch_attention_spread = 1;
  double cp_attention_imbalance = 1;
  double micro_batch_tokens_max = 1;  // variable-length packing or padding: the longest micro-batch's tokens over the nominal
  StragglerDelay stragglers;         // transient stalls: their mean is in step_time, not in the breakdown
  Time warmup_step = 0;              // 1-bit Adam with a target: the uncompressed step its warmup runs (0: none)
  double pipeline_bubble = 0;        // idle share of the step, mean over the stages' first ranks
  // Local SGD (workloads/local_sgd.hpp): step_time is the mean over the period of an inner
  // step and the syncing step; the breakdown above is the inner step's.
  Time inner_step = 0;
  Time syncing_step = 0;
  // Streaming DiLoCo with overlap_steps: what the syncing step waits for its average beyond
  // the steps the average overlaps (in syncing_step).
  Time average_wait = 0;
  std::vector<std::int64_t> stage_layers;  // layers on each virtual stage
  std::vector<ClassTime> compute_by_class;
  MemoryFootprint memory;
  std::size_t ops = 0;
  std::uint64_t events = 0;
};

// The step's peak memory per GPU without building or running its graph: what a search
// checks before it spends a simulation on a layout.
MemoryFootprint training_step_memory(const ModelArch& model, const GpuSpec& gpu, const TrainingConfig& config);
// Throughput, model FLOP/s and MFU of a step that takes `step_time`.
TrainingResult training_rates(const ModelArch& model, const GpuSpec& gpu, const TrainingConfig& config, Time step_time);
// Sets `result`'s step time and the rates that follow from it.
void set_rates(TrainingResult& result, const ModelArch& model, const GpuSpec& gpu, const TrainingConfig& config, Time step_time);
// 1-bit Adam's warmup step, when a target counts it: the same step with every gradient
// reduced uncompressed (plain Adam). 0 when the run has no such warmup or no target.
Time onebit_warmup_step(const ModelArch& model, const GpuSpec& gpu, const NodeFabric& fabric, const TrainingConfig& config,
                        const OpCostModel& cost_model);

class TrainingStep {
 public:
  // Keeps copies of the model, GPU, fabric and config; `cost_model` must outlive the step.
  TrainingStep(const ModelArch& model, const GpuSpec& gpu, const NodeFabric& fabric,
               const TrainingConfig& config, const OpCostModel& cost_model);

  const OpGraph& graph() const { return graph_; }
  // The layers on each virtual stage, as given or as balanced (stage_layers: "balanced").
  std::vector<std::int64_t> stage_layers() const { return config_.layers_per_virtual_stage(model_.layers); }
  // Runs the step; extra observers (a trace writer) watch the same execution.
  TrainingResult run(const std::vector<ExecutionObserver*>& observers = {});
  // A step time no run can beat, without running: each rank's compute stream runs its
  // kernels one at a time, after the dependency chain that must come before them and
  // ahead of the one that must follow (collectives count as free; running beside a
  // kernel they only slow it down).
  Time compute_lower_bound() const;
  // Trace "args" for an op: what it is, its work, and the model that timed it.
  std::string trace_args(OpId op) const;
  // With the flow network, keep every change of load on each GPU's outgoing ports.
  void record_link_loads(bool on) { record_link_loads_ = on; }
  const std::vector<LinkLoadSample>& link_load_samples() const { return link_loads_; }

 private:
  struct Template {
    Op op;
    CostEstimate cost;
  };
  static constexpr ResourceId kNoResource = ~ResourceId{0};
  struct RankResources {
    ResourceId compute, tp_comm, cp_comm, ep_comm, pp_comm, dp_comm, link;  // cp, ep and pp comm only when used
    ResourceId host;  // the thread that launches the rank's kernels, when launches are modeled
    // The copy streams of activation offloading, to the host and back, when it is on.
    ResourceId to_host = kNoResource, from_host = kNoResource;
    // Streaming DiLoCo's stream for an average that runs beside the inner steps, when it is on.
    ResourceId outer_comm = kNoResource;
  };
  using Sequence = std::vector<std::uint32_t>;  // template indices in program order
  struct LayerSequences;  // a decoder layer's templates
  struct Sequences;       // the templates of every unit of work
  struct GradientBucket;
  struct ParameterUnit;
  std::vector<ParameterUnit> parameter_units(const Sequences& seq, const PipeTask& task, int virtual_stage) const;
  // The same units with LoRA's adapters as their parameters: what has gradients and is updated.
  std::vector<ParameterUnit> adapter_units(std::vector<ParameterUnit> units) const;
  void add_mtp_forward(const Sequences& seq, std::vector<ParameterUnit>& units) const;
  void add_mtp_backward(const Sequences& seq, bool weights, std::vector<ParameterUnit>& units) const;
  std::vector<std::int64_t> balanced_split(const Sequences& seq) const;
  LayerSequences add_layer_templates(const LayerOps& ops, bool split, bool fp8);
  void add_other_layer_templates(Sequences& seq, bool split);
  using UnitKey = std::tuple<int, int, int, int>;  // work, micro-batch, virtual stage, rank

  Sequence add_templates(const std::vector<Op>& ops);
  Sequence add_templates(const std::vector<Op>& ops, bool fp8);  // fp8 false: bf16 kernels under fp8 training
  std::uint32_t add_template(Op op, CostEstimate cost);
  void build();
  // `final_gradients`: this unit completes its chunk's gradients on the stage.
  // `weights_held`: the stage's previous task ran the same chunk in the same direction, so
  // under ZeRO-3 its gathered weights are still there (breadth-first and GPipe runs).
  // `first_forward`: the stage's first forward of this chunk in the step, which waits for the
  // chunk's updated weights under overlap_param_gather.
  void emit_unit(const Sequences& seq, int stage, const PipeTask& task, bool final_gradients, bool weights_held, bool first_forward,
                 GradientBucket& bucket);
  // ZeRO-1/2 under overlap_param_gather: the updated weights are gathered before the next
  // step's first forward of each layer instead of at the step's end.
  bool gathers_in_forward() const;
  void receive(int stage, const PipeTask& task, int virtual_stage, const std::vector<int>& group);
  void emit(const Sequence& sequence, const std::vector<std::vector<int>>& tp_groups);
  // Whether op i of the sequence and the next run side by side (TP communication overlap).
  bool overlaps_next(const Sequence& sequence, std::size_t i) const;
  std::size_t ops_beside(const Sequence& sequence, std::size_t i) const;
  // Lengthens each GEMM that overlaps a TP collective by the chunk of the exchange that
  // cannot hide behind it.
  void charge_pipeline_fill(const Sequence& sequence);
  // With tp_comm_overlap_separate_sum, puts the kernel that adds an overlapped
  // reduce-scatter's partials after each such pair.
  void add_separate_sums(Sequence& sequence);
  // One collective per gradient group of the stage with a simulated member; returns the
  // ids of the dense gradient groups by TP rank. `beside_step`: on Streaming DiLoCo's own
  // stream from the step's start, after nothing (emit_averages_in_flight).
  std::vector<OpId> emit_dp_collective(CollectiveKind kind, double bytes, const std::string& name, int stage,
                                       CommGroup group = CommGroup::kData, bool beside_step = false);
  void emit_expert_exchange(std::uint32_t index, const std::vector<std::vector<int>>& tp_groups, std::vector<OpId>& ids);
  void emit_optimizer_and_gather();
  void emit_param_all_gather(int stage);
  // An optimizer-phase kernel on every simulated rank of the stage, after its gradients.
  std::vector<OpId> emit_optimizer_pass(const Op& op, int stage);
  // Activation offloading (workloads/activation_offload.hpp): after `layer`'s forward, the
  // copies TE starts and waits for there; before its backward, the reloads.
  void offload_after_forward(std::int32_t layer, const std::vector<std::vector<int>>& tp_groups);
  void reload_before_backward(std::int32_t layer, const std::vector<std::vector<int>>& tp_groups);
  // The template of `layer`'s copy of its saved activations to the host or back.
  std::uint32_t host_copy(bool to_host, std::int32_t layer);
  void emit_local_sgd_average(double parameters, int stage);
  void emit_averages_in_flight();
  TrainingResult with_average_in_flight(Time contended_work, const AverageEnds& ends) const;
  double average_bytes(double parameters) const;
  bool shards_optimizer() const;  // ZeRO 1-3 over more than one gradient rank
  // The parameters each rank of the stage updates: its shard, or all it holds.
  double updated_parameters(int stage) const;
  void emit_onebit_adam(double parameters, int stage);
  void emit_gradient_bucket(CollectiveKind kind, double bytes, double layers, const std::string& name, int stage, CommGroup group);
  // A kernel on the DP stream of every simulated rank of the stage, after its compute so
  // far and its DP stream's last op (ZeRO++'s quantization around its collectives).
  void emit_dp_kernel(const Op& op, int stage);
  // The template of a kernel the step adds beside its layers' (one per name and size).
  std::uint32_t kernel_template(const Op& op);
  enum class FsdpCopy { kAllGatherOut, kReduceScatterIn };
  // The template of an FSDP2 copy of `bytes` (one per kind and size).
  std::uint32_t fsdp2_copy(FsdpCopy kind, double bytes);
  // Whether the rank's own ops are in the graph (its DP replica is simulated).
  bool simulated(int rank) const;
  // slot = d x cp + c: the DP replica d's CP rank c.
  int rank_of(int stage, std::int64_t slot, std::int64_t t) const;
  // A stage's TP groups (their simulated ranks, one group per simulated slot) or gradient
  // groups (DP x CP, one per TP rank; expert gradient groups).
  std::vector<std::vector<int>> groups(CommGroup kind, int stage) const;
  std::int64_t dp_group_size(CommGroup kind) const;  // members of one gradient-side group
  OpId add(std::uint32_t template_index, int rank, std::vector<ResourceId> resources);
  // The rank's host launches `op`, taking `host_time`, after everything it launched before
  // and after any kernel whose result it reads; the op cannot start before that.
  void launch(int rank, OpId op, Time host_time);
  // Host time to launch an op's kernels: nothing inside a captured CUDA graph but one
  // replay where a captured run starts.
  Time launch_time(const Op& op, bool in_graph, bool starts_graph) const;
  bool captured(const Op& op, std::string& scope) const;
  bool host_modeled() const;
  void add_host_ops();
  std::vector<Time> earliest_starts() const;
  // Orders `op` after `previous` on a rank's program order, unless nothing came before.
  void after(OpId previous, OpId op);
  void interleave_launches(std::size_t forward, std::size_t backward);
  void add_other_copy(int first, std::vector<int>& group) const;
  std::vector<int> group_of(OpId op) const;
  std::vector<InterferenceKind> interference_kinds() const;  // per op
  CollectiveLoad collective_load(OpId collective) const;
  class CollectiveDriver;
  class LinkLoadRecorder;

  // Copies: a step may outlive the scenario values it was built from. The cost model is
  // polymorphic and must outlive the step.
  ModelArch model_;
  GpuSpec gpu_;
  NodeFabric fabric_;
  TrainingConfig config_;
  const OpCostModel& cost_model_;
  ModelOps ops_;
  double slowest_gpu_ = 1;  // GpuSpec::slowest_of(the job's GPUs)
  double attention_imbalance_ = 1;  // masked attention at the DP rank with the most work (masked_attention_imbalance)
  // Per simulated replica: micro_batch x cp + c, the masked attention work of that micro-batch
  // on CP rank c over the mean, and each micro-batch's tokens over the nominal (micro_batch_work);
  // empty: every micro-batch the mean.
  std::vector<std::vector<double>> attention_shares_, token_shares_;
  void draw_attention_shares();
  void draw_padded_micro_batches(std::uint64_t first_seed);
  double attention_share(int rank) const;
  double token_share(int rank) const;
  double collective_bytes(OpId op) const;  // a collective op's bytes, at its micro-batch's tokens
  // DeepEP's pieces for an EP group whose members sit on `member_nodes` (one entry each).
  PieceScales deepep_scales(const std::vector<int>& member_nodes) const;
  // The nodes an EP group spans, laid out as Megatron lays it (for the analytic fabric).
  std::int64_t expert_group_nodes() const;
  // What DeepEP's deduplication makes of an EP all-to-all's bytes on the analytic fabric, whose
  // formula sees the group whole: the pieces across nodes when it spans nodes, else those within.
  double analytic_deepep_scale(const Op& op) const;
  double attention_fraction() const;
  bool token_scaled_ = false;  // the ops being added carry the micro-batch's tokens (its layers and activations)
  std::vector<Template> templates_;
  std::vector<std::uint32_t> template_of_op_;
  std::vector<int> rank_of_op_;
  // Where in the step each op belongs, for the trace: its micro-batch and decoder layer
  // (-1: none, as for the optimizer or the embedding). add() records the current ones.
  struct OpContext {
    std::int32_t micro_batch = -1, layer = -1;
  };
  OpContext context_;
  std::vector<OpContext> context_of_op_;
  std::vector<RankResources> ranks_;
  std::vector<OpId> last_;     // per rank: the latest op in program order (compute + TP), or kNoOp
  std::vector<OpId> last_dp_;  // per rank: the latest DP collective, or kNoOp
  std::vector<OpId> waits_for_;  // per rank: an op (a ZeRO-3 gather) the rank's next op must follow
  std::vector<OpId> joins_;      // per rank: the other chain's end of a DualPipe F&B pair, which the next op follows too
  std::vector<OpId> copy_waits_;  // per rank: an offload copy the rank's next op must follow
  // Per rank, activation offloading's progress through a micro-batch: copies done (forward)
  // or still to reload (backward), as TE's offloaded_group_count, and the latest copy.
  struct OffloadProgress {
    std::int64_t groups = 0;
    OpId latest = ~OpId{0};
  };
  std::vector<OffloadProgress> offload_;
  std::vector<std::int64_t> offload_windows_;  // offload_windows() of the config
  std::vector<OpId> host_reads_;      // per rank: a kernel whose result the host waits for before its next launch
  Time host_busy_ = 0;                // rank 0's host: its launches, all told
  struct Launch {
    OpId op, reads;  // the launched op; a kernel the host waits for first, or kNoOp
    Time host_time;
    int rank;
  };
  std::vector<Launch> launches_;      // in each rank's program order
  bool graphed_ = false;              // the sequence being emitted is a decoder layer's, which CUDA graphs may capture
  static constexpr OpId kNoOp = ~OpId{0};
  static constexpr std::uint32_t kHostLaunch = ~std::uint32_t{0};  // template_of_op_ of a host launch
  std::unique_ptr<PipelineSchedule> schedule_;
  std::uint32_t p2p_template_ = 0;
  std::map<OpId, int> p2p_receiver_;                         // per send/recv op: the receiving rank
  std::unordered_map<OpId, double> collective_shares_;       // per collective of a micro-batch not nominal: its bytes' scale
  std::map<std::pair<int, double>, std::uint32_t> fsdp2_copies_;  // FSDP2 copy templates by kind and size
  std::map<std::pair<bool, double>, std::uint32_t> host_copies_;   // offload copy templates by direction and size
  std::map<std::pair<std::string, double>, std::uint32_t> kernel_templates_;  // kernel_template's, by name and bytes
  std::vector<OpId> averages_;  // local SGD's outer-gradient passes, whose start ends the inner step
  std::vector<OpId> averages_in_flight_;  // Streaming DiLoCo's all-reduces beside the step
  std::map<UnitKey, OpId> unit_end_;                         // the last op of each unit on each rank
  std::multimap<UnitKey, OpId> pair_ends_;                   // a DualPipe pair's other ends, which its sends wait for too
  std::vector<std::pair<UnitKey, OpId>> pending_receives_;   // send/recv ops and the unit they wait for
  OpGraph graph_;
  std::unique_ptr<Topology> topology_;  // the flow network's graph, when it times collectives
  std::unique_ptr<Router> router_;
  bool record_link_loads_ = false;
  std::vector<LinkLoadSample> link_loads_;
};

}  // namespace foresight
