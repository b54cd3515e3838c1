#include "sim/runner/serving_results.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "sim/runner/error_bands.hpp"
#include "sim/runner/import_support.hpp"
#include "sim/runner/results.hpp"

namespace foresight {
namespace {
nlohmann::json percentiles_json(const Percentiles& p) {
  return {{"mean", p.mean}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}};
}

// Compact rows: [time s, replica, running, waiting, KV share in use].
nlohmann::json series_json(const ServingConfig& c, const ServingResult& r) {
  nlohmann::json rows = nlohmann::json::array();
  for (const SeriesSample& s : r.series) rows.push_back({s.time, s.replica, s.running, s.waiting, s.kv_used});
  return {{"interval_s", c.series_interval_seconds}, {"columns", {"time_s", "replica", "running", "waiting", "kv_used"}}, {"rows", rows}};
}

// The engine's host-side settings in a few words, for the summary's header.
std::string engine_details(const ServingConfig& c) {
  char text[256];
  const char* graphs = c.engine.piecewise_graphs ? "piecewise CUDA graphs" : c.engine.cuda_graphs ? "CUDA-graph decodes" : "eager kernels";
  std::snprintf(text, sizeof text, ": %s, host %.2f ms + %.0f us per sequence per %s%s", graphs, c.host.iteration_seconds * 1e3,
                c.host.per_sequence_seconds * 1e6, c.engine.scheduler_steps > 1 ? "scheduler call" : "iteration",
                c.host.async_scheduling ? " (overlapped)" : "");
  std::string details = text;
  if (c.engine.scheduler_steps > 1) details += ", " + std::to_string(c.engine.scheduler_steps) + " steps per call";
  return details;
}

ServingPrediction serving_prediction(const ServingConfig& c, const ServingResult& r) {
  return {r.ttft.mean, r.tpot.mean, r.e2e.mean, r.request_throughput, c.engine.name};
}

double tokens_per_pass(const ServingResult& r) {
  return r.verify_passes > 0 ? static_cast<double>(r.verified_tokens) / static_cast<double>(r.verify_passes) : 0;
}

nlohmann::json speculative_json(const ServingConfig& c, const ServingResult& r) {
  if (!c.speculative.on()) return {{"num_tokens", 0}};
  const SpeculativeConfig& s = c.speculative;
  const nlohmann::json acceptance = s.grows_tree()                       ? nlohmann::json(nullptr)
                                    : s.acceptance_by_position.empty() ? nlohmann::json(s.acceptance)
                                                                       : nlohmann::json(s.acceptance_by_position);
  return {{"num_tokens", c.speculative.tokens}, {"acceptance", acceptance}, {"acceptance_by_rank", s.acceptance_by_rank}, {"eagle_topk", s.topk},
          {"verified_tokens_per_pass", s.verified_tokens()},
          {"drafter", c.speculative.draft_model.empty() ? std::to_string(c.speculative.draft_layers) + "-layer head" : c.speculative.draft_model},
          {"verify_passes", r.verify_passes}, {"tokens_per_pass", tokens_per_pass(r)},
          {"expected_tokens_per_pass", c.speculative.expected_tokens()}};
}

std::string ms(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%9.2f", seconds * 1e3);
  return text;
}

double hit_rate(const ExpertOffloadStats& e) { return e.reached > 0 ? e.hits / e.reached : 0.0; }

// Offloaded experts: where they live, how often a reached expert was resident, and what the
// misses cost the iterations.
nlohmann::json expert_offload_json(const ServingConfig& c, const IterationCostModel& cost, const ServingResult& r) {
  if (!r.expert_offload) return nlohmann::json();
  const ExpertOffloadConfig& o = c.expert_offload;
  const ExpertOffloadStats& e = *r.expert_offload;
  return {{"gpu_experts", o.gpu_experts}, {"policy", o.policy}, {"miss", o.miss}, {"prefetch", o.prefetch},
          {"popularity", o.popularity}, {"host_bandwidth_bytes_per_s", cost.host_bandwidth()},
          {"expert_bytes_per_gpu", cost.expert_transfer().expert_bytes},
          {"hit_rate", hit_rate(e)}, {"experts_fetched", e.fetched},
          {"fetched_bytes_per_gpu", e.fetched_bytes}, {"waiting_s", to_seconds(e.waiting)}, {"cpu_busy_s", to_seconds(e.cpu_busy)}};
}

std::string expert_offload_line(const ServingConfig& c, const IterationCostModel& cost, const ExpertOffloadStats& e) {
  const ExpertOffloadConfig& o = c.expert_offload;
  char line[320];
  std::snprintf(line, sizeof line,
                "Expert offload: %lld of %lld experts per layer resident (%s), the rest %s; hit rate %.1f%%; %.3g experts fetched "
                "(%.2f GB per GPU at %.0f GB/s); %.3f s of iterations spent waiting on misses\n",
                static_cast<long long>(o.gpu_experts), static_cast<long long>(cost.model().experts), o.policy.c_str(),
                o.miss == "cpu" ? "run on the CPU" : "fetched over PCIe", 100 * hit_rate(e), e.fetched,
                e.fetched_bytes / 1e9, cost.host_bandwidth() / 1e9, to_seconds(e.waiting));
  return line;
}
}  // namespace

