#pragma once
// The local GPU and the software it runs: what a profile records so that a measurement
// can be traced to the device, driver and libraries that produced it.
#include "kernels/nvml.hpp"
#include "kernels/profile_writer.hpp"

namespace foresight::kernels {

// The number of CUDA devices; 0 (with `why` filled) when there are none or no driver.
int cuda_devices(std::string& why);
// `catalog_gpu`: the foresight GPU the profile calibrates; empty to guess from the name.
DeviceInfo describe_device(int device, const std::string& catalog_gpu, const Nvml& nvml);
bool supports_fp8(int device);
std::string pci_bus_id(int device);  // "0000:00:05.0", for NVML

}  // namespace foresight::kernels
