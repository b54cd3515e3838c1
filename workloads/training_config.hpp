#pragma once
// The scenario's "training" section: one optimizer step of data-, tensor- and
// pipeline-parallel training with gradient accumulation.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/dtype.hpp"
#include "models/transformer_ops.hpp"
#include "workloads/comm_interference.hpp"
#include "workloads/document_packing.hpp"
#include "workloads/host_launch.hpp"
#include "workloads/pipeline_schedule.hpp"
#include "workloads/stragglers.hpp"
#include "workloads/time_to_target.hpp"

namespace foresight {

class ObjectReader;
struct ModelArch;

// The host thread that launches each rank's kernels (docs/training.md, "The host's
// launches"): the GPU cannot start a kernel before its launch, so where kernels are shorter
// than their launches, or the host waits for the GPU, the GPU waits for the host.
struct TrainingHost {
  double launch_seconds = kEagerLaunchSeconds;  // per kernel launched eagerly; 0: launches never hold the GPU up
  // Each decoder layer's forward and backward replayed from a captured CUDA graph (Megatron's
  // --cuda-graph-impl, torch.compile's reduce-overhead): one launch per layer and pass.
  bool cuda_graphs = false;
  // With cuda_graphs, only these parts of each layer are captured (Megatron's
  // --cuda-graph-scope: "attn", "mlp", "moe_router", "moe_preprocess", "moe"), each run of
  // consecutive captured kernels one replay; empty: the whole layer.
  std::vector<std::string> graph_scopes;
  double graph_launch_seconds = kGraphReplaySeconds;
};

// The parts of a decoder layer a CUDA graph can capture, as Megatron's --cuda-graph-scope
// names them.
const std::vector<std::string>& graph_scope_names();
bool is_graph_scope(const std::string& name);
// "attn, mlp, ...", for messages.
std::string graph_scope_list();

// The part of a decoder layer an op belongs to, for CUDA-graph scopes: "attn", "mlp",
// "moe_router", "moe_preprocess", "moe"; empty for ops that belong to the part around them
// (TP and CP collectives) or to none.
std::string graph_scope_of(const std::string& op_name, bool moe);

struct TrainingConfig {
  std::int64_t global_batch = 128;  // sequences per optimizer step
  std::int64_t micro_batch = 1;
  std::int64_t sequence = 4096;
  Dtype dtype = Dtype::kBf16;       // fp8 runs GEMMs in fp8, everything else in bf16
  Dtype grad_dtype = Dtype::kBf16;  // gradient buffers and DP reduction
  std::int64_t tp = 1;
  std::int64_t cp = 1;              // context parallelism: the sequence split over cp ranks (ring attention)
  CpRing cp_ring = CpRing::kTransformerEngine;  // how the ring runs around the attention kernels
  std::int64_t dp = 8;
  std::int64_t ep = 1;              // expert parallelism, within the DP dimension: experts split over ep replicas
  // Expert tensor parallelism: 0, the TP (each expert sliced over the TP group, EP across DP
  // replicas), or 1 with tp > 1: Megatron's MoE parallel folding, whole experts, each EP
  // group ep consecutive ranks of a stage, TP ranks included.
  std::int64_t expert_tp = 0;
  std::int64_t pp = 1;
  std::string schedule = "1f1b";    // pipeline schedule (workloads/pipeline_schedule.hpp)
  int virtual_stages = 1;           // model chunks per pipeline stage (interleaved_1f1b, breadth_first)
  // Layers on the first and last virtual stages, which also hold the embedding and the
  // head (Megatron's decoder_first/last_pipeline_num_layers); -1: an even share.
  std::int64_t first_stage_layers = -1;
  std::int64_t last_stage_layers = -1;
  // Layers on each virtual stage in pipeline order (Megatron's --pipeline-model-parallel-layout,
  // torchtitan's split points); empty: first/last_stage_layers and an even share.
  std::vector<std::int64_t> stage_layers;
  bool balance_stages = false;      // stage_layers: "balanced": set from the stages' kernel times when the step is built
  bool sequence_parallel = false;
  bool overlap_p2p = false;         // post pipeline receives ahead, overlapping transfers with compute
  bool tp_comm_overlap = false;     // TP all-gathers / reduce-scatters beside their GEMMs (needs SP)
  // MoE: each forward beside the backward after it, one micro-batch's expert all-to-alls beside
  // the other's compute (Megatron-core's --overlap-moe-expert-parallel-comm, combined 1F1B).
  bool moe_a2a_overlap = false;
  // With moe_a2a_overlap: the experts' weight gradients run beside the dispatch's backward
  // all-to-all instead of after their input gradients (Megatron-core's --delay-wgrad-compute).
  bool delay_wgrad_compute = false;
  // With tp_comm_overlap, also the backward reduce-scatter of the input gradient beside the
  // GEMM before it (Megatron's bulk overlap; PyTorch's async TP fuses forward pairs only).
  bool tp_comm_overlap_backward_rs = true;
  // With tp_comm_overlap, the reduce-scatter's partial sums are added by a kernel of their
  // own after the GEMM's last chunk (PyTorch's async TP), not inside the exchange
  // (Transformer Engine's userbuffers).
  bool tp_comm_overlap_separate_sum = false;
  AttentionKernel attention = AttentionKernel::kFlash;
  double dropout = 0;               // probability; > 0 runs the dropout kernels
  int zero_stage = 1;               // 0: replicated optimizer; 1/2: sharded over DP x CP; 3: parameters too
  Recompute recompute = Recompute::kNone;
  // The modules selective recomputation reruns (Megatron's --recompute-modules; its default,
  // core attention alone).
  RecomputedModules recompute_modules{.core_attn = true};
  // Full recomputation of every Nth layer only, the others keeping all their activations
  // (torchtitan's selective_ac_option = N); 1: every layer.
  std::int64_t recompute_every = 1;
  // Multi-token prediction depths trained beside the next-token loss (DeepSeek-V3 Sec. 2.2;
  // Megatron's --mtp-num-layers), on the last pipeline position: each runs the embedding again,
  // a 2h -> h projection, one more decoder layer and the output head with its loss.
  std::int64_t mtp_layers = 0;
  bool overlap_grad_reduce = true;
  // ZeRO-1/2: the gather of the updated weights waits, bucket by bucket, for the next
  // step's forward instead of closing the step (Megatron's --overlap-param-gather).
  bool overlap_param_gather = false;
  double grad_bucket_bytes = 25e6;  // PyTorch DDP's default bucket_cap_mb
  double reserved_bytes = 3e9;      // CUDA context, NCCL buffers, allocator slack
  // DP replicas run the same program: simulate one (DP collectives still run over the
  // whole group) unless every rank is asked for.
  bool simulate_all_ranks = false;
  // FP8 scaling: delayed (each cast scales by the amax history and records the new amax in
  // the same pass) or current (Transformer Engine's current scaling: an amax pass over the
  // bf16 tensor first, then the cast).
  bool fp8_current_scaling = false;
  // With current scaling, a GEMM input that a norm or an activation produces gets its amax
  // from that kernel (Transformer Engine 2.6+) instead of a pass of its own.
  bool fp8_amax_fused = true;
  // FP8 linear layers keep their inputs for backward in fp8 (Transformer Engine); false:
  // in bf16 (torchao's Float8Linear). ShapeConfig::fp8_saved_inputs.
  bool fp8_saved_inputs = true;
  // With sharded data parallelism, the decoder layers' weights are gathered in fp8, one byte
  // a parameter (Megatron's --fp8-param-gather, torchtitan's FSDP float8 all-gather).
  bool fp8_param_gather = false;
  // With dtype fp8, the first and the last decoder layers that run wholly in bf16, counted over
  // the whole model (Megatron's --first-last-layers-bf16 with --num-layers-at-start-in-bf16 and
  // --num-layers-at-end-in-bf16; one and one in Megatron-Bridge's and NeMo 2.0's
  // bf16_with_fp8_current_scaling_mixed). Their GEMMs run in bf16, with no casts, and their
  // weights are gathered in bf16.
  std::int64_t bf16_layers_at_start = 0;
  std::int64_t bf16_layers_at_end = 0;
  bool bf16_layer(std::int64_t layer, std::int64_t layers) const {
    return dtype == Dtype::kFp8 && layer >= 0 && layer < layers && (layer < bf16_layers_at_start || layer >= layers - bf16_layers_at_end);
  }
  bool has_bf16_layers() const { return dtype == Dtype::kFp8 && bf16_layers_at_start + bf16_layers_at_end > 0; }
  // ZeRO++ (DeepSpeed; Wang et al. 2023) on ZeRO-3, each part on its own, as DeepSpeed's
  // zero_optimization keys name them (workloads/zeropp.hpp):
  bool zero_quantized_weights = false;       // qwZ: weights gathered in int8 over the DP group
  std::int64_t zero_hpz_partition_size = 1;  // hpZ: backward gathers within groups of this many DP ranks
  bool zero_quantized_gradients = false;     // qgZ: gradients reduced in int4
  // Local SGD (DiLoCo): DP replicas step on their own gradients and average their weights
  // every local_sgd_period steps, in local_sgd_dtype (workloads/local_sgd.hpp); 1: off.
  std::int64_t local_sgd_period = 1;
  Dtype local_sgd_dtype = Dtype::kFp32;
  bool local_sgd_fp4 = false;  // the average in 4 bits (Streaming DiLoCo's), which Dtype has no name for
  double local_sgd_sync_bytes() const { return local_sgd_fp4 ? 0.5 : dtype_bytes(local_sgd_dtype); }
  std::string local_sgd_sync_name() const { return local_sgd_fp4 ? "fp4" : std::string(dtype_name(local_sgd_dtype)); }
  // How many replicas average: each is dp / replicas consecutive DP ranks that reduce
  // gradients every step and shard under zero_stage as one model copy (DiLoCo over FSDP or
  // HSDP groups); 0: dp, every DP rank a replica of its own.
  std::int64_t local_sgd_replicas = 0;
  // Streaming DiLoCo (Douillard et al. 2025): the weights in this many fragments, each
  // averaged every local_sgd_period steps at staggered offsets, so an average of one
  // fragment every period / fragments steps; 1: the whole model at once.
  std::int64_t local_sgd_fragments = 1;
  // Inner steps an average's all-reduce runs beside before its result is merged; 0: the
  // step waits for it.
  std::int64_t local_sgd_overlap_steps = 0;
  bool local_sgd() const { return local_sgd_period > 1; }
  // Steps from one fragment's average to the next's.
  std::int64_t local_sgd_interval() const { return local_sgd_period / local_sgd_fragments; }
  bool local_sgd_overlapped() const { return local_sgd() && local_sgd_overlap_steps > 0; }
  std::int64_t outer_replicas() const { return local_sgd() ? (local_sgd_replicas > 0 ? local_sgd_replicas : dp) : 1; }
  // The DP x CP ranks that reduce gradients every step and shard the ZeRO state: all of
  // them, or with local SGD one replica's.
  std::int64_t gradient_ranks() const { return dp / outer_replicas() * cp; }
  // 1-bit Adam's compression stage (Tang et al. 2021; DeepSpeed's OneBitAdam): no gradient
  // reduction in backward; the optimizer exchanges 1-bit momenta (workloads/onebit_adam.hpp).
  bool onebit_adam = false;
  // 1-bit Adam's warmup: steps run uncompressed before the compression stage (DeepSpeed's
  // OneBitAdam freeze_step, its default); they count in the time to target.
  std::int64_t onebit_freeze_step = 100'000;
  // Gradient buckets reduced in FP8 with a shared per-tensor scale (FP8-LM; workloads/fp8_gradients.hpp).
  bool fp8_gradients = false;
  bool grad_clip = true;  // clip by the global gradient norm before the optimizer
  // Plain SGD on the weights as the model holds them (torch.optim.SGD without momentum on a
  // bf16 model): no master weights or optimizer state, one pass reading each weight and its
  // gradient and writing the weight. false: mixed-precision Adam (fp32 master weights,
  // momentum and variance).
  bool plain_sgd = false;
  // The first N decoder layers' saved activations copied to pinned host memory after their
  // forward and back before their backward, as Transformer Engine's CPU offload runs them
  // for Megatron's --cpu-offloading-num-layers (workloads/activation_offload.hpp).
  std::int64_t offload_layers = 0;
  std::int64_t document_length = 0;  // packed documents under a document mask; 0: one per sequence
  // Variable-length documents (workloads/document_packing.hpp): their lengths, how they
  // become sequences, and what that makes of them; with kMask, document_length is the
  // length attention sees, with kPad, the share of tokens that are data.
  std::optional<DocumentLengths> documents;
  Packing packing = Packing::kConcat;
  DocumentBalance document_balance = DocumentBalance::kRandom;  // how a step's sequences are dealt to the DP ranks
  CpSplit cp_split = CpSplit::kDocument;  // how CP cuts document-masked sequences over its ranks
  // With document_balance cost: the most tokens a micro-batch may hold over micro_batch x
  // sequence (WLB-LLM's variable-length packing; 1: every micro-batch full length).
  double packing_max_tokens = 1;
  // With document_balance cost: pieces of at least this many tokens wait until every
  // micro-batch can take one (WLB-LLM's outlier delay; 0: none).
  std::int64_t outlier_delay_tokens = 0;
  PadTo pad_to = PadTo::kSequence;  // packing pad: what each micro-batch is padded to
  std::uint64_t seed = 1;  // the scenario's: the documents' draws
  PackedDocuments packed;
  bool eager_elementwise = false;    // PyTorch eager's unfused RMSNorm, rotary embedding and activation
  bool fp32_cross_entropy = false;   // the loss over fp32 logits, a kernel per step (models/transformer_ops.hpp)
  // Megatron's --gradient-accumulation-fusion: the weight-gradient GEMMs add into the gradient
  // buffer; false adds each fresh gradient in a pass of its own (ShapeConfig::grad_accumulation_fusion).
  bool grad_accumulation_fusion = true;
  LoraConfig lora = {};  // LoRA fine-tuning: frozen weights, trainable adapters (models/lora.hpp)
  double expert_load = 1;            // MoE: tokens the busiest EP rank receives over the mean
  // MoE routing without an expert capacity: the host reads each layer's token counts back
  // before it launches the dispatch (models/transformer_ops.hpp, ShapeConfig::dropless_routing).
  bool dropless_routing = true;
  // Megatron-core's --moe-shared-expert-overlap: the shared expert beside the all-to-alls.
  bool moe_shared_expert_overlap = false;
  // The MoE token dispatcher (`moe_dispatcher`): true for Megatron-core's all-to-all one,
  // which sorts the rows a rank receives into expert order and back (ShapeConfig::
  // sort_received_by_expert); false for DeepEP's (Megatron's flex dispatcher, NeMo
  // AutoModel), which lays them out by expert as it permutes them.
  bool sorts_received_by_expert = true;
  TrainingHost host;
  // ZeRO-3 as PyTorch's FSDP2 runs it: each gathered unit is copied out of the all-gather
  // buffer into its parameters, and each unit's gradients are copied into the
  // reduce-scatter buffer. Off: gathers and reductions use persistent buffers in place
  // (Megatron-FSDP).
  bool fsdp2_copies = false;
  InterferenceSettings interference;
  TargetSettings target;            // the run's length: time, GPU-hours and cost to it
  ReliabilitySettings reliability;  // failures, checkpoints and restarts on the way
  StragglerSettings stragglers;     // transient stalls the synchronous step waits out (workloads/stragglers.hpp)

