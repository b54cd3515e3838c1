#include "workloads/iteration_cost.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "models/transformer_ops.hpp"
#include "topologies/collective_algorithms.hpp"
#include "topologies/collective_tuner.hpp"
#include "topologies/nccl_costs.hpp"
#include "topologies/routing.hpp"

namespace foresight {
namespace {
constexpr Time kUnknown = -1;
constexpr std::size_t kTokenTable = 1 << 16;
// Decode attention is looked up with its summed context rounded up to this many tokens:
// an error of at most one quantum over a batch's whole cache.
constexpr std::int64_t kContextQuantum = 1024;

std::uint64_t pack(std::int64_t a, std::int64_t b) { return (static_cast<std::uint64_t>(a) << 32) ^ static_cast<std::uint64_t>(b); }

// Activations stay in bf16 when the weights and GEMMs are fp8.
Dtype activation_dtype(const ServingConfig& c) { return c.dtype == Dtype::kFp8 ? Dtype::kBf16 : c.dtype; }

// The parameters of the fullest pipeline stage: its share of the layers and, since the
// first stage holds the embedding and the last the output head (a tied embedding is copied
// there), the larger of the two. Without stages, the whole model.
double stage_parameters(const ModelArch& model, std::int64_t pp) {
  const ParameterCount c = count_parameters(model);
  if (pp == 1) return c.total;
  const double head = c.lm_head > 0 ? c.lm_head : c.embedding;
  const double layers = static_cast<double>(model.layers) / static_cast<double>(pp);
  return c.per_layer * layers + std::max(c.embedding, head) + c.final_norms;
}

// Bytes of a layer's weight: one in fp8, else the dtype's.
double weight_element_bytes(const ServingConfig& config) { return config.dtype == Dtype::kFp8 ? 1 : dtype_bytes(config.dtype); }

// The fullest stage's weights in bytes: the layers at their quantized width (int8/int4
// projections, or fp8 checkpoints), the embedding and the output head at 16 bits, as
// quantized checkpoints keep them (ModelOpt and vLLM leave lm_head out of fp8).
double stage_weight_bytes(const ModelArch& model, const ServingConfig& config) {
  const double all = stage_parameters(model, config.pp);
  if (config.weight_bits >= 16 && config.dtype != Dtype::kFp8) return all * dtype_bytes(config.dtype);
  // With stages, the fullest holds only the expert layers, as stage_parameters takes it.
  const ParameterCount count = count_parameters(model);
  const double layers = config.pp == 1 ? layer_parameters(model, count, 0, model.layers)
                                       : count.per_layer * static_cast<double>(model.layers) / static_cast<double>(config.pp);
  const double layer_bytes = config.weight_bits < 16 ? config.quantized_weight_bytes() : weight_element_bytes(config);
  return layers * layer_bytes + (all - layers) * dtype_bytes(activation_dtype(config));
}

// One layer's attention averaged over the model's global and sliding-window layers;
// `windowed` is timed only for a model that has windowed layers.
template <typename Windowed>
Time layer_average(const ModelArch& model, Time global, Windowed windowed) {
  const double local = model.local_layer_share();
  if (local <= 0) return global;
  return static_cast<Time>(std::llround((1 - local) * static_cast<double>(global) + local * static_cast<double>(windowed())));
}

// The drafter: a catalog model, or draft_layers layers of the target's own shape.
ModelArch draft_arch(const ModelArch& target, const SpeculativeConfig& s) {
  if (!s.draft_model.empty()) return *find_builtin_model(s.draft_model);
  ModelArch draft = target;
  draft.name = target.name + " drafter";
  draft.layers = s.draft_layers;
  draft.local_layers = std::min(draft.local_layers, draft.layers);
  return draft;
}

// One GPU's kernels for an iteration of `tokens` tokens. With data-parallel attention each
// GPU runs its share of the tokens through whole layers and the MoE layers' experts are
// spread over the GPUs, as expert parallelism over data-parallel ranks is (each GPU's
// experts take the rows all of them route there, by all-to-all).
ShapeConfig serving_shape(const ServingConfig& c, std::int64_t tokens) {
  ShapeConfig s;
  s.micro_batch = 1;
  s.sequence = tokens;
  s.dtype = activation_dtype(c);
  s.tp = c.tp;
  s.experts_over_tp = c.expert_parallel;
  s.expert_load = c.expert_load;
  if (c.attention_dp) {
    s.sequence = (tokens + c.tp - 1) / c.tp;
    s.tp = 1;
    s.ep = c.tp;
    s.experts_over_tp = false;
  }
  return s;
}

// The sequences whose logits the engine's memory profile holds at once. vLLM's sampler
// dummy run takes max_num_seqs of them (each data-parallel engine its own); TensorRT-LLM
// profiles dummy context requests that fill max_num_tokens, one logit row per request
// (KvCacheCreator._create_dummy_context_requests, prompts of up to max_seq_len - 1 tokens).
double profiled_logit_rows(const ServingConfig& config, const ModelArch& model) {
  const std::int64_t ranks = config.attention_ranks();
  if (config.engine.kv_sizing == KvSizing::kProfiled) return static_cast<double>(config.max_num_seqs / ranks);
  const std::int64_t tokens = config.max_batched_tokens / ranks;
  const std::int64_t max_len = config.max_model_len > 0 ? config.max_model_len : model.max_positions;
  const std::int64_t prompt = std::max<std::int64_t>(1, std::min(tokens, max_len - 1));
  return static_cast<double>((tokens + prompt - 1) / prompt);
}

// vLLM's envs.VLLM_FUSED_MOE_CHUNK_SIZE default (vllm/envs.py).
constexpr double kVllmFusedMoeChunkTokens = 32768;

// The activation peak an engine's profiling pass at max_batched_tokens reaches on one GPU:
// the widest layer's (a dense MLP's input, up-projection and output; a MoE layer's buffers
// for the routed copies of the tokens that reach it, with data-parallel attention every
// rank's) and the sampler's fp32 logits, probabilities and log-probabilities. For
// Llama-3.1-8B at 8,192 tokens and 256 sequences in vLLM that is 1.15 GiB; vLLM logs
// 1.19-1.24 GiB.
double profiled_activation_bytes(const ModelArch& model, const ServingConfig& config) {
  const double tp = static_cast<double>(config.tp);
  const double tokens = static_cast<double>(config.max_batched_tokens / config.attention_ranks());
  const double hidden = static_cast<double>(model.hidden);
  const double mlp_factor = model.gated_mlp ? 3 : 2;
  const double dense_ffn = static_cast<double>(model.is_moe() ? model.dense_ffn : model.ffn_hidden);
  double widest = tokens * (hidden * 2 + dense_ffn / tp * mlp_factor);
  if (model.is_moe()) {
    const double moe_tokens = tokens * static_cast<double>(config.attention_ranks());
    const double expert_ffn = static_cast<double>(model.ffn_hidden) / (config.expert_parallel ? 1 : tp);
    const double top_k = static_cast<double>(model.experts_per_token);
    double routed_buffers = moe_tokens * top_k * (expert_ffn * mlp_factor + hidden);
    if (config.engine.kv_sizing == KvSizing::kProfiled) {
      // vLLM's fused MoE (fused_experts) works through at most VLLM_FUSED_MOE_CHUNK_SIZE
      // tokens at a time (32,768 by default) in two buffers: one that the up-projection's
      // output and then the down-projection's reuse, as wide as the wider, and the
      // activation's. TensorRT-LLM's CUTLASS MoE keeps the three apart for every row.
      const double up = expert_ffn * (model.gated_mlp ? 2 : 1);
      routed_buffers = std::min(moe_tokens, kVllmFusedMoeChunkTokens) * top_k * (std::max(up, hidden) + expert_ffn);
    }
    widest = std::max(widest, moe_tokens * hidden + routed_buffers);
  }
  const double logits = profiled_logit_rows(config, model) * static_cast<double>(model.vocab) * 4 * 3;
  return widest * dtype_bytes(activation_dtype(config)) + logits;
}
}  // namespace

IterationCostModel::IterationCostModel(const ModelArch& model, const GpuSpec& gpu, const NodeFabric& fabric,
                                       const ServingConfig& config, const OpCostModel& cost_model)
    : model_(model), gpu_(gpu), fabric_(fabric), config_(config), cost_model_(cost_model),
      tokenwise_(kTokenTable, Work{kUnknown, 0}), clocks_up_beside_memory_bound_(cost_model.name() == "roofline") {
  if (config.tp > 1 && fabric.network == NetworkModel::kFlow) {
    NodeFabric node = fabric;
    node.nodes = 1;
    topology_ = std::make_unique<Topology>(build_node_topology(node));
    router_ = make_router(*topology_);
    NcclCosts costs = fabric.nccl_costs ? nccl_h100_costs(fabric.bandwidth) : bare_network_costs();
    tuner_ = std::make_unique<CollectiveTuner>(*topology_, *router_, costs,
                                               std::vector<CollectiveAlgorithm>{CollectiveAlgorithm::kRing, CollectiveAlgorithm::kNvls});
    all_to_all_ = std::make_unique<CollectiveTuner>(*topology_, *router_, costs, std::vector<CollectiveAlgorithm>{CollectiveAlgorithm::kDirect});
  }
  const double tp = static_cast<double>(config.tp), pp = static_cast<double>(config.pp);
  // Replicated when kv_heads < tp; whole on every GPU with data-parallel attention.
  const double kv_heads = config.attention_dp ? static_cast<double>(model.kv_heads) : std::max(1.0, static_cast<double>(model.kv_heads) / tp);
  // Per GPU: its TP share of its stage's layers, and with context parallelism its group's
  // share of the tokens.
  // Latent attention caches one latent and rotary key per token for all heads, and every
  // TP rank keeps the whole of it (vLLM's and SGLang's MLA backends).
  const double per_layer = model.latent_attention() ? static_cast<double>(model.mla.kv_rank + model.mla.rope_dim)
                                                    : 2 * kv_heads * static_cast<double>(model.head_dim);
  kv_layer_bytes_ = per_layer * config.kv_element_bytes();
  // Data-parallel attention: each GPU caches its own sequences whole, so the replica holds
  // tp times what one GPU's memory does.
  const double cache_sharing = static_cast<double>(config.cp * config.attention_ranks());
  kv_bytes_per_token_ = static_cast<double>(model.layers) / pp * kv_layer_bytes_ / cache_sharing;
  weight_bytes_ = stage_weight_bytes(model, config) / tp;
  if (model.is_moe()) {
    const double layer_bytes = config.weight_bits < 16 ? config.quantized_weight_bytes() : weight_element_bytes(config);
    const double moe_layers = static_cast<double>(model.layers - model.dense_layers) / pp;
    expert_weight_bytes_ = count_parameters(model).per_layer_experts * moe_layers * layer_bytes / tp;
    local_experts_ = config.expert_parallel ? model.experts / config.tp : model.experts;
    // Every GPU holds all but the experts whole: its own copy of attention, the dense layers and the head.
    if (config.attention_dp) weight_bytes_ = stage_weight_bytes(model, config) - expert_weight_bytes_ * (tp - 1);
  }
  if (config.decode_pool) {
    // The decode machines: their GPU's own NVLink inside each, the same NICs between them.
    const ServingConfig decode = decode_replicas_config(config);
    const GpuSpec& decode_gpu = config.decode_pool->gpu;
    NodeFabric decode_fabric = fabric;
    decode_fabric.bandwidth = decode_gpu.scale_up_bandwidth;
    decode_pool_ = std::make_unique<IterationCostModel>(model, decode_gpu, decode_fabric, decode, cost_model);
    replica_first_gpus_ = replica_first_gpus(config, std::max(fabric.gpus, 1));
  }
  if (config.speculative.on()) {
    // The drafter shares the GPUs: its weights (a head of the target's own shape shares the
    // target's embedding and output head) and its KV cache, in the same blocks as the target's.
    ServingConfig alone = config;
    alone.speculative = {};
    const ModelArch draft = draft_arch(model, config.speculative);
    draft_ = std::make_unique<IterationCostModel>(draft, gpu, fabric, alone, cost_model);
    const ParameterCount p = count_parameters(draft);
    const double draft_parameters = config.speculative.draft_model.empty() ? p.per_layer * static_cast<double>(draft.layers) : p.total;
    weight_bytes_ += draft_parameters / tp * weight_element_bytes(config);
    kv_bytes_per_token_ += draft_->kv_bytes_per_token();
  }
  all_weight_bytes_ = weight_bytes_;
  host_bandwidth_ = config.host_bandwidth > 0 ? config.host_bandwidth : gpu.host_copy_bandwidth;
  if (config.expert_offload.enabled) {
    // Host memory holds the experts that are not resident; a layer's worth of them waits on
    // the GPU for its fetched experts (CPU-run experts need no such room).
    const double experts = static_cast<double>(model.experts);
    const double offloaded = expert_weight_bytes_ * (experts - static_cast<double>(config.expert_offload.gpu_experts)) / experts;
    const double moe_layers = static_cast<double>(model.layers - model.dense_layers);
    weight_bytes_ -= offloaded;
    if (config.expert_offload.miss == "fetch") weight_bytes_ += offloaded / moe_layers;
  }
  activation_bytes_ = profiled_activation_bytes(model, config);
  // Memory outside PyTorch's allocator (cuBLAS workspaces, NCCL and custom all-reduce
  // buffers): vLLM logs 0.1-0.65 GiB of non-torch memory on one GPU and 1.39 GiB at TP 4.
  non_torch_bytes_ = config.engine.non_torch_bytes >= 0 ? config.engine.non_torch_bytes : (0.3 + 0.35 * (tp - 1)) * kGiB;
  // A rank-r adapter on Q, K, V and the output projection: A (in x r) and B (r x out) for
  // each, sharded over TP with the projections; max_loras slots of them are set aside
  // unless adapters page into the KV cache (lora_unified).
  const double h = static_cast<double>(model.hidden), q = static_cast<double>(model.attention_width());
  const double kv = static_cast<double>(model.kv_width()), r = static_cast<double>(config.lora_rank);
  adapter_bytes_ = r * ((h + q) + 2 * (h + kv) + (q + h)) * static_cast<double>(model.layers) / tp / pp * 2;
  const double adapters = reserved_adapter_bytes();
  // Engines size against the memory CUDA reports as total, not the datasheet's capacity.
  const double usable = gpu.usable_memory_bytes(), fraction = config.gpu_memory_utilization;
  double cache = 0;
  switch (config.engine.kv_sizing) {
    case KvSizing::kProfiled: cache = usable * fraction - weight_bytes_ - non_torch_bytes_ - activation_bytes_ - adapters; break;
    // SGLang takes its fraction of the memory free before the weights load, after CUDA and
    // NCCL have taken theirs (model_runner_kv_cache_mixin.py, profile_max_num_token).
    case KvSizing::kStaticFraction: cache = (usable - non_torch_bytes_) * fraction - weight_bytes_ - adapters; break;
    case KvSizing::kFreeFraction: cache = (usable - weight_bytes_ - non_torch_bytes_ - activation_bytes_ - adapters) * fraction; break;
  }
  const ModelOps sample = build_model_ops(model, serving_shape(config, 1));
  layer_kernels_ = static_cast<std::int64_t>(sample.layer_forward.size());
  head_kernels_ = static_cast<std::int64_t>(sample.head_forward.size());
  const double block_bytes = kv_bytes_per_token_ * static_cast<double>(config.block_size);
  kv_blocks_ = cache <= 0 ? 0 : static_cast<std::int64_t>(cache / block_bytes);
  if (config.max_total_tokens > 0) {
    // A pool of the size the engine was told: what else the GPU holds must fit beside it,
    // or the engine would run out of memory at start (SGLang would shrink it instead).
    kv_blocks_ = config.max_total_tokens / config.block_size;
    const double beside = weight_bytes_ + non_torch_bytes_ + activation_bytes_ + adapters;
    pool_overflow_bytes_ = std::max(0.0, beside + static_cast<double>(kv_blocks_) * block_bytes - usable);
  }
}

std::string IterationCostModel::kv_room_problem() const {
  const auto gb = [](double bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GB", bytes / 1e9);
    return std::string(text);
  };
  if (pool_overflow_bytes_ > 0) {
    return "max_total_tokens " + std::to_string(config_.max_total_tokens) + " needs " +
           gb(static_cast<double>(kv_blocks_ * config_.block_size) * kv_bytes_per_token_) + " per GPU beside " +
           gb(weight_bytes_) + " of weights, " + gb(activation_bytes_ + non_torch_bytes_) + " of activations and buffers and " +
           gb(reserved_adapter_bytes()) + " of reserved adapters: " + gb(pool_overflow_bytes_) + " more than the GPU's " +
           gb(gpu_.usable_memory_bytes());
  }
  if (kv_blocks_ >= 1) return "";
  if (config_.max_total_tokens > 0) {
    return "max_total_tokens " + std::to_string(config_.max_total_tokens) + " is less than one block of " +
           std::to_string(config_.block_size) + " tokens";
  }
  return "no room for the KV cache beside " + gb(weight_bytes_) + " of weights per GPU";
}

IterationCostModel::~IterationCostModel() = default;

Dtype IterationCostModel::gemm_dtype() const { return config_.dtype == Dtype::kFp8 ? Dtype::kFp8 : activation_dtype(config_); }

IterationCostModel::Work IterationCostModel::ops_time(const std::vector<Op>& ops, bool skip_attention) {
  Work work;
  Time& total = work.total;
  for (Op op : ops) {
    if (skip_attention && op.kind == OpClass::kAttention) continue;
    if (op.kind == OpClass::kLoss) continue;  // inference samples from the logits instead
    if (op.kind == OpClass::kCollective) {
      if (tuner_) {
        CollectiveRequest request;
        request.kind = op.collective;
        request.bytes = op.collective_bytes;
        for (int r = 0; r < config_.tp; ++r) request.ranks.push_back(topology_->gpu(static_cast<std::size_t>(r)));
        total += (op.collective == CollectiveKind::kAllToAll ? *all_to_all_ : *tuner_).choose(request).idle_time;
      } else {
        total += collective_duration(fabric_, op.collective, op.collective_bytes, static_cast<int>(config_.tp));
      }
      continue;
    }
    const bool quantized_gemm = op.kind == OpClass::kGemm && op.gemm.weight_operand && !op.name.starts_with("lm_head");
    if (config_.dtype == Dtype::kFp8 && quantized_gemm) use_fp8_operands(op);
    if (config_.weight_bits < 16 && quantized_gemm) use_quantized_weights(op, config_.quantized_weight_bytes());
    const CostEstimate estimate = cost_model_.estimate(op, gpu_);
    total += estimate.duration;
    if (op.kind == OpClass::kGemm && estimate.bound == Bound::kCompute) work.clocked += estimate.duration;
  }
  return work;
}

IterationCostModel::Work IterationCostModel::tokenwise(std::int64_t tokens) {
  Work& cached = static_cast<std::size_t>(tokens) < tokenwise_.size()
                     ? tokenwise_[static_cast<std::size_t>(tokens)]
                     : tokenwise_large_.try_emplace(tokens, Work{kUnknown, 0}).first->second;
  if (cached.total != kUnknown) return cached;
  const ModelOps ops = build_model_ops(model_, serving_shape(config_, tokens));
  cached = ops_time(ops.layer_forward, true);
  if (!ops.dense_layer.forward.empty()) {
    // An MoE model's leading dense layers: the layers' average, so that layers x it is their sum.
    const Work dense = ops_time(ops.dense_layer.forward, true);
    const double share = static_cast<double>(model_.dense_layers) / static_cast<double>(model_.layers);
    const auto mix = [share](Time moe, Time dense_time) {
      return static_cast<Time>(std::llround((1 - share) * static_cast<double>(moe) + share * static_cast<double>(dense_time)));
    };
    cached = {mix(cached.total, dense.total), mix(cached.clocked, dense.clocked)};
  }
  return cached;
}

IterationCostModel::Work IterationCostModel::head(std::int64_t outputs) {
  if (static_cast<std::size_t>(outputs) >= head_.size()) head_.resize(static_cast<std::size_t>(outputs) + 1, Work{kUnknown, 0});
  Work& cached = head_[static_cast<std::size_t>(outputs)];
  if (cached.total == kUnknown) cached = ops_time(build_model_ops(model_, serving_shape(config_, outputs)).head_forward, false);
  return cached;
}

Time IterationCostModel::prefill_attention(std::int64_t chunk, std::int64_t context) {
  const auto [at, inserted] = prefill_attention_.try_emplace(pack(chunk, context), 0);
  if (!inserted) return at->second;
  at->second = layer_average(model_, prefill_attention_of(chunk, context, 0),
                             [&] { return prefill_attention_of(chunk, context, model_.sliding_window); });
  if (config_.cp > 1) at->second = cp_prefill_attention(chunk, context, at->second);
  return at->second;
}

Time IterationCostModel::chunk_layer_time(std::int64_t chunk, std::int64_t context) {
  return tokenwise(local_tokens(chunk, 0)).total + prefill_attention(chunk, context);
}

// The groups hold consecutive parts of the cache: NVLink joins them when the replica's
// GPUs of a stage share a node, the NICs otherwise. Each of a group's tp GPUs exchanges
// its own heads' share with its peers in the other groups, all in parallel.
Time IterationCostModel::cp_ring(double bytes) const {
  const bool one_node = config_.tp * config_.cp <= fabric_.gpus;
  const double bandwidth = one_node ? fabric_.bandwidth : fabric_.nic_bandwidth;
  const double latency = one_node ? fabric_.hop_latency_seconds : fabric_.scale_out_latency_seconds;
  return (config_.cp - 1) * (kNcclLaunchLatency + from_seconds(latency + bytes / bandwidth));
}

// Each group attends its cp-th of the chunk's queries (load-balanced: every group gets
// early and late positions) against every key, and the keys and values its peers hold
// come around the ring beside the compute; when the chunk is short against the cache, its
// queries travel instead and the partial outputs come back (KV-cache parallelism's prefill).
Time IterationCostModel::cp_prefill_attention(std::int64_t chunk, std::int64_t context, Time attention) const {
  const double cp = static_cast<double>(config_.cp);
  const double act = dtype_bytes(activation_dtype(config_));
  const double kv_token = kv_layer_bytes_;
  const double query_token = static_cast<double>(rank_heads() * model_.head_dim) * act;
  const double keys = kv_token * static_cast<double>(context + chunk) / cp;
  const double queries = 2 * query_token * static_cast<double>(chunk) / cp;  // out, and the partial outputs back
  return std::max(attention / config_.cp, cp_ring(std::min(keys, queries)));
}

// Every group's partial outputs for its share of each decode's cache, with the softmax's
// running max and sum per head (fp32), gathered by all of them to merge.
Time IterationCostModel::cp_decode_combine(std::int64_t decodes) const {
  const double heads = static_cast<double>(rank_heads());
  const double per_decode = heads * (static_cast<double>(model_.value_head_dim()) * dtype_bytes(activation_dtype(config_)) + 2 * 4);
  return cp_ring(per_decode * static_cast<double>(decodes));
}

// A prefill chunk's tokens are split over the CP groups; every group runs each decode.
std::int64_t IterationCostModel::local_tokens(std::int64_t prefill_tokens, std::int64_t decodes) const {
  return decodes + (prefill_tokens + config_.cp - 1) / config_.cp;
}

Time IterationCostModel::prefill_attention_of(std::int64_t chunk, std::int64_t context, std::int64_t window) {
  Op op = prefill_attention_op(1, rank_heads(), rank_kv_heads(), model_.kernel_head_dim(), chunk, context,
                               activation_dtype(config_), window);
  op.attention.warp_specialized = config_.engine.attention == AttentionKernel::kFlash3;
  return cost_model_.estimate(op, gpu_).duration;
}

Time IterationCostModel::decode_attention(std::int64_t decodes, std::int64_t context) {
  const std::int64_t rounded = (context + kContextQuantum - 1) / kContextQuantum * kContextQuantum;
  const auto [at, inserted] = decode_attention_.try_emplace(pack(decodes, rounded / kContextQuantum), 0);
  if (!inserted) return at->second;
  const Op op = model_.latent_attention()
                    ? latent_decode_attention_op(decodes, rank_heads(), model_.mla.kv_rank, model_.mla.rope_dim, rounded,
                                                 activation_dtype(config_), config_.kv_element_bytes())
                    : decode_attention_op(decodes, rank_heads(), rank_kv_heads(), model_.head_dim, rounded,
                                          activation_dtype(config_), config_.kv_element_bytes());
  at->second = cost_model_.estimate(op, gpu_).duration;
  return at->second;
}

// Key/value heads are replicated when there are fewer of them than TP ranks.
std::int64_t IterationCostModel::rank_kv_heads() const {
  return config_.attention_dp ? model_.kv_heads : std::max<std::int64_t>(1, model_.kv_heads / config_.tp);
}

std::int64_t IterationCostModel::rank_heads() const { return config_.attention_dp ? model_.heads : model_.heads / config_.tp; }

// The machine a replica of a same-machines decode pool setup sits in wholly, or -1 when it
// spans machines or sits on the decode pool's own.
std::int64_t IterationCostModel::machine_of(std::int64_t replica) const {
  const std::int64_t per_machine = std::max(fabric_.gpus, 1);
  const std::int64_t first = replica_first_gpus_[static_cast<std::size_t>(replica)];
  const std::int64_t gpus = replica < config_.prefill_replicas ? config_.gpus_per_replica() : decode_pool_->config_.gpus_per_replica();
  return first >= 0 && gpus <= per_machine ? first / per_machine : -1;
}

Time IterationCostModel::kv_transfer(std::int64_t tokens, std::int64_t from_replica, std::int64_t to_replica) const {
  if (decode_pool_) {
    // The replica's whole cache (each GPU holds its stage's layers and its heads) crosses
    // as many links at once as the smaller side has GPUs: NVLink inside a machine, else NICs.
    const ServingConfig& decode = decode_pool_->config_;
    const double parallel = static_cast<double>(std::min(config_.gpus_per_replica(), decode.gpus_per_replica()));
    const double bytes = static_cast<double>(tokens) * kv_bytes_per_token_ * static_cast<double>(config_.gpus_per_replica()) / parallel;
    const std::int64_t machine = machine_of(from_replica);
    if (config_.decode_pool->same_machines && machine >= 0 && machine == machine_of(to_replica)) {
      return kNcclLaunchLatency + from_seconds(fabric_.hop_latency_seconds + bytes / fabric_.bandwidth);
    }
    return kNcclLaunchLatency + from_seconds(fabric_.scale_out_latency_seconds + bytes / fabric_.nic_bandwidth);
  }
  const auto node_of = [&](std::int64_t replica) { return replica * config_.gpus_per_replica() / fabric_.gpus; };
  const bool same_node = node_of(from_replica) == node_of(to_replica);
  const double bandwidth = same_node ? fabric_.bandwidth : fabric_.nic_bandwidth;
  const double latency = same_node ? fabric_.hop_latency_seconds : fabric_.scale_out_latency_seconds;
  return kNcclLaunchLatency + from_seconds(latency + static_cast<double>(tokens) * kv_bytes_per_token_ / bandwidth);
}

std::vector<Op> IterationCostModel::routed_expert_ops(std::int64_t tokens) const {
  std::vector<Op> experts;
  for (const Op& op : build_model_ops(model_, serving_shape(config_, tokens)).layer_forward) {
    if (op.name.starts_with("moe.expert.")) experts.push_back(op);
  }
  return experts;
}

ExpertLayerCosts IterationCostModel::expert_layer_costs(std::int64_t tokens) {
  const auto [at, inserted] = routed_experts_.try_emplace(tokens, 0);
  if (inserted) at->second = ops_time(routed_expert_ops(tokens), true).total;
  const std::int64_t reached = active_experts(model_, local_experts_, tokens);
  const Time layer = tokenwise(tokens).total;
  return {std::max<Time>(0, layer - at->second), at->second / reached};
}

ExpertTransfer IterationCostModel::expert_transfer() const {
  const double experts = static_cast<double>(model_.experts);
  const double moe_layers = static_cast<double>(model_.layers - model_.dense_layers);
  const double expert_parameters = count_parameters(model_).per_layer_experts / experts;
  ExpertTransfer t;
  t.expert_bytes = expert_weight_bytes_ / moe_layers / static_cast<double>(local_experts_);  // a TP slice, or whole experts
  t.host_bandwidth = host_bandwidth_;
  t.expert_flops_per_row = 2 * expert_parameters;
  t.activation_bytes_per_row = static_cast<double>(model_.hidden) * dtype_bytes(activation_dtype(config_));
  return t;
}

double IterationCostModel::weights_read(std::int64_t tokens) const {
  if (local_experts_ == 0) return weight_bytes_;
  const double idle = 1 - static_cast<double>(active_experts(model_, local_experts_, tokens)) / static_cast<double>(local_experts_);
  return all_weight_bytes_ - expert_weight_bytes_ * idle;
}

Time IterationCostModel::adapter_load() const { return from_seconds(adapter_bytes_ / host_bandwidth_); }

double IterationCostModel::adapter_bytes(std::int64_t rank) const {
  return config_.lora_rank > 0 ? adapter_bytes_ * static_cast<double>(rank) / static_cast<double>(config_.lora_rank) : 0;
}

double IterationCostModel::reserved_adapter_bytes() const {
  return config_.lora_rank > 0 && !config_.lora_unified ? adapter_bytes_ * static_cast<double>(config_.max_loras) : 0;
}

Time IterationCostModel::adapter_load(std::int64_t rank) const { return from_seconds(adapter_bytes(rank) / host_bandwidth_); }

std::int64_t IterationCostModel::adapter_blocks(std::int64_t rank) const {
  const double block = kv_bytes_per_token_ * static_cast<double>(config_.block_size);
  return static_cast<std::int64_t>(std::ceil(adapter_bytes(rank) / block));
}

// Punica's SGMV (S-LoRA's MBGMM for mixed ranks): every token's input through its adapter's
// A (h x 4r: Q, K, V, O), then B back to the projections' widths (TP shares), as two skinny
// GEMMs over the batch's tokens at their mean rank.
Time IterationCostModel::lora(std::int64_t tokens, std::int64_t rank_tokens) {
  const std::int64_t r = std::max<std::int64_t>(1, (rank_tokens + tokens - 1) / tokens);
  Time& cached = lora_.try_emplace((static_cast<std::uint64_t>(tokens) << 16) | static_cast<std::uint64_t>(r), kUnknown).first->second;
  if (cached != kUnknown) return cached;
  const std::int64_t out = (model_.attention_width() + 2 * model_.kv_width() + model_.hidden) / config_.tp;
  const Dtype dtype = activation_dtype(config_);
  cached = cost_model_.estimate(gemm_op("lora.shrink", {tokens, 4 * r, model_.hidden, 1}, dtype, Phase::kForward), gpu_).duration +
           cost_model_.estimate(gemm_op("lora.expand", {tokens, out, r, 1}, dtype, Phase::kForward), gpu_).duration;
  return cached;
}

// Punica's BGMV, as S-LoRA decodes (lora_unordered_batch_infer.py: dispatch_bgmv twice for
// each of Q, K, V and O): one kernel per matrix, each token multiplying its input by its own
// adapter's matrix, so every token reads that matrix whole. Memory-bound passes of the
// tokens' matrices, inputs and outputs. The kernels' thread blocks span the largest rank,
// the one they are built for (bgmv_impl.cuh: blocks past a token's own rank load nothing
// but are still scheduled), so they are timed at lora_rank whatever the tokens' own ranks.
Time IterationCostModel::lora_gather(std::int64_t tokens) {
  Time& cached = lora_gather_.try_emplace(static_cast<std::uint64_t>(tokens), kUnknown).first->second;
  if (cached != kUnknown) return cached;
  const double element = dtype_bytes(activation_dtype(config_)), t = static_cast<double>(tokens), rank = static_cast<double>(config_.lora_rank);
  const double hidden = static_cast<double>(model_.hidden), tp = static_cast<double>(config_.tp);
  const double attention = static_cast<double>(model_.attention_width()) / tp, kv = static_cast<double>(model_.kv_width()) / tp;
  // Each projection's (input, output) widths on one TP rank: Q, K and V read the hidden
  // state, O the rank's share of the attention output.
  const double widths[4][2] = {{hidden, attention}, {hidden, kv}, {hidden, kv}, {attention, hidden}};
  cached = 0;
  for (const auto& [in, out] : widths) {
    for (const auto& [from, to] : {std::pair{in, rank}, std::pair{rank, out}}) {
      const Op pass = elementwise_pass("lora.bgmv", Phase::kForward, 2 * t * from * to, t * (from * to + from + to) * element);
      cached += cost_model_.estimate(pass, gpu_).duration;
    }
  }
  return cached;
}

// Per layer: the tiled path's shrink and expand GEMMs, and BGMV's eight kernels.
std::int64_t IterationCostModel::lora_kernels(const BatchShape& shape) const {
  if (shape.lora_tokens <= 0 || config_.lora_rank <= 0) return 0;
  const bool gathers = config_.lora_gather_decode && shape.lora_decode_tokens > 0;
  const bool tiles = !gathers || shape.lora_tokens > shape.lora_decode_tokens;
  return (tiles ? 2 : 0) + (gathers ? 8 : 0);
}

Time IterationCostModel::lora_work(const BatchShape& shape) {
  if (shape.lora_tokens <= 0 || config_.lora_rank <= 0) return 0;
  if (!config_.lora_gather_decode || shape.lora_decode_tokens <= 0) return lora(shape.lora_tokens, shape.lora_rank_tokens);
  const std::int64_t tiled = shape.lora_tokens - shape.lora_decode_tokens;
  return (tiled > 0 ? lora(tiled, shape.lora_rank_tokens - shape.lora_decode_rank_tokens) : 0) + lora_gather(shape.lora_decode_tokens);
}

Time IterationCostModel::host_copy(std::int64_t tokens) const {
  return from_seconds(static_cast<double>(tokens) * kv_bytes_per_token_ / host_bandwidth_);
}

std::int64_t IterationCostModel::host_blocks() const {
  return static_cast<std::int64_t>(config_.swap_space_bytes / (kv_bytes_per_token_ * static_cast<double>(config_.block_size)));
}

std::int64_t IterationCostModel::offload_blocks() const {
  return static_cast<std::int64_t>(config_.kv_offload_bytes / (kv_bytes_per_token_ * static_cast<double>(config_.block_size)));
}

std::int64_t IterationCostModel::disk_blocks() const {
  return static_cast<std::int64_t>(config_.kv_disk_bytes / (kv_bytes_per_token_ * static_cast<double>(config_.block_size)));
}

Time IterationCostModel::disk_read(std::int64_t tokens) const {
  return config_.disk_bandwidth > 0 ? from_seconds(static_cast<double>(tokens) * kv_bytes_per_token_ / config_.disk_bandwidth) : 0;
}

double IterationCostModel::disk_write_bandwidth() const {
  return config_.disk_write_bandwidth < 0 ? config_.disk_bandwidth : config_.disk_write_bandwidth;
}

Time IterationCostModel::disk_write(std::int64_t tokens) const {
  const double rate = disk_write_bandwidth();
  return rate > 0 ? from_seconds(static_cast<double>(tokens) * kv_bytes_per_token_ / rate) : 0;
}

IterationCostModel::Work IterationCostModel::model_work(const BatchShape& shape) {
  const Work per_layer = shape.ranks.empty() ? spread_layer_work(shape) : busiest_rank_layer_work(shape);
  const Time layers = static_cast<Time>(model_.layers);
  Work all{layers * per_layer.total, layers * per_layer.clocked};
  if (shape.outputs > 0) all += head(shape.outputs);
  return all;
}

// Under data-parallel attention each rank runs the attention block (and the router, the
// shared expert, the token exchanges) on its own sequences, and the routed experts take
// every rank's tokens, balanced over the EP group. The MoE layer's exchanges wait for every
// rank, so each layer runs at the pace of the rank with the most to do: a rank prefilling
// a long prompt holds the others' decodes up.
IterationCostModel::Work IterationCostModel::busiest_rank_layer_work(const BatchShape& shape) {
  const std::int64_t ranks = config_.attention_ranks();
  Work busiest;
  for (const RankLoad& rank : shape.ranks) {
    if (rank.tokens == 0) continue;
    const Work whole = tokenwise(rank.tokens * ranks);  // every rank as loaded as this one
    const Work experts = routed_expert_work(rank.tokens * ranks);
    Work own{whole.total - experts.total + rank.prefill_attention, whole.clocked - experts.clocked + rank.prefill_attention};
    if (rank.decodes > 0) {
      own.total += layer_average(model_, decode_attention(rank.decodes, rank.decode_context),
                                 [&] { return decode_attention(rank.decodes, rank.decode_window_context); });
    }
    if (own.total > busiest.total) busiest = own;
  }
  busiest += routed_expert_work(shape.tokens);
  return busiest;
}

IterationCostModel::Work IterationCostModel::routed_expert_work(std::int64_t tokens) {
  const auto [at, inserted] = routed_expert_work_.try_emplace(tokens, Work{});
  if (!inserted) return at->second;
  // Averaged over the layers as tokenwise averages them: the leading dense layers have none.
  const double share = 1 - static_cast<double>(model_.dense_layers) / static_cast<double>(model_.layers);
  const Work w = ops_time(routed_expert_ops(tokens), true);
  at->second = {static_cast<Time>(std::llround(share * static_cast<double>(w.total))),
                static_cast<Time>(std::llround(share * static_cast<double>(w.clocked)))};
  return at->second;
}

IterationCostModel::Work IterationCostModel::spread_layer_work(const BatchShape& shape) {
  Work per_layer = tokenwise(local_tokens(shape.tokens - shape.decodes, shape.decodes));
  // Data-parallel attention without each rank's share (a shape built outside a replica's
  // batch): the prefill chunks and the decodes spread evenly over the GPUs, each attending
  // its own with every head.
  const std::int64_t ranks = config_.attention_ranks();
  const Time prefill_attention = shape.prefill_attention / ranks;
  per_layer.total += prefill_attention;
  per_layer.clocked += prefill_attention;
  per_layer.total += lora_work(shape);
  if (shape.decodes > 0) {
    // Sliding-window layers read each sequence's last `window` keys and values at most.
    // With context parallelism each group reads its share of every cache; a window's keys
    // are the newest, on one group or two, so its reads are not shared.
    const std::int64_t cp = config_.cp;
    const std::int64_t decodes = (shape.decodes + ranks - 1) / ranks;
    per_layer.total += layer_average(model_, decode_attention(decodes, (shape.decode_context + cp * ranks - 1) / (cp * ranks)),
                                     [&] { return decode_attention(decodes, (shape.decode_window_context + ranks - 1) / ranks); });
    if (cp > 1) per_layer.total += cp_decode_combine(shape.decodes);
  }
  return per_layer;
}

Time IterationCostModel::cpu_time(const BatchShape& shape) const {
  const HostCosts& h = config_.host;
  return from_seconds(h.iteration_seconds + h.per_sequence_seconds * static_cast<double>(shape.sequences) +
                      (config_.tp > 1 ? h.tp_seconds : 0));
}

Time IterationCostModel::overhead(const BatchShape& shape) const { return cpu_time(shape) + shape.host_copies; }

// The host launches an iteration's kernels one by one, each costing it kernel_launch
// seconds, while the GPU runs those already launched: the kernels finish no sooner than
// the launches. A CUDA graph replays a decode batch's kernels for one launch; vLLM V1's
// piecewise graphs leave each layer's attention (and its cache write) to eager launches.
bool IterationCostModel::replays_graph(const BatchShape& shape) const {
  const EngineConfig& e = config_.engine;
  if (e.piecewise_graphs) return shape.tokens <= e.graph_max_tokens;
  return e.cuda_graphs && shape.tokens == shape.decodes && shape.decodes <= e.graph_max_tokens;
}

std::int64_t IterationCostModel::eager_launches(const BatchShape& shape) const {
  constexpr std::int64_t kEagerAttentionKernels = 2;
  if (!replays_graph(shape)) return model_.layers * (layer_kernels_ + lora_kernels(shape)) + head_kernels_;
  return config_.engine.piecewise_graphs ? model_.layers * kEagerAttentionKernels : 0;
}

// An iteration's compute-bound GEMMs and prefill attention share the power limit with its
// memory-bound kernels (decode attention, skinny GEMMs, norms, collectives), which draw far
// less: they run above the clock back-to-back GEMMs sustain, as far as the average power
// allows.
Time IterationCostModel::device_time(const BatchShape& shape) {
  const HostCosts& h = config_.host;
  const Time launches = from_seconds(h.kernel_launch_seconds * static_cast<double>(eager_launches(shape)));
  const Work w = model_work(shape);
  const double boost = clocks_up_beside_memory_bound_ ? gpu_.shared_power_clock_boost(gemm_dtype(), static_cast<double>(w.clocked),
                                                                        static_cast<double>(w.total - w.clocked))
                                        : 1.0;
  const Time kernels = w.total - w.clocked + static_cast<Time>(std::llround(static_cast<double>(w.clocked) / boost));
  return (replays_graph(shape) ? from_seconds(h.graph_launch_seconds) : 0) + std::max(kernels, launches);
}

Time IterationCostModel::draft_time(const BatchShape& shape) {
  if (!draft_ || shape.decodes == 0) return 0;
  // Each draft step is one decode pass of the drafter over the decoding sequences; in a
  // tree, the steps after the first take topk candidates of each, each reading its context.
  const SpeculativeConfig& spec = config_.speculative;
  const auto pass_of = [&](std::int64_t width) {
    BatchShape pass;
    pass.tokens = pass.decodes = pass.outputs = shape.decodes * width;
    pass.sequences = shape.decodes;
    pass.decode_context = shape.decode_context * width;
    pass.decode_window_context = shape.decode_window_context * width;
    return pass;
  };
  const Time first = draft_->device_time(pass_of(1));
  if (spec.topk == 1) return static_cast<Time>(spec.tokens) * first;
  return first + static_cast<Time>(spec.tokens - 1) * draft_->device_time(pass_of(spec.topk));
}

Time IterationCostModel::iteration(const BatchShape& shape, std::int64_t steps) {
  Time device = draft_time(shape);
  BatchShape step = shape;
  for (std::int64_t k = 0; k < steps; ++k) {
    device += device_time(step);
    step.decode_context += step.decodes;
    if (model_.sliding_window > 0) step.decode_window_context = std::min(step.decode_window_context + step.decodes, step.decodes * model_.sliding_window);
  }
  const Time cpu = cpu_time(shape);
  return shape.host_copies + (config_.host.async_scheduling ? std::max(cpu, device) : cpu + device);
}

Time IterationCostModel::stage_work(const BatchShape& shape) { return device_time(shape) / config_.pp; }

Time IterationCostModel::stage_transfer(std::int64_t tokens) const {
  const double bytes = static_cast<double>(tokens * model_.hidden) * dtype_bytes(activation_dtype(config_)) /
                       static_cast<double>(config_.tp);
  return collective_duration(fabric_, CollectiveKind::kSendRecv, bytes, 2);
}

}  // namespace foresight
