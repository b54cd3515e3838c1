#pragma once
// Decode attention against a paged KV cache with grouped-query heads, as vLLM's paged
// attention runs it: each sequence's one new query per head attends over its cached keys
// and values, which live in fixed-size blocks found through a block table. Our own kernel
// (bf16, head size 128, an online softmax per query head, the heads of a KV group sharing
// each key and value read), since cuDNN's attention needs its frontend library.
#include <cstdint>
#include <vector>

#include "kernels/device_buffers.hpp"
#include "kernels/timing.hpp"

namespace foresight::kernels {

struct DecodeCase {
  std::int64_t sequences, context, heads, kv_heads;  // context: cached tokens per sequence
  static constexpr std::int64_t kHeadDim = 128;
};

std::vector<DecodeCase> decode_cases(bool quick);

class DecodeAttentionBench {
 public:
  explicit DecodeAttentionBench(KernelTimer& timer) : timer_(timer) {}
  Spread run(const DecodeCase& c, const TimingPlan& plan);

 private:
  KernelTimer& timer_;
  DeviceBuffers buffers_{5};  // query, keys, values, block table, output
};

}  // namespace foresight::kernels
