#include "kernels/device_info.hpp"

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <nccl.h>

#include "kernels/cuda_check.hpp"

namespace foresight::kernels {
namespace {
std::string dotted(int version, int major_factor, int minor_factor) {
  return std::to_string(version / major_factor) + "." + std::to_string(version % major_factor / minor_factor);
}

std::string cudnn_version() {
  void* cudnn = dlopen("libcudnn.so.9", RTLD_LAZY);
  if (cudnn == nullptr) return "";
  using Version = std::size_t (*)();
  const auto version = reinterpret_cast<Version>(dlsym(cudnn, "cudnnGetVersion"));
  const std::size_t v = version != nullptr ? version() : 0;
  dlclose(cudnn);
  return v == 0 ? "" : std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
}

std::string guess_catalog_gpu(const std::string& name) {
  const auto has = [&](const char* part) { return name.find(part) != std::string::npos; };
  if (has("H100")) return has("PCIe") ? "h100_pcie" : "h100_sxm";
  if (has("H200")) return "h200_sxm";
  if (has("A100")) return "a100_sxm_80gb";
  if (has("B200")) return "b200";
  if (has("L40S")) return "l40s";
  if (has("A40")) return "a40";
  return "";
}

int attribute(cudaDeviceAttr which, int device) {
  int value = 0;
  return cudaDeviceGetAttribute(&value, which, device) == cudaSuccess ? value : 0;
}
}  // namespace

std::string pci_bus_id(int device) {
  char id[64] = {};
  return cudaDeviceGetPCIBusId(id, sizeof id, device) == cudaSuccess ? id : "";
}

int cuda_devices(std::string& why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) why = cudaGetErrorString(status);
  if (status == cudaSuccess && count == 0) why = "the driver reports no devices";
  return status == cudaSuccess ? count : 0;
}

DeviceInfo describe_device(int device, const std::string& catalog_gpu, const Nvml& nvml) {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  DeviceInfo d;
  d.name = p.name;
  d.gpu = catalog_gpu.empty() ? guess_catalog_gpu(d.name) : catalog_gpu;
  d.sms = p.multiProcessorCount;
  d.sm_clock_mhz = attribute(cudaDevAttrClockRate, device) / 1e3;
  d.memory_clock_mhz = attribute(cudaDevAttrMemoryClockRate, device) / 1e3;
  d.memory_gb = static_cast<double>(p.totalGlobalMem) / 1e9;
  d.l2_bytes = static_cast<std::size_t>(p.l2CacheSize);
  int runtime = 0;
  check(cudaRuntimeGetVersion(&runtime), "cudaRuntimeGetVersion");
  d.cuda = dotted(runtime, 1000, 10);
  d.driver = nvml.driver_release();
  d.power_limit_w = nvml.power_limit_w();
  d.cublas = dotted(static_cast<int>(cublasLtGetVersion()), 10000, 100);
  d.cudnn = cudnn_version();
  int nccl = 0;
  if (ncclGetVersion(&nccl) == ncclSuccess) d.nccl = dotted(nccl, 10000, 100);
  return d;
}

bool supports_fp8(int device) {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  return p.major * 10 + p.minor >= 89;
}

}  // namespace foresight::kernels
