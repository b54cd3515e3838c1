#pragma once
// Generates the per-rank kernels of a transformer's forward and backward pass for one
// micro-batch, following Megatron-LM's tensor parallelism (Shoeybi et al. 2019):
// column-parallel QKV and MLP-up, row-parallel output and MLP-down, vocabulary-parallel
// embedding and output head, and optionally sequence parallelism (Korthikanti et al.
// 2022) which shards norms and residuals by sequence and turns each all-reduce into a
// reduce-scatter / all-gather pair.
#include <utility>
#include <vector>

#include "models/lora.hpp"
#include "models/model_arch.hpp"
#include "models/op.hpp"

namespace foresight {

// How core attention runs: one fused kernel that never writes the score matrix
// (FlashAttention-2 and PyTorch's SDPA; or, on Hopper, the warp-specialized FlashAttention-3
// and cuDNN 9 kernels that Transformer Engine picks), or Megatron-LM's pre-2022 path of two
// batched matmuls around a fused scale-mask-softmax that reads and writes the s x s scores.
enum class AttentionKernel { kFlash, kFlash3, kUnfused };

// Activation recomputation (Korthikanti et al. 2022): none; selective reruns the modules
// RecomputedModules lists (core attention by default: the score matrix and what follows it,
// keeping Q, K and V); full reruns the
// whole layer from its input; selective_op is torchtitan's op-level policy, which keeps
// attention's output and every odd matmul's and reruns the rest (below).
enum class Recompute { kNone, kSelective, kFull, kSelectiveOp };

// How context parallelism's ring runs around the attention kernel (models/cp_ring.hpp has
// the byte counts). kTransformerEngine (Megatron-core, NeMo): K and V at the model's KV width,
// each step's output corrected into the result by a fused bf16 kernel, the gradients
// accumulated in bf16. kPyTorch (torch.distributed's context_parallel, torchtitan's CP): K and
// V expanded to every query head, the steps' outputs merged in fp32 by eager kernels, the
// fp32 gradients of K and V passed round at every step. kFused: merged inside the kernels,
// nothing outside them (an idealized ring). kAllGather: no ring (Meta's Llama 3 CP): K and V
// of the whole sequence all-gathered before one attention kernel, waited for; in backward
// gathered again, and dK and dV reduce-scattered after the kernel, waited for too.
enum class CpRing { kTransformerEngine, kPyTorch, kFused, kAllGather };

// Megatron's selective recomputation by module (--recompute-granularity selective
// --recompute-modules): each listed module reruns its forward before the layer's backward,
// keeping its input and freeing what only its own backward needed. core_attn: what attention
// keeps beyond Q, K and V (the unfused path's s x s scores; fused kernels keep nothing more);
// layernorm: each block's norm output, which the block's first GEMM would keep; moe_act: the
// experts' activation output, which their down projection would keep; mlp: a dense MLP's
// intermediates (its up projection's output and the activation's); shared_experts: the same
// for the shared expert beside the routed ones; mla_up_proj: latent attention's up
// projections and rotary embedding (from the normalized latents to the heads' queries, keys
// and values), which frees the Q, K and V core attention would keep; moe: a whole MoE block
// (router, dispatch, experts, combine and shared expert), which keeps only its input.
struct RecomputedModules {
  bool core_attn = false;
  bool layernorm = false;
  bool moe_act = false;
  bool mlp = false;
  bool shared_experts = false;
  bool mla_up_proj = false;
  bool moe = false;
};

// Megatron's --recompute-modules names that foresight models, in its order, and the flag each sets.
inline constexpr std::pair<const char*, bool RecomputedModules::*> kRecomputedModuleNames[] = {
    {"core_attn", &RecomputedModules::core_attn}, {"layernorm", &RecomputedModules::layernorm},
    {"moe_act", &RecomputedModules::moe_act},     {"mlp", &RecomputedModules::mlp},
    {"shared_experts", &RecomputedModules::shared_experts}, {"mla_up_proj", &RecomputedModules::mla_up_proj},
    {"moe", &RecomputedModules::moe}};

struct ShapeConfig {
  std::int64_t micro_batch = 1;
  std::int64_t sequence = 2048;
  Dtype dtype = Dtype::kBf16;
  std::int64_t tp = 1;
  bool sequence_parallel = false;
  // FlashAttention skips fully masked tiles, so causal attention executes about half the
  // FLOPs. Set false to count the full square, as Megatron's FLOP formula does.
  bool causal_skips_masked = true;
  AttentionKernel attention = AttentionKernel::kFlash;
  // Training with dropout: the unfused path adds a dropout kernel over the scores, and
  // every residual add also applies dropout and keeps its 1-byte mask.
  bool dropout = false;
  // Selective recomputation's modules (Megatron's --recompute-modules).
  RecomputedModules recompute = {};
  // Context parallelism (ring attention, load-balanced under the causal mask): each rank
  // holds sequence / cp tokens; attention passes K and V around the CP group and, in
  // backward, K and V again with their gradients.
  std::int64_t cp = 1;
  CpRing cp_ring = CpRing::kTransformerEngine;
  // Expert parallelism: each rank holds experts / ep experts; tokens go to their experts'
  // ranks and back by all-to-alls over the EP group, each TP rank sending 1/tp of them.
  std::int64_t ep = 1;
  // Expert parallelism over the TP group instead (vLLM's enable_expert_parallel): each TP
  // rank holds whole experts, experts / tp of them, rather than a TP slice of every one.
  bool experts_over_tp = false;
  // Training's MoE parallel folding (expert TP 1): each EP group spans ep / tp TP groups. A
  // rank routes its own sequence-parallel shard of the tokens, sends them to whole experts
  // without a TP all-gather or reduce-scatter around the MoE block, and its experts / ep
  // experts take tokens x k / tp rows.
  bool experts_folded = false;
  // Routing imbalance: tokens the busiest EP rank's experts receive over the mean. That rank
  // sets the pace (the combine all-to-all waits for it), so its expert GEMMs and the
  // all-to-alls, which last as long as their busiest receiver, scale by it.
  double expert_load = 1;
  // MoE routing without an expert capacity (Megatron's default, torchtitan's): how many
  // tokens each expert gets is known only on the GPU, and the host copies the counts back
  // before it can launch the dispatch (the all-to-all's split sizes) and the grouped GEMMs.
  // false: a fixed capacity per expert (tokens beyond it dropped, the rest padded to it).
  bool dropless_routing = true;
  // Megatron-core's all-to-all token dispatcher: the rows an EP rank receives arrive grouped
  // by the rank that sent them, and with more than one local expert it copies them into
  // expert order before the grouped GEMMs and back before the combine (sort_chunks_by_idxs,
  // its "permutation 2"), forward and backward. Training sets it; serving leaves it off.
  bool sort_received_by_expert = false;
  // Megatron-core's --moe-shared-expert-overlap: the shared expert's first projection and
  // activation run beside the dispatch all-to-all and its second projection beside the
  // combine, on a stream of their own, instead of after the routed experts.
  bool shared_expert_overlap = false;
  // Megatron-core's --delay-wgrad-compute: the experts' weight gradients leave their place
  // after the input gradients and run beside the dispatch's backward all-to-all.
  bool delay_expert_wgrad = false;
  // PyTorch eager (torchtitan without torch.compile, Hugging Face Transformers): RMSNorm,
  // the rotary embedding and the gated activation run as PyTorch's separate ops, with the
  // fp32 upcasts their code makes, instead of one fused kernel each (Transformer Engine,
  // torch.compile).
  bool eager_elementwise = false;
  // FP8 training as Transformer Engine runs it: each fp8 linear layer keeps, for its weight
  // gradient, its own fp8 copy of its input (one byte an element) instead of the bf16
  // tensor, and keeps it beside the bf16 one where another op keeps that (attention's
  // output). false: the bf16 inputs, recast in backward (torchao's Float8Linear).
  bool fp8_saved_inputs = false;
  // The loss as Megatron-LM runs it without --cross-entropy-loss-fusion and PyTorch eager
  // runs F.cross_entropy on upcast logits: fp32 copies of the logits and a kernel per step
  // of the softmax, instead of one fused pass over them in the activation dtype.
  bool fp32_cross_entropy = false;
  // Megatron's gradient accumulation fusion: each weight-gradient GEMM adds into the rank's
  // gradient buffer (main_grad) in its epilogue. false: the GEMM writes a fresh gradient in
  // the activation dtype and the DDP or FSDP hook adds it into the buffer (main_grad.add_),
  // a kernel per weight that reads both and writes the buffer.
  bool grad_accumulation_fusion = true;
  Dtype grad_dtype = Dtype::kBf16;  // the gradient buffer's
  // LoRA fine-tuning: the weights frozen, adapters on the layers it names (models/lora.hpp).
  LoraConfig lora = {};
  // Packed documents of this many tokens under a document mask: fused attention skips the
  // tiles across documents, so a query meets only its own document's keys (0: one
  // document per sequence).
  std::int64_t document = 0;
};

// A model's sliding-window attention: `share` of its layers meet at most `window` keys per
// query. Its core attention ops are the layers' average.
struct SlidingWindow {
  std::int64_t window = 0;  // 0: none
  double share = 0;
};

// One decoder layer's kernels: forward, backward, what selective recomputation reruns (its
// modules' forward kernels), and torchtitan's op-level checkpointing (what it reruns, and the
// bytes it keeps).
struct LayerOps {
  std::vector<Op> forward, backward, selective_recompute, op_recompute;
  double op_saved_bytes = 0;
};

struct ModelOps {
  std::vector<Op> embedding_forward, embedding_backward;
  std::vector<Op> encoder_layer_forward, encoder_layer_backward;  // empty unless T5-like
  std::vector<Op> layer_forward, layer_backward;                  // one decoder layer
  std::vector<Op> encoder_selective_recompute, layer_selective_recompute;  // the forward ops selective recomputation reruns
  // torchtitan's op-level selective checkpointing of a decoder layer (its
  // _op_sac_save_list): what is rerun before the layer's backward, and the bytes it keeps.
  std::vector<Op> layer_op_recompute;
  double layer_op_saved_bytes = 0;
  std::vector<Op> head_forward, head_backward;                    // final norm, output head, loss
  // A multi-token prediction depth's own kernels, ahead of its decoder layer: the norms of the
  // embedded tokens and of the hidden states, their concatenation and the 2h -> h projection.
  std::vector<Op> mtp_forward, mtp_backward;
  // An MoE model's leading dense layers (ModelArch::dense_layers); empty without them.
  LayerOps dense_layer;
};

ModelOps build_model_ops(const ModelArch& model, const ShapeConfig& shape);

// Of a rank's `local` experts, how many at least one of `routed` tokens picks (each token
// choosing experts_per_token of them evenly), rounded, at least one: dropless MoE kernels
// run, and read the weights of, only those.
std::int64_t active_experts(const ModelArch& model, std::int64_t local, std::int64_t routed);

// A fused attention kernel of shape `a` (FlashAttention): causal queries are the last
// q_len of kv_len positions, so each sees the kv_len - q_len before it and, causally,
// half of its own block; backward recomputes QK^T and runs four more matmuls (2.5x the
// forward's FLOPs) and reads and writes twice the bytes.
Op attention_op(const AttentionShape& a, Phase phase, Dtype dtype);

// Serving's attention kernels on one TP rank, which holds `heads` query and `kv_heads`
// key/value heads. Prefill: `batch` chunks of `chunk` tokens, each after `context` cached
// tokens, causal within the chunk. Decode: `decodes` one-token queries over `context`
// cached tokens in all (paged attention reads each cached key and value once). With a
// `window`, a prefill query meets at most that many keys (a sliding-window layer's), and a
// decode's `context` is what the windows hold; a cached element takes `kv_element_bytes`.
Op prefill_attention_op(std::int64_t batch, std::int64_t heads, std::int64_t kv_heads, std::int64_t head_dim,
                        std::int64_t chunk, std::int64_t context, Dtype dtype, std::int64_t window = 0);
Op decode_attention_op(std::int64_t decodes, std::int64_t heads, std::int64_t kv_heads, std::int64_t head_dim,
                       std::int64_t context, Dtype dtype, double kv_element_bytes);
// Latent attention's decode as vLLM's and SGLang's MLA kernels run it (FlashMLA): the up
// projections absorbed into the query and the output, so each of `heads` query heads meets
// the cached latent of `kv_rank` and the shared rotary key of `rope_dim` directly; the cache,
// one latent per token for all heads, is read once.
Op latent_decode_attention_op(std::int64_t decodes, std::int64_t heads, std::int64_t kv_rank, std::int64_t rope_dim,
                              std::int64_t context, Dtype dtype, double kv_element_bytes);

// Mixed-precision Adam over `parameters` local parameters: reads fp32 master weight, m, v
// and the gradient, writes them back plus the low-precision copy.
// A memory-bound optimizer-phase kernel: `flops` and `bytes` moved.
Op optimizer_pass(std::string name, Dtype dtype, double flops, double bytes);
Op optimizer_op(double parameters, Dtype grad_dtype);
// Plain SGD's update of `parameters` weights held in `weight_dtype` (no optimizer state).
Op sgd_optimizer_op(double parameters, Dtype weight_dtype, Dtype grad_dtype);
// Gradient clipping's norm over `parameters` gradients (one read), before the optimizer.
Op grad_norm_op(double parameters, Dtype grad_dtype);
// Zeroing `parameters` gradients for the next step's accumulation (one write).
Op zero_grad_op(double parameters, Dtype grad_dtype);

double total_flops(const std::vector<Op>& ops);
double total_saved_bytes(const std::vector<Op>& ops);

}  // namespace foresight
