#include "calibration/estimate_cache.hpp"

#include <bit>
#include <cstdint>

namespace foresight {

std::size_t EstimateCache::KeyHash::operator()(const Key& key) const {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (double value : key) {
    h ^= std::bit_cast<std::uint64_t>(value);
    h *= 0x100000001b3ULL;
    h ^= h >> 29;
  }
  return static_cast<std::size_t>(h);
}

EstimateCache::Key EstimateCache::key_of(const Op& op, const GpuSpec& gpu) {
  const auto d = [](auto value) { return static_cast<double>(value); };
  const GemmShape& g = op.gemm;
  const AttentionShape& a = op.attention;
  const KernelEfficiency& e = gpu.efficiency;
  return {d(op.kind), d(op.dtype), d(op.phase), op.flops, op.bytes,
          d(g.m), d(g.n), d(g.k), d(g.batch), d(g.weight_operand),
          d(a.batch), d(a.heads), d(a.kv_heads), d(a.q_len), d(a.kv_len), d(a.head_dim), d(a.causal),
          d(a.warp_specialized), d(a.kv_steps), gpu.peak(op.dtype), gpu.peak(Dtype::kFp32), gpu.memory_bandwidth, d(gpu.sm_count),
          gpu.l2_bytes, gpu.tensor_clock_factor(op.dtype), gpu.attention_clock_factor(op.dtype), e.gemm, e.gemm_tile_overhead_k, e.flash_forward,
          e.flash_backward, e.flash3_forward, e.flash3_backward, e.attention_overhead_kv_forward, e.attention_overhead_kv_backward,
          e.flash3_overhead_kv_forward, e.flash3_overhead_kv_backward, gpu.tensor_flops_per_sm_clock(op.dtype)};
}

}  // namespace foresight
