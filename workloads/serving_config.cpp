#include "workloads/serving_config.hpp"

#include <filesystem>

#include "models/model_arch.hpp"
#include "sim/object_reader.hpp"

namespace foresight {

std::vector<std::string> serving_scheduler_names() { return {"static", "vllm", "sarathi"}; }
std::vector<std::string> serving_router_names() { return {"round_robin", "least_outstanding", "kv_aware", "prefix_aware"}; }

namespace {
LengthDistribution read_lengths(ObjectReader& parent, const char* key, std::int64_t fallback, std::string_view doc) {
  auto r = parent.object(key, doc);
  const std::string kind = r.string("distribution", "fixed", {"fixed (tokens) or uniform (min to max).", "", {}, {}, false, {"fixed", "uniform"}});
  const std::int64_t tokens = r.integer("tokens", fallback, {"Tokens, when fixed.", "tokens", 1.0, 1e7});
  if (kind == "fixed") return {tokens, tokens};
  LengthDistribution d;
  d.min = r.integer("min", 1, {"Fewest tokens, when uniform.", "tokens", 1.0, 1e7});
  d.max = r.integer("max", tokens, {"Most tokens, when uniform.", "tokens", 1.0, 1e7});
  if (d.max < d.min) r.error("max", "max " + std::to_string(d.max) + " must be at least min " + std::to_string(d.min));
  return d;
}

TrafficConfig read_traffic(ObjectReader& parent, const std::string& scenario_dir) {
  auto r = parent.object("traffic", "The requests: synthetic arrivals and lengths, or a trace.");
  TrafficConfig t;
  const std::string arrival = r.string("arrival", "poisson",
      {"Inter-arrival times: poisson (exponential), gamma (bursty, with cv), constant.", "", {}, {}, false, {"poisson", "gamma", "constant"}});
  t.arrival = arrival == "gamma" ? ArrivalProcess::kGamma : arrival == "constant" ? ArrivalProcess::kConstant : ArrivalProcess::kPoisson;
  t.rate = r.number("rate", t.rate, {"Mean arrival rate.", "requests/s", {}, {}, true});
  t.cv = r.number("cv", t.cv, {"Gamma arrivals: coefficient of variation of the inter-arrival time (1 is Poisson).", "", {}, {}, true});
  t.requests = r.integer("requests", t.requests, {"Requests to simulate (with a trace: at most this many of its rows; 0 for all).", "", 0.0, 1e8});
  t.prompt = read_lengths(r, "prompt", 512, "Prompt lengths.");
  t.output = read_lengths(r, "output", 128, "Output lengths (tokens generated, the first included).");
  t.trace = r.string("trace", "", {"Requests to replay (relative to the scenario file), replacing arrivals and lengths: a CSV with "
                                   "columns arrived_at (s), num_prefill_tokens, num_decode_tokens (the Splitwise/Vidur traces of "
                                   "shared/data/serving) and optionally prefix_id, prefix_tokens, adapter_id; or, for a .jsonl file, "
                                   "one object per line with those keys."});
  t.lengths_from = r.string("lengths_from", "", {"CSV of requests (the trace format) whose prompt and output lengths, drawn "
                                                  "uniformly by row, the synthetic arrivals get instead of prompt and output."});
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
  t.trace_speedup = r.number("trace_speedup", t.trace_speedup, {"Replay the trace this many times faster (arrival times divided by it).", "", {}, {}, true});
  return t;
}

Dtype read_dtype(ObjectReader& r, const char* key, std::string_view doc, std::vector<std::string> allowed) {
  const std::string name = r.string(key, "bf16", {doc, "", {}, {}, false, std::move(allowed)});
  return parse_dtype(name).value_or(Dtype::kBf16);
}
}  // namespace

ServingConfig read_serving(ObjectReader& parent, const ModelArch& model, int gpus, int gpus_per_node,
                           const std::string& scenario_dir) {
  auto r = parent.object("serving", "LLM serving: replicas, batching scheduler, KV cache, router, traffic and SLOs (docs/serving.md).");
  ServingConfig c;
  c.replicas = r.integer("replicas", c.replicas, {"Model replicas, each on tp GPUs.", "", 1.0, 1e5});
  c.tp = r.integer("tp", c.tp, {"Tensor-parallel degree of a replica (inside one node).", "", 1.0, 64.0});
  c.pp = r.integer("pp", c.pp, {"Pipeline stages of a replica (vLLM's pipeline parallelism): the layers split evenly over pp "
                                "groups of tp GPUs, and pp batches in flight (virtual engines), each with 1/pp of the KV cache.",
                                "", 1.0, 1024.0});
  c.expert_parallel = r.boolean("expert_parallel", c.expert_parallel,
      "MoE models: each TP rank holds whole experts (experts / tp of them) and tokens reach them by all-to-all, instead "
      "of a TP slice of every expert (vLLM's enable_expert_parallel).");
  c.dtype = read_dtype(r, "dtype", "Weights and GEMMs (fp8: GEMMs in fp8).", {"bf16", "fp16", "fp8"});
  c.kv_dtype = read_dtype(r, "kv_dtype", "KV-cache elements.", {"bf16", "fp16", "fp8"});
  c.scheduler = r.string("scheduler", c.scheduler,
      {"Batching: static (a batch runs to its end, FasterTransformer), vllm (continuous batching, prefills first), "
       "sarathi (chunked prefill under a token budget, decodes first).", "", {}, {}, false, serving_scheduler_names()});
  c.router = r.string("router", c.router,
      {"How requests are spread over replicas: round_robin, least_outstanding (fewest waiting and running), kv_aware (the "
       "smallest share of KV cache in use or claimed by waiting prompts), prefix_aware (a prefix group's requests to one "
       "replica while it is not much busier than the least busy).", "", {}, {}, false,
       serving_router_names()});
  c.prefix_caching = r.boolean("prefix_caching", c.prefix_caching,
      "Keep the KV blocks of shared prompt prefixes after their requests end and reuse them instead of prefilling again; "
      "evicted least recently used when blocks run short (vLLM's automatic prefix caching).");
  c.lora_rank = r.integer("lora_rank", c.lora_rank,
      {"Multi-LoRA serving: the rank of every adapter, on the Q, K, V and output projections (0: no adapters, requests' "
       "adapters are ignored).", "", 0.0, 4096.0});
  c.max_loras = r.integer("max_loras", c.max_loras,
      {"Adapters resident on a replica's GPUs at once; others are loaded from host memory over PCIe when a request needs "
       "them, replacing the least recently used adapter no running request uses.", "", 1.0, 1e5});
  c.prefill_replicas = r.integer("prefill_replicas", c.prefill_replicas,
      {"Disaggregated serving (Splitwise, DistServe): this many of the replicas only prefill, the rest only decode, and "
       "each prompt's KV cache is sent from one to the other (NVLink inside a node, the NICs between nodes); both pools "
       "batch as vllm does. 0: every replica does both.", "", 0.0, 1e5});
  c.max_num_seqs = r.integer("max_num_seqs", c.max_num_seqs, {"Most sequences in a batch (static: the batch size).", "", 1.0, 1e5});
  c.max_batched_tokens = r.integer("max_batched_tokens", c.max_batched_tokens, {"Most tokens in one iteration.", "tokens", 1.0, 1e7});
  c.chunk_size = r.integer("chunk_size", c.chunk_size, {"sarathi: the iteration's token budget, decodes included.", "tokens", 1.0, 1e7});
  c.block_size = r.integer("block_size", c.block_size, {"Tokens per paged KV-cache block.", "tokens", 1.0, 4096.0});
  c.gpu_memory_utilization = r.number("gpu_memory_utilization", c.gpu_memory_utilization,
      {"Share of GPU memory for weights, activations and the KV cache (vLLM's gpu_memory_utilization).", "", 0.0, 1.0, true});
  c.preemption = r.string("preemption", c.preemption,
      {"When blocks run out: recompute (free the latest sequence's blocks and prefill it again later) or swap (copy them to "
       "host memory over PCIe and back; recompute when swap_space is full).", "", {}, {}, false, {"recompute", "swap"}});
  c.swap_space_bytes = r.number("swap_space_gb", c.swap_space_bytes / 1e9, {"Host memory per GPU for swapped KV blocks.", "GB", 0.0}) * 1e9;
  c.host_bandwidth = r.number("host_bandwidth_gbps", c.host_bandwidth / 1e9,
      {"Device-host copy bandwidth per GPU (PCIe), for swapping.", "GB/s", {}, {}, true}) * 1e9;
  c.cpu_overhead_seconds = r.number("cpu_overhead_ms", c.cpu_overhead_seconds * 1e3,
      {"CPU time per iteration (scheduling, input preparation) before the GPU work.", "ms", 0.0}) / 1e3;
  c.series_interval_seconds = r.number("series_interval_s", c.series_interval_seconds,
      {"Sample each replica's running and waiting requests and KV-cache use at most this often (0: no time series).", "s", 0.0});
  c.ttft_slo_seconds = r.number("ttft_slo_ms", 0, {"Time-to-first-token SLO for goodput; 0: none.", "ms", 0.0}) / 1e3;
  c.tpot_slo_seconds = r.number("tpot_slo_ms", 0, {"Mean time-per-output-token SLO for goodput; 0: none.", "ms", 0.0}) / 1e3;
  c.traffic = read_traffic(r, scenario_dir);
  if (r.is_documenting()) return c;
  auto& diag = r.diagnostics();
  if (c.replicas * c.gpus_per_replica() > gpus) {
    diag.error(r.path(), "replicas x tp x pp = " + std::to_string(c.replicas * c.gpus_per_replica()) + " GPUs, more than the cluster's " +
                             std::to_string(gpus));
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
  if (c.prefill_replicas > 0 && c.scheduler != "vllm") {
    r.error("scheduler", "disaggregated pools batch as vllm does; scheduler " + c.scheduler + " applies to co-located replicas only");
  }
  if (gpus_per_node % c.tp != 0) r.error("tp", "tp = " + std::to_string(c.tp) + " must divide the " + std::to_string(gpus_per_node) + " GPUs of a node");
  if (model.heads % c.tp != 0) r.error("tp", "tp = " + std::to_string(c.tp) + " must divide the model's " + std::to_string(model.heads) + " attention heads");
  if (model.is_encoder_decoder()) diag.error("model", "serving encoder-decoder models is not supported");
  if (c.traffic.prompt.max + c.traffic.output.max > model.max_positions && model.max_positions > 0 && c.traffic.trace.empty()) {
    r.error("traffic", "prompt + output up to " + std::to_string(c.traffic.prompt.max + c.traffic.output.max) +
                           " tokens exceeds the model's " + std::to_string(model.max_positions) + " positions");
  }
  return c;
}

}  // namespace foresight
