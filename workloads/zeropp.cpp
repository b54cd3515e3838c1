#include "workloads/zeropp.hpp"

namespace foresight {
namespace {
Op quantization_pass(const char* name, Phase phase, double elements, double bytes) {
  return elementwise_pass(name, phase, 2 * elements, bytes);  // a scale and a round per element
}
}  // namespace

Op weight_quantize_op(double shard_parameters) {
  return quantization_pass("zeropp.weight_quantize", Phase::kForward, shard_parameters,
                           shard_parameters * (2 + kQuantizedWeightBytes));
}

Op weight_dequantize_op(double parameters) {
  return quantization_pass("zeropp.weight_dequantize", Phase::kForward, parameters, parameters * (kQuantizedWeightBytes + 2));
}

Op gradient_quantize_op(double parameters, double grad_bytes) {
  return quantization_pass("zeropp.gradient_quantize", Phase::kBackwardWeight, parameters,
                           parameters * (grad_bytes + kQuantizedGradientBytes));
}

Op gradient_dequantize_op(double parameters, double grad_bytes, double ranks_per_node, double group_ranks) {
  const double node_share = parameters / ranks_per_node;
  // First hop: read every received int4 chunk, write the node's sums; requantize them (read,
  // write int4); after the second hop, read those chunks and write this rank's shard.
  const double bytes = parameters * kQuantizedGradientBytes + node_share * grad_bytes +
                       node_share * (grad_bytes + kQuantizedGradientBytes) + node_share * kQuantizedGradientBytes +
                       parameters / group_ranks * grad_bytes;
  return quantization_pass("zeropp.gradient_dequantize_sum", Phase::kBackwardWeight, parameters + 2 * node_share, bytes);
}

}  // namespace foresight
