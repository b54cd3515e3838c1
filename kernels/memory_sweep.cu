#include "kernels/memory_sweep.hpp"

#include <cuda_bf16.h>

#include "kernels/cuda_check.hpp"

namespace foresight::kernels {
namespace {
using bf16 = __nv_bfloat16;
constexpr int kThreads = 256;
constexpr int kVector = 8;  // bf16 values per 16-byte load or store, as production kernels move them

// Eight bf16 values moved as one 16-byte access and worked on in fp32.
struct Pack {
  float v[kVector];
};

__device__ Pack load(const bf16* p) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const auto* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
  Pack out;
  for (int i = 0; i < kVector / 2; ++i) {
    const float2 f = __bfloat1622float2(pairs[i]);
    out.v[2 * i] = f.x;
    out.v[2 * i + 1] = f.y;
  }
  return out;
}

__device__ void store(bf16* p, const Pack& in) {
  uint4 raw;
  auto* pairs = reinterpret_cast<__nv_bfloat162*>(&raw);
  for (int i = 0; i < kVector / 2; ++i) pairs[i] = __floats2bfloat162_rn(in.v[2 * i], in.v[2 * i + 1]);
  *reinterpret_cast<uint4*>(p) = raw;
}

// Element counts here stay below 2^32 (memory_cases), so indices are 32-bit: 64-bit
// division would make the index arithmetic, not memory, the bottleneck.
__global__ void add(const bf16* a, const bf16* b, bf16* out, unsigned packs) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < packs; i += gridDim.x * blockDim.x) {
    const Pack x = load(a + std::size_t{i} * kVector), y = load(b + std::size_t{i} * kVector);
    Pack sum;
    for (int j = 0; j < kVector; ++j) sum.v[j] = x.v[j] + y.v[j];
    store(out + std::size_t{i} * kVector, sum);
  }
}

// gate_up holds rows of [gate | up], each `width` wide.
__global__ void silu_mul(const bf16* gate_up, bf16* out, unsigned packs, unsigned row_packs) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < packs; i += gridDim.x * blockDim.x) {
    const unsigned row = i / row_packs, column = i % row_packs;
    const bf16* gate = gate_up + (std::size_t{row} * 2 * row_packs + column) * kVector;
    const Pack g = load(gate), u = load(gate + std::size_t{row_packs} * kVector);
    Pack product;
    for (int j = 0; j < kVector; ++j) product.v[j] = g.v[j] / (1.0f + __expf(-g.v[j])) * u.v[j];
    store(out + std::size_t{i} * kVector, product);
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

// One block per row; the second pass re-reads the row, which the first left in L1 and L2.
// `centered`: LayerNorm (subtract the mean); otherwise RMSNorm.
__global__ void normalize(const bf16* in, const bf16* weight, bf16* out, unsigned width, bool centered) {
  const std::size_t row = std::size_t{blockIdx.x} * width;
  float sum = 0, squares = 0;
  for (unsigned i = threadIdx.x * kVector; i < width; i += blockDim.x * kVector) {
    const Pack x = load(in + row + i);
    for (float v : x.v) {
      sum += v;
      squares += v * v;
    }
  }
  const float mean = centered ? block_sum(sum) / static_cast<float>(width) : 0.0f;
  const float variance = block_sum(squares) / static_cast<float>(width) - mean * mean;
  const float scale = rsqrtf(variance + 1e-5f);
  for (unsigned i = threadIdx.x * kVector; i < width; i += blockDim.x * kVector) {
    const Pack x = load(in + row + i), w = load(weight + i);
    Pack y;
    for (int j = 0; j < kVector; ++j) y.v[j] = (x.v[j] - mean) * scale * w.v[j];
    store(out + row + i, y);
  }
}

__global__ void softmax(const bf16* in, bf16* out, unsigned width) {
  const std::size_t row = std::size_t{blockIdx.x} * width;
  float best = -INFINITY;
  for (unsigned i = threadIdx.x * kVector; i < width; i += blockDim.x * kVector) {
    const Pack x = load(in + row + i);
    for (float v : x.v) best = fmaxf(best, v);
  }
  best = block_max(best);
  float sum = 0;
  for (unsigned i = threadIdx.x * kVector; i < width; i += blockDim.x * kVector) {
    const Pack x = load(in + row + i);
    for (float v : x.v) sum += __expf(v - best);
  }
  const float inverse = 1.0f / block_sum(sum);
  for (unsigned i = threadIdx.x * kVector; i < width; i += blockDim.x * kVector) {
    Pack p = load(in + row + i);
    for (float& v : p.v) v = __expf(v - best) * inverse;
    store(out + row + i, p);
  }
}

int grid_for(std::size_t packs) { return static_cast<int>(std::min<std::size_t>((packs + kThreads - 1) / kThreads, 65535u * 8)); }
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

bool MemoryCase::launchable() const {
  const auto n = static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(width);
  return kernel == "copy" || (width % kVector == 0 && n < (std::uint64_t{1} << 32) && rows <= 0x7fffffff);
}

void MemoryBench::reserve(const MemoryCase& c) {
  if (!c.launchable()) throw CudaFailure("memory kernels need a width that is a multiple of 8 and fewer than 2^32 elements");
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
  const auto rows = static_cast<unsigned>(c.rows), width = static_cast<unsigned>(c.width);
  const auto packs = static_cast<unsigned>(n / kVector);
  if (c.kernel == "add") add<<<grid_for(packs), kThreads, 0, s>>>(in, other, out, packs);
  if (c.kernel == "silu_mul") silu_mul<<<grid_for(packs), kThreads, 0, s>>>(in, out, packs, width / kVector);
  if (c.kernel == "rmsnorm") normalize<<<rows, kThreads, 0, s>>>(in, other, out, width, false);
  if (c.kernel == "layernorm") normalize<<<rows, kThreads, 0, s>>>(in, other, out, width, true);
  if (c.kernel == "softmax") softmax<<<rows, kThreads, 0, s>>>(in, out, width);
  check(cudaGetLastError(), c.kernel.c_str());
}

Spread MemoryBench::run(const MemoryCase& c, const TimingPlan& plan) {
  reserve(c);
  return timer_.time([&](cudaStream_t s) { enqueue(c, s); }, plan);
}

}  // namespace foresight::kernels
