#include "kernels/device_buffers.hpp"

#include <cuda_runtime.h>

#include "kernels/cuda_check.hpp"

namespace foresight::kernels {

DeviceBuffers::~DeviceBuffers() {
  for (void* p : buffers_) cudaFree(p);
}

void* DeviceBuffers::grow(std::size_t which, std::size_t bytes) {
  if (sizes_[which] < bytes) {
    cudaFree(buffers_[which]);
    buffers_[which] = nullptr;
    check(cudaMalloc(&buffers_[which], bytes), "cudaMalloc (benchmark buffer)");
    check(cudaMemset(buffers_[which], 0x3c, bytes), "cudaMemset");
    sizes_[which] = bytes;
  }
  return buffers_[which];
}

}  // namespace foresight::kernels