nlohmann::json serving_results_json(const Scenario& s, const IterationCostModel& cost, const ServingResult& r) {
  const ServingConfig& c = s.serving;
  return {
      {"format", kServingResultsFormat},
      {"workload", "serving"},
      {"scenario", s.name},
      {"source", s.source},
      {"seed", s.seed},
      {"model", {{"name", s.model.name}, {"parameters", count_parameters(s.model).total}}},
      {"hardware", {{"gpu", s.gpu.name}, {"replicas", c.replicas}, {"tp", c.tp}, {"pp", c.pp}, {"cp", c.cp}}},
      {"engine", {{"name", c.engine.name}, {"cuda_graphs", c.engine.cuda_graphs}, {"piecewise_graphs", c.engine.piecewise_graphs},
                  {"num_scheduler_steps", c.engine.scheduler_steps}, {"async_scheduling", c.host.async_scheduling},
                  {"host_iteration_s", c.host.iteration_seconds}, {"host_per_sequence_s", c.host.per_sequence_seconds},
                  {"host_tp_s", c.host.tp_seconds}, {"kernel_launch_s", c.host.kernel_launch_seconds},
                  {"graph_launch_s", c.host.graph_launch_seconds}}},
      {"serving", {{"scheduler", c.scheduler}, {"router", c.router}, {"prefill_replicas", c.prefill_replicas},
                   {"decode_pool", c.decode_pool ? nlohmann::json{{"gpu", c.decode_pool->gpu.name}, {"tp", c.decode_pool->tp},
                                                                  {"pp", c.decode_pool->pp},
                                                                  {"cp", c.decode_pool->cp},
                                                                  {"same_machines", c.decode_pool->same_machines},
                                                                  {"max_num_seqs", cost.decode_pool().config().max_num_seqs},
                                                                  {"max_batched_tokens", cost.decode_pool().config().max_batched_tokens},
                                                                  {"kv_blocks_per_replica", cost.decode_pool().kv_blocks()}}
                                                 : nlohmann::json()},
                   {"gpus", c.serving_gpus()},
                   {"kv_transfer_mean_s", r.kv_transfer_mean}, {"kv_transfers", r.kv_transfers},
                   {"mixed_pool", c.mixed_pool_kv_load ? nlohmann::json{{"kv_load", *c.mixed_pool_kv_load}, {"kept_decodes", r.kept_decodes}}
                                                       : nlohmann::json()},
                   {"conditional_disagg", c.conditional_disagg ? nlohmann::json{{"max_local_prefill_length", c.conditional_disagg->max_local_prefill_length},
                                                                                {"max_prefill_queue_size", c.conditional_disagg->max_prefill_queue_size},
                                                                                {"local_prefills", r.local_prefills}}
                                                               : nlohmann::json()},
                   {"max_num_seqs", c.max_num_seqs},
                   {"max_batched_tokens", c.max_batched_tokens}, {"chunk_size", c.chunk_size}, {"block_size", c.block_size}}},
      {"cost_models", cost_models_json(s)},
      {"requests", r.requests},
      {"requests_unfinished", static_cast<std::int64_t>(r.records.size()) - r.requests},
      {"makespan_s", to_seconds(r.makespan)},
      {"throughput", {{"requests_per_s", r.request_throughput}, {"output_tokens_per_s", r.output_token_throughput},
                      {"total_tokens_per_s", r.total_token_throughput}}},
      {"utilization", {{"mfu", r.mfu}, {"mfu_formula", "2 N FLOPs per processed token (attention left out) over the dense peak of every GPU, over the run"},
                       {"memory_bandwidth", r.memory_bandwidth_utilization}}},
      {"latency_s", {{"ttft", percentiles_json(r.ttft)}, {"tpot", percentiles_json(r.tpot)}, {"itl", percentiles_json(r.itl)},
                     {"e2e", percentiles_json(r.e2e)}, {"queueing", percentiles_json(r.queueing)}}},
      {"slo", {{"ttft_s", c.ttft_slo_seconds}, {"tpot_s", c.tpot_slo_seconds}, {"attainment", r.slo_attainment},
               {"goodput_requests_per_s", r.goodput}}},
      {"kv_cache", {{"blocks_per_replica", r.kv_blocks}, {"block_size", c.block_size},
                    {"tokens_per_replica", r.kv_blocks * c.block_size}, {"bytes_per_token_per_gpu", cost.kv_bytes_per_token()},
                    {"peak_utilization", r.kv_peak_utilization}, {"preemptions", r.preemptions}, {"swaps", r.swaps},
                    {"prefix_caching", c.prefix_caching}, {"prefix_hit_rate", r.prefix_hit_rate},
                    {"prefix_evictions", r.prefix_evictions}, {"recompute_kept", r.recompute_kept},
                    {"offload_bytes_per_gpu", c.kv_offload_bytes}, {"offload_hit_rate", r.offload_hit_rate},
                    {"disk_bytes_per_gpu", c.kv_disk_bytes}, {"disk_hit_rate", r.disk_hit_rate},
                    {"disk_write_bytes_per_s_per_gpu", c.kv_disk_bytes > 0 ? cost.disk_write_bandwidth() : 0.0},
                    {"disk_blocks_written", r.disk_blocks_written}}},
      {"lora", {{"rank", c.lora_rank}, {"ranks", c.lora_ranks.empty() ? std::vector<std::int64_t>{c.lora_rank} : c.lora_ranks},
                {"memory", c.lora_unified ? "unified" : "reserved"}, {"max_loras", c.max_loras},
                {"adapter_bytes_per_gpu", cost.adapter_bytes()}, {"adapter_loads", r.adapter_loads},
                {"adapter_evictions", r.adapter_evictions}}},
      {"speculative", speculative_json(c, r)},
      {"expert_offload", expert_offload_json(c, cost, r)},
      {"memory_per_gpu_bytes", {{"weights", cost.weight_bytes()}, {"activations", cost.activation_bytes()},
                                {"non_torch", cost.non_torch_bytes()},
                                {"kv_cache", static_cast<double>(r.kv_blocks * c.block_size) * cost.kv_bytes_per_token()},
                                {"capacity", s.gpu.memory_bytes}, {"usable", s.gpu.usable_memory_bytes()}}},
      {"error_band", serving_band_json(serving_prediction(c, r))},
      {"simulation", {{"iterations", r.iterations}, {"events", r.events}}},
      {"time_series", series_json(c, r)},
  };
}

