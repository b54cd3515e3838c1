#include "workloads/activation_offload.hpp"

namespace foresight {

std::vector<std::int64_t> offload_windows(std::int64_t offloaded, std::int64_t layers) {
  std::vector<std::int64_t> windows;
  if (offloaded <= 0) return windows;
  const std::int64_t per_copy = layers / offloaded, spare = layers % offloaded;
  // The first `spare` copies get one layer more each; the rest keep the shift they leave.
  std::int64_t shift = 0;
  for (std::int64_t g = 0; g < offloaded; ++g) {
    if (g < spare) shift = g + 1;
    windows.push_back(per_copy * (g + 1) - 1 + shift);
  }
  return windows;
}

double saved_by_layer(const ModelArch& model, const ModelOps& ops, std::int64_t layer) {
  return total_saved_bytes(model.leading_dense_layer(layer) ? ops.dense_layer.forward : ops.layer_forward);
}

double offloaded_activations(const ModelArch& model, const ModelOps& ops, std::int64_t offloaded) {
  double host = 0;
  for (std::int64_t layer = 0; layer < offloaded; ++layer) host += saved_by_layer(model, ops, layer);
  return host;
}

Op host_copy_op(bool to_host, double bytes) {
  Op op;
  op.name = to_host ? "offload.to_host" : "offload.from_host";
  op.kind = OpClass::kHostCopy;
  op.phase = to_host ? Phase::kForward : Phase::kBackwardInput;
  op.bytes = bytes;
  return op;
}

}  // namespace foresight
