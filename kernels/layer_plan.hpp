#pragma once
// A decoder layer's forward pass as the simulator builds it (calibration/layer_validation's
// measured_layer_ops), turned into the microbenchmarks' kernels, so that the GPU runs the
// very op list the simulator times and a validation test can compare the two
// (docs/calibration.md).
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/gemm_sweep.hpp"
#include "kernels/memory_sweep.hpp"

namespace foresight::kernels {

struct PlannedKernel {
  std::string op;  // the simulator's op name, "attn.qkv"
  bool is_gemm;
  GemmCase gemm;
  MemoryCase memory;
};

struct LayerCase {
  std::string model;  // a catalog model
  std::int64_t tokens;
  std::vector<PlannedKernel> kernels;
};

std::vector<LayerCase> layer_cases(bool quick);

}  // namespace foresight::kernels
