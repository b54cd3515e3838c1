#pragma once
// One measured kernel, described as the simulator would ask about it: the op (class,
// dtype, shape, FLOPs, bytes), the GPU it ran on and how long it took. Public
// measurements, calibration profiles and the learned predictor all speak in these.
#include <map>
#include <string>
#include <vector>

#include "models/gpu_spec.hpp"
#include "models/op.hpp"

namespace foresight {

struct KernelSample {
  Op op;
  std::string device;  // a key of the DeviceTable the sample came with
  double seconds = 0;
  std::string source;  // where it was measured: "neusight", "vidur", a profile's file name
};

using DeviceTable = std::map<std::string, GpuSpec>;

struct MeasuredKernels {
  DeviceTable devices;
  std::vector<KernelSample> samples;
  std::vector<std::string> sources;  // the files read, for the report

  void add(std::vector<KernelSample> more);
};

}  // namespace foresight
