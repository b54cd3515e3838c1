#include "workloads/memory_footprint.hpp"

namespace foresight {

MemoryFootprint training_memory(const ModelArch& model, const ModelOps& ops,
                                const TrainingConfig& c, double capacity_bytes) {
  const ParameterCount params = count_parameters(model);
  const double local_params = params.total / static_cast<double>(c.tp);
  const double dp = static_cast<double>(c.dp);
  const double weight_bytes = c.dtype == Dtype::kFp8 ? 2 : dtype_bytes(c.dtype);  // fp8 keeps bf16 weights

  MemoryFootprint m;
  m.weights = local_params * weight_bytes;
  m.gradients = local_params * dtype_bytes(c.grad_dtype) / (c.zero_stage >= 2 ? dp : 1);
  m.optimizer = local_params * 12 / (c.zero_stage >= 1 ? dp : 1);

  const double layers = static_cast<double>(model.layers);
  const double encoder_layers = static_cast<double>(model.encoder_layers);
  const double layer = total_saved_bytes(ops.layer_forward);
  const double encoder_layer = total_saved_bytes(ops.encoder_layer_forward);
  const double ends = total_saved_bytes(ops.embedding_forward) + total_saved_bytes(ops.head_forward);
  if (c.recompute == Recompute::kFull) {
    const double tokens = static_cast<double>(c.micro_batch * c.sequence);
    const double shard = c.sequence_parallel ? static_cast<double>(c.tp) : 1;
    const double layer_input = tokens * static_cast<double>(model.hidden) * 2 / shard;
    m.activations = (layers + encoder_layers) * layer_input + std::max(layer, encoder_layer) + ends;
  } else {
    m.activations = layers * layer + encoder_layers * encoder_layer + ends;
  }
  m.reserved = c.reserved_bytes;
  m.capacity = capacity_bytes;
  return m;
}

}  // namespace foresight
