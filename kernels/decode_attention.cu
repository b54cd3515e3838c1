#include "kernels/decode_attention.hpp"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>

#include "kernels/cuda_check.hpp"

namespace foresight::kernels {
namespace {
using bf16 = __nv_bfloat16;
constexpr int kWarps = 4;                             // warps per thread block, each taking every 4th token
constexpr int kLaneDims = DecodeCase::kHeadDim / 32;  // 4 of the head's 128 channels per lane: one 8-byte load
constexpr int kBlockTokens = static_cast<int>(DecodeCase::kBlockTokens);
constexpr int kHeadDim = static_cast<int>(DecodeCase::kHeadDim);

__device__ void load_lane(const bf16* p, float out[kLaneDims]) {
  const uint2 raw = *reinterpret_cast<const uint2*>(p);
  const auto* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
  for (int i = 0; i < kLaneDims / 2; ++i) {
    const float2 f = __bfloat1622float2(pairs[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

// One thread block per (sequence, KV head, partition of the context). With one partition
// the block writes the output; with several it writes its partial softmax (maximum, sum,
// unnormalized output) for merge_partitions.
template <int kGroup, int kUnroll>
__global__ void paged_decode(const bf16* query, const bf16* keys, const bf16* values, const int* block_table, bf16* out,
                             float* partial_max, float* partial_sum, float* partial_out, int context, int partition_tokens,
                             int blocks_per_sequence, int kv_heads, float scale) {
  const int sequence = blockIdx.x, kv_head = blockIdx.y, partition = blockIdx.z, partitions = gridDim.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int heads = kv_heads * kGroup;
  const int first = partition * partition_tokens, end = min(context, first + partition_tokens);
  float q[kGroup][kLaneDims], acc[kGroup][kLaneDims], running_max[kGroup], running_sum[kGroup];
  for (int g = 0; g < kGroup; ++g) {
    load_lane(query + (static_cast<std::size_t>(sequence) * heads + kv_head * kGroup + g) * kHeadDim + lane * kLaneDims, q[g]);
    for (int d = 0; d < kLaneDims; ++d) {
      q[g][d] *= scale;
      acc[g][d] = 0;
    }
    running_max[g] = -INFINITY;
    running_sum[g] = 0;
  }
  // Each warp takes every kWarps-th token, kUnroll of them at a time: their loads are in
  // flight together and their scores are reduced side by side, since one token's load,
  // reduction and exponential in a row would leave the warp waiting on latency.
  for (int base = first + warp; base < end; base += kWarps * kUnroll) {
    float k[kUnroll][kLaneDims], v[kUnroll][kLaneDims];
    bool valid[kUnroll];  // the same in every lane: no divergence around the shuffles
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int t = base + u * kWarps;
      valid[u] = t < end;
      if (!valid[u]) continue;
      const int block = block_table[static_cast<std::size_t>(sequence) * blocks_per_sequence + t / kBlockTokens];
      const std::size_t offset = ((static_cast<std::size_t>(block) * kBlockTokens + t % kBlockTokens) * kv_heads + kv_head) * kHeadDim +
                                 static_cast<std::size_t>(lane) * kLaneDims;
      load_lane(keys + offset, k[u]);
      load_lane(values + offset, v[u]);
    }
#pragma unroll
    for (int g = 0; g < kGroup; ++g) {
      float score[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        score[u] = 0;
        for (int d = 0; d < kLaneDims; ++d) score[u] += valid[u] ? q[g][d] * k[u][d] : 0.0f;
      }
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2) {
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) score[u] += __shfl_xor_sync(0xffffffffu, score[u], offset);
      }
      float chunk_max = running_max[g];  // valid[0] always holds, so this ends finite
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) chunk_max = valid[u] ? fmaxf(chunk_max, score[u]) : chunk_max;
      const float rescale = __expf(running_max[g] - chunk_max);
      running_sum[g] *= rescale;
      for (int d = 0; d < kLaneDims; ++d) acc[g][d] *= rescale;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const float weight = valid[u] ? __expf(score[u] - chunk_max) : 0.0f;
        running_sum[g] += weight;
        for (int d = 0; d < kLaneDims; ++d) acc[g][d] += weight * (valid[u] ? v[u][d] : 0.0f);
      }
      running_max[g] = chunk_max;
    }
  }
  // Merge the warps' partial softmaxes: rescale each to the largest maximum.
  __shared__ float shared_max[kWarps][kGroup], shared_sum[kWarps][kGroup];
  __shared__ float shared_acc[kWarps][kGroup][kHeadDim];
  for (int g = 0; g < kGroup; ++g) {
    if (lane == 0) {
      shared_max[warp][g] = running_max[g];
      shared_sum[warp][g] = running_sum[g];
    }
    for (int d = 0; d < kLaneDims; ++d) shared_acc[warp][g][lane * kLaneDims + d] = acc[g][d];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < kGroup * kHeadDim; i += blockDim.x) {
    const int g = i / kHeadDim, d = i % kHeadDim;
    float best = -INFINITY;
    for (int w = 0; w < kWarps; ++w) best = fmaxf(best, shared_max[w][g]);
    float sum = 0, value = 0;
    for (int w = 0; w < kWarps; ++w) {
      if (shared_max[w][g] == -INFINITY) continue;  // a warp that saw no token
      const float factor = __expf(shared_max[w][g] - best);
      sum += shared_sum[w][g] * factor;
      value += shared_acc[w][g][d] * factor;
    }
    const std::size_t head = static_cast<std::size_t>(sequence) * heads + kv_head * kGroup + g;
    if (partitions == 1) {
      out[head * kHeadDim + d] = __float2bfloat16(sum > 0 ? value / sum : 0.0f);
    } else {
      const std::size_t slot = head * partitions + partition;
      partial_out[slot * kHeadDim + d] = value;
      if (d == 0) {
        partial_max[slot] = best;
        partial_sum[slot] = sum;
      }
    }
  }
}

// One thread block per (sequence, query head), one thread per channel.
__global__ void merge_partitions(const float* partial_max, const float* partial_sum, const float* partial_out, bf16* out, int partitions) {
  const std::size_t head = blockIdx.x;
  const int d = threadIdx.x;
  float best = -INFINITY;
  for (int p = 0; p < partitions; ++p) best = fmaxf(best, partial_max[head * partitions + p]);
  float sum = 0, value = 0;
  for (int p = 0; p < partitions; ++p) {
    const std::size_t slot = head * partitions + p;
    const float factor = __expf(partial_max[slot] - best);
    sum += partial_sum[slot] * factor;
    value += partial_out[slot * kHeadDim + d] * factor;
  }
  out[head * kHeadDim + d] = __float2bfloat16(sum > 0 ? value / sum : 0.0f);
}

// Every sequence's blocks, scattered over the cache as a long-running server leaves them.
__global__ void fill_block_table(int* table, int sequences, int blocks_per_sequence, int total_blocks) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  // 2654435761 is a prime above any block count, so i -> i * p mod total is a permutation.
  if (i < sequences * blocks_per_sequence) table[i] = static_cast<int>(static_cast<unsigned long long>(i) * 2654435761ull % static_cast<unsigned long long>(total_blocks));
}

