#pragma once
// A calibration profile: what `foresight calibrate` measured on one GPU (format
// "foresight.profile.v1", docs/calibration.md). It names the catalog GPU it calibrates and
// the software it ran on, and holds each measurement with its spread:
// - kernels (GEMMs, attention, memory-bound ops), as KernelSamples the predictor and the
//   `profile` cost model learn from;
// - launch overhead, host-device copies and NCCL collectives (with two or more GPUs),
//   kept for the network and host models to calibrate against;
// - whole decoder layers, the validation data for the simulator's layer predictions;
// - sustained tensor throughput with the clocks and power it ran at.
// Reading is strict: every problem in the file is reported at once, each with its JSON
// path, and nothing half-read is returned.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibration/kernel_sample.hpp"

namespace foresight {

struct ProfileDevice {
  std::string gpu;   // the catalog GPU this profile calibrates: "h100_sxm"
  std::string name;  // as the driver reports it: "NVIDIA H100 80GB HBM3"
  int sms = 0;
  double sm_clock_mhz = 0, memory_clock_mhz = 0, memory_gb = 0;
  double l2_mb = 0, power_limit_w = 0;             // 0 when not recorded
  std::string driver, cuda, cublas, cudnn, nccl;  // versions; empty when not recorded
};

struct Spread {
  double median = 0, p10 = 0, p90 = 0;  // seconds
  int repetitions = 0;
};

struct ProfileKernel {
  Op op;
  Spread time;
  double sm_clock_mhz = 0;  // read right after the repetitions; 0 when not recorded
};

struct HostCopy {
  std::string direction;  // "h2d" or "d2h"
  bool pinned = true;
  double bytes = 0;
  Spread time;
};

struct CollectiveMeasurement {
  std::string kind;  // "all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv"
  int gpus = 0;
  double bytes = 0;  // nccl-tests convention: the full buffer
  Spread time;
};

// A whole decoder layer timed as one back-to-back kernel sequence (kernels/layer_plan.hpp):
// the validation data the simulator's prediction of that layer is checked against.
struct LayerMeasurement {
  std::string model;  // a catalog model
  std::int64_t tokens = 0, tp = 1;
  std::string pass = "forward";
  std::string attention = "unfused";
  Spread time;
  double sm_clock_mhz = 0;
};

// One large GEMM run back to back for seconds (kernels/sustained.hpp): the tensor rate a
// GPU settles at under its power limit, beside the clock, power and temperature NVML read.
struct SustainedSample {
  double at_seconds = 0, tflops = 0, sm_clock_mhz = 0, power_w = 0, temperature_c = 0;
};

struct SustainedMeasurement {
  Dtype dtype = Dtype::kBf16;
  std::int64_t m = 0, n = 0, k = 0;
  double seconds = 0;
  double tflops_start = 0, tflops_settled = 0;     // the first interval; the median of the second half
  double sm_clock_mhz_settled = 0, power_w_settled = 0, temperature_c_end = 0;
  std::vector<SustainedSample> samples;
};

struct CalibrationProfile {
  std::string file;
  std::string source;  // how it was made: "foresight calibrate", or the public data it was converted from
  ProfileDevice device;
  GpuSpec gpu;  // the catalog's figures for device.gpu
  std::vector<ProfileKernel> kernels;
  Spread launch;  // an empty kernel's launch-to-completion; median 0 when not measured
  std::vector<HostCopy> host_copies;
  std::vector<CollectiveMeasurement> collectives;
  std::vector<LayerMeasurement> layers;
  std::vector<SustainedMeasurement> sustained;

  // The kernels as training samples on `gpu` (keyed by gpu.description).
  std::vector<KernelSample> samples() const;
};

CalibrationProfile load_profile(const std::string& path);
CalibrationProfile read_profile(const nlohmann::json& document, const std::string& file);
nlohmann::json profile_to_json(const CalibrationProfile& profile);

}  // namespace foresight
