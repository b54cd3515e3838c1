#include "kernels/decode_attention.hpp"

#include <cuda_bf16.h>

#include <cmath>

#include "kernels/cuda_check.hpp"

namespace foresight::kernels {
namespace {
using bf16 = __nv_bfloat16;
constexpr int kBlockTokens = 16;               // tokens per KV cache block, as vLLM's default
constexpr int kWarps = 4;                      // warps per thread block, each taking every 4th token
constexpr int kLaneDims = DecodeCase::kHeadDim / 32;  // 4 of the head's 128 channels per lane

__device__ float warp_sum(float value) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// One thread block per (sequence, KV head). Cache layout: [block][token in block][kv head][128].
// Block table: [sequence][block of the sequence]. Queries and outputs: [sequence][head][128].
template <int kGroup>
__global__ void paged_decode(const bf16* query, const bf16* keys, const bf16* values, const int* block_table, bf16* out,
                             int context, int blocks_per_sequence, int kv_heads, float scale) {
  const int sequence = blockIdx.x, kv_head = blockIdx.y;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int heads = kv_heads * kGroup;
  float q[kGroup][kLaneDims], acc[kGroup][kLaneDims], running_max[kGroup], running_sum[kGroup];
  for (int g = 0; g < kGroup; ++g) {
    const bf16* row = query + (static_cast<std::size_t>(sequence) * heads + kv_head * kGroup + g) * DecodeCase::kHeadDim;
    for (int d = 0; d < kLaneDims; ++d) {
      q[g][d] = __bfloat162float(row[lane * kLaneDims + d]) * scale;
      acc[g][d] = 0;
    }
    running_max[g] = -INFINITY;
    running_sum[g] = 0;
  }
  for (int t = warp; t < context; t += kWarps) {
    const int block = block_table[static_cast<std::size_t>(sequence) * blocks_per_sequence + t / kBlockTokens];
    const std::size_t offset = ((static_cast<std::size_t>(block) * kBlockTokens + t % kBlockTokens) * kv_heads + kv_head) * DecodeCase::kHeadDim +
                               static_cast<std::size_t>(lane) * kLaneDims;
    float k[kLaneDims], v[kLaneDims];
    for (int d = 0; d < kLaneDims; ++d) {
      k[d] = __bfloat162float(keys[offset + d]);
      v[d] = __bfloat162float(values[offset + d]);
    }
    for (int g = 0; g < kGroup; ++g) {
      float partial = 0;
      for (int d = 0; d < kLaneDims; ++d) partial += q[g][d] * k[d];
      const float score = warp_sum(partial);
      const float new_max = fmaxf(running_max[g], score);
      const float rescale = __expf(running_max[g] - new_max), weight = __expf(score - new_max);
      running_sum[g] = running_sum[g] * rescale + weight;
      for (int d = 0; d < kLaneDims; ++d) acc[g][d] = acc[g][d] * rescale + weight * v[d];
      running_max[g] = new_max;
    }
  }
  // Merge the warps' partial softmaxes: rescale each to the largest maximum.
  __shared__ float shared_max[kWarps][kGroup], shared_sum[kWarps][kGroup];
  __shared__ float shared_acc[kWarps][kGroup][DecodeCase::kHeadDim];
  for (int g = 0; g < kGroup; ++g) {
    if (lane == 0) {
      shared_max[warp][g] = running_max[g];
      shared_sum[warp][g] = running_sum[g];
    }
    for (int d = 0; d < kLaneDims; ++d) shared_acc[warp][g][lane * kLaneDims + d] = acc[g][d];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < kGroup * DecodeCase::kHeadDim; i += blockDim.x) {
    const int g = i / DecodeCase::kHeadDim, d = i % DecodeCase::kHeadDim;
    float best = -INFINITY;
    for (int w = 0; w < kWarps; ++w) best = fmaxf(best, shared_max[w][g]);
    float sum = 0, value = 0;
    for (int w = 0; w < kWarps; ++w) {
      if (shared_max[w][g] == -INFINITY) continue;  // a warp that saw no token
      const float factor = __expf(shared_max[w][g] - best);
      sum += shared_sum[w][g] * factor;
      value += shared_acc[w][g][d] * factor;
    }
    out[(static_cast<std::size_t>(sequence) * heads + kv_head * kGroup + g) * DecodeCase::kHeadDim + d] = __float2bfloat16(sum > 0 ? value / sum : 0.0f);
  }
}

// Every sequence's blocks, scattered over the cache as a long-running server leaves them.
__global__ void fill_block_table(int* table, int sequences, int blocks_per_sequence, int total_blocks) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  // 2654435761 is a prime above any block count, so i -> i * p mod total is a permutation.
  if (i < sequences * blocks_per_sequence) table[i] = static_cast<int>(static_cast<unsigned long long>(i) * 2654435761ull % static_cast<unsigned long long>(total_blocks));
}

using Launch = void (*)(const bf16*, const bf16*, const bf16*, const int*, bf16*, int, int, int, float);

Launch kernel_for(std::int64_t group) {
  switch (group) {
    case 1: return paged_decode<1>;
    case 2: return paged_decode<2>;
    case 4: return paged_decode<4>;
    case 8: return paged_decode<8>;
  }
  throw CudaFailure("decode attention supports 1, 2, 4 or 8 query heads per KV head");
}
}  // namespace

