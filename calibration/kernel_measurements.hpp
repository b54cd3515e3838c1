#pragma once
// Measured kernel times from public projects (shared/data), the learned predictor's
// training data: NeuSight's GEMM and batched-GEMM latencies on eight GPUs with the
// device figures NeuSight used.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace foresight {

struct DeviceFeatures {
  std::string name;
  double peak_flops = 0;        // FP32, FLOP/s
  double memory_bandwidth = 0;  // bytes/s
  double sms = 0;
  double l2_bytes = 0;
};

struct KernelMeasurement {
  std::string op;      // "linear" (B = 1) or "bmm"
  std::string device;  // as DeviceFeatures::name
  std::int64_t b = 1, m = 0, n = 0, k = 0;
  double seconds = 0;
};

// Reads every device_configs/*.json of a NeuSight data folder; throws InputError naming
// the file and key for a malformed one.
std::map<std::string, DeviceFeatures> load_devices(const std::string& folder);
// Reads a NeuSight test_{linear,bmm}.csv (columns OPName, Latency in ms, Device, B, M, N,
// K); throws InputError naming the file, line and column.
std::vector<KernelMeasurement> load_gemm_measurements(const std::string& csv);

}  // namespace foresight
