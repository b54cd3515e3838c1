#include "workloads/serving_config.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "models/gpu_spec.hpp"
#include "models/model_arch.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/object_reader.hpp"
#include "workloads/draft_tree.hpp"
#include "workloads/serving_policy.hpp"
#include "workloads/trace_formats.hpp"

namespace foresight {

std::vector<std::string> serving_engine_names() { return {"generic", "vllm_v0", "vllm_v1", "sglang", "trtllm"}; }

namespace {
// Host costs of vLLM's Python engine, from Vidur's profile of it on a DGX A100
// (calibration/data/vidur/cpu_overheads_a100_6d98aa8.csv, 78 rows, six models, TP 1-4,
// batches 8-128): schedule + prepare_inputs + sampler + process_model_outputs, medians,
// fit 0.85 ms + 42 us per sequence, 0.87 ms more with TP workers (median |error| 3.1%).
// Ray's broadcast time in that profile (6 ms at TP > 1) is left out: vLLM 0.5 and later
// broadcast inputs to their workers through shared memory.
HostCosts vllm_v0_host() {
  HostCosts h;
  h.request_seconds = kRequestIngestSeconds;
  h.frontend_blocks_engine = true;
  h.iteration_seconds = 0.85e-3;
  h.per_sequence_seconds = 42e-6;
  h.tp_seconds = 0.87e-3;
  h.kernel_launch_seconds = kEagerLaunchSeconds;
  h.graph_launch_seconds = kGraphReplaySeconds;
  return h;
}

// vLLM V1 moves detokenization and output processing into the API server's process,
// where they overlap the engine's next step (vLLM's V1 design); what stays on the engine
// core's path is Vidur's schedule, prepare_inputs and sampler: 0.79 ms + 26.5 us per
// sequence. The output processing (Vidur's process_model_outputs, 15.5 us per sequence)
// now occupies the API server, once per streamed chunk.
HostCosts vllm_v1_host() {
  HostCosts h = vllm_v0_host();
  h.request_seconds = kV1RequestIngestSeconds;
  h.frontend_blocks_engine = false;  // the API server and the engine core are separate processes
  h.iteration_seconds = 0.79e-3;
  h.per_sequence_seconds = 26.5e-6;
  h.chunk_seconds = 15.5e-6;
  return h;
}
}  // namespace

ServingConfig decode_replicas_config(const ServingConfig& c) {
  ServingConfig decode = c;
  if (!c.decode_pool) return decode;
  const ServingConfig::DecodePool& pool = *c.decode_pool;
  decode.decode_pool.reset();
  decode.tp = pool.tp;
  decode.pp = pool.pp;
  decode.cp = pool.cp;
  if (pool.max_num_seqs > 0) decode.max_num_seqs = pool.max_num_seqs;
  if (pool.max_batched_tokens > 0) decode.max_batched_tokens = pool.max_batched_tokens;
  if (pool.cuda_graphs.has_value()) {
    decode.engine.cuda_graphs = *pool.cuda_graphs;
    if (!*pool.cuda_graphs) decode.engine.piecewise_graphs = false;
  }
  decode.engine.graph_max_tokens = pool.graph_max_tokens.value_or(decode.engine.graph_max_tokens);
  decode.host.async_scheduling = pool.async_scheduling.value_or(decode.host.async_scheduling);
  return decode;
}

std::vector<std::int64_t> replica_first_gpus(const ServingConfig& c, std::int64_t per_machine) {
  std::vector<std::int64_t> first;
  std::int64_t next = 0;
  for (std::int64_t r = 0; r < c.replicas; ++r) {
    const bool decoding = c.decode_pool && r >= c.prefill_replicas;
    if (decoding && !c.decode_pool->same_machines) {
      first.push_back(-1);
      continue;
    }
    const std::int64_t gpus = decoding ? c.decode_pool->gpus() : c.gpus_per_replica();
    if (next % per_machine != 0 && next % per_machine + gpus > per_machine) next += per_machine - next % per_machine;
    first.push_back(next);
    next += gpus;
  }
  return first;
}

ServingConfig engine_defaults(const std::string& engine, const GpuSpec& gpu, std::int64_t max_model_len) {
  ServingConfig c;
  c.engine.name = engine;
  const bool large_gpu = gpu.memory_bytes >= 70 * kGiB;
  if (engine == "vllm_v0") {
    // vLLM 0.5-0.6: prefills first; without chunking the budget must hold a whole prompt,
    // max(max_model_len, 2048); past 32k positions chunked prefill is on, 512 tokens.
    c.engine.cuda_graphs = true;
    c.engine.graph_max_tokens = 256;
    c.host = vllm_v0_host();
    c.max_batched_tokens = std::max<std::int64_t>(max_model_len, 2048);
    if (max_model_len > 32768) {
      c.scheduler = "sarathi";
      c.max_batched_tokens = c.chunk_size = 512;
    }
  } else if (engine == "vllm_v1") {
    // vLLM V1, `vllm serve`: one token budget, decodes first, then prefill chunks; prefix
    // caching on; piecewise CUDA graphs up to 512 tokens; the next step scheduled while
    // this one runs (async scheduling, vLLM's default since late 2025, PR 27614; off in
    // 0.8-0.11). Budget and sequence limit by GPU, as its engine arguments choose them:
    // 8,192 and 1,024 on parts of 70 GiB and more other than the A100, 2,048 and 256.
    const bool h100_class = large_gpu && gpu.name.find("a100") == std::string::npos;
    c.scheduler = "sarathi";
    c.chunk_size = c.max_batched_tokens = h100_class ? 8192 : 2048;
    c.max_num_seqs = h100_class ? 1024 : 256;
    c.prefix_caching = true;
    c.engine.cuda_graphs = c.engine.piecewise_graphs = true;
    c.engine.graph_max_tokens = 512;
    c.engine.attention = AttentionKernel::kFlash3;  // FA3 on Hopper since 0.7 (get_flash_attn_version)
    c.host = vllm_v1_host();
    c.host.async_scheduling = true;
  } else if (engine == "sglang") {
    // SGLang 0.4-0.5: prefill batches first, chunked at chunked_prefill_size (decodes wait
    // for them), radix cache, the overlap scheduler, decode CUDA graphs up to 160
    // sequences, and a static memory fraction for weights and KV cache.
    c.scheduler = "vllm";
    c.engine.chunk_prompts = true;
    c.max_batched_tokens = c.chunk_size = large_gpu ? 8192 : 2048;
    c.max_num_seqs = 1024;
    c.prefix_caching = true;
    c.engine.cuda_graphs = true;
    c.engine.graph_max_tokens = 160;
    c.engine.kv_sizing = KvSizing::kStaticFraction;
    c.engine.attention = AttentionKernel::kFlash3;  // its default attention backend on Hopper, fa3
    c.gpu_memory_utilization = c.engine.mem_fraction_static;
    c.host = vllm_v1_host();
    c.host.async_scheduling = true;
    c.host.request_seconds = kRequestIngestSeconds;  // its tokenizer manager's: not measured, vLLM 0.6's figure
    c.host.chunk_seconds = 0;  // a detokenizer process of its own streams the outputs
  } else if (engine == "trtllm") {
    // TensorRT-LLM 1.0 with its default PyTorch backend: in-flight batching of whole context
    // requests (enable_chunked_prefill is off by default) beside generation requests under
    // max_num_tokens, admission that guarantees no eviction, KV cache from 90% of the free
    // memory in blocks of 32 tokens with block reuse on (KvCacheConfig's defaults). Its PyExecutor is Python: kernels
    // outside CUDA graphs launch as PyTorch eager launches them, generation-only batches up
    // to 128 replay graphs (CudaGraphConfig's default max_batch_size), and the overlap
    // scheduler, on by default, prepares step n+1 while step n runs (docs: "Overlap
    // Scheduler"). Its per-iteration CPU costs are assumed, not measured.
    c.scheduler = "sarathi";
    c.chunk_size = c.max_batched_tokens = 8192;
    c.max_num_seqs = 2048;
    c.engine.guaranteed_no_evict = true;
    c.engine.whole_prompts = true;
    c.engine.kv_sizing = KvSizing::kFreeFraction;
    c.block_size = 32;
    c.prefix_caching = true;
    c.engine.cuda_graphs = true;
    c.engine.graph_max_tokens = 128;
    c.engine.attention = AttentionKernel::kFlash3;  // its context FMHA has sm90 warp-specialized kernels
    c.host.request_seconds = kRequestIngestSeconds;
    c.host.iteration_seconds = 0.3e-3;
    c.host.per_sequence_seconds = 5e-6;
    c.host.kernel_launch_seconds = kEagerLaunchSeconds;
    c.host.graph_launch_seconds = kGraphReplaySeconds;
    c.host.async_scheduling = true;
  }
  return c;
}

double eos_probability_for_mean(std::int64_t min, std::int64_t max, double mean) {
  // E[min(K, M)] for K ~ Geometric(p) failures before the end and M = max - min is
  // q (1 - q^M) / p with q = 1 - p, falling from M towards 0 as p grows: bisect.
  const double cap = static_cast<double>(max - min);
  const double target = mean - static_cast<double>(min);
  const auto capped_mean = [cap](double p) { return (1 - p) * (1 - std::pow(1 - p, cap)) / p; };
  double low = 0, high = 1;
  for (int i = 0; i < 200 && high - low > 1e-15; ++i) {
    const double mid = 0.5 * (low + high);
    (capped_mean(mid) > target ? low : high) = mid;
  }
  return 0.5 * (low + high);
}

namespace {
LengthDistribution read_lengths(ObjectReader& parent, const char* key, std::int64_t fallback, std::string_view doc) {
  auto r = parent.object(key, doc);
  const std::string kind = r.string("distribution", "fixed",
      {"fixed (tokens), uniform (min to max), or eos (min plus tokens each of which ends the answer with one probability, "
       "capped at max, averaging mean: generation until EOS under a max_tokens limit).", "", {}, {}, false,
       {"fixed", "uniform", "eos"}});
  const std::int64_t tokens = r.integer("tokens", fallback, {"Tokens, when fixed.", "tokens", 1.0, 1e7});
  if (kind == "fixed" && !r.is_documenting()) return {tokens, tokens};  // the reference lists min and max too
  LengthDistribution d;
  d.min = r.integer("min", 1, {"Fewest tokens, when uniform or eos.", "tokens", 1.0, 1e7});
  d.max = r.integer("max", tokens, {"Most tokens, when uniform or eos.", "tokens", 1.0, 1e7});
  if (d.max < d.min) r.error("max", "max " + std::to_string(d.max) + " must be at least min " + std::to_string(d.min));
  if (kind != "eos" && !r.is_documenting()) return d;
  const double mean = r.number("mean", 0, {"The mean length, when eos: above min and below max.", "tokens", {}, {}, true});
  if (r.is_documenting()) return d;
  if (!r.has("mean")) {
    r.error("mean", "an eos distribution needs its mean length");
    return d;
  }
  if (!(mean > static_cast<double>(d.min) && mean < static_cast<double>(d.max))) {
    r.error("mean", "the mean must lie strictly between min " + std::to_string(d.min) + " and max " + std::to_string(d.max));
  }
  d.eos_probability = eos_probability_for_mean(d.min, d.max, mean);
  return d;
}

TrafficConfig read_traffic(ObjectReader& parent, const std::string& scenario_dir) {
  auto r = parent.object("traffic", "The requests: synthetic arrivals and lengths, or a trace.");
  TrafficConfig t;
  const std::string arrival = r.string("arrival", "poisson",
      {"Inter-arrival times: poisson (exponential), gamma (bursty, with cv), constant, or instant (every request at time 0, "
       "the benchmarks' --request-rate inf; pace them with max_concurrency).", "", {}, {}, false,
       {"poisson", "gamma", "constant", "instant"}});
  t.arrival = arrival == "gamma"      ? ArrivalProcess::kGamma
              : arrival == "constant" ? ArrivalProcess::kConstant
              : arrival == "instant"  ? ArrivalProcess::kInstant
                                      : ArrivalProcess::kPoisson;
  t.rate = r.number("rate", t.rate, {"Mean arrival rate.", "requests/s", {}, {}, true});
  t.cv = r.number("cv", t.cv, {"Gamma arrivals: coefficient of variation of the inter-arrival time (1 is Poisson).", "", {}, {}, true});
  // A trace is replayed whole unless `requests` is given: a silent cut would change every statistic.
  const bool has_trace = !r.is_documenting() && r.has("trace");
  t.requests = r.integer("requests", has_trace ? 0 : t.requests,
      {"Requests to simulate: synthetic arrivals (1000), or the first rows of a trace (0, the default with a trace: every row).",
       "", 0.0, 1e8});
  t.prompt = read_lengths(r, "prompt", 512, "Prompt lengths.");
  t.output = read_lengths(r, "output", 128, "Output lengths (tokens generated, the first included).");
  t.trace = r.string("trace", "", {"Requests to replay (relative to the scenario file), replacing arrivals and lengths: a CSV in a "
                                   "format recognised by its header (Splitwise/Vidur: arrived_at (s), num_prefill_tokens, "
                                   "num_decode_tokens; the raw Azure LLM inference traces 2023/2024; BurstGPT; LMSYS-Chat as apex_plus "
                                   "ships it) or named by trace_columns, optionally with prefix_id, prefix_tokens, adapter_id; or, for a "
                                   ".jsonl file, one object per line with the Splitwise/Vidur names as keys, or a TensorRT-LLM benchmark dataset "
                                   "(prepare_dataset.py: input_ids and output_tokens per line, every request at once)."});
  if (r.is_documenting() || r.has("trace_columns")) {
    auto c = r.object("trace_columns", "The columns of a CSV trace (and lengths_from) in a format foresight does not recognise by its "
                                       "header (docs/serving.md, \"Traces\").");
    TraceColumns columns;
    columns.arrival = c.required_string("arrival", {"The column of arrival times."});
    columns.prompt_tokens = c.required_string("prompt_tokens", {"The column of prompt lengths in tokens."});
    columns.output_tokens = c.required_string("output_tokens", {"The column of output lengths in tokens (the first token included)."});
    columns.arrival_unit = c.string("arrival_unit", "s", {"How arrival times read: s, ms, us or ns since any origin, or datetime "
                                                          "(\"2023-11-16 18:15:46.68\", counted from the earliest).", "", {}, {}, false,
                                                          arrival_units()});
    if (!r.is_documenting()) t.trace_columns = columns;
  }
  t.lengths_from = r.string("lengths_from", "", {"CSV of requests (the trace format) whose prompt and output lengths, drawn "
                                                  "uniformly by row, the synthetic arrivals get instead of prompt and output; or a "
                                                  "ShareGPT-style .json, its conversations' first two turns sampled as vLLM's benchmark "
                                                  "samples them (docs/serving.md)."});
  t.chars_per_token = r.number("chars_per_token", t.chars_per_token,
      {"ShareGPT lengths_from: characters of text per token (4: OpenAI's rule of thumb for English text with GPT tokenizers).",
       "", 0.5, 100.0});
  for (std::string* path : {&t.trace, &t.lengths_from}) {
    if (!path->empty() && !scenario_dir.empty() && std::filesystem::path(*path).is_relative()) {
      *path = (std::filesystem::path(scenario_dir) / *path).string();
    }
  }
  t.prefix_groups = r.integer("prefix_groups", t.prefix_groups,
      {"Synthetic: each request opens with one of this many shared prefixes, drawn uniformly (0: no shared prefixes). "
       "Traces give them with optional columns prefix_id and prefix_tokens.", "", 0.0, 1e9});
  t.prefix_tokens = r.integer("prefix_tokens", t.prefix_tokens, {"Length of each shared prefix (at most the prompt).", "tokens", 0.0, 1e7});
  t.adapters = r.integer("adapters", t.adapters,
      {"Synthetic: each request runs with one of this many LoRA adapters, drawn uniformly (0: the base model only). Traces "
       "give them with an optional column adapter_id.", "", 0.0, 1e9});
  t.max_concurrency = r.integer("max_concurrency", t.max_concurrency,
      {"A closed-loop client, as vLLM's and SGLang's benchmarks' --max-concurrency: at most this many requests unanswered; "
       "the next is sent when one is answered (its TTFT counts from then). 0: open loop.", "", 0.0, 1e7});
  t.trace_speedup = r.number("trace_speedup", t.trace_speedup, {"Replay the trace this many times faster (arrival times divided by it).", "", {}, {}, true});
  t.hash_block_tokens = r.integer("hash_block_tokens", t.hash_block_tokens,
      {"Tokens each of a JSONL trace's hash_ids stands for (Mooncake's traces: 512); a multiple of block_size.", "tokens", 1.0, 1e6});
  return t;
}

// The engines' own names for the same settings, so that a deployment's flags carry over.
void read_engine_knobs(ObjectReader& r, ServingConfig& c) {
  // One token budget per iteration, under each engine's name: it bounds prefill-first
  // batches and is the chunked scheduler's budget.
  for (const char* key : {"max_num_batched_tokens", "max_num_tokens", "chunked_prefill_size"}) {
    if (const auto budget = r.optional_number(key, {"The engine's token budget per iteration (vLLM, TensorRT-LLM, SGLang names): "
                                                    "sets max_batched_tokens and chunk_size.", "tokens", 1.0, 1e7})) {
      c.max_batched_tokens = c.chunk_size = static_cast<std::int64_t>(*budget);
    }
  }
  for (const char* key : {"max_batch_size", "max_running_requests"}) {
    if (const auto seqs = r.optional_number(key, {"max_num_seqs under TensorRT-LLM's and SGLang's names.", "", 1.0, 1e6})) {
      c.max_num_seqs = static_cast<std::int64_t>(*seqs);
    }
  }
  const bool chunked = r.boolean("enable_chunked_prefill", c.scheduler == "sarathi" && !c.engine.whole_prompts,
      "vLLM: chunked prefill (scheduler sarathi under the token budget) or whole prompts first (scheduler vllm); "
      "TensorRT-LLM (off by default): context chunks, or whole prompts only, beside the generation requests.");
  if (!r.is_documenting() && r.has("enable_chunked_prefill")) {
    if (r.has("scheduler")) r.error("enable_chunked_prefill", "give scheduler or enable_chunked_prefill, not both");
    if (c.engine.name == "trtllm") {
      c.engine.whole_prompts = !chunked;
    } else {
      c.scheduler = chunked ? "sarathi" : "vllm";
    }
  }
  // SGLang's mixed chunks: the running decodes join each prefill chunk's batch within
  // chunked_prefill_size, which is what the sarathi scheduler does.
  const bool mixed = r.boolean("enable_mixed_chunk", false,
      "SGLang (off by default): the running decodes join each prefill chunk's batch under chunked_prefill_size "
      "(scheduler sarathi) instead of waiting for prefill batches.");
  if (!r.is_documenting() && r.has("enable_mixed_chunk")) {
    if (c.engine.name != "sglang") r.error("enable_mixed_chunk", "is SGLang's (engine sglang); the engine is " + c.engine.name);
    if (r.has("scheduler")) r.error("enable_mixed_chunk", "give scheduler or enable_mixed_chunk, not both");
    if (mixed) c.scheduler = "sarathi";
  }
  c.prefix_caching = r.boolean("enable_prefix_caching", c.prefix_caching, "vLLM's name for prefix_caching.");
  if (const auto ms = r.optional_number("cpu_overhead_ms", {"The older name of host.iteration_ms.", "ms", 0.0})) {
    c.host.iteration_seconds = *ms / 1e3;
  }
  if (r.boolean("disable_radix_cache", false, "SGLang: turn its radix (prefix) cache off.")) c.prefix_caching = false;
  c.engine.scheduler_steps = r.integer("num_scheduler_steps", c.engine.scheduler_steps,
      {"vLLM 0.6 multi-step scheduling: decode steps per scheduler call; the CPU work is paid once per call, tokens "
       "reach clients in bursts and arrivals wait for the call to end.", "", 1.0, 64.0});
  c.engine.stream_interval = r.integer("stream_interval", c.engine.stream_interval,
      {"Tokens per streamed chunk after the first token (vLLM's and SGLang's --stream-interval): the API server sends, and "
       "pays its per-chunk cost, once per that many tokens; with num_scheduler_steps above 1 a call's burst is the chunk.",
       "tokens", 1.0, 1e6});
  const bool eager = r.boolean("enforce_eager", !c.engine.cuda_graphs,
      "Launch every kernel from the host instead of replaying CUDA graphs (vLLM's enforce_eager, SGLang's disable_cuda_graph).");
  if (r.boolean("disable_cuda_graph", eager, "SGLang's name for enforce_eager.")) c.engine.cuda_graphs = c.engine.piecewise_graphs = false;
  const std::string attention = r.string("attention_kernel", c.engine.attention == AttentionKernel::kFlash3 ? "flash3" : "flash",
      {"Prefill attention's kernels: flash3, Hopper's warp-specialized FlashAttention-3 class (vLLM V1's default on Hopper, "
       "SGLang's fa3 backend, TensorRT-LLM's sm90 FMHA; FlashAttention-2-class on GPUs without its measured efficiency), or "
       "flash, FlashAttention-2 (vLLM's VLLM_FLASH_ATTN_VERSION=2, vLLM 0.6).", "", {}, {}, false, {"flash", "flash3"}});
  c.engine.attention = attention == "flash3" ? AttentionKernel::kFlash3 : AttentionKernel::kFlash;
  c.engine.graph_max_tokens = r.integer("cuda_graph_max_bs", c.engine.graph_max_tokens,
      {"Largest batch replayed from a CUDA graph (decodes; tokens for vLLM V1's piecewise graphs).", "", 1.0, 1e6});
  c.engine.mem_fraction_static = r.number("mem_fraction_static", c.engine.mem_fraction_static,
      {"SGLang: share of the GPU memory free once CUDA and NCCL have started (all but non_torch_memory_gib) that holds weights and KV cache "
       "(with engine sglang it replaces gpu_memory_utilization).", "", 0.0, 1.0, true});
  // SGLang's own name for the fraction wins over gpu_memory_utilization when given.
  if (c.engine.kv_sizing == KvSizing::kStaticFraction && !r.is_documenting() && r.has("mem_fraction_static")) {
    c.gpu_memory_utilization = c.engine.mem_fraction_static;
  }
  if (const auto gib = r.optional_number("non_torch_memory_gib",
          {"Memory per GPU outside the tensor allocator (cuBLAS workspaces, NCCL and all-reduce buffers) that vLLM and "
           "TensorRT-LLM subtract before sizing the cache (default 0.3 GiB + 0.35 GiB per TP rank beyond the first, from "
           "vLLM's logs).", "GiB", 0.0})) {
    c.engine.non_torch_bytes = *gib * kGiB;
  }
  c.gpu_memory_utilization = r.number("kv_cache_free_gpu_mem_fraction", c.gpu_memory_utilization,
      {"TensorRT-LLM: share of the memory weights and activations leave that goes to the KV cache (the fraction "
       "gpu_memory_utilization holds for the other engines).", "", 0.0, 1.0, true});
  c.engine.admission = r.string("schedule_policy", c.engine.admission,
      {"The order waiting requests are admitted in (SGLang's name for the knob): " + builtin_serving_policies().admissions.described() + ".",
       "", {}, {}, false, builtin_serving_policies().admissions.names()});
  const std::string admission = r.string("capacity_scheduler_policy", c.engine.guaranteed_no_evict ? "GUARANTEED_NO_EVICT" : "MAX_UTILIZATION",
      {"TensorRT-LLM: GUARANTEED_NO_EVICT (admit a request only when its whole output fits beside the running ones) or "
       "MAX_UTILIZATION (admit greedily, evict when blocks run out).", "", {}, {}, false, {"GUARANTEED_NO_EVICT", "MAX_UTILIZATION"}});
  const std::string kv_admission = r.string("kv_admission", admission == "GUARANTEED_NO_EVICT" ? "whole_output" : "greedy",
      {"How much of the KV cache a request must find before it is admitted: greedy (its prompt's blocks; running requests "
       "are preempted when blocks run out: vLLM, SGLang), whole_output (its whole output beside every running request's, "
       "TensorRT-LLM's GUARANTEED_NO_EVICT), or peak (LightLLM's and S-LoRA's router: the running requests' peak need, "
       "each holding its tokens until its last output token, with the adapters they use; none is ever preempted). "
       "Default: the engine's, or capacity_scheduler_policy's.", "", {}, {}, false, {"greedy", "whole_output", "peak"}});
  if (r.has("kv_admission") && r.has("capacity_scheduler_policy")) {
    r.error("kv_admission", "set it or capacity_scheduler_policy (TensorRT-LLM's name for it), not both");
  }
  c.engine.guaranteed_no_evict = kv_admission == "whole_output";
  c.engine.peak_admission = kv_admission == "peak";
  c.engine.decodes_between_admissions = r.integer("router_max_wait_tokens", c.engine.decodes_between_admissions,
      {"LightLLM's router (S-LoRA's: 10, fixed in its code): while a batch runs, new requests join only after it has "
       "decoded this many steps since the last prefill (an arrival waits for the count; an idle engine takes it at once). "
       "0: whenever they fit, as vLLM, SGLang and TensorRT-LLM do. With the vllm scheduler only.", "decode steps", 0.0, 1e4});
  if (c.engine.decodes_between_admissions > 0 && c.scheduler != "vllm") {
    r.error("router_max_wait_tokens", "LightLLM's router prefills in iterations of their own: use scheduler vllm, not " + c.scheduler);
  }
  if (c.engine.decodes_between_admissions > 0 && c.prefill_replicas > 0) {
    r.error("router_max_wait_tokens", "counts a replica's own decode steps; with disaggregated pools (prefill_replicas) leave it 0");
  }
}

void read_host(ObjectReader& parent, HostCosts& h) {
  auto r = parent.object("host", "The engine's host side per iteration (docs/serving.md): its defaults come with `engine`.");
  h.iteration_seconds = r.number("iteration_ms", h.iteration_seconds * 1e3,
      {"CPU time per iteration: scheduling, input preparation, sampling, output processing.", "ms", 0.0}) / 1e3;
  h.per_sequence_seconds = r.number("per_sequence_us", h.per_sequence_seconds * 1e6, {"The same, per sequence in the batch.", "us", 0.0}) / 1e6;
  h.tp_seconds = r.number("tp_ms", h.tp_seconds * 1e3, {"More per iteration with tp > 1 (inputs broadcast to the workers).", "ms", 0.0}) / 1e3;
  h.kernel_launch_seconds = r.number("kernel_launch_us", h.kernel_launch_seconds * 1e6,
      {"Host time per kernel launched outside a CUDA graph; an iteration's kernels cannot run faster than they are launched.", "us", 0.0}) / 1e6;
  h.graph_launch_seconds = r.number("graph_launch_us", h.graph_launch_seconds * 1e6, {"Host time of one CUDA-graph replay.", "us", 0.0}) / 1e6;
  h.request_seconds = r.number("request_ms", h.request_seconds * 1e3,
      {"The API server's time to take in one request (HTTP, tokenization, request setup). One thread takes requests in, "
       "one at a time, and streams outputs back, streaming first: a burst of arrivals waits to be taken in while "
       "running requests' tokens flow (vllm_v1: 8.0 ms, S6's burst; vllm_v0, sglang, trtllm: 2.4 ms, S2's).", "ms", 0.0}) / 1e3;
  h.chunk_seconds = r.number("chunk_us", h.chunk_seconds * 1e6,
      {"The API server's time per chunk it streams back (detokenization, the response): vLLM V1's output processing, "
       "which Vidur measures at 15.5 us per sequence.", "us", 0.0}) / 1e6;
  h.frontend_blocks_engine = r.boolean("frontend_blocks_engine", h.frontend_blocks_engine,
      "The engine schedules no iteration while its API server is taking requests in (vLLM 0.6, as its measured bursts "
      "show).");
  h.async_scheduling = r.boolean("async_scheduling", h.async_scheduling,
      "Schedule the next iteration while this one runs on the GPU (SGLang's overlap scheduler, vLLM's --async-scheduling): "
      "an iteration then takes the longer of its CPU and GPU times.");
}

// The decode pool's own CUDA graphs and scheduling, where its servers run them apart from
// the prefill servers (TensorRT-LLM's context servers without the overlap scheduler, say).
void read_decode_pool_engine(ObjectReader& d, ServingConfig::DecodePool& pool) {
  if (d.is_documenting() || d.has("enforce_eager")) {
    pool.cuda_graphs = !d.boolean("enforce_eager", false, "The decode replicas launch every kernel from the host (default: the "
                                                          "prefill replicas' enforce_eager).");
  }
  if (d.is_documenting() || d.has("cuda_graph_max_bs")) {
    pool.graph_max_tokens = d.integer("cuda_graph_max_bs", 1, {"The decode replicas' largest batch replayed from a CUDA graph "
                                                                "(default: the prefill replicas' cuda_graph_max_bs).", "", 1.0, 1e6});
  }
  if (d.is_documenting() || d.has("async_scheduling")) {
    pool.async_scheduling = d.boolean("async_scheduling", false, "The decode replicas schedule one iteration ahead (default: the "
                                                                 "prefill replicas' host.async_scheduling).");
  }
}

Dtype read_dtype(ObjectReader& r, const char* key, std::string_view doc, std::vector<std::string> allowed) {
  const std::string name = r.string(key, "bf16", {doc, "", {}, {}, false, std::move(allowed)});
  return parse_dtype(name).value_or(Dtype::kBf16);
}
}  // namespace

double SpeculativeConfig::expected_tokens() const {
  if (!on()) return 1;
  if (grows_tree()) return DraftTree(acceptance_by_rank, tokens, topk, verified_tokens()).expected_tokens();
  if (!acceptance_by_position.empty()) {
    double expected = 1, all_accepted = 1;
    for (std::int64_t i = 0; i < tokens; ++i) expected += all_accepted *= acceptance_at(i);
    return expected;
  }
  if (acceptance >= 1) return static_cast<double>(tokens + 1);
  return (1 - std::pow(acceptance, static_cast<double>(tokens + 1))) / (1 - acceptance);
}

namespace {
bool is_probability(const nlohmann::json& v) { return v.is_number() && v.get<double>() >= 0 && v.get<double>() <= 1; }

// A rate for every drafted token, or one per position (vLLM's per-position acceptance rates).
void read_acceptance(ObjectReader& r, SpeculativeConfig& s) {
  const nlohmann::json* value = r.raw("acceptance", "number or array of numbers",
      "Probability that a drafted token is accepted once the ones before it are (required with num_tokens: it depends on "
      "the drafter and the data: vLLM logs it as the draft acceptance rate), from 0 to 1; or an array of num_tokens of "
      "them, one per drafted position (vLLM's per-position acceptance rates), e.g. [0.8, 0.6, 0.45].");
  if (value == nullptr) return;
  const std::string where = r.child_path("acceptance");
  if (is_probability(*value)) {
    s.acceptance = value->get<double>();
    return;
  }
  if (!value->is_array() || value->empty() || !std::all_of(value->begin(), value->end(), is_probability)) {
    r.diagnostics().error(where, "expected a probability from 0 to 1, or an array of them (one per drafted token), got " +
                                     value->dump().substr(0, 200));
    return;
  }
  for (const nlohmann::json& v : *value) s.acceptance_by_position.push_back(v.get<double>());
  s.acceptance = 0;  // given, per position
}

// EAGLE-2's trees: the chance the model's token is the drafter's j-th candidate, by rank.
void read_acceptance_by_rank(ObjectReader& r, SpeculativeConfig& s) {
  const nlohmann::json* value = r.raw("acceptance_by_rank", "array of numbers",
      "Instead of acceptance, for a tree grown as EAGLE-2 grows it: the probability that the model's next token is the "
      "drafter's most likely candidate, its second, ... (from 0 to 1, summing to at most 1), e.g. [0.62, 0.12, 0.05, 0.03]. "
      "Each draft step expands the eagle_topk most valuable nodes (a node's value: the product of its path's rates) and the "
      "verification takes the num_draft_tokens - 1 most valuable of all drafted.");
  if (value == nullptr) return;
  const std::string where = r.child_path("acceptance_by_rank");
  if (!value->is_array() || value->empty() || value->size() > 64 || !std::all_of(value->begin(), value->end(), is_probability)) {
    r.diagnostics().error(where, "expected an array of 1 to 64 probabilities from 0 to 1 (the model's token at the drafter's 1st, "
                                 "2nd, ... candidate), got " + value->dump().substr(0, 200));
    return;
  }
  double total = 0;
  for (const nlohmann::json& v : *value) total += v.get<double>();
  if (total > 1 + 1e-9) {
    r.diagnostics().error(where, "sums to " + std::to_string(total) + ": the model's token is at most one of the candidates, so the "
                                 "rates sum to at most 1");
    return;
  }
  for (const nlohmann::json& v : *value) s.acceptance_by_rank.push_back(v.get<double>());
}

void read_speculative(ObjectReader& parent, SpeculativeConfig& s) {
  auto r = parent.object("speculative", "Speculative decoding: a drafter proposes tokens the model verifies in one pass (docs/serving.md).");
  s.tokens = r.integer("num_tokens", s.tokens,
      {"Tokens drafted per pass, vLLM's num_speculative_tokens (0: off).", "tokens", 0.0, 64.0});
  read_acceptance(r, s);
  read_acceptance_by_rank(r, s);
  s.topk = r.integer("eagle_topk", s.topk,
      {"Tree drafts (EAGLE-2; SGLang's speculative_eagle_topk): candidates each draft step after the first expands per "
       "sequence, the drafter's passes taking that many tokens each (1: a chain).", "", 1.0, 64.0});
  s.draft_tokens = r.integer("num_draft_tokens", s.draft_tokens,
      {"Tree drafts (SGLang's speculative_num_draft_tokens): tokens of each sequence the verification pass takes, the tree's "
       "best nodes and the model's own (0: the chain's num_tokens + 1). The acceptance rates are then those along the "
       "accepted path.", "tokens", 0.0, 4096.0});
  s.draft_layers = r.integer("draft_layers", s.draft_layers,
      {"The drafter: this many decoder layers of the model's own shape, with its output head (EAGLE, MTP heads).", "", 1.0, 1e4});
  s.draft_model = r.string("draft_model", s.draft_model,
      {"Or a catalog model that drafts on its own (a small model of the same family, vLLM's --speculative-model); its weights "
       "and KV cache share the GPUs.", "", {}, {}, false, {}});
}

void read_conditional_disagg(ObjectReader& parent, ServingConfig& c) {
  if (!parent.is_documenting() && !parent.has("conditional_disagg")) return;
  auto r = parent.object("conditional_disagg",
      "Disaggregation: prefill a request in the prefill pool only when it is long and that pool's queue is short, as NVIDIA "
      "Dynamo's disaggregated router decides (--conditional-disagg); otherwise the decode replica it lands on (the least "
      "busy) prefills it itself and no KV cache moves (docs/serving.md).");
  ServingConfig::ConditionalDisagg d;
  d.max_local_prefill_length = r.integer("max_local_prefill_length", d.max_local_prefill_length,
      {"Prompts of at most this many tokens, less what the decode replica's prefix cache holds, are prefilled by the decode "
       "replica (Dynamo's max-local-prefill-length).",
       "tokens", 0.0, 1e9});
  d.max_prefill_queue_size = r.integer("max_prefill_queue_size", d.max_prefill_queue_size,
      {"Longer prompts go to the prefill pool while fewer than this many requests wait for it, else they too are prefilled "
       "locally (Dynamo's max-prefill-queue-size).", "requests", 0.0, 1e9});
  if (!r.is_documenting()) c.conditional_disagg = d;
}

void read_expert_offload(ObjectReader& parent, ExpertOffloadConfig& o) {
  if (!parent.is_documenting() && !parent.has("expert_offload")) return;
  auto r = parent.object("expert_offload", "MoE experts kept partly in host memory: each layer's resident experts serve hits, the "
                                           "others are fetched over PCIe or run on the CPU (docs/serving.md).");
  o.enabled = !r.is_documenting();
  o.gpu_experts = r.required_integer("gpu_experts", {"Experts of each MoE layer resident in GPU memory (0: all in host memory, "
                                                     "llama.cpp's --cpu-moe).", "", 0.0, 1e6});
  o.policy = r.string("policy", o.policy,
      {"Which experts stay resident: lru (a fetched expert replaces the one reached longest ago, Mixtral-offloading), lfu "
       "(the one reached least often), static (the most popular pinned, as a placement from a routing profile).", "", {}, {},
       false, {"lru", "lfu", "static"}});
  o.miss = r.string("miss", o.miss,
      {"A missed expert's weights are copied to the GPU (fetch: Mixtral-offloading, MoE-Infinity) or its tokens run on the "
       "host's CPU (cpu: Fiddler, KTransformers, llama.cpp).", "", {}, {}, false, {"fetch", "cpu"}});
  o.prefetch = r.number("prefetch", o.prefetch,
      {"Share of a layer's misses loaded during the layer before (speculative loading; the prefetcher's wrong guesses are "
       "copied too).", "", 0.0, 1.0});
  o.popularity = r.number("popularity", o.popularity,
      {"Zipf exponent of the experts' popularity within a layer: the i-th most popular is picked in proportion to "
       "1 / i^popularity (0: all alike).", "", 0.0, 8.0});
  o.cpu_bandwidth = r.number("cpu_memory_gbps", 0, {"miss: cpu: the host memory bandwidth an expert's weights stream at "
                                                    "(required: it depends on the host).", "GB/s", 0.0, 1e5}) * 1e9;
  o.cpu_flops = r.number("cpu_tflops", 0, {"miss: cpu: the host's sustained matmul rate in the model's dtype (required).",
                                           "TFLOP/s", 0.0, 1e4}) * 1e12;
}

void check_expert_offload(ObjectReader& r, const ServingConfig& c, const ModelArch& model) {
  const ExpertOffloadConfig& o = c.expert_offload;
  if (!o.enabled) return;
  if (!model.is_moe()) return r.error("expert_offload", model.name + " is dense: only a mixture of experts offloads experts");
  if (o.gpu_experts >= model.experts) {
    r.error("expert_offload.gpu_experts", std::to_string(o.gpu_experts) + " keeps all of the model's " + std::to_string(model.experts) +
                                              " experts resident: nothing is offloaded");
  }
  if (o.miss == "cpu" && (o.cpu_bandwidth <= 0 || o.cpu_flops <= 0)) {
    r.error("expert_offload", "miss: cpu needs the host's cpu_memory_gbps and cpu_tflops");
  }
  if (o.miss == "cpu" && o.prefetch > 0) r.error("expert_offload.prefetch", "prefetching fetches experts; with miss: cpu nothing is fetched");
  if (o.miss == "cpu" && c.tp > 1) r.error("expert_offload.miss", "CPU experts beside tp > 1 are not modelled");
  if (c.expert_parallel && o.gpu_experts % c.tp != 0) {
    r.error("expert_offload.gpu_experts", std::to_string(o.gpu_experts) + " must split evenly over the tp = " + std::to_string(c.tp) +
                                              " GPUs that hold the experts (expert_parallel)");
  }
  if (c.pp > 1) r.error("expert_offload", "offloading experts with pipeline stages is not modelled");
  if (c.decode_pool) r.error("expert_offload", "offloading experts with a decode pool of another GPU type is not modelled");
  if (c.speculative.on()) r.error("expert_offload", "offloading experts with speculative decoding is not modelled");
  if (c.engine.scheduler_steps > 1) r.error("expert_offload", "offloading experts with multi-step scheduling is not modelled");
}

// Mixed adapter ranks and where adapters live (docs/serving.md, "Multi-LoRA").
void read_lora_ranks(ObjectReader& r, ServingConfig& c) {
  const nlohmann::json* ranks = r.raw("lora_ranks", "array of integers",
      "Mixed adapter ranks: adapter a has rank lora_ranks[a mod n] (S-LoRA's workloads draw from 8, 16, 32, 64). lora_rank "
      "then defaults to the largest, the rank the engines' slots are sized for (vLLM's and SGLang's max_lora_rank). Absent: "
      "every adapter lora_rank.");
  const std::string memory = r.string("lora_memory", "reserved",
      {"Where adapters live on the GPU: reserved (vLLM, SGLang: max_loras slots of lora_rank set aside out of the KV cache's "
       "memory, every adapter padded to lora_rank, its kernels run at lora_rank) or unified (S-LoRA's unified paging: "
       "adapters are loaded into the KV cache's blocks, each taking its own rank's bytes, as many as fit; when blocks run "
       "short, idle cached prefix blocks go first, then adapters no running request uses, least recently used first; "
       "its MBGMM kernels run each adapter at its own rank).", "", {}, {}, false, {"reserved", "unified"}});
  c.lora_unified = memory == "unified";
  c.lora_gather_decode = r.string("lora_kernel", "sgmv",
      {"How decodes run their adapters: sgmv (the grouped shrink and expand GEMMs prefills use, Punica's SGMV and vLLM's "
       "Triton LoRA kernels) or bgmv (Punica's BGMV, as S-LoRA decodes, and vLLM's V0 engine with Punica's kernels: a shrink and an expand kernel per "
       "adapted projection, Q, K, V and O, each token reading its adapter's whole matrix from memory).", "", {}, {}, false,
       {"sgmv", "bgmv"}}) == "bgmv";
  if (ranks == nullptr) return;
  const std::string where = r.child_path("lora_ranks");
  if (!ranks->is_array() || ranks->empty()) {
    r.diagnostics().error(where, "expected a non-empty array of adapter ranks, e.g. [8, 16, 32, 64]");
    return;
  }
  std::int64_t largest = 0;
  for (const nlohmann::json& n : *ranks) {
    if (!n.is_number_integer() || n.get<std::int64_t>() < 1 || n.get<std::int64_t>() > 4096) {
      r.diagnostics().error(where, "expected whole ranks from 1 to 4,096, got " + n.dump());
      c.lora_ranks.clear();
      return;
    }
    c.lora_ranks.push_back(n.get<std::int64_t>());
    largest = std::max(largest, c.lora_ranks.back());
  }
  if (c.lora_rank == 0) {
    c.lora_rank = largest;
  } else if (c.lora_rank < largest) {
    r.error("lora_rank", "is " + std::to_string(c.lora_rank) + ", below the largest of lora_ranks (" + std::to_string(largest) +
                             "): the engines size their adapter slots for lora_rank");
  }
}

void check_attention_dp(ObjectReader& r, const ServingConfig& c, const ModelArch& model) {
  if (!c.attention_dp) return;
  const auto refuse = [&](const std::string& what) { r.error("attention_dp", "data-parallel attention " + what); };
  if (!model.is_moe()) return refuse("needs a mixture of experts to spread over its GPUs; " + model.name + " is dense");
  if (c.tp < 2) return refuse("spreads a replica over its tp GPUs: set tp above 1");
  if (model.experts % c.tp != 0) refuse("needs tp = " + std::to_string(c.tp) + " to divide the model's " + std::to_string(model.experts) + " experts");
  if (c.pp > 1 || c.cp > 1) refuse("with pipeline stages or context parallelism is not modelled");
  if (c.lora_rank > 0 || c.speculative.on() || c.decode_pool || c.expert_offload.enabled) {
    refuse("with LoRA adapters, speculative decoding, a decode pool or offloaded experts is not modelled");
  }
}

void check_speculative(ObjectReader& r, const ServingConfig& c) {
  const SpeculativeConfig& s = c.speculative;
  if (!s.on()) return;
  if (s.grows_tree() && s.acceptance >= 0) {
    r.error("speculative.acceptance_by_rank", "is given beside speculative.acceptance: give one (by rank, the tree is grown from it)");
  } else if (s.acceptance < 0 && !s.grows_tree()) {
    r.error("speculative.acceptance", "is required with speculative.num_tokens: the probability a drafted token is accepted "
                                      "(or acceptance_by_rank, for a tree grown as EAGLE-2 grows it)");
  }
  if (s.draft_tokens > 0 && (s.draft_tokens < s.tokens + 1 || s.draft_tokens > s.most_draft_tokens())) {
    r.error("speculative.num_draft_tokens", "must be from num_tokens + 1 = " + std::to_string(s.tokens + 1) + " (a chain) to " +
                                                std::to_string(s.most_draft_tokens()) + ", what " + std::to_string(s.tokens) +
                                                " steps of eagle_topk = " + std::to_string(s.topk) + " candidates offer");
  }
  const auto positions = static_cast<std::int64_t>(s.acceptance_by_position.size());
  if (positions > 0 && positions != s.tokens) {
    r.error("speculative.acceptance", "gives " + std::to_string(positions) + " per-position rates for num_tokens = " + std::to_string(s.tokens) +
                                          ": give one per drafted token, or one number for all");
  }
  const ModelArch* draft = s.draft_model.empty() ? nullptr : find_builtin_model(s.draft_model);
  if (!s.draft_model.empty() && draft == nullptr) {
    r.error("speculative.draft_model", "unknown model \"" + s.draft_model + "\"; see `foresight list models`");
  } else if (draft != nullptr && draft->heads % c.tp != 0) {
    r.error("speculative.draft_model", s.draft_model + "'s " + std::to_string(draft->heads) + " attention heads do not split over tp = " +
                                           std::to_string(c.tp));
  }
  if (c.engine.scheduler_steps > 1) r.error("speculative", "speculative decoding does not combine with num_scheduler_steps > 1 (nor does vLLM's)");
  if (c.pp > 1) r.error("speculative", "speculative decoding with pipeline stages is not modelled (pp = " + std::to_string(c.pp) + ")");
  if (c.scheduler == "static") r.error("speculative", "the static scheduler does not speculate");
}

// Each launch of a disaggregated deployment takes its engine's defaults for its own GPU (vLLM
// V1 and SGLang size their limits by the GPU), unless the scenario changes the limits from
// the prefill GPU's defaults (`prefill`), which it then gives both pools, or gives the decode
// pool its own.
void take_engine_limits_for_decode_gpu(const ServingConfig& prefill, std::int64_t max_model_len, ServingConfig& c) {
  if (!c.decode_pool) return;
  const ServingConfig decode = engine_defaults(c.engine.name, c.decode_pool->gpu, max_model_len);
  if (c.decode_pool->max_num_seqs == 0 && c.max_num_seqs == prefill.max_num_seqs) c.decode_pool->max_num_seqs = decode.max_num_seqs;
  if (c.decode_pool->max_batched_tokens == 0 && c.max_batched_tokens == prefill.max_batched_tokens) {
    c.decode_pool->max_batched_tokens = decode.max_batched_tokens;
  }
}
}  // namespace

ServingConfig read_serving(ObjectReader& parent, const ModelArch& model, const GpuSpec& gpu, int gpus, int gpus_per_node,
                           const std::string& scenario_dir) {
  auto r = parent.object("serving", "LLM serving: replicas, batching scheduler, KV cache, router, traffic and SLOs (docs/serving.md).");
  const std::string engine = r.string("engine", "vllm_v1",
      {"The serving engine whose defaults apply (docs/serving.md, \"Engines\"): vllm_v1, vllm_v0 (0.5-0.6), sglang, "
       "trtllm, or generic (kernels and a fixed CPU time only). Every other key overrides a default.", "", {}, {}, false,
       serving_engine_names()});
  const std::int64_t max_model_len = r.integer("max_model_len", model.max_positions,
      {"Longest sequence (prompt and output) the engine serves; vLLM V0 sizes its token budget by it (default: the model's "
       "positions).", "tokens", 1.0, 1e8});
  const ServingConfig defaults = engine_defaults(engine, gpu, max_model_len);
  ServingConfig c = defaults;
  c.max_model_len = max_model_len;
  c.replicas = r.integer("replicas", c.replicas, {"Model replicas, each on tp x pp x cp GPUs.", "", 1.0, 1e5});
  c.tp = r.integer("tp", c.tp, {"Tensor-parallel degree of a replica (inside one node).", "", 1.0, 64.0});
  c.pp = r.integer("pp", c.pp, {"Pipeline stages of a replica (vLLM's pipeline parallelism): the layers split evenly over pp "
                                "groups of tp GPUs, and pp batches in flight (virtual engines), each with 1/pp of the KV cache.",
                                "", 1.0, 1024.0});
  c.cp = r.integer("cp", c.cp, {"Context parallelism of a replica, for long contexts: cp groups of tp GPUs (per pipeline "
                                "stage). Each sequence's KV cache is split evenly over the groups by tokens (vLLM's prefill "
                                "context parallelism, Medha's KV-cache parallelism), so a replica holds cp times the cache; a "
                                "prefill chunk's tokens are split over them too, its attention passing keys and values (or "
                                "the chunk's queries) around the groups beside the compute (ring attention); a decode step "
                                "runs the projections and MLP on every group, and the groups gather their partial attention "
                                "outputs once per layer. Weights are replicated on every group.",
                                "", 1.0, 1024.0});
  c.expert_parallel = r.boolean("expert_parallel", c.expert_parallel,
      "MoE models: each TP rank holds whole experts (experts / tp of them) and tokens reach them by all-to-all, instead "
      "of a TP slice of every expert (vLLM's enable_expert_parallel).");
  c.dtype = read_dtype(r, "dtype", "Weights and GEMMs (fp8: the layers' weights and GEMMs in fp8, as FP8 checkpoints run; the embedding and output head stay 16-bit).", {"bf16", "fp16", "fp8"});
  const std::string kv = r.string("kv_dtype", "bf16",
      {"KV-cache elements: bf16, fp16, fp8, or integers (int8: TensorRT-LLM's INT8 KV cache; int4: KIVI-style) with an fp16 "
       "scale and zero point per 64 elements, dequantized inside attention (taken as hidden under its reads).", "", {}, {}, false,
       {"bf16", "fp16", "fp8", "int8", "int4"}});
  c.kv_int_bits = kv == "int8" ? 8 : kv == "int4" ? 4 : 0;
  c.kv_dtype = c.kv_int_bits > 0 ? Dtype::kFp16 : parse_dtype(kv).value_or(Dtype::kBf16);
  const std::string weights = r.string("weight_dtype", "auto",
      {"Weight-only quantization of the projections: int8 (W8A16) or int4 (W4A16, AWQ/GPTQ on Marlin-class kernels), with "
       "an fp16 scale per 128 weights; the math, embedding and output head stay 16-bit (auto: the weights are dtype).", "", {}, {},
       false, {"auto", "int8", "int4"}});
  c.weight_bits = weights == "int8" ? 8 : weights == "int4" ? 4 : 16;
  const ServingPolicyRegistry& policies = builtin_serving_policies();
  c.scheduler = r.string("scheduler", c.scheduler,
      {"Batching: " + policies.schedulers.described() + ".", "", {}, {}, false, policies.schedulers.names()});
  c.router = r.string("router", c.router,
      {"How requests are spread over replicas: " + policies.routers.described() + ".", "", {}, {}, false, policies.routers.names()});
  c.prefix_caching = r.boolean("prefix_caching", c.prefix_caching,
      "Keep the KV blocks of shared prompt prefixes after their requests end and reuse them instead of prefilling again; "
      "evicted in eviction_policy's order when blocks run short (vLLM's automatic prefix caching).");
  c.eviction_policy = r.string("eviction_policy", c.eviction_policy,
      {"With prefix_caching, which cached blocks no request uses go first when room is needed (SGLang's "
       "radix_eviction_policy): " + policies.evictions.described() + ".", "", {}, {}, false, policies.evictions.names()});
  c.lora_rank = r.integer("lora_rank", c.lora_rank,
      {"Multi-LoRA serving: the rank of every adapter, on the Q, K, V and output projections (0: no adapters, requests' "
       "adapters are ignored).", "", 0.0, 4096.0});
  c.max_loras = r.integer("max_loras", c.max_loras,
      {"Adapters resident on a replica's GPUs at once; others are loaded from host memory over PCIe when a request needs "
       "them, replacing the least recently used adapter no running request uses (not with lora_memory unified).", "", 1.0, 1e5});
  read_lora_ranks(r, c);
  c.prefill_replicas = r.integer("prefill_replicas", c.prefill_replicas,
      {"Disaggregated serving (Splitwise, DistServe): this many of the replicas only prefill, the rest only decode, and "
       "each prompt's KV cache is sent from one to the other (NVLink inside a node, the NICs between nodes); both pools "
       "batch with the scheduler (vllm, or sarathi: chunked prefill in the prefill pool). 0: every replica does both.", "", 0.0, 1e5});
  if (r.is_documenting() || r.has("decode_pool")) {
    auto d = r.object("decode_pool", "Disaggregation over two GPU types or shapes (Splitwise, DistServe): the decode replicas' own GPU "
                                     "and TP, on machines beside the cluster, which holds the prefill replicas (KV caches cross over the "
                                     "NICs), or with same_machines on the cluster's own.");
    ServingConfig::DecodePool pool;
    if (!d.is_documenting() && !d.has("gpu")) d.error("gpu", "is required: the decode machines' GPU");
    // As hardware.gpu: a catalog name, or an object (`base` and figures to change, or a new GPU).
    pool.gpu = read_gpu(d, "gpu");
    pool.tp = d.integer("tp", c.tp, {"Tensor-parallel degree of each decode replica (default: the prefill replicas').", "", 1.0, 1024.0});
    pool.pp = d.integer("pp", c.pp, {"Pipeline stages of each decode replica, each of tp GPUs, with pp batches in flight (default: "
                                     "the prefill replicas'; DistServe picks each phase's own).", "", 1.0, 1024.0});
    pool.cp = d.integer("cp", c.cp, {"Context-parallel groups of each decode replica, each sequence's KV cache split over them "
                                     "(KV-cache parallelism for long contexts' decodes; default: the prefill replicas').", "", 1.0, 1024.0});
    pool.max_num_seqs = d.integer("max_num_seqs", 0,
        {"Sequences a decode replica runs at once (default 0: the prefill replicas' max_num_seqs if the scenario sets it, "
         "else the engine's default for the decode GPU).", "", 0.0, 1e6});
    pool.max_batched_tokens = d.integer("max_batched_tokens", 0,
        {"Tokens a decode replica's iteration takes at most, which also sizes its profiling pass (default 0: the prefill "
         "replicas' if the scenario sets them, else the engine's default for the decode GPU).", "", 0.0, 1e7});
    read_decode_pool_engine(d, pool);
    pool.same_machines = d.boolean("same_machines", false,
        "Place the decode replicas on the cluster's own machines, after the prefill replicas and filling each machine's GPUs "
        "in turn (one host's launch of both pools, DistServe's intra-node placement): a KV cache crosses NVLink when both "
        "replicas sit wholly in one machine, the NICs otherwise. Needs the cluster's GPU and room on the cluster for both "
        "pools. false: machines of their own, every cache over the NICs.");
    if (!d.is_documenting()) c.decode_pool = pool;
  }
  read_conditional_disagg(r, c);
  c.mixed_pool_kv_load = r.optional_number("mixed_pool_kv_load",
        {"Disaggregation, Splitwise's mixed pool: a prefill replica keeps decoding a request it prefilled, as a mixed machine, "
         "while every decode replica's KV cache is at least this full (blocks in use or claimed by waiting requests, over its "
         "blocks; 0: always). Absent: every prefilled request goes to the decode pool.", "", 0.0, 1.0, false});
  c.kv_transfer = r.string("kv_transfer", c.kv_transfer,
      {"Disaggregation: when a prompt's KV cache leaves for its decode replica: after_prefill (once the prefill iteration "
       "ends, DistServe) or layerwise (each layer's as the prefill produces it, Splitwise: only the last layer's share, or "
       "what the link could not keep up with, comes after). Either way a replica's ranks send one cache at a time and "
       "receive one at a time.", "", {}, {}, false, {"after_prefill", "layerwise"}});
  c.max_num_seqs = r.integer("max_num_seqs", c.max_num_seqs, {"Most sequences in a batch (static: the batch size).", "", 1.0, 1e5});
  c.max_batched_tokens = r.integer("max_batched_tokens", c.max_batched_tokens, {"Most tokens in one iteration.", "tokens", 1.0, 1e7});
  c.chunk_size = r.integer("chunk_size", c.chunk_size, {"sarathi: the iteration's token budget, decodes included.", "tokens", 1.0, 1e7});
  c.block_size = r.integer("block_size", c.block_size, {"Tokens per paged KV-cache block.", "tokens", 1.0, 4096.0});
  c.gpu_memory_utilization = r.number("gpu_memory_utilization", c.gpu_memory_utilization,
      {"Share of GPU memory for weights, activations and the KV cache (vLLM's gpu_memory_utilization).", "", 0.0, 1.0, true});
  c.max_total_tokens = r.integer("max_total_tokens", c.max_total_tokens,
      {"The KV cache's size per replica, in tokens, instead of what gpu_memory_utilization leaves: SGLang's "
       "--max-total-tokens, LightLLM's and S-LoRA's --max_total_token_num, vLLM's num_gpu_blocks_override times block_size "
       "(rounded down to whole blocks). It must fit in the GPU's memory beside the weights, the activations' peak and "
       "reserved adapters. 0: what gpu_memory_utilization leaves.", "tokens", 0.0, 1e10});
  c.preemption = r.string("preemption", c.preemption,
      {"When blocks run out: " + policies.preemptions.described() + ".", "", {}, {}, false, policies.preemptions.names()});
  c.swap_space_bytes = r.number("swap_space_gb", c.swap_space_bytes / 1e9, {"Host memory per GPU for swapped KV blocks.", "GB", 0.0}) * 1e9;
  c.host_bandwidth = r.number("host_bandwidth_gbps", c.host_bandwidth / 1e9,
      {"Device-host copy bandwidth per GPU, for swapped and offloaded KV blocks, adapters and offloaded experts (0: the "
       "GPU's host copy rate, hardware.gpu.host_copy_gbps: 52 GB/s on PCIe Gen5 x16, as Azure's ND H200 v5 measured).", "GB/s", 0.0, 1e5}) * 1e9;
  c.kv_offload_bytes = r.number("kv_offload_gb", c.kv_offload_bytes / 1e9,
      {"Host memory per GPU that keeps prefix-cache blocks evicted from the GPU, least recently used out first; a prompt "
       "whose next blocks are there copies them back over PCIe instead of prefilling them (vLLM's kv_offloading_size over "
       "its TP ranks, SGLang's hierarchical cache, TensorRT-LLM's host_cache_size). 0: none. Needs prefix_caching.", "GB", 0.0, 1e6}) * 1e9;
  if (c.kv_offload_bytes > 0 && !c.prefix_caching) r.error("kv_offload_gb", "offloads prefix-cache blocks: turn prefix_caching on, or leave it 0");
  c.kv_disk_bytes = r.number("kv_disk_gb", c.kv_disk_bytes / 1e9,
      {"Local disk per GPU that keeps the prefix-cache blocks host memory drops, least recently used out first; a prompt whose "
       "next blocks after those on the GPU and in host memory are there reads them at disk_read_gbps and copies them to the "
       "GPU (LMCache's local disk, SGLang's HiCache storage tier). 0: none. Needs kv_offload_gb.", "GB", 0.0, 1e7}) * 1e9;
  c.disk_bandwidth = r.number("disk_read_gbps", c.disk_bandwidth / 1e9,
      {"Read bandwidth of that disk per GPU: a host's NVMe drives' sequential read over the GPUs that share them (no default: "
       "required with kv_disk_gb).", "GB/s", 0.0, 1e5}) * 1e9;
  if (const auto write = r.optional_number("disk_write_gbps",
          {"Write bandwidth of that disk per GPU: each block host memory drops is written once, one transfer after another "
           "on the disk the reads use, and a read waits for the writes queued before it (default: disk_read_gbps, a drive "
           "that writes as fast as it reads; data-center NVMe drives write sequentially at about half to all of their read "
           "rate, so set it from the drive's datasheet). 0: writes cost nothing.", "GB/s", 0.0, 1e5})) {
    c.disk_write_bandwidth = *write * 1e9;
  }
  if (c.kv_disk_bytes > 0 && c.kv_offload_bytes <= 0) r.error("kv_disk_gb", "holds what host memory drops: set kv_offload_gb too, or leave it 0");
  if (c.kv_disk_bytes > 0 && c.disk_bandwidth <= 0) r.error("disk_read_gbps", "a disk tier (kv_disk_gb) needs its read bandwidth per GPU");
  c.disk_prefetch = r.boolean("disk_prefetch", c.disk_prefetch,
      "With kv_disk_gb: a prompt's prefix blocks found on disk are read into host memory as soon as it joins the waiting "
      "queue, one read after another on the replica's disk, so that a prompt that waits long enough is admitted with a copy "
      "from host memory only; admitted before its read ends, the admitting iteration waits for the rest (LMCache's and "
      "SGLang HiCache's prefetch). false: read when admitted.");
  if (c.disk_prefetch && c.kv_disk_bytes <= 0) r.error("disk_prefetch", "reads ahead from the disk tier: set kv_disk_gb too");
  read_engine_knobs(r, c);
  take_engine_limits_for_decode_gpu(defaults, max_model_len, c);
  read_host(r, c.host);
  read_speculative(r, c.speculative);
  read_expert_offload(r, c.expert_offload);
  c.expert_load = r.number("expert_load", c.expert_load,
      {"With experts spread over the GPUs (expert_parallel or attention_dp): the tokens the busiest GPU's experts receive "
       "over the mean (1: routing balanced over the GPUs); its expert GEMMs and the all-to-alls scale by it, and every GPU "
       "waits for it. Imbalance depends on the model, the data and any expert placement (EPLB), so there is no measured "
       "default.", "", 1.0, 64.0});
  for (const char* key : {"attention_dp", "enable_dp_attention", "enable_attention_dp"}) {
    c.attention_dp = r.boolean(key, c.attention_dp,
        "Data-parallel attention with expert-parallel MoE layers (attention_dp; SGLang's enable_dp_attention, TensorRT-LLM's "
        "enable_attention_dp): each of the replica's tp GPUs runs attention with every head on sequences of its own and "
        "holds their whole KV cache, the experts are spread over the GPUs and reached by all-to-all; max_num_seqs, the "
        "token budget and cuda_graph_max_bs are each GPU's.");
  }
  c.series_interval_seconds = r.number("series_interval_s", c.series_interval_seconds,
      {"Sample each replica's running and waiting requests and KV-cache use at most this often (0: no time series).", "s", 0.0});
  c.ttft_slo_seconds = r.number("ttft_slo_ms", 0, {"Time-to-first-token SLO for goodput; 0: none.", "ms", 0.0}) / 1e3;
  c.tpot_slo_seconds = r.number("tpot_slo_ms", 0, {"Mean time-per-output-token SLO for goodput; 0: none.", "ms", 0.0}) / 1e3;
  c.traffic = read_traffic(r, scenario_dir);
  if (r.is_documenting()) return c;
  auto& diag = r.diagnostics();
  // A decode pool on machines of its own leaves the cluster the prefill replicas.
  const bool pool_apart = c.decode_pool && !c.decode_pool->same_machines;
  std::int64_t on_cluster = (pool_apart ? c.prefill_replicas : c.replicas) * c.gpus_per_replica();
  if (c.decode_pool && !pool_apart) {  // the last GPU either pool's replicas take, as they fill the machines
    on_cluster = 0;
    const std::vector<std::int64_t> first = replica_first_gpus(c, std::max(gpus_per_node, 1));
    for (std::int64_t replica = 0; replica < c.replicas; ++replica) {
      const std::int64_t taken = replica < c.prefill_replicas ? c.gpus_per_replica() : c.decode_pool->gpus();
      on_cluster = std::max(on_cluster, first[static_cast<std::size_t>(replica)] + taken);
    }
  }
  if (on_cluster > gpus) {
    diag.error(r.path(), std::string(pool_apart ? "prefill_replicas x tp x pp x cp = " : c.decode_pool ? "the prefill and decode pools' " : "replicas x tp x pp x cp = ") +
                             std::to_string(on_cluster) + " GPUs, more than the cluster's " + std::to_string(gpus));
  }
  if (c.decode_pool && c.decode_pool->same_machines && c.decode_pool->gpu.name != gpu.name) {
    r.error("decode_pool.same_machines", "puts the decode replicas on the cluster's " + gpu.name + " machines, but their gpu is " +
                               c.decode_pool->gpu.name + ": one GPU type per machine");
  }
  if (c.decode_pool && c.prefill_replicas == 0) r.error("decode_pool", "a decode pool needs prefill_replicas > 0 (disaggregated pools)");
  if (c.mixed_pool_kv_load && c.prefill_replicas == 0) {
    r.error("mixed_pool_kv_load", "needs prefill_replicas > 0: it lets prefill replicas keep decodes the decode pool has no room for");
  }
  if (c.conditional_disagg && c.prefill_replicas == 0) {
    r.error("conditional_disagg", "needs prefill_replicas > 0: it decides between the prefill pool and the decode replica");
  }
  // The decode machines are nodes of the cluster's size: a replica's TP group sits in one.
  if (c.decode_pool && gpus_per_node % c.decode_pool->tp != 0) {
    r.error("decode_pool", "tp = " + std::to_string(c.decode_pool->tp) + " must divide the " + std::to_string(gpus_per_node) +
                               " GPUs of a node");
  }
  if (c.decode_pool && c.decode_pool->pp > model.layers) {
    r.error("decode_pool", "pp = " + std::to_string(c.decode_pool->pp) + " stages exceed the model's " + std::to_string(model.layers) + " layers");
  }
  if (c.decode_pool && model.heads % c.decode_pool->tp != 0) {
    r.error("decode_pool", "tp = " + std::to_string(c.decode_pool->tp) + " must divide the model's " + std::to_string(model.heads) + " attention heads");
  }
  if (c.expert_parallel && (!model.is_moe() || model.experts % c.tp != 0)) {
    r.error("expert_parallel", model.is_moe() ? "tp = " + std::to_string(c.tp) + " must divide the model's " +
                                                    std::to_string(model.experts) + " experts"
                                              : "expert parallelism needs a mixture-of-experts model; " + model.name + " is dense");
  }
  if (c.pp > model.layers) {
    r.error("pp", "pp = " + std::to_string(c.pp) + " stages exceed the model's " + std::to_string(model.layers) + " layers");
  }
  if (c.prefill_replicas > 0 && c.prefill_replicas >= c.replicas) {
    r.error("prefill_replicas", "prefill_replicas = " + std::to_string(c.prefill_replicas) + " must leave at least one of the " +
                                    std::to_string(c.replicas) + " replicas to decode");
  }
  if (c.prefill_replicas > 0 && c.scheduler == "static") {
    r.error("scheduler", "disaggregated pools batch continuously (vllm or sarathi); static batching applies to co-located replicas only");
  }
  if (c.max_total_tokens > 0 && c.decode_pool) {
    r.error("max_total_tokens", "sizes the KV cache of replicas of one GPU type; with a decode_pool of another, leave it 0");
  }
  check_speculative(r, c);
  check_expert_offload(r, c, model);
  check_attention_dp(r, c, model);
  if (c.lora_unified && c.lora_rank > 0 && c.engine.guaranteed_no_evict) {
    r.error("lora_memory", "unified paging with guaranteed_no_evict admission (TensorRT-LLM's) is not modelled");
  }
  if (c.expert_load > 1 && !c.expert_parallel && !c.attention_dp) {
    r.error("expert_load", "imbalance between GPUs needs experts spread over them: set expert_parallel or attention_dp (a TP slice of "
                           "every expert gives each GPU the same share of every expert's tokens)");
  }
  if (c.attention_dp) {
    // The engines' limits are each attention rank's; the replica batches for all of them.
    c.expert_parallel = true;
    c.max_num_seqs *= c.tp;
    c.max_batched_tokens *= c.tp;
    c.chunk_size *= c.tp;
    c.engine.graph_max_tokens *= c.tp;
  }
  if (c.weight_bits < 16 && c.dtype == Dtype::kFp8) r.error("weight_dtype", "weight-only quantization runs 16-bit math; dtype is fp8");
  if (gpus_per_node % c.tp != 0) r.error("tp", "tp = " + std::to_string(c.tp) + " must divide the " + std::to_string(gpus_per_node) + " GPUs of a node");
  if (model.heads % c.tp != 0) r.error("tp", "tp = " + std::to_string(c.tp) + " must divide the model's " + std::to_string(model.heads) + " attention heads");
  if (model.is_encoder_decoder()) diag.error("model", "serving encoder-decoder models is not supported");
  if (model.latent_attention() && c.lora_rank > 0) r.error("lora_rank", "adapters on latent attention's projections are not modelled");
  if (c.traffic.prompt.max + c.traffic.output.max > c.max_model_len && c.max_model_len > 0 && c.traffic.trace.empty()) {
    r.error("traffic", "prompt + output up to " + std::to_string(c.traffic.prompt.max + c.traffic.output.max) +
                           " tokens exceeds max_model_len (" + std::to_string(c.max_model_len) + ")");
  }
  return c;
}

}  // namespace foresight
