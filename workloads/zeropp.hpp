#pragma once
// ZeRO++ (Wang et al., "ZeRO++: Extremely Efficient Collective Communication for Giant Model
// Training", 2023; DeepSpeed's zero_quantized_weights, zero_hpz_partition_size and
// zero_quantized_gradients): what each of its three parts moves and the kernels it adds.
//
// - qwZ: each weight all-gather over the DP group carries int8. Every rank quantizes its
//   shard before the gather (block quantization: read bf16, write int8) and dequantizes the
//   gathered unit before the unit runs (read int8, write bf16), on the compute stream.
// - hpZ: after a unit's forward gather each rank keeps a bf16 slice of it, sharded over
//   its partition (zero_hpz_partition_size consecutive DP ranks, a node's), so its backward
//   gather runs inside the partition, in bf16, and the weights take one more slice of memory.
// - qgZ: gradients are reduced by a two-hop all-to-all in int4 (inside the node, then
//   across nodes on each rail), each hop's chunks dequantized and summed and the result
//   requantized for the next. foresight runs it as a reduce-scatter of the int4 payload over
//   the DP group, which moves the same bytes over the same links (hierarchical across
//   nodes), with the quantize pass before it and the dequantize-and-sum passes after it on
//   the reduction's stream, as DeepSpeed runs them.
//
// The quantization scales (one per block) are not counted: DeepSpeed's blocks hold
// thousands of elements, so they add well under 1% to the payload.
#include "models/op.hpp"

namespace foresight {

inline constexpr double kQuantizedWeightBytes = 1.0;    // qwZ: int8
inline constexpr double kQuantizedGradientBytes = 0.5;  // qgZ: int4

// qwZ: a rank's quantization of its shard of `parameters` gathered parameters.
Op weight_quantize_op(double shard_parameters);
// qwZ: the dequantization of a gathered unit of `parameters` before it runs.
Op weight_dequantize_op(double parameters);
// qgZ: the quantization of a unit's `parameters` gradients (of `grad_bytes` each) before
// the reduction, and the passes after it: the first hop's dequantize-and-sum over all of
// them, then over the node's share (parameters / ranks_per_node) the requantization and
// the second hop's dequantize-and-sum into this rank's shard of the group's.
Op gradient_quantize_op(double parameters, double grad_bytes);
Op gradient_dequantize_op(double parameters, double grad_bytes, double ranks_per_node, double group_ranks);

}  // namespace foresight
