#include "kernels/host_sweep.hpp"

#include <cstdlib>
#include <memory>

#include "kernels/cuda_check.hpp"

namespace foresight::kernels {
namespace {
__global__ void empty_kernel() {}

struct HostBuffer {
  void* data = nullptr;
  bool pinned;
  HostBuffer(std::size_t bytes, bool page_locked) : pinned(page_locked) {
    if (pinned) {
      check(cudaMallocHost(&data, bytes), "cudaMallocHost");
    } else {
      data = std::malloc(bytes);
      if (data == nullptr) throw CudaFailure("out of host memory for a pageable copy buffer");
    }
  }
  ~HostBuffer() { pinned ? static_cast<void>(cudaFreeHost(data)) : std::free(data); }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
};
}  // namespace

std::vector<HostCopyCase> host_copy_cases(bool quick) {
  std::vector<HostCopyCase> cases;
  for (const char* direction : {"h2d", "d2h"}) {
    for (bool pinned : {true, false}) {
      for (std::int64_t bytes = 4096; bytes <= (std::int64_t{1} << 30); bytes *= quick ? 64 : 8) cases.push_back({direction, pinned, bytes});
    }
  }
  return cases;
}

Spread time_empty_kernel(KernelTimer& timer) {
  TimingPlan plan;
  plan.flush_l2 = false;
  plan.min_repetitions = plan.max_repetitions = 1000;
  return timer.time([](cudaStream_t s) { empty_kernel<<<1, 1, 0, s>>>(); }, plan);
}

Spread time_host_copy(KernelTimer& timer, const HostCopyCase& c, const TimingPlan& plan) {
  const auto bytes = static_cast<std::size_t>(c.bytes);
  HostBuffer host(bytes, c.pinned);
  void* device = nullptr;
  check(cudaMalloc(&device, bytes), "cudaMalloc (copy target)");
  const std::unique_ptr<void, decltype(&cudaFree)> device_owner(device, cudaFree);
  TimingPlan copy_plan = plan;
  copy_plan.flush_l2 = false;
  const bool to_device = c.direction == "h2d";
  return timer.time(
      [&](cudaStream_t s) {
        check(cudaMemcpyAsync(to_device ? device : host.data, to_device ? host.data : device, bytes,
                              to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost, s),
              "cudaMemcpyAsync (host copy)");
      },
      copy_plan);
}

}  // namespace foresight::kernels
