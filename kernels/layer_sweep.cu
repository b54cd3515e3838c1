#include "kernels/layer_sweep.hpp"

#include <memory>

namespace foresight::kernels {

Spread time_layer(const LayerCase& layer, GemmBench& gemms, MemoryBench& memory, KernelTimer& timer, const TimingPlan& plan) {
  // Every buffer at its largest first: growing one moves it under the prepared GEMMs.
  for (const PlannedKernel& k : layer.kernels) k.is_gemm ? gemms.reserve(k.gemm) : memory.reserve(k.memory);
  std::vector<std::unique_ptr<PreparedGemm>> prepared(layer.kernels.size());
  for (std::size_t i = 0; i < layer.kernels.size(); ++i) {
    if (layer.kernels[i].is_gemm) prepared[i] = gemms.prepare(layer.kernels[i].gemm);
  }
  return timer.time(
      [&](cudaStream_t stream) {
        for (std::size_t i = 0; i < layer.kernels.size(); ++i) {
          if (prepared[i]) {
            prepared[i]->enqueue(stream);
          } else {
            memory.enqueue(layer.kernels[i].memory, stream);
          }
        }
      },
      plan);
}

}  // namespace foresight::kernels
