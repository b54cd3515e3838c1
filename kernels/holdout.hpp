#pragma once
// Held-out shapes: GEMMs, memory-bound kernels and decode attention drawn at random (from
// a fixed seed) between and beyond the sweep's grid points, measured apart from the
// profile (`foresight-kernels --only holdout`), so that the profile and learned models can
// be scored on shapes they never saw (docs/calibration.md, "Held-out error").
#include <vector>

#include "kernels/decode_attention.hpp"
#include "kernels/gemm_sweep.hpp"
#include "kernels/memory_sweep.hpp"

namespace foresight::kernels {

struct HoldoutCases {
  std::vector<GemmCase> gemms;
  std::vector<MemoryCase> memory;
  std::vector<DecodeCase> decode;
};

HoldoutCases holdout_cases(bool fp8);

}  // namespace foresight::kernels
