#pragma once
// Iteration-level simulation of LLM serving: requests arrive, a router sends each to a
// replica, and each replica runs iterations whose batch its scheduler picks, admitting
// waiting requests in its admission order (policies: serving_policy.hpp, docs/serving.md),
// timed by the IterationCostModel. Disaggregated, prefill replicas hand each prefilled
// request and its KV cache to a decode replica. Sequences hold paged KV-cache blocks; when
// a decode needs a block and none is free, the preemption policy picks a sequence to give
// its blocks up (by default the latest admitted, recomputed later, as vLLM does).
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "workloads/iteration_cost.hpp"
#include "workloads/serving_policy.hpp"
#include "workloads/serving_traffic.hpp"

namespace foresight {

struct RequestRecord {
  Time arrival = 0;
  Time scheduled = -1;    // first admitted into a batch
  Time first_token = -1;
  Time finish = -1;
  std::int32_t prompt_tokens = 0;
  std::int32_t output_tokens = 0;
  std::int32_t replica = 0;
  std::int32_t preemptions = 0;
  double ttft() const { return to_seconds(first_token - arrival); }
  double e2e() const { return to_seconds(finish - arrival); }
  double queueing() const { return to_seconds(scheduled - arrival); }
  // Mean time per output token after the first; 0 for one-token outputs, which the TPOT
  // statistics leave out (as vLLM's and SGLang's benchmark scripts do).
  double tpot() const { return output_tokens > 1 ? to_seconds(finish - first_token) / (output_tokens - 1) : 0; }
};

// One replica's state when an iteration starts (sampled at most every series interval).
struct SeriesSample {
  double time = 0;  // seconds
  std::int32_t replica = 0;
  std::int32_t running = 0;
  std::int32_t waiting = 0;
  double kv_used = 0;  // share of the replica's cache blocks in use
};

// One iteration of one replica, kept when a trace is asked for.
struct IterationRecord {
  Time start = 0;
  Time duration = 0;
  std::int32_t replica = 0;
  std::int32_t prefill_tokens = 0;
  std::int32_t decodes = 0;
};

struct Percentiles {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;
};

struct ServingResult {
  Time makespan = 0;                 // last request's finish
  std::int64_t requests = 0;
  double request_throughput = 0;     // requests/s over the makespan
  double output_token_throughput = 0;
  double total_token_throughput = 0; // prompt + output tokens/s
  Percentiles ttft, tpot, e2e, queueing;  // seconds, over requests
  Percentiles itl;                   // seconds: inter-token latency, one per streamed chunk after each request's first token
  double slo_attainment = 1;         // share of requests within both SLOs
  double goodput = 0;                // requests/s within both SLOs
  std::int64_t iterations = 0;
  std::int64_t preemptions = 0;
  std::int64_t swaps = 0;            // preemptions that swapped to host memory instead of recomputing
  std::int64_t verify_passes = 0;    // speculative decoding: a sequence's verification passes
  std::int64_t verified_tokens = 0;  // and the tokens they emitted
  std::int64_t adapter_loads = 0;
  std::int64_t adapter_evictions = 0;  // unified paging: adapters unloaded to free blocks    // LoRA adapters loaded from host memory
  double mfu = 0;                    // 2 N FLOPs per processed token over all GPUs' dense peak, over the run
  double memory_bandwidth_utilization = 0;  // weights per iteration and decode KV reads over HBM bandwidth
  std::int64_t kv_blocks = 0;        // per replica
  double kv_peak_utilization = 0;    // the fullest any replica's cache got
  double prefix_hit_rate = 0;        // shared-prefix tokens found cached, over all shared-prefix tokens admitted
  std::int64_t prefix_evictions = 0; // cached prefix blocks evicted
  double offload_hit_rate = 0;       // shared-prefix tokens found in host memory (kv_offload_gb) and copied back
  double disk_hit_rate = 0;          // found on disk below it (kv_disk_gb), read and copied back
  std::int64_t disk_blocks_written = 0;  // blocks host memory dropped to disk, over all replicas
  double recompute_kept = 0;         // share of preempted sequences' cached tokens still cached when recomputed
  double kv_transfer_mean = 0;       // seconds per prefill-to-decode handoff (disaggregation)
  std::int64_t kv_transfers = 0;     // prefill-to-decode handoffs
  std::int64_t local_prefills = 0;   // conditional disaggregation: requests a decode replica prefilled itself
  std::int64_t kept_decodes = 0;     // mixed pool: prefilled requests a prefill replica decoded itself
  std::optional<ExpertOffloadStats> expert_offload;  // serving.expert_offload: summed over replicas
  std::uint64_t events = 0;
  std::vector<RequestRecord> records;
  std::vector<SeriesSample> series;
  std::vector<IterationRecord> iteration_log;  // only with record_iterations
};

// Arrivals between calls of simulate_serving's progress callback.
inline constexpr std::size_t kArrivalBlock = 4096;

// Throws InputError when the configuration leaves no room for the KV cache, or sizes it
// (max_total_tokens) beyond the GPU's memory.
void require_kv_room(const IterationCostModel& cost, const std::string& scenario_source);

// A request longer than max_model_len, or than a replica's whole KV cache holds, would
// never finish: the engine refuses it, so this throws InputError naming it (in the trace,
// or under serving.traffic of `scenario_source`).
void require_servable(const ServingConfig& config, const IterationCostModel& cost, const std::vector<Request>& requests,
                      const std::string& scenario_source);

// `record_iterations` keeps every iteration for a trace (memory grows with the run);
// `every_arrival_block`, if set, is called after every kArrivalBlock arrivals (progress);
// the configuration's scheduler, admission, preemption and router names are looked up in
// `policies`.
ServingResult simulate_serving(const ServingConfig& config, const std::vector<Request>& requests, IterationCostModel& cost,
                               bool record_iterations = false, std::function<void()> every_arrival_block = {},
                               const ServingPolicyRegistry& policies = builtin_serving_policies());

}  // namespace foresight
