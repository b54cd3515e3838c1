#pragma once
// What ring attention (context parallelism, load-balanced under the causal mask) moves
// outside its attention kernels, as two implementations run it:
// - Transformer Engine's AttnFuncWithCPAndKVP2P (Megatron-core, NeMo): K and V at the
//   model's KV width pass from rank to rank; each step's output is corrected into a bf16
//   output by a fused kernel, and dQ, dK and dV accumulate in bf16;
// - PyTorch's context_parallel (torch/distributed/tensor/experimental/_attention.py of
//   PyTorch 2.5-2.6, torchtitan's CP) with its defaults (convert_to_f32, the all-gather
//   rotation): its SDPA calls take K and V expanded to every query head (torchtitan repeats
//   them before SDPA), the steps' outputs merge in fp32 by eager kernels, and the fp32
//   gradients of K and V go one hop at every step.
#include <cstdint>

namespace foresight {

// Bytes read and written, per element of a rank's attention output (micro-batch x heads x
// sequence / cp x head_dim), by the copies, casts and merges of one forward call and one
// backward call over `cp` ranks, averaged over the ranks. Each rank runs cp attention calls,
// one per key chunk; the kernels themselves are timed as attention.
struct RingTraffic {
  double forward = 0;
  double backward = 0;
  std::int64_t forward_kernels = 0;  // about: what the host launches for them
  std::int64_t backward_kernels = 0;
};
// `kv_share`: K's (and V's) elements over the output's, kv_heads / heads under GQA.
RingTraffic transformer_engine_ring_traffic(std::int64_t cp, double kv_share);
RingTraffic pytorch_ring_traffic(std::int64_t cp);

// The bytes PyTorch's backward ring moves, as an all-gather over the CP group would count
// them (every rank's part): K and V gathered again (`kv_bytes`, the whole sequence's), and
// their gradients in fp32 passed one hop at each of the cp steps.
double pytorch_ring_backward_bytes(double kv_bytes, std::int64_t cp);

}  // namespace foresight
