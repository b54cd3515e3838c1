#include "kernels/memory_sweep.hpp"

#include <cuda_bf16.h>

#include "kernels/cuda_check.hpp"

namespace foresight::kernels {
namespace {
using bf16 = __nv_bfloat16;
constexpr int kThreads = 256;

__global__ void add(const bf16* a, const bf16* b, bf16* out, std::size_t n) {
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    out[i] = __float2bfloat16(__bfloat162float(a[i]) + __bfloat162float(b[i]));
  }
}

// gate_up holds rows of [gate | up], each `width` wide.
__global__ void silu_mul(const bf16* gate_up, bf16* out, std::int64_t rows, std::int64_t width) {
  const std::size_t n = static_cast<std::size_t>(rows * width);
  for (std::size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t row = i / static_cast<std::size_t>(width), col = i % static_cast<std::size_t>(width);
    const float g = __bfloat162float(gate_up[row * 2 * width + col]), u = __bfloat162float(gate_up[row * 2 * width + width + col]);
    out[i] = __float2bfloat16(g / (1.0f + __expf(-g)) * u);
  }
}

__device__ float block_sum(float value) {
  __shared__ float partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = value;
  __syncthreads();
  float total = 0;
  for (int w = 0; w < kThreads / 32; ++w) total += partial[w];
  __syncthreads();
  return total;
}

__device__ float block_max(float value) {
  __shared__ float partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) value = fmaxf(value, __shfl_down_sync(0xffffffffu, value, offset));
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = value;
  __syncthreads();
  float best = partial[0];
  for (int w = 1; w < kThreads / 32; ++w) best = fmaxf(best, partial[w]);
  __syncthreads();
  return best;
}

// One block per row. `centered`: LayerNorm (subtract the mean); otherwise RMSNorm.
__global__ void normalize(const bf16* in, const bf16* weight, bf16* out, std::int64_t width, bool centered) {
  const bf16* x = in + blockIdx.x * width;
  float sum = 0, squares = 0;
  for (std::int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    const float v = __bfloat162float(x[i]);
    sum += v;
    squares += v * v;
  }
  const float mean = centered ? block_sum(sum) / static_cast<float>(width) : 0.0f;
  const float variance = block_sum(squares) / static_cast<float>(width) - mean * mean;
  const float scale = rsqrtf(variance + 1e-5f);
  for (std::int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    out[blockIdx.x * width + i] = __float2bfloat16((__bfloat162float(x[i]) - mean) * scale * __bfloat162float(weight[i]));
  }
}

__global__ void softmax(const bf16* in, bf16* out, std::int64_t width) {
  const bf16* x = in + blockIdx.x * width;
  float best = -INFINITY;
  for (std::int64_t i = threadIdx.x; i < width; i += blockDim.x) best = fmaxf(best, __bfloat162float(x[i]));
  best = block_max(best);
  float sum = 0;
  for (std::int64_t i = threadIdx.x; i < width; i += blockDim.x) sum += __expf(__bfloat162float(x[i]) - best);
  const float inverse = 1.0f / block_sum(sum);
  for (std::int64_t i = threadIdx.x; i < width; i += blockDim.x) {
    out[blockIdx.x * width + i] = __float2bfloat16(__expf(__bfloat162float(x[i]) - best) * inverse);
  }
}

int grid_for(std::size_t n) { return static_cast<int>(std::min<std::size_t>((n + kThreads - 1) / kThreads, 65535u * 8)); }
}  // namespace

std::string MemoryCase::profile_kind() const {
  if (kernel == "rmsnorm" || kernel == "layernorm") return "norm";
  if (kernel == "softmax" || kernel == "copy") return kernel;
  return "elementwise";
}

double MemoryCase::bytes() const {
  const double n = static_cast<double>(rows) * static_cast<double>(width);
  if (kernel == "copy") return 2 * static_cast<double>(width);
  if (kernel == "add" || kernel == "silu_mul") return 3 * n * 2;  // two reads and a write (silu_mul: [gate | up] in, half out)
  return 2 * n * 2;                                               // norms and softmax: one read, one write
}

double MemoryCase::flops() const {
  const double n = static_cast<double>(rows) * static_cast<double>(width);
  if (kernel == "copy") return 0;
  if (kernel == "add") return n;
  if (kernel == "silu_mul" || kernel == "softmax") return 5 * n;
  return kernel == "layernorm" ? 8 * n : 4 * n;
}

std::vector<MemoryCase> memory_cases(bool quick) {
  std::vector<MemoryCase> cases;
  const std::vector<std::int64_t> rows = quick ? std::vector<std::int64_t>{1, 64, 4096, 65536}
                                               : std::vector<std::int64_t>{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536};
  const std::vector<std::int64_t> widths = quick ? std::vector<std::int64_t>{4096, 16384} : std::vector<std::int64_t>{1024, 4096, 8192, 16384};
  for (const char* kernel : {"add", "silu_mul", "rmsnorm", "layernorm", "softmax"}) {
    for (std::int64_t r : rows) {
      for (std::int64_t w : widths) cases.push_back({kernel, r, w});
    }
  }
  for (std::int64_t bytes = 4096; bytes <= (std::int64_t{1} << 32); bytes *= quick ? 16 : 4) cases.push_back({"copy", 1, bytes});
  return cases;
}

void MemoryBench::reserve(const MemoryCase& c) {
  const std::size_t n = static_cast<std::size_t>(c.rows * c.width);
  if (c.kernel == "copy") {
    buffers_.grow(0, static_cast<std::size_t>(c.width));
    buffers_.grow(1, static_cast<std::size_t>(c.width));
    return;
  }
  buffers_.grow(0, 2 * n * sizeof(bf16));
  buffers_.grow(1, std::max<std::size_t>(n, static_cast<std::size_t>(c.width)) * sizeof(bf16));
  buffers_.grow(2, n * sizeof(bf16));
}

void MemoryBench::enqueue(const MemoryCase& c, cudaStream_t s) const {
  const std::size_t n = static_cast<std::size_t>(c.rows * c.width);
  if (c.kernel == "copy") {
    check(cudaMemcpyAsync(buffers_.at(1), buffers_.at(0), static_cast<std::size_t>(c.width), cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync");
    return;
  }
  const auto* in = static_cast<const bf16*>(buffers_.at(0));
  const auto* other = static_cast<const bf16*>(buffers_.at(1));
  auto* out = static_cast<bf16*>(buffers_.at(2));
  const auto rows = static_cast<unsigned>(c.rows);
  if (c.kernel == "add") add<<<grid_for(n), kThreads, 0, s>>>(in, other, out, n);
  if (c.kernel == "silu_mul") silu_mul<<<grid_for(n), kThreads, 0, s>>>(in, out, c.rows, c.width);
  if (c.kernel == "rmsnorm") normalize<<<rows, kThreads, 0, s>>>(in, other, out, c.width, false);
  if (c.kernel == "layernorm") normalize<<<rows, kThreads, 0, s>>>(in, other, out, c.width, true);
  if (c.kernel == "softmax") softmax<<<rows, kThreads, 0, s>>>(in, out, c.width);
}

Spread MemoryBench::run(const MemoryCase& c, const TimingPlan& plan) {
  reserve(c);
  return timer_.time([&](cudaStream_t s) { enqueue(c, s); }, plan);
}

}  // namespace foresight::kernels
