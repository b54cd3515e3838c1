#pragma once
// One kernel (or one collective) on one rank, with the work it does. Shapes are kept so
// that calibrated and learned cost models can look past FLOPs and bytes.
#include <cstdint>
#include <string>
#include <string_view>

#include "models/dtype.hpp"

namespace foresight {

// kHostCopy: a copy between device and pinned host memory, on a copy engine beside the kernels.
enum class OpClass { kGemm, kAttention, kNorm, kElementwise, kEmbedding, kLoss, kOptimizer, kCollective, kHostCopy };
enum class Phase { kForward, kBackwardInput, kBackwardWeight, kOptimizer };
enum class CollectiveKind { kNone, kAllReduce, kAllGather, kReduceScatter, kAllToAll, kBroadcast, kReduce, kSendRecv };
// kData: the gradient group of dense parameters (DP x CP; with local SGD one replica's);
// kExpertData: of expert parameters (the DP x CP ranks that hold the same experts);
// kDataPartition: ZeRO++'s hpZ group, consecutive members of the DP x CP group that share a
// secondary weight partition; kOuter: local SGD's average, a rank and its counterparts in the
// other replicas.
enum class CommGroup { kTensor, kData, kPipeline, kContext, kExpert, kExpertData, kDataPartition, kOuter };

std::string_view op_class_name(OpClass kind);
std::string_view phase_name(Phase phase);
std::string_view collective_name(CollectiveKind kind);
std::string_view comm_group_name(CommGroup group);  // "tp", "dp", "pp", "cp", "ep", "edp", "hpz", "outer"

struct GemmShape {
  std::int64_t m = 0, n = 0, k = 0, batch = 1;  // batch > 1: grouped / batched GEMM
  // False for matmuls of two activations (QK^T, PV), which FP8 recipes keep in bf16.
  bool weight_operand = true;
};

struct AttentionShape {
  std::int64_t batch = 0, heads = 0, kv_heads = 0, q_len = 0, kv_len = 0, head_dim = 0;
  bool causal = false;
  // Hopper-native warp-specialized kernels (FlashAttention-3, cuDNN 9 fused attention),
  // rather than FlashAttention-2-class ones.
  bool warp_specialized = false;
  // Kernels the keys are split over: ring attention runs one per K/V chunk (CP ranks).
  std::int64_t kv_steps = 1;
  // Dropout on the attention probabilities, drawn inside the kernel (models/attention_dropout.hpp).
  bool dropout = false;
};

struct Op {
  std::string name;  // "attn.qkv", "mlp.down.wgrad"
  OpClass kind = OpClass::kElementwise;
  Phase phase = Phase::kForward;
  Dtype dtype = Dtype::kBf16;
  double flops = 0;        // executed (masked attention blocks are skipped, not counted)
  double bytes = 0;        // minimum device-memory traffic
  double saved_bytes = 0;  // activations a forward op keeps for its backward
  GemmShape gemm;
  AttentionShape attention;
  CollectiveKind collective = CollectiveKind::kNone;
  CommGroup group = CommGroup::kTensor;
  double collective_bytes = 0;  // nccl-tests convention: the full buffer (AG: output, RS: input)
  // Kernels the framework's host launches for this op: Transformer Engine's grouped linear
  // runs one GEMM (and one cast) per local expert where foresight times one batched GEMM.
  std::int64_t kernels = 1;
  // The host copies this kernel's result back before it launches anything more, waiting
  // for the GPU to get there: dropless MoE routing reads the per-expert token counts (the
  // all-to-all's split sizes, the grouped GEMM's m_splits) after the permutation.
  bool host_reads_result = false;
  // Runs on a stream of its own beside the expert all-to-all before it in the sequence
  // (Megatron-core's shared-expert overlap); the op after the run waits for both.
  bool beside_exchange = false;
};

// A (batched) GEMM C = A B with A m x k and B k x n in `dtype`: 2mnk FLOPs per batch
// entry and the minimum traffic of reading A and B and writing C once.
Op gemm_op(std::string name, GemmShape shape, Dtype dtype, Phase phase);

// A memory-bound elementwise kernel of `flops` and `bytes` over 16-bit data (a cast, a
// quantization, a scale).
Op elementwise_pass(std::string name, Phase phase, double flops, double bytes);

// FP8 GEMMs (Transformer Engine's recipe, FP8 inference alike) read both operands in fp8
// and write a bf16 result.
void use_fp8_operands(Op& gemm);
// Weight-only quantization (W8A16, W4A16: Marlin, Machete): the weight operand is read at
// `weight_bytes` per element and dequantized in registers; the math stays 16-bit.
void use_quantized_weights(Op& gemm, double weight_bytes);

}  // namespace foresight