std::vector<DecodeCase> decode_cases(bool quick) {
  std::vector<DecodeCase> cases;
  // (heads, kv heads) per GPU: Llama-3-8B at TP 1, Llama-3-70B at TP 1 and TP 8, and MHA (group 1).
  const std::int64_t head_pairs[][2] = {{32, 8}, {64, 8}, {8, 1}, {32, 32}};
  const std::vector<std::int64_t> batch = quick ? std::vector<std::int64_t>{1, 64} : std::vector<std::int64_t>{1, 8, 32, 128};
  const std::vector<std::int64_t> context = quick ? std::vector<std::int64_t>{512, 4096} : std::vector<std::int64_t>{128, 512, 2048, 8192};
  for (const auto& pair : head_pairs) {
    for (std::int64_t b : batch) {
      for (std::int64_t c : context) cases.push_back({b, c, pair[0], pair[1]});
    }
  }
  return cases;
}

Spread DecodeAttentionBench::run(const DecodeCase& c, const TimingPlan& plan) {
  const std::int64_t group = c.heads / c.kv_heads;
  const Launch kernel = kernel_for(group);
  const int blocks_per_sequence = static_cast<int>((c.context + kBlockTokens - 1) / kBlockTokens);
  const int total_blocks = static_cast<int>(c.sequences) * blocks_per_sequence;
  const auto head_bytes = static_cast<std::size_t>(DecodeCase::kHeadDim) * sizeof(bf16);
  const std::size_t cache_bytes = static_cast<std::size_t>(total_blocks) * kBlockTokens * static_cast<std::size_t>(c.kv_heads) * head_bytes;
  auto* query = static_cast<bf16*>(buffers_.grow(0, static_cast<std::size_t>(c.sequences * c.heads) * head_bytes));
  auto* keys = static_cast<bf16*>(buffers_.grow(1, cache_bytes));
  auto* values = static_cast<bf16*>(buffers_.grow(2, cache_bytes));
  auto* table = static_cast<int*>(buffers_.grow(3, static_cast<std::size_t>(total_blocks) * sizeof(int)));
  auto* out = static_cast<bf16*>(buffers_.grow(4, static_cast<std::size_t>(c.sequences * c.heads) * head_bytes));
  fill_block_table<<<(total_blocks + 255) / 256, 256>>>(table, static_cast<int>(c.sequences), blocks_per_sequence, total_blocks);
  check(cudaDeviceSynchronize(), "filling the block table");
  const dim3 grid(static_cast<unsigned>(c.sequences), static_cast<unsigned>(c.kv_heads));
  const float scale = 1.0f / std::sqrt(static_cast<float>(DecodeCase::kHeadDim));
  return timer_.time(
      [&](cudaStream_t s) {
        kernel<<<grid, kWarps * 32, 0, s>>>(query, keys, values, table, out, static_cast<int>(c.context), blocks_per_sequence,
                                            static_cast<int>(c.kv_heads), scale);
      },
      plan);
}

}  // namespace foresight::kernels
