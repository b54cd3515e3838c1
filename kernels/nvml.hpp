#pragma once
// Reads the GPU's clocks, power and temperature through NVML, loaded at run time so that
// the microbenchmarks start (and say "no device") on machines without a driver. Only
// reads: calibration measures the card as it finds it and never sets clocks or limits.
#include <string>

namespace foresight::kernels {

struct GpuTelemetry {
  double sm_clock_mhz = 0, power_w = 0, temperature_c = 0;  // 0 when NVML could not say
};

class Nvml {
 public:
  // `pci_bus_id` as cudaDeviceGetPCIBusId writes it, so that NVML's device is CUDA's;
  // NVML's device `index` if NVML does not know that bus id.
  Nvml(const std::string& pci_bus_id, int index);
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  bool available() const { return device_ != nullptr; }
  std::string driver_release() const;  // "580.159.04"
  double power_limit_w() const;        // the limit the driver enforces now
  double max_sm_clock_mhz() const;
  GpuTelemetry sample() const;

 private:
  void* library_ = nullptr;
  bool initialized_ = false;
  void* device_ = nullptr;  // nvmlDevice_t
  void* symbol(const char* name) const;
};

}  // namespace foresight::kernels
