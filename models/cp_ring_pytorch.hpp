#pragma once
// What PyTorch's ring attention moves outside its attention kernels: torch.distributed's
// context_parallel (torch/distributed/tensor/experimental/_attention.py of PyTorch 2.5-2.6,
// as torchtitan ran CP), load-balanced under the causal mask, with its defaults
// (convert_to_f32, the all-gather rotation of K and V). Its SDPA calls take K and V
// expanded to every query head (torchtitan repeats them before SDPA), so K, V and the
// output have the same number of elements.
#include <cstdint>

namespace foresight {

// Bytes read and written, per element of a rank's attention output (micro-batch x heads x
// sequence / cp x head_dim), by the copies, casts and merges of one forward call and one
// backward call over `cp` ranks, averaged over the ranks. Each rank runs cp SDPA calls, one
// per key chunk; the kernels themselves are timed as attention.
struct RingTraffic {
  double forward = 0;
  double backward = 0;
  std::int64_t forward_kernels = 0;  // about: a merge step is some ten eager ops
  std::int64_t backward_kernels = 0;
};
RingTraffic pytorch_ring_traffic(std::int64_t cp);

// The bytes the backward ring moves, as an all-gather over the CP group would count them
// (every rank's part): K and V gathered again (`kv_bytes`, the whole sequence's), and their
// gradients in fp32 passed one hop at each of the cp steps.
double pytorch_ring_backward_bytes(double kv_bytes, std::int64_t cp);

}  // namespace foresight
