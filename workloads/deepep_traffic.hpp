#pragma once
// DeepEP's dispatch and combine (its normal kernels; NVIDIA's HybridEP, which Megatron's flex
// dispatcher runs, moves the same bytes) against NCCL's all-to-all. Megatron's all-to-all
// dispatcher permutes a row per (token, expert) and sends every row, so a token bound for two
// experts on one rank crosses twice. DeepEP sends a token once to each rank holding any of its
// experts, and across nodes once to each node holding any: to the rank on the sender's rail
// there, which forwards it over NVLink to the ranks that need it (Liu et al., DeepSeek-V3
// technical report, Sec. 3.2.2; deepseek-ai/DeepEP's internode kernels). The combine runs
// the same path back, each forwarder adding its node's partial sums before it sends once.
#include <cstdint>

namespace foresight {

// Scales of a direct all-to-all's pieces: NCCL's sends bytes / n to each of n ranks, bytes
// being every routed copy (tokens x k rows); DeepEP's pieces to a rank on the sender's node
// and to one on another node are those times `local` and `remote`.
struct PieceScales {
  double local = 1;
  double remote = 1;
};

// For `experts` experts spread evenly over `ranks` EP ranks on `nodes` nodes (ranks / nodes
// on each), a token choosing k distinct experts uniformly (the benchmarks' forced balance).
PieceScales deepep_piece_scales(std::int64_t experts, std::int64_t k, std::int64_t ranks, std::int64_t nodes);

// The chance that k distinct experts drawn uniformly from `experts` include one of `held`.
double holds_any(std::int64_t experts, std::int64_t k, std::int64_t held);

}  // namespace foresight
