#pragma once
// What the cost models need to know about a GPU. Peak figures are dense tensor-core
// rates (fp32 is the non-tensor vector rate); bandwidths are per direction.
#include <array>
#include <string>
#include <vector>

#include "models/dtype.hpp"

namespace foresight {

class ObjectReader;

struct GpuSpec {
  std::string name;         // catalog key, "h100_sxm"
  std::string description;  // "NVIDIA H100 SXM5 80GB"
  std::array<double, kAllDtypes.size()> peak_flops{};  // FLOP/s by Dtype; 0 = unsupported
  double memory_bytes = 0;
  double memory_bandwidth = 0;     // bytes/s
  int sm_count = 0;                // SMs (CUs on AMD)
  double l2_bytes = 0;             // last-level on-chip cache
  double scale_up_bandwidth = 0;   // bytes/s per direction into the node fabric (NVLink, xGMI)
  double pcie_bandwidth = 0;       // bytes/s per direction to the host
  std::string source;              // where the figures come from

  double peak(Dtype dtype) const { return peak_flops[static_cast<std::size_t>(dtype)]; }
};

const std::vector<GpuSpec>& builtin_gpus();
const GpuSpec* find_builtin_gpu(const std::string& name);
std::vector<std::string> builtin_gpu_names();

// Reads the scenario's "gpu" value: a catalog name, or an object that either names a
// "base" GPU and overrides some figures or gives every figure for a new GPU.
GpuSpec read_gpu(ObjectReader& parent, const char* key);

}  // namespace foresight
