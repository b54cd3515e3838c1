#pragma once
// Times a whole decoder layer (layer_plan.hpp) as one back-to-back sequence of kernels on
// one stream: what the per-kernel measurements leave out (launch gaps, one kernel's tail
// beside the next one's start) is in it.
#include "kernels/gemm_sweep.hpp"
#include "kernels/layer_plan.hpp"
#include "kernels/memory_sweep.hpp"

namespace foresight::kernels {

Spread time_layer(const LayerCase& layer, GemmBench& gemms, MemoryBench& memory, KernelTimer& timer, const TimingPlan& plan);

}  // namespace foresight::kernels
