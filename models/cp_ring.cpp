#include "models/cp_ring.hpp"

namespace foresight {

RingTraffic transformer_engine_ring_traffic(std::int64_t cp, double kv_share) {
  const auto n = static_cast<double>(cp);
  // A rank's steps that meet all its queries: its own chunk and the earlier ranks' (the
  // keys' first half), (n + 1) / 2 on average; the other (n - 1) / 2 meet the later half.
  const double whole = (n + 1) / 2, half = (n - 1) / 2;
  // Forward, per output element: the bf16 output zeroed (2); every step's output corrected
  // into it by one fused kernel, reading both and writing it (6, on the rows the step
  // met); K and V concatenated into the first send buffer (4 each, at their width).
  const double forward = 2 + 6 * (whole + half / 2) + 8 * kv_share;
  // Backward: each step's dQ copied or added into the bf16 dQ (6 on the rows it met), and
  // its dK and dV into the received bf16 dK and dV (6 each on the keys it met, mirrored).
  const double backward = 6 * (whole + half / 2) * (1 + 2 * kv_share);
  return RingTraffic{.forward = forward, .backward = backward, .forward_kernels = 2 + cp, .backward_kernels = 2 * cp};
}

RingTraffic pytorch_ring_traffic(std::int64_t cp) {
  const double steps = static_cast<double>(cp - 1);  // ring steps after the rank's own chunk
  // Forward (_templated_ring_attention, _SDPAMerger), per output element:
  //   8  key.contiguous() and value.contiguous() on SDPA's transposed views (bf16 copies);
  //   6  the first step's output upcast to fp32;
  //   8  a step: torch.cat of K and V before they are passed on (cp - 1 times);
  //  38  a step that meets the whole local query (a rank's earlier chunks): the output cast
  //      to fp32 (6), out - block_out (12), times sigmoid(lse difference) (8), subtracted (12);
  //  27  a step that meets the later half of the query: the same on half the rows (19) and
  //      _partial_update's torch.cat of the whole fp32 output (8);
  //   6  the merged output cast back to bf16.
  // A rank has as many steps of each kind as its place in the ring says: 32.5 on average.
  const double merge = (38.0 + 27.0) / 2;
  // Backward (_templated_ring_attention_backward), per output element:
  //  12  zeroed fp32 accumulators for dQ, dK and dV;
  //   8  K and V made contiguous again;
  //   8  a step: torch.cat of K and V (cp - 1 times);
  //  30  the rank's own chunk: dK and dV added into fp32 (10 each), dQ too (10);
  //  34.5 a later step, on average: dK and dV added into the received fp32 buffer, with
  //      _partial_update's torch.cat where only the first half of the keys met (26 or 20),
  //      and dQ likewise (10 or 13);
  //  16  every step: torch.cat of the fp32 dK and dV to pass them on (cp times);
  //  18  dQ, dK and dV cast back to bf16.
  const double accumulate = (26.0 + 10.0 + 20.0 + 13.0) / 2;
  return RingTraffic{
      .forward = 20 + steps * (8 + merge),
      .backward = 84 + steps * (8 + accumulate + 16),
      .forward_kernels = 5 + 11 * (cp - 1),
      .backward_kernels = 10 + 7 * cp,
  };
}

double pytorch_ring_backward_bytes(double kv_bytes, std::int64_t cp) {
  // The gradients' hops: cp of the rank's fp32 dK and dV, twice its bf16 K and V, so 2 x
  // kv_bytes per rank in all; an all-gather of T moves (cp - 1) / cp x T to each rank.
  const double ranks = static_cast<double>(cp);
  return kv_bytes + 2 * kv_bytes * ranks / (ranks - 1);
}

}  // namespace foresight
