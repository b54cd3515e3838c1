#include "kernels/nvml.hpp"

#include <dlfcn.h>

namespace foresight::kernels {
namespace {
// NVML's C interface, as nvml.h declares it; the enum values are from that header.
using Status = int;
constexpr Status kSuccess = 0;
constexpr int kClockSm = 1;         // NVML_CLOCK_SM
constexpr int kTemperatureGpu = 0;  // NVML_TEMPERATURE_GPU
using DeviceHandle = void*;

template <typename Function>
Function as(void* address) {
  return reinterpret_cast<Function>(address);
}
}  // namespace

Nvml::Nvml(const std::string& pci_bus_id, int index) {
  library_ = dlopen("libnvidia-ml.so.1", RTLD_LAZY);
  if (library_ == nullptr) return;
  const auto init = as<Status (*)()>(symbol("nvmlInit_v2"));
  if (init == nullptr || init() != kSuccess) return;
  initialized_ = true;
  const auto by_bus = as<Status (*)(const char*, DeviceHandle*)>(symbol("nvmlDeviceGetHandleByPciBusId_v2"));
  const auto by_index = as<Status (*)(unsigned, DeviceHandle*)>(symbol("nvmlDeviceGetHandleByIndex_v2"));
  DeviceHandle device = nullptr;
  if ((by_bus != nullptr && by_bus(pci_bus_id.c_str(), &device) == kSuccess) ||
      (by_index != nullptr && by_index(static_cast<unsigned>(index), &device) == kSuccess)) {
    device_ = device;
  }
}

Nvml::~Nvml() {
  if (library_ == nullptr) return;
  if (initialized_) {
    if (const auto shutdown = as<Status (*)()>(symbol("nvmlShutdown"))) shutdown();
  }
  dlclose(library_);
}

void* Nvml::symbol(const char* name) const { return library_ == nullptr ? nullptr : dlsym(library_, name); }

std::string Nvml::driver_release() const {
  const auto version = as<Status (*)(char*, unsigned)>(symbol("nvmlSystemGetDriverVersion"));
  char text[96] = {};
  return initialized_ && version != nullptr && version(text, sizeof text) == kSuccess ? text : "";
}

double Nvml::power_limit_w() const {
  const auto limit = as<Status (*)(DeviceHandle, unsigned*)>(symbol("nvmlDeviceGetEnforcedPowerLimit"));
  unsigned milliwatts = 0;
  return available() && limit != nullptr && limit(device_, &milliwatts) == kSuccess ? milliwatts / 1e3 : 0;
}

double Nvml::max_sm_clock_mhz() const {
  const auto clock = as<Status (*)(DeviceHandle, int, unsigned*)>(symbol("nvmlDeviceGetMaxClockInfo"));
  unsigned mhz = 0;
  return available() && clock != nullptr && clock(device_, kClockSm, &mhz) == kSuccess ? mhz : 0;
}

GpuTelemetry Nvml::sample() const {
  GpuTelemetry t;
  if (!available()) return t;
  unsigned value = 0;
  if (const auto clock = as<Status (*)(DeviceHandle, int, unsigned*)>(symbol("nvmlDeviceGetClockInfo")); clock && clock(device_, kClockSm, &value) == kSuccess) {
    t.sm_clock_mhz = value;
  }
  if (const auto power = as<Status (*)(DeviceHandle, unsigned*)>(symbol("nvmlDeviceGetPowerUsage")); power && power(device_, &value) == kSuccess) {
    t.power_w = value / 1e3;
  }
  if (const auto temperature = as<Status (*)(DeviceHandle, int, unsigned*)>(symbol("nvmlDeviceGetTemperature"));
      temperature && temperature(device_, kTemperatureGpu, &value) == kSuccess) {
    t.temperature_c = value;
  }
  return t;
}

}  // namespace foresight::kernels