void print_serving_summary(std::ostream& out, const Scenario& s, const IterationCostModel& cost, const ServingResult& r) {
  const ServingConfig& c = s.serving;
  char line[256];
  out << "foresight: " << s.name << "  [" << s.source << "]\n"
      << "  model     " << s.model.name << "\n"
      << "  serving   " << c.replicas << " replica" << (c.replicas == 1 ? "" : "s") << " x TP " << c.tp
      << (c.pp > 1 ? " x PP " + std::to_string(c.pp) : std::string()) << (c.cp > 1 ? " x CP " + std::to_string(c.cp) : std::string())
      << (c.prefill_replicas > 0 ? " (" + std::to_string(c.prefill_replicas) + " prefill only)" : std::string()) << " on " << s.gpu.description
      << (c.decode_pool ? "; decode replicas x TP " + std::to_string(c.decode_pool->tp) +
                              (c.decode_pool->pp > 1 ? " x PP " + std::to_string(c.decode_pool->pp) : std::string()) +
                              (c.decode_pool->cp > 1 ? " x CP " + std::to_string(c.decode_pool->cp) : std::string()) + " on " +
                              cost.decode_pool().gpu().description
                        : std::string())
      << ", " << c.scheduler << " scheduler, " << c.router << " routing, " << dtype_name(c.dtype) << "\n"
      << "  engine    " << c.engine.name << engine_details(c) << "\n"
      << "  costs     " << s.cost_model_name << s.gpu.measured_kernels_note() << " (compute ops), " << network_model_name(s.fabric.network) << " (TP collectives)\n\n";
  std::snprintf(line, sizeof line, "Requests   %lld finished of %zu in %.3f s; %.2f requests/s, %.0f output tokens/s, %.0f tokens/s\n",
                static_cast<long long>(r.requests), r.records.size(), to_seconds(r.makespan), r.request_throughput,
                r.output_token_throughput, r.total_token_throughput);
  out << line;
  std::snprintf(line, sizeof line, "Utilization: MFU %.1f%% (2N FLOPs per token), memory bandwidth %.1f%% (weights per iteration, KV reads)\n",
                100 * r.mfu, 100 * r.memory_bandwidth_utilization);
  out << line << "\nLatency (ms)          mean       p50       p90       p99\n";
  const auto row = [&](const char* label, const Percentiles& p) {
    out << "  " << label << ms(p.mean) << " " << ms(p.p50) << " " << ms(p.p90) << " " << ms(p.p99) << "\n";
  };
  row("TTFT           ", r.ttft);
  row("TPOT           ", r.tpot);
  row("ITL (chunks)   ", r.itl);
  row("end to end     ", r.e2e);
  row("queueing       ", r.queueing);
  out << "  error band: " << serving_band_line(serving_prediction(c, r)) << "\n";
  if (c.ttft_slo_seconds > 0 || c.tpot_slo_seconds > 0) {
    std::snprintf(line, sizeof line, "\nSLOs (TTFT %.0f ms, TPOT %.0f ms): %.1f%% of requests within both; goodput %.2f requests/s\n",
                  c.ttft_slo_seconds * 1e3, c.tpot_slo_seconds * 1e3, 100 * r.slo_attainment, r.goodput);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "\nKV cache per replica: %lld blocks of %lld tokens (%.2f GiB per GPU beside %.2f GiB of weights); peak use %.1f%%; "
                "%lld preemptions (%lld swapped)\n",
                static_cast<long long>(r.kv_blocks), static_cast<long long>(c.block_size),
                static_cast<double>(r.kv_blocks * c.block_size) * cost.kv_bytes_per_token() / kGiB, cost.weight_bytes() / kGiB,
                100 * r.kv_peak_utilization, static_cast<long long>(r.preemptions), static_cast<long long>(r.swaps));
  out << line;
  if (c.prefill_replicas > 0) {
    std::snprintf(line, sizeof line, "Disaggregated: %lld prefill and %lld decode replicas; KV transfer %.2f ms per request on average\n",
                  static_cast<long long>(c.prefill_replicas), static_cast<long long>(c.replicas - c.prefill_replicas),
                  r.kv_transfer_mean * 1e3);
    out << line;
  }
  if (c.mixed_pool_kv_load) {
    std::snprintf(line, sizeof line, "Mixed pool: %lld of %lld requests decoded on the prefill replica that prefilled them (the decode pool's "
                  "KV caches %.0f%% full or more)\n", static_cast<long long>(r.kept_decodes), static_cast<long long>(r.records.size()),
                  100 * *c.mixed_pool_kv_load);
    out << line;
  }
  if (c.conditional_disagg) {
    std::snprintf(line, sizeof line, "Conditional disaggregation: %lld of %lld requests prefilled on their decode replica (at most "
                  "%lld tokens its prefix cache lacks, or the prefill queue at %lld)\n", static_cast<long long>(r.local_prefills),
                  static_cast<long long>(r.records.size()), static_cast<long long>(c.conditional_disagg->max_local_prefill_length),
                  static_cast<long long>(c.conditional_disagg->max_prefill_queue_size));
    out << line;
  }
  if (c.decode_pool) {
    const IterationCostModel& decode = cost.decode_pool();
    std::snprintf(line, sizeof line, "Decode pool: %s, TP %lld x PP %lld x CP %lld; KV cache per replica %lld blocks (%.2f GiB per GPU beside %.2f GiB of weights)\n",
                  decode.gpu().description.c_str(), static_cast<long long>(c.decode_pool->tp), static_cast<long long>(c.decode_pool->pp),
                  static_cast<long long>(c.decode_pool->cp),
                  static_cast<long long>(decode.kv_blocks()),
                  static_cast<double>(decode.kv_blocks() * c.block_size) * decode.kv_bytes_per_token() / kGiB, decode.weight_bytes() / kGiB);
    out << line;
  }
  if (r.expert_offload) out << expert_offload_line(c, cost, *r.expert_offload);
  if (c.speculative.on()) {
    const double per_pass = tokens_per_pass(r);
    const std::string tree = c.speculative.topk > 1 ? std::string(c.speculative.grows_tree() ? " (a tree grown as EAGLE-2 grows it, " : " (a tree of ") +
                                                          std::to_string(c.speculative.topk) + " candidates a step, " +
                                                          std::to_string(c.speculative.verified_tokens()) + " tokens verified)"
                                                    : "";
    std::snprintf(line, sizeof line, "Speculative decoding: %lld tokens drafted per pass%s by %s; %.2f tokens per verification pass "
                  "(%.2f expected at acceptance %s)\n", static_cast<long long>(c.speculative.tokens), tree.c_str(),
                  c.speculative.draft_model.empty() ? (std::to_string(c.speculative.draft_layers) + "-layer head").c_str()
                                                    : c.speculative.draft_model.c_str(),
                  per_pass, c.speculative.expected_tokens(), acceptance_text(c.speculative).c_str());
    out << line;
  }
  if (c.lora_rank > 0 && c.lora_unified) {
    std::snprintf(line, sizeof line,
                  "LoRA: ranks up to %lld paged into the KV cache's blocks (%.1f MB per GPU at rank %lld); %lld loads from host memory, "
                  "%lld unloaded for blocks\n",
                  static_cast<long long>(c.lora_rank), cost.adapter_bytes() / 1e6, static_cast<long long>(c.lora_rank),
                  static_cast<long long>(r.adapter_loads), static_cast<long long>(r.adapter_evictions));
    out << line;
  } else if (c.lora_rank > 0) {
    std::snprintf(line, sizeof line, "LoRA: rank %lld%s, %lld adapters resident per replica (%.1f MB each per GPU); %lld loads from host memory\n",
                  static_cast<long long>(c.lora_rank), c.lora_ranks.size() > 1 ? " (every adapter padded to it)" : "",
                  static_cast<long long>(c.max_loras), cost.adapter_bytes() / 1e6, static_cast<long long>(r.adapter_loads));
    out << line;
  }
  if (c.prefix_caching) {
    std::snprintf(line, sizeof line, "Prefix cache: %.1f%% of shared-prefix tokens found cached; %lld blocks evicted", 100 * r.prefix_hit_rate,
                  static_cast<long long>(r.prefix_evictions));
    out << line;
    if (c.kv_offload_bytes > 0) {
      std::snprintf(line, sizeof line, " to host memory (%.1f GB per GPU), where %.1f%% more were found", c.kv_offload_bytes / 1e9, 100 * r.offload_hit_rate);
      out << line;
    }
    if (c.kv_disk_bytes > 0) {
      const double written = static_cast<double>(r.disk_blocks_written * c.block_size) * cost.kv_bytes_per_token() / static_cast<double>(c.replicas);
      std::snprintf(line, sizeof line, ", and on disk below it (%.1f GB per GPU) %.1f%% more (%.2f GB written per GPU)", c.kv_disk_bytes / 1e9,
                    100 * r.disk_hit_rate, written / 1e9);
      out << line;
    }
    if (r.preemptions > 0) {
      std::snprintf(line, sizeof line, "; %.1f%% of preempted sequences' tokens still cached when recomputed", 100 * r.recompute_kept);
      out << line;
    }
    out << "\n";
  }
  out << "\nSimulated " << r.iterations << " iterations (" << r.events << " events).\n";  print_cost_models(out, s);
}