using Launch = void (*)(const bf16*, const bf16*, const bf16*, const int*, bf16*, float*, float*, float*, int, int, int, int, float);

template <int kUnroll>
Launch kernel_for(std::int64_t group) {
  switch (group) {
    case 1: return paged_decode<1, kUnroll>;
    case 2: return paged_decode<2, kUnroll>;
    case 4: return paged_decode<4, kUnroll>;
    case 8: return paged_decode<8, kUnroll>;
  }
  throw CudaFailure("decode attention supports 1, 2, 4 or 8 query heads per KV head");
}

Launch kernel_for(const DecodeConfiguration& configuration, std::int64_t group) {
  return configuration.unroll == 1 ? kernel_for<1>(group) : kernel_for<4>(group);
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

const std::vector<DecodeConfiguration>& decode_configurations() {
  static const std::vector<DecodeConfiguration> configurations = {{"paged_decode_p512_u1", 512, 1}, {"paged_decode_p128_u4", 128, 4}};
  return configurations;
}

void DecodeAttentionBench::prepare(const DecodeCase& c) {
  kernel_for<1>(c.heads / c.kv_heads);  // refuses group sizes without a kernel before allocating
  const std::int64_t total_blocks = c.sequences * c.blocks_per_sequence();
  const auto head_bytes = static_cast<std::size_t>(kHeadDim) * sizeof(bf16);
  const auto query_heads = static_cast<std::size_t>(c.sequences * c.heads);
  const std::size_t cache_bytes = static_cast<std::size_t>(total_blocks * kBlockTokens * c.kv_heads) * head_bytes;
  std::int64_t most_partitions = 1;
  for (const DecodeConfiguration& k : decode_configurations()) most_partitions = std::max(most_partitions, k.partitions(c));
  const auto slots = query_heads * static_cast<std::size_t>(most_partitions);
  buffers_.grow(kQuery, query_heads * head_bytes);
  buffers_.grow(kKeys, cache_bytes);
  buffers_.grow(kValues, cache_bytes);
  auto* table = static_cast<int*>(buffers_.grow(kBlockTable, static_cast<std::size_t>(total_blocks) * sizeof(int)));
  buffers_.grow(kOut, query_heads * head_bytes);
  buffers_.grow(kPartialMax, slots * sizeof(float));
  buffers_.grow(kPartialSum, slots * sizeof(float));
  buffers_.grow(kPartialOut, slots * static_cast<std::size_t>(kHeadDim) * sizeof(float));
  fill_block_table<<<static_cast<unsigned>((total_blocks + 255) / 256), 256>>>(table, static_cast<int>(c.sequences), static_cast<int>(c.blocks_per_sequence()),
                                                                            static_cast<int>(total_blocks));
  check(cudaDeviceSynchronize(), "filling the block table");
}

void DecodeAttentionBench::enqueue(const DecodeCase& c, const DecodeConfiguration& k, cudaStream_t s) const {
  const auto partitions = static_cast<int>(k.partitions(c));
  const dim3 grid(static_cast<unsigned>(c.sequences), static_cast<unsigned>(c.kv_heads), static_cast<unsigned>(partitions));
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
  auto* out = static_cast<bf16*>(buffer(kOut));
  auto* partial_max = static_cast<float*>(buffer(kPartialMax));
  auto* partial_sum = static_cast<float*>(buffer(kPartialSum));
  auto* partial_out = static_cast<float*>(buffer(kPartialOut));
  kernel_for(k, c.heads / c.kv_heads)<<<grid, kWarps * 32, 0, s>>>(
      static_cast<const bf16*>(buffer(kQuery)), static_cast<const bf16*>(buffer(kKeys)), static_cast<const bf16*>(buffer(kValues)),
      static_cast<const int*>(buffer(kBlockTable)), out, partial_max, partial_sum, partial_out, static_cast<int>(c.context),
      static_cast<int>(k.partition_tokens), static_cast<int>(c.blocks_per_sequence()), static_cast<int>(c.kv_heads), scale);
  if (partitions > 1) {
    merge_partitions<<<static_cast<unsigned>(c.sequences * c.heads), kHeadDim, 0, s>>>(partial_max, partial_sum, partial_out, out, partitions);
  }
  check(cudaGetLastError(), "decode attention");
}

DecodeTiming DecodeAttentionBench::run(const DecodeCase& c, const TimingPlan& plan) {
  prepare(c);
  DecodeTiming best;
  for (const DecodeConfiguration& k : decode_configurations()) {
    const Spread spread = timer_.time([&](cudaStream_t s) { enqueue(c, k, s); }, plan);
    if (best.kernel.empty() || spread.median_us < best.spread.median_us) best = {spread, k.name};
  }
  return best;
}

}  // namespace foresight::kernels
