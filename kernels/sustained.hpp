#pragma once
// Sustained tensor throughput: one large GEMM launched back to back for several seconds,
// its rate measured every quarter second beside the SM clock, power draw and temperature
// that NVML reports. Datasheet peaks are boost-clock figures; under a long tensor load a
// GPU settles at the clock its power limit allows, and that, not the boost figure, is
// what a training step runs at.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/gemm_sweep.hpp"
#include "kernels/nvml.hpp"

namespace foresight::kernels {

struct SustainedCase {
  std::string dtype;
  std::int64_t m, n, k;
  double seconds;
};

struct SustainedSample {
  double at_seconds = 0;  // end of the interval, from the first launch
  double tflops = 0;
  GpuTelemetry telemetry;  // read halfway through the interval
};

std::vector<SustainedCase> sustained_cases(bool quick, bool fp8);
std::vector<SustainedSample> run_sustained(GemmBench& gemms, const Nvml& nvml, const SustainedCase& c, cudaStream_t stream);

}  // namespace foresight::kernels
