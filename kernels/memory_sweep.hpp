#pragma once
// Memory-bound kernels in bf16 over rows x width activations, as a transformer layer
// runs them: residual add, SiLU-and-multiply (gated MLP), RMSNorm, LayerNorm and softmax,
// and device-to-device copies from 4 KB to 4 GB, whose bandwidth against size shows where
// the L2 cache stops helping.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/device_buffers.hpp"
#include "kernels/timing.hpp"

namespace foresight::kernels {

struct MemoryCase {
  std::string kernel;  // "add", "silu_mul", "rmsnorm", "layernorm", "softmax", "copy"
  std::int64_t rows, width;  // copy: one row of `width` bytes

  std::string profile_kind() const;  // the profile's memory kind
  double bytes() const;              // device-memory traffic, reads and writes
  double flops() const;
  bool launchable() const;  // widths a multiple of 8 (16-byte accesses), under 2^32 elements
};

std::vector<MemoryCase> memory_cases(bool quick);

class MemoryBench {
 public:
  explicit MemoryBench(KernelTimer& timer) : timer_(timer) {}
  Spread run(const MemoryCase& c, const TimingPlan& plan);
  // Grows the buffers for `c`; enqueue() then only launches. Reserve every kernel of a
  // sequence before enqueuing any.
  void reserve(const MemoryCase& c);
  void enqueue(const MemoryCase& c, cudaStream_t stream) const;
  // Buffer `which` (input, second input or weight, output) as the last reserve() left it.
  void* buffer(std::size_t which) const { return buffers_.at(which); }

 private:
  KernelTimer& timer_;
  DeviceBuffers buffers_{3};  // input, second input or weight, output
};

}  // namespace foresight::kernels
