#pragma once
// Peak memory per GPU for training, by category.
//
// Parameters and optimizer follow the ZeRO paper's accounting (Rajbhandari et al. 2020,
// Sec. 3.1): low-precision weights, gradients in grad_dtype, and K = 12 bytes/param of
// Adam state (fp32 master weights, momentum, variance), sharded over DP at ZeRO >= 1;
// gradients too at ZeRO 2. Activations are the tensors each forward kernel keeps for its
// backward (Op::saved_bytes), summed over the layers of one micro-batch; with full
// recomputation only each layer's input is kept, plus one layer's working set.
#include "models/transformer_ops.hpp"
#include "workloads/training_config.hpp"

namespace foresight {

struct MemoryFootprint {
  double weights = 0;
  double gradients = 0;
  double optimizer = 0;
  double activations = 0;
  double reserved = 0;
  double capacity = 0;

  double total() const { return weights + gradients + optimizer + activations + reserved; }
  bool fits() const { return total() <= capacity; }
};

MemoryFootprint training_memory(const ModelArch& model, const ModelOps& ops,
                                const TrainingConfig& config, double capacity_bytes);

}  // namespace foresight