std::string requests_csv(const ServingResult& r) {
  std::string text = "request,replica,arrival_s,prompt_tokens,output_tokens,scheduled_s,first_token_s,finish_s,ttft_s,tpot_s,e2e_s,preemptions\n";
  char line[256];
  for (std::size_t i = 0; i < r.records.size(); ++i) {
    const RequestRecord& q = r.records[i];
    const bool done = q.finish >= 0;
    std::snprintf(line, sizeof line, "%zu,%d,%.6f,%d,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%d\n", i, q.replica, to_seconds(q.arrival),
                  q.prompt_tokens, q.output_tokens, done ? to_seconds(q.scheduled) : -1.0, done ? to_seconds(q.first_token) : -1.0,
                  done ? to_seconds(q.finish) : -1.0, done ? q.ttft() : -1.0, done && q.output_tokens > 1 ? q.tpot() : -1.0, done ? q.e2e() : -1.0,
                  q.preemptions);
    text += line;
  }
  return text;
}

namespace {
void append_event(std::string& text, const nlohmann::json& event) {
  text += text.back() == '[' ? "\n" : ",\n";
  text += event.dump();
}

void append_span(std::string& text, const char* name, int pid, std::size_t tid, Time from, Time to, const nlohmann::json& args) {
  if (from < 0 || to <= from) return;  // a phase the request never reached, or that took no time
  append_event(text, {{"name", name}, {"ph", "X"}, {"pid", pid}, {"tid", tid}, {"ts", to_microseconds(from)}, {"dur", to_microseconds(to - from)},
                      {"args", args}});
}
}  // namespace