  std::int64_t micro_batches() const { return global_batch / (dp * micro_batch); }
  // Decoder layers at each position along the model, one per virtual stage of one copy of
  // it (chunk c of stage s is virtual stage c pp + s; a bidirectional schedule holds two
  // copies, each of pp positions, 2 pp for bitpipe); empty when `layers` does not split that way.
  std::vector<std::int64_t> layers_per_virtual_stage(std::int64_t layers) const;
  std::int64_t positions() const { return pp * virtual_stages / pipeline_copies(); }
  // Copies of the model the pipeline's stages hold: 2 for chimera, bitpipe and dualpipe, otherwise 1.
  std::int64_t pipeline_copies() const;
  // Where the schedule places its chunks (looped, zb_v's V, chimera's two directions, bitpipe's two Vs): the
  // virtual stage of `chunk` on `stage`, its position along the model, and the stage that
  // holds a virtual stage.
  int virtual_stage(int stage, int chunk) const;
  // The pipeline schedule the step runs: `schedule`, its forwards paired with backwards
  // under moe_a2a_overlap. Throws std::invalid_argument for an unknown name.
  std::unique_ptr<PipelineSchedule> make_schedule() const;
  int position(int stage, int chunk) const { return virtual_stage(stage, chunk) % static_cast<int>(positions()); }
  bool holds_position(int stage, int position) const;
  int stage_of(int virtual_stage) const;
  std::int64_t gpus() const { return tp * cp * dp * pp; }
  // A target counts 1-bit Adam's warmup steps, which run uncompressed.
  bool onebit_warmup_counts() const { return onebit_adam && onebit_freeze_step > 0 && target.set(); }
  // The run as its 1-bit Adam warmup steps run: plain Adam, every gradient reduced.
  TrainingConfig onebit_warmup() const {
    TrainingConfig warmup = *this;
    warmup.onebit_adam = false;
    return warmup;
  }
  // GPUs that synchronize many times a step, so that a stall on one holds them all: a model
  // replica's TP, CP and pipeline ranks, with its EP group's replicas, or under ZeRO-3 (a
  // gather over DP every layer) the whole job.
  std::int64_t coupled_gpus() const { return zero_stage == 3 ? gpus() : std::min(gpus(), tp * cp * pp * ep); }
  // The weights as the model holds them: fp8 training keeps bf16 weights.
  Dtype weight_dtype() const { return dtype == Dtype::kFp8 ? Dtype::kBf16 : dtype; }
  // Optimizer state a parameter carries: Adam's fp32 master weight, momentum and variance.
  double optimizer_state_bytes() const { return plain_sgd ? 0 : 12; }
  // Bytes a gathered weight moves over the DP group: one for an fp8 decoder layer's with
  // fp8_param_gather (not a bf16_layer's) and for every weight under qwZ, else two.
  double gathered_weight_bytes(bool fp8_decoder_layer) const {
    return (fp8_param_gather && fp8_decoder_layer) || zero_quantized_weights ? 1 : 2;
  }
  // Ranks of one pipeline stage in one DP replica: a TP group per CP rank.
  std::int64_t replica_ranks() const { return tp * cp; }
  std::int64_t simulated_replicas() const { return simulate_all_ranks ? dp : 1; }
  // MoE parallel folding (expert_tp 1 beside TP): whole experts, EP groups of ep consecutive
  // ranks, TP ranks included; with ep 1 every rank holds every expert and routes its own tokens.
  bool experts_folded() const { return expert_tp == 1 && tp > 1; }
  // Expert weights reduce and gather over a group of their own (dense models have none to move).
  bool experts_apart() const { return ep > 1 || experts_folded(); }
  // Ways a layer's experts are split over a stage's ranks: by EP, and by TP unless folded.
  double expert_split() const { return static_cast<double>(experts_folded() ? ep : ep * tp); }
  // Ranks of a stage (and replica) that hold the same experts: expert data parallelism.
  std::int64_t expert_data_ranks() const { return experts_folded() ? gradient_ranks() * tp / ep : gradient_ranks() / ep; }
  // TP ranks of a group run the same kernels in lockstep: simulate the first unless every rank is asked for.
  std::int64_t simulated_tp_ranks() const { return simulate_all_ranks ? tp : 1; }
};

// Checks ranges and the consistency with the model and the cluster: tp x dp x pp must
// use every GPU, a TP group must fit in one node, the layers must split evenly over the
// pipeline's virtual stages, and the schedule must run the micro-batches.
TrainingConfig read_training(ObjectReader& parent, const ModelArch& model, int gpus, int gpus_per_node,
                             const std::string& scenario_dir = "");

// About how many ops the step's graph holds: its kernels on every simulated rank.
double estimated_graph_ops(const ModelArch& model, const TrainingConfig& c);
inline constexpr double kMaxGraphOps = 5e7;

}  // namespace foresight
