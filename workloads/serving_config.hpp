#pragma once
// The scenario's "serving" section: replicas of one model, the batching scheduler and
// its limits, the KV cache, the router, the traffic and the SLOs.
#include <cstdint>
#include <string>
#include <vector>

#include "models/dtype.hpp"

namespace foresight {

class ObjectReader;
struct ModelArch;

enum class ArrivalProcess { kPoisson, kGamma, kConstant };

// Prompt or output lengths: one value, or uniform over [min, max].
struct LengthDistribution {
  std::int64_t min = 512;
  std::int64_t max = 512;
};

struct TrafficConfig {
  ArrivalProcess arrival = ArrivalProcess::kPoisson;
  double rate = 1;                  // requests per second
  double cv = 1;                    // gamma: coefficient of variation of inter-arrival times
  std::int64_t requests = 1000;
  LengthDistribution prompt{512, 512};
  LengthDistribution output{128, 128};
  std::string trace;                // CSV of requests; replaces the synthetic arrivals and lengths
  std::string lengths_from;         // CSV of requests whose (prompt, output) pairs synthetic arrivals draw from
  double trace_speedup = 1;         // replay the trace this many times faster
  std::int64_t prefix_groups = 0;   // synthetic: each request opens with one of this many shared prefixes (0: none)
  std::int64_t prefix_tokens = 0;   // the shared prefix's length
  std::int64_t adapters = 0;        // synthetic: each request runs with one of this many LoRA adapters (0: none)
};

struct ServingConfig {
  std::int64_t replicas = 1;
  std::int64_t tp = 1;
  std::int64_t pp = 1;              // pipeline stages per replica, each of tp GPUs; pp batches in flight
  bool expert_parallel = false;     // MoE: whole experts on each TP rank, reached by all-to-all
  Dtype dtype = Dtype::kBf16;       // weights and compute (fp8: GEMMs in fp8)
  Dtype kv_dtype = Dtype::kBf16;
  std::int64_t gpus_per_replica() const { return tp * pp; }
  std::string scheduler = "vllm";   // static, vllm, sarathi
  std::string router = "round_robin";
  bool prefix_caching = false;      // keep shared prompt prefixes' KV blocks for reuse
  // Multi-LoRA serving (S-LoRA, Punica): adapters of this rank on the attention projections,
  // at most max_loras of them on the GPU at once, loaded from host memory on demand. 0: off.
  std::int64_t lora_rank = 0;
  std::int64_t max_loras = 8;
  // Disaggregation (Splitwise, DistServe): the first prefill_replicas replicas only
  // prefill, the others only decode; each prompt's KV cache moves between them. 0: off.
  std::int64_t prefill_replicas = 0;
  std::int64_t max_num_seqs = 256;
  std::int64_t max_batched_tokens = 8192;
  std::int64_t chunk_size = 512;    // sarathi: tokens per iteration, decodes included
  std::int64_t block_size = 16;     // tokens per KV-cache block
  double gpu_memory_utilization = 0.9;
  std::string preemption = "recompute";  // or swap: preempted KV blocks go to host memory and come back
  double swap_space_bytes = 4e9;    // host memory per GPU for swapped blocks (vLLM's swap_space)
  double host_bandwidth = 25e9;     // bytes/s per GPU between device and host (PCIe 4.0 x16)
  double cpu_overhead_seconds = 0.5e-3;  // scheduling and input preparation per iteration
  double series_interval_seconds = 1;  // time-series sampling of each replica's state; 0: off
  double ttft_slo_seconds = 0;      // 0: no SLO
  double tpot_slo_seconds = 0;
  TrafficConfig traffic;
};

ServingConfig read_serving(ObjectReader& parent, const ModelArch& model, int gpus, int gpus_per_node,
                           const std::string& scenario_dir);

std::vector<std::string> serving_scheduler_names();
std::vector<std::string> serving_router_names();

}  // namespace foresight
