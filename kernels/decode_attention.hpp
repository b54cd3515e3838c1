#pragma once
// Decode attention against a paged KV cache with grouped-query heads, as vLLM's paged
// attention runs it: each sequence's one new query per head attends over its cached keys
// and values, which live in fixed-size blocks found through a block table. Our own kernel
// (bf16, head size 128, an online softmax per query head, the heads of a KV group sharing
// each key and value read), since cuDNN's attention needs its frontend library. Contexts
// are split into partitions, each its own thread block, whose partial softmaxes a second
// kernel merges (as vLLM's paged attention v2 and FlashDecoding do), so that a few long
// sequences still fill the GPU. Like decode libraries choosing a kernel per shape, each
// case is timed with two configurations and the faster is kept: long partitions for
// batches that fill the GPU by themselves, short ones with several tokens in flight per
// warp for the latency-bound small batches.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/device_buffers.hpp"
#include "kernels/timing.hpp"

namespace foresight::kernels {

struct DecodeCase {
  std::int64_t sequences, context, heads, kv_heads;  // context: cached tokens per sequence
  static constexpr std::int64_t kHeadDim = 128;
  static constexpr std::int64_t kBlockTokens = 16;       // tokens per KV cache block, as vLLM's default

  std::int64_t blocks_per_sequence() const { return (context + kBlockTokens - 1) / kBlockTokens; }
};

struct DecodeConfiguration {
  const char* name;              // recorded as the measurement's kernel
  std::int64_t partition_tokens;  // context tokens per thread block
  int unroll;                     // tokens per warp whose loads are in flight at once: 1 or 4
  std::int64_t partitions(const DecodeCase& c) const { return (c.context + partition_tokens - 1) / partition_tokens; }
};

const std::vector<DecodeConfiguration>& decode_configurations();
std::vector<DecodeCase> decode_cases(bool quick);

struct DecodeTiming {
  Spread spread;
  std::string kernel;  // the faster configuration's name
};

class DecodeAttentionBench {
 public:
  enum Buffer : std::size_t { kQuery, kKeys, kValues, kBlockTable, kOut, kPartialMax, kPartialSum, kPartialOut, kBufferCount };

  explicit DecodeAttentionBench(KernelTimer& timer) : timer_(timer) {}
  DecodeTiming run(const DecodeCase& c, const TimingPlan& plan);  // the faster configuration
  // Sizes the buffers for `c` and scatters each sequence's cache blocks through the block
  // table; enqueue() then only launches. Queries [sequence][head][128]; keys and values
  // [block][token in block][kv head][128]; the table [sequence][block of the sequence].
  void prepare(const DecodeCase& c);
  void enqueue(const DecodeCase& c, const DecodeConfiguration& configuration, cudaStream_t stream) const;
  void* buffer(Buffer which) const { return buffers_.at(which); }

 private:
  KernelTimer& timer_;
  DeviceBuffers buffers_{kBufferCount};
};

}  // namespace foresight::kernels