std::string serving_trace(const ServingResult& r, const ServingConfig& c) {
  std::string text = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
  const int replicas = static_cast<int>(c.replicas), requests_pid = replicas;
  for (int replica = 0; replica < replicas; ++replica) {
    const char* role = replica < c.prefill_replicas ? " (prefill)" : c.prefill_replicas > 0 ? " (decode)" : "";
    append_event(text, {{"name", "process_name"}, {"ph", "M"}, {"pid", replica}, {"args", {{"name", "replica " + std::to_string(replica) + role}}}});
    append_event(text, {{"name", "thread_name"}, {"ph", "M"}, {"pid", replica}, {"tid", 0}, {"args", {{"name", "iterations"}}}});
  }
  // A track per request up to a point: a million requests would make a trace no viewer opens.
  constexpr std::size_t kMaxRequestTracks = 10000;
  const std::size_t tracked = std::min(r.records.size(), kMaxRequestTracks);
  const std::string requests_name = tracked < r.records.size()
      ? "requests (the first " + std::to_string(tracked) + " of " + std::to_string(r.records.size()) + ")" : "requests";
  append_event(text, {{"name", "process_name"}, {"ph", "M"}, {"pid", requests_pid}, {"args", {{"name", requests_name}}}});
  char line[256];
  for (const IterationRecord& it : r.iteration_log) {
    const char* name = it.prefill_tokens > 0 ? (it.decodes > 0 ? "mixed" : "prefill") : "decode";
    std::snprintf(line, sizeof line, "{\"name\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":0,\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"prefill_tokens\":%d,\"decodes\":%d}}",
                  name, it.replica, to_microseconds(it.start), to_microseconds(it.duration), it.prefill_tokens, it.decodes);
    text += text.back() == '[' ? "\n" : ",\n";
    text += line;
  }
  for (std::size_t i = 0; i < tracked; ++i) {
    const RequestRecord& q = r.records[i];
    const nlohmann::json args = {{"request", i}, {"prompt_tokens", q.prompt_tokens}, {"output_tokens", q.output_tokens}, {"replica", q.replica},
                                 {"preemptions", q.preemptions}};
    append_span(text, "queued", requests_pid, i, q.arrival, q.scheduled, args);
    append_span(text, "prefill", requests_pid, i, q.scheduled, q.first_token, args);
    append_span(text, "decode", requests_pid, i, q.first_token, q.finish, args);
  }
  return text + "\n]}\n";
}

}  // namespace foresight
