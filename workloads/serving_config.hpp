#pragma once
// The scenario's "serving" section: replicas of one model, the batching scheduler and
// its limits, the KV cache, the router, the traffic and the SLOs.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/dtype.hpp"
#include "models/gpu_spec.hpp"
#include "models/transformer_ops.hpp"
#include "workloads/expert_offload.hpp"
#include "workloads/host_launch.hpp"

namespace foresight {

class ObjectReader;
struct ModelArch;
struct GpuSpec;

enum class ArrivalProcess { kPoisson, kGamma, kConstant, kInstant };

// Prompt or output lengths: one value, uniform over [min, max], or (eos_probability > 0)
// min plus a geometric number of tokens, capped at max: a model that ends each further
// token with this probability, run under a max_tokens limit.
struct LengthDistribution {
  std::int64_t min = 512;
  std::int64_t max = 512;
  double eos_probability = 0;
};

// The per-token end probability under which min + Geometric(p), capped at max, averages
// `mean` (min < mean < max).
double eos_probability_for_mean(std::int64_t min, std::int64_t max, double mean);

// The CSV columns that hold a trace's arrival time and lengths, for formats foresight does
// not recognise by their header (workloads/trace_formats.hpp lists those it does).
struct TraceColumns {
  std::string arrival, prompt_tokens, output_tokens;
  std::string arrival_unit = "s";  // s, ms, us, ns, or datetime ("2023-11-16 18:15:46.6805900")
};

struct TrafficConfig {
  ArrivalProcess arrival = ArrivalProcess::kPoisson;
  double rate = 1;                  // requests per second
  double cv = 1;                    // gamma: coefficient of variation of inter-arrival times
  std::int64_t requests = 1000;
  LengthDistribution prompt{512, 512};
  LengthDistribution output{128, 128};
  std::string trace;                // CSV of requests; replaces the synthetic arrivals and lengths
  std::string lengths_from;         // CSV of requests (or ShareGPT .json) whose (prompt, output) pairs synthetic arrivals draw from
  double chars_per_token = 4;       // ShareGPT text: characters per token
  double trace_speedup = 1;         // replay the trace this many times faster
  std::int64_t hash_block_tokens = 512;  // tokens per content hash of a trace's hash_ids (Mooncake's traces: 512)
  std::optional<TraceColumns> trace_columns;  // none: recognise the format by its header
  std::int64_t prefix_groups = 0;   // synthetic: each request opens with one of this many shared prefixes (0: none)
  std::int64_t prefix_tokens = 0;   // the shared prefix's length
  std::int64_t adapters = 0;        // synthetic: each request runs with one of this many LoRA adapters (0: none)
  // A closed-loop client (vLLM's and SGLang's --max-concurrency): a request is sent at its
  // arrival time or, with this many unanswered, when one is answered. 0: open loop.
  std::int64_t max_concurrency = 0;
};

// The API server's time to take in one request (HTTP, tokenization, request setup): set by
// LambdaLabs' vLLM 0.6.0 run of 320 ShareGPT requests at once on an H100, whose earliest
// first token came 0.815 s after the burst: 320 requests taken in one at a time before the
// engine's first prefill (37 ms) -> 2.4 ms each (tests/serving_runs_validation_test.cpp
// holds the other runs out).
inline constexpr double kRequestIngestSeconds = 2.4e-3;

// The same for vLLM V1's API server (vLLM 0.19): set by kvcached's run of 500 requests of
// 512 random tokens sent at once to Qwen3-0.6B on an H100 (ovg-project/kvcached
// benchmarks/bench_layout, the vanilla runs; scenarios/validation/serving_kvcached_h100):
// 94.9 requests/s, half what the GPU sustains, with 5.5 ms per output token. Requests
// reached the engine only as fast as the API server took them in, 8.0 ms each, while it
// streamed the running requests' tokens first; the same suite's run at 16 requests/s is
// held out.
inline constexpr double kV1RequestIngestSeconds = 8.0e-3;

// What the serving engine's host does besides launching the GPU's work (docs/serving.md,
// "The engine's host side"): CPU time per iteration, kernel launches when not replaying a
// CUDA graph, and whether the CPU work of the next iteration overlaps this one.
struct HostCosts {
  double iteration_seconds = 0.5e-3;  // scheduling, input preparation, sampling, output processing
  double per_sequence_seconds = 0;    // the same, per sequence in the batch
  double tp_seconds = 0;              // more per iteration with tp > 1 (inputs broadcast to the workers)
  double kernel_launch_seconds = 0;   // host time per kernel launched eagerly (0: launches never hold the GPU up)
  double graph_launch_seconds = 0;    // one CUDA-graph replay
  bool async_scheduling = false;      // the next iteration is scheduled while this one runs on the GPU
  double request_seconds = 0;         // the API server's time to take in a request (HTTP, tokenization), one at a time
  bool frontend_blocks_engine = false; // the engine waits while its API server takes requests in (vLLM 0.6)
  double chunk_seconds = 0;           // the API server's time per streamed chunk (detokenization, response)
};

// How an engine sizes its KV cache out of GPU memory.
enum class KvSizing {
  kProfiled,       // vLLM: memory x gpu_memory_utilization - weights - non-torch memory - a profiled activation peak
  kStaticFraction, // SGLang: (memory - non-torch memory) x mem_fraction_static - weights (activations and graphs live in the rest)
  kFreeFraction    // TensorRT-LLM: kv_cache_free_gpu_mem_fraction of what weights and activations leave
};

// The serving engine a replica runs (`serving.engine`): a bundle of scheduler, limits,
// cache policy and host costs that the individual keys may override.
struct EngineConfig {
  std::string name = "generic";       // generic, vllm_v0, vllm_v1, sglang, trtllm
  bool cuda_graphs = false;           // decode iterations replay captured CUDA graphs
  bool piecewise_graphs = false;      // vLLM V1: every iteration of up to graph_max_tokens replays graphs around eager attention
  std::int64_t graph_max_tokens = 256;  // largest batch (decodes; tokens when piecewise) captured
  std::int64_t scheduler_steps = 1;   // vLLM 0.6 multi-step: decode steps per scheduler call, tokens streamed in bursts
  std::int64_t stream_interval = 1;   // tokens a request's stream holds back before sending a chunk (the first token goes at once)
  std::string admission = "fcfs";    // the order waiting requests are admitted in: a registered AdmissionOrder
  bool chunk_prompts = false;         // prefill-first batches cut their last prompt at the budget (SGLang's chunked prefill)
  bool guaranteed_no_evict = false;   // TensorRT-LLM: admit only what can run to its last token without eviction
  bool peak_admission = false;        // LightLLM, S-LoRA: admit while the running requests' peak future need fits
  // LightLLM's router_max_wait_tokens (S-LoRA's 10): a running batch decodes this many steps
  // before it takes new requests in. 0: whenever they fit.
  std::int64_t decodes_between_admissions = 0;
  bool whole_prompts = false;         // TensorRT-LLM without chunked context: the sarathi scheduler admits only prompts that fit whole
  // Prefill attention's kernels: kFlash3 runs Hopper's warp-specialized ones (FlashAttention-3,
  // TensorRT-LLM's sm90 FMHA) where the GPU's catalog entry measures them.
  AttentionKernel attention = AttentionKernel::kFlash;
  KvSizing kv_sizing = KvSizing::kProfiled;
  double mem_fraction_static = 0.88;  // SGLang
  double non_torch_bytes = -1;        // per GPU outside the tensor allocator; -1: 0.3 GiB + 0.35 GiB per extra TP rank
};

// Speculative decoding (Leviathan et al. 2023; vLLM's num_speculative_tokens): a drafter
// proposes `tokens` tokens one at a time, the target verifies them all in one pass, and
// accepts each with probability `acceptance` once its predecessors are accepted, plus one
// token of its own: (1 - a^(k+1)) / (1 - a) tokens per pass on average. Drafters fall off
// with depth, so each position may have its own rate (vLLM logs them as its per-position
// acceptance rates): 1 + a1 + a1 a2 + ... + a1 ... ak tokens per pass.
struct SpeculativeConfig {
  std::int64_t tokens = 0;        // k, tokens drafted per pass; 0: off
  double acceptance = -1;         // a; required with tokens > 0 (it depends on the drafter and the data)
  std::vector<double> acceptance_by_position;  // or a1 ... ak, given instead of a
  // Or the chance the model's token is the drafter's 1st, 2nd, ... candidate, from which the
  // tree is grown as EAGLE-2 grows it (workloads/draft_tree.hpp).
  std::vector<double> acceptance_by_rank;
  std::int64_t draft_layers = 1;  // the drafter: this many layers of the target's own shape with its head (EAGLE, MTP)
  std::string draft_model;        // or a catalog model drafting on its own (vLLM's --speculative-model)
  // A tree of drafts (EAGLE-2, SGLang's defaults): each of the k draft steps after the first
  // expands `topk` candidates per sequence, and the verification pass takes `draft_tokens`
  // tokens of each (the tree's best nodes and the model's own; 0: a chain's k + 1).
  std::int64_t topk = 1;
  std::int64_t draft_tokens = 0;
  bool on() const { return tokens > 0; }
  bool grows_tree() const { return !acceptance_by_rank.empty(); }
  // Tokens a sequence puts through the verification pass.
  std::int64_t verified_tokens() const { return draft_tokens > 0 ? draft_tokens : tokens + 1; }
  // The most a tree of k steps of topk candidates offers the verification, the model's token included.
  std::int64_t most_draft_tokens() const { return 1 + topk + (tokens - 1) * topk * topk; }
  // The probability that drafted token `position` (from 0) is accepted once those before it are.
  double acceptance_at(std::int64_t position) const {
    return acceptance_by_position.empty() ? acceptance : acceptance_by_position[static_cast<std::size_t>(position)];
  }
  // Mean tokens a sequence emits per verification pass.
  double expected_tokens() const;
};

struct ServingConfig {
  std::int64_t replicas = 1;
  std::int64_t tp = 1;
  std::int64_t pp = 1;              // pipeline stages per replica, each of tp GPUs; pp batches in flight
  // Context parallelism (long contexts): cp groups of tp GPUs per stage. Each sequence's KV
  // cache is split evenly over the groups by tokens (KV-cache parallelism), a prefill
  // chunk's tokens too (ring attention); decodes run their projections on every group.
  std::int64_t cp = 1;
  bool expert_parallel = false;     // MoE: whole experts on each TP rank, reached by all-to-all
  // Data-parallel attention (SGLang's enable_dp_attention, TensorRT-LLM's enable_attention_dp,
  // vLLM's data parallelism beside expert parallelism): the replica's tp GPUs each run
  // attention, with all its heads, on sequences of their own, and the MoE layers' experts are
  // spread over them, reached by all-to-all. Batch limits are per GPU, as the engines take them.
  bool attention_dp = false;
  std::int64_t attention_ranks() const { return attention_dp ? tp : 1; }
  // The most prompt tokens one sequence may prefill in an iteration whose token budget is
  // `budget`: a sequence runs on one attention rank, whose own budget is its share.
  std::int64_t sequence_chunk_limit(std::int64_t budget) const { return budget / attention_ranks(); }
  // With experts spread over GPUs (expert_parallel, attention_dp): the tokens the busiest
  // GPU's experts receive over the mean. Every GPU waits for it at each MoE layer.
  double expert_load = 1;
  Dtype dtype = Dtype::kBf16;       // weights and compute (fp8: GEMMs in fp8)
  Dtype kv_dtype = Dtype::kBf16;   // attention's inputs; with kv_int_bits the cache's elements dequantized to this
  // Integer KV cache (TensorRT-LLM's INT8 KV, KIVI-style INT4): bits per cached element, with
  // an fp16 scale and zero point per 64 elements; 0: the cache holds kv_dtype.
  int kv_int_bits = 0;
  double kv_element_bytes() const { return kv_int_bits > 0 ? kv_int_bits / 8.0 + 4.0 / 64 : dtype_bytes(kv_dtype); }
  // Weight-only quantization of the projections (W8A16, W4A16; AWQ/GPTQ checkpoints on
  // Marlin-class kernels): bits per weight, 16 for none. The embedding and output head stay 16-bit.
  int weight_bits = 16;
  // Bytes a quantized weight takes in memory and on reads: its bits and one fp16 scale per
  // group of 128 weights.
  double quantized_weight_bytes() const { return weight_bits / 8.0 + 2.0 / 128; }
  std::int64_t gpus_per_replica() const { return tp * pp * cp; }
  // Every GPU serving: the decode pool's included.
  std::int64_t serving_gpus() const {
    if (!decode_pool) return replicas * gpus_per_replica();
    return prefill_replicas * gpus_per_replica() + (replicas - prefill_replicas) * decode_pool->gpus();
  }
  std::string scheduler = "vllm";   // a registered BatchScheduler: static, vllm, sarathi, adaptive
  std::string router = "round_robin";
  bool prefix_caching = false;      // keep shared prompt prefixes' KV blocks for reuse
  std::string eviction_policy = "lru";  // which idle cached blocks go first: a registered EvictionOrder
  // Multi-LoRA serving (S-LoRA, Punica): adapters of this rank on the attention projections,
  // at most max_loras of them on the GPU at once, loaded from host memory on demand. 0: off.
  std::int64_t lora_rank = 0;
  std::int64_t max_loras = 8;
  // Adapter a's rank is lora_ranks[a mod n] (empty: lora_rank, the largest). With
  // lora_unified (S-LoRA's unified paging) adapters live in the KV cache's blocks, as many as
  // fit, each its own rank's size and computed at its own rank; otherwise max_loras slots of
  // lora_rank are set aside and every adapter is padded to it (vLLM, SGLang).
  std::vector<std::int64_t> lora_ranks;
  bool lora_unified = false;
  // How decode tokens run their adapters: false, through the grouped shrink and expand GEMMs
  // prefills use (Punica's SGMV, vLLM's Triton kernels); true, through Punica's BGMV as
  // S-LoRA decodes (and vLLM's V0 engine with Punica's kernels): two gather GEMVs per
  // adapted projection, each token reading its adapter's whole A or B matrix.
  bool lora_gather_decode = false;
  std::int64_t adapter_rank(std::int32_t adapter) const {
    return lora_ranks.empty() ? lora_rank : lora_ranks[static_cast<std::size_t>(adapter) % lora_ranks.size()];
  }
  // The rank an adapter's tokens run at: its own under unified paging, else the padded slot's.
  std::int64_t computed_rank(std::int32_t adapter) const { return lora_unified ? adapter_rank(adapter) : lora_rank; }
  // Disaggregation (Splitwise, DistServe): the first prefill_replicas replicas only
  // prefill, the others only decode; each prompt's KV cache moves between them. 0: off.
  std::int64_t prefill_replicas = 0;
  // A decode pool of another GPU type and TP (Splitwise's H100 prompt and A100 token
  // machines): its replicas run on machines of their own, beside the scenario's cluster,
  // which holds the prefill pool. None: the decode replicas are like the others.
  struct DecodePool {
    GpuSpec gpu;  // a catalog GPU, or one the scenario describes (hardware.gpu's forms)
    std::int64_t tp = 1;
    // The decode replicas' own scheduler limits (0: the prefill replicas').
    std::int64_t max_num_seqs = 0;
    std::int64_t max_batched_tokens = 0;
    std::int64_t pp = 1;  // pipeline stages of a decode replica, each of tp GPUs (DistServe picks each phase's own)
    std::int64_t cp = 1;  // its context-parallel groups (KV-cache parallelism for long contexts' decodes)
    // What only decodes use, where the decode servers set it apart (empty: the prefill replicas').
    std::optional<bool> cuda_graphs = std::nullopt;
    std::optional<std::int64_t> graph_max_tokens = std::nullopt;
    std::optional<bool> async_scheduling = std::nullopt;
    // On the cluster's own machines after the prefill replicas (one host's launch, DistServe's
    // intra-node placement), the KV caches crossing NVLink inside a machine; else machines of
    // its own, every cache crossing the NICs.
    bool same_machines = false;
    std::int64_t gpus() const { return tp * pp * cp; }
  };
  std::optional<DecodePool> decode_pool;
  // Conditional disaggregation (NVIDIA Dynamo's disaggregated router, `--conditional-disagg`):
  // a request goes to the prefill pool only when its prompt, less what the decode replica's
  // prefix cache holds, exceeds max_local_prefill_length tokens and fewer than
  // max_prefill_queue_size requests wait there; otherwise that decode replica prefills it
  // itself, and no KV cache moves.
  // max_prefill_queue_size this large is no queue rule at all (TensorRT-LLM's form).
  static constexpr std::int64_t kNoPrefillQueueRule = 1'000'000'000;
  struct ConditionalDisagg {
    std::int64_t max_local_prefill_length = 1000;  // Dynamo's defaults
    std::int64_t max_prefill_queue_size = 2;
  };
  std::optional<ConditionalDisagg> conditional_disagg;
  // Splitwise's mixed pool, from the other side: a prefill replica keeps decoding a request
  // it prefilled, as a mixed machine, while every decode replica's KV cache is at least this
  // full (in use or claimed by waiting requests). None: every request goes to the decode pool.
  std::optional<double> mixed_pool_kv_load;
  std::string kv_transfer = "after_prefill";  // or layerwise: each layer's cache leaves as the prefill produces it
  std::int64_t max_model_len = 0;   // longest sequence served (0: the model's positions)
  std::int64_t max_num_seqs = 256;
  std::int64_t max_batched_tokens = 8192;
  std::int64_t chunk_size = 512;    // sarathi: tokens per iteration, decodes included
  std::int64_t block_size = 16;     // tokens per KV-cache block
  double gpu_memory_utilization = 0.9;
  // The KV cache's size per replica in tokens, as the engine is told it (SGLang's
  // --max-total-tokens, LightLLM's and S-LoRA's --max_total_token_num, vLLM's
  // num_gpu_blocks_override in blocks). 0: what gpu_memory_utilization leaves.
  std::int64_t max_total_tokens = 0;
  std::string preemption = "recompute";  // or swap: preempted KV blocks go to host memory and come back
  double swap_space_bytes = 4e9;    // host memory per GPU for swapped blocks (vLLM's swap_space)
  double kv_offload_bytes = 0;      // host memory per GPU keeping prefix blocks evicted from the GPU (0: none)
  double kv_disk_bytes = 0;         // disk per GPU keeping prefix blocks host memory dropped (0: none)
  double disk_bandwidth = 0;        // bytes/s per GPU read from that disk
  double disk_write_bandwidth = -1; // bytes/s per GPU written to it; below 0: disk_bandwidth; 0: writes cost nothing
  bool disk_prefetch = false;       // a queued prompt's prefix blocks on disk are read into host memory while it waits
  double host_bandwidth = 0;        // bytes/s per GPU between device and host; 0: the GPU's measured host copy rate
  ExpertOffloadConfig expert_offload;  // MoE experts kept partly in host memory
  EngineConfig engine;
  HostCosts host;
  SpeculativeConfig speculative;
  double series_interval_seconds = 1;  // time-series sampling of each replica's state; 0: off
  double ttft_slo_seconds = 0;      // 0: no SLO
  double tpot_slo_seconds = 0;
  TrafficConfig traffic;
};

ServingConfig read_serving(ObjectReader& parent, const ModelArch& model, const GpuSpec& gpu, int gpus, int gpus_per_node,
                           const std::string& scenario_dir);

// The settings a decode pool's replicas run (serving.decode_pool): its TP, PP, CP, limits and
// CUDA-graph and scheduling settings over the prefill replicas', without a decode pool of its
// own; the scenario's own settings when it has no decode pool.
ServingConfig decode_replicas_config(const ServingConfig& c);

std::vector<std::string> serving_engine_names();
// Where each replica starts over the cluster's machines of `per_machine` GPUs, the replicas
// placed in order (a decode pool on the same machines after the prefill replicas) and a
// replica that does not fit in what a machine has left starting on the next; -1 for a
// decode pool's replicas on machines of their own.
std::vector<std::int64_t> replica_first_gpus(const ServingConfig& c, std::int64_t per_machine);

// The defaults an engine brings (scheduler, limits, caching, host costs, memory sizing),
// on `gpu` serving sequences of up to `max_model_len` tokens; docs/serving.md describes each.
ServingConfig engine_defaults(const std::string& engine, const GpuSpec& gpu, std::int64_t max_model_len);

}  // namespace foresight
