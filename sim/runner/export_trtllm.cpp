#include "sim/runner/export_trtllm.hpp"

#include <vector>

#include "sim/input/input_error.hpp"
#include "sim/runner/export_placement.hpp"
#include "sim/runner/import_support.hpp"
#include "sim/runner/scenario.hpp"

namespace foresight {
namespace {
// The LLM API's options trtllm-serve takes only from its YAML; with `memory_fraction`, also the
// KV cache's share of free memory, which a trtllm-serve command gives as a flag.
std::string api_options_yaml(const ServingConfig& c, bool memory_fraction = false) {
  std::string y;
  y += "enable_chunked_prefill: " + std::string(c.engine.whole_prompts ? "false" : "true") + "\n";
  y += "kv_cache_config:\n";
  if (memory_fraction) y += "  free_gpu_memory_fraction: " + number_text(c.gpu_memory_utilization) + "\n";
  if (c.max_total_tokens > 0) y += "  max_tokens: " + std::to_string(c.max_total_tokens) + "\n";
  y += "  enable_block_reuse: " + std::string(c.prefix_caching ? "true" : "false") + "\n";
  y += "  tokens_per_block: " + std::to_string(c.block_size) + "\n";
  if (c.kv_dtype == Dtype::kFp8) y += "  dtype: fp8\n";
  y += "scheduler_config:\n";
  y += std::string("  capacity_scheduler_policy: ") + (c.engine.guaranteed_no_evict ? "GUARANTEED_NO_EVICT" : "MAX_UTILIZATION") + "\n";
  if (c.engine.cuda_graphs) y += "cuda_graph_config:\n  max_batch_size: " + std::to_string(c.engine.graph_max_tokens / c.attention_ranks()) + "\n";
  if (c.attention_dp) y += "enable_attention_dp: true\n";
  if (c.engine.stream_interval > 1) y += "stream_interval: " + std::to_string(c.engine.stream_interval) + "\n";
  if (!c.host.async_scheduling) y += "disable_overlap_scheduler: true\n";
  const SpeculativeConfig& spec = c.speculative;
  if (spec.on() && spec.draft_model.empty()) y += "speculative_config:\n  decoding_type: Eagle\n  max_draft_len: " + std::to_string(spec.tokens) + "\n";
  return y;
}

std::vector<std::string> notes_for(const Scenario& s) {
  const ServingConfig& c = s.serving;
  std::vector<std::string> notes;
  if (c.replicas > 1 && c.prefill_replicas == 0) notes.push_back("the scenario's " + std::to_string(c.replicas) + " replicas: one trtllm-serve each, behind a router (" + c.router + ")");
  if (c.dtype == Dtype::kFp8) notes.push_back("fp8 weights and GEMMs come from an FP8 checkpoint (ModelOpt's), not a flag");
  if (c.weight_bits < 16) notes.push_back("weight-only quantization comes from the checkpoint's quantization config, not a flag");
  if (c.lora_rank > 0) notes.push_back("LoRA adapters (rank " + std::to_string(c.lora_rank) + "): the LLM API's lora_config");
  if (c.speculative.on()) {
    notes.push_back(c.speculative.draft_model.empty() ? "the EAGLE head's path: speculative_config.speculative_model_dir"
                                                      : "a separate draft model (" + c.speculative.draft_model + "): speculative_config");
    if (c.speculative.topk > 1) notes.push_back("a tree of drafts (eagle_topk " + std::to_string(c.speculative.topk) + ", " + std::to_string(c.speculative.verified_tokens()) + " tokens verified): a chain here");
    notes.push_back("the drafts' acceptance rate (" + acceptance_text(c.speculative) + ") is the data's, not an option");
  }
  if (c.kv_int_bits > 0) {
    notes.push_back("an int" + std::to_string(c.kv_int_bits) + " KV cache: the PyTorch backend's kv_cache_config.dtype offers fp8; the TensorRT "
                    "backend quantizes the cache to int8 when the checkpoint is built with kv_cache_quant_algo INT8");
  }
  if (c.preemption == "swap") notes.push_back("swapping preempted requests to the host: TensorRT-LLM offloads KV blocks (kv_cache_config.host_cache_size) instead");
  if (c.prefill_replicas > 0) {
    if (c.host.async_scheduling) notes.push_back("the context servers run without the overlap scheduler, which TensorRT-LLM's disaggregated context servers do not "
                    "support; the scenario's prefill replicas keep the engine's host overlap");
    if (c.kv_transfer == "layerwise") notes.push_back("layer-wise KV transfer: TensorRT-LLM's cache transceiver sends a request's cache once its context phase ends");
    if (c.router != "round_robin") notes.push_back("the scenario's router (" + c.router + "): the disaggregated server's own routers (context_servers.router, generation_servers.router)");
    note_pool_rules(c, true, notes);
  }
  return notes;
}

std::vector<std::vector<std::string>> serve_lines(const std::string& id, const ServingConfig& c, const ServerShape& server,
                                                  const std::string& yaml, const std::vector<std::string>& prefix,
                                                  const std::vector<std::string>& placement) {
  std::vector<std::string> parallel = {"--backend", "pytorch", "--tp_size", std::to_string(server.tp)};
  if (server.pp > 1) parallel.insert(parallel.end(), {"--pp_size", std::to_string(server.pp)});
  if (c.expert_parallel) parallel.insert(parallel.end(), {"--ep_size", std::to_string(server.tp)});
  std::vector<std::string> first = prefix;
  first.insert(first.end(), {"trtllm-serve", id});
  std::vector<std::vector<std::string>> lines = {first};
  if (!placement.empty()) lines.push_back(placement);
  lines.push_back(parallel);
  // Each attention rank's limits, as TensorRT-LLM takes them.
  lines.push_back({"--max_batch_size", std::to_string(server.max_num_seqs / c.attention_ranks()), "--max_num_tokens",
                   std::to_string(server.max_batched_tokens / c.attention_ranks()), "--max_seq_len", std::to_string(c.max_model_len)});
  lines.push_back({"--kv_cache_free_gpu_memory_fraction", number_text(c.gpu_memory_utilization)});
  lines.push_back({"--extra_llm_api_options", yaml});
  return lines;
}

// The KV cache's transfer between the pools (TensorRT-LLM's examples/disaggregated/README.md):
// the default backend (NIXL), with a buffer for the longest prompt.
std::string cache_transceiver_yaml(const ServingConfig& c) {
  return "cache_transceiver_config:\n  backend: DEFAULT\n  max_tokens_in_buffer: " + std::to_string(c.max_model_len) + "\n";
}

// A pool's section of disagg_config.yaml: its servers, and what each runs where the shared
// options at the top level do not say it (the MPI-worker form, which `trtllm-serve
// disaggregated_mpi_worker` launches from and `foresight import trtllm` reads back).
std::string pool_yaml(const ServingConfig& c, const ServerShape& server, const std::string& own, const PoolLayout& layout,
                      const std::vector<Placement>& servers) {
  std::string y = "  num_instances: " + std::to_string(servers.size()) + "\n";
  y += "  tensor_parallel_size: " + std::to_string(server.tp) + "\n";
  if (server.pp > 1) y += "  pipeline_parallel_size: " + std::to_string(server.pp) + "\n";
  if (c.expert_parallel) y += "  moe_expert_parallel_size: " + std::to_string(server.tp) + "\n";
  y += "  max_batch_size: " + std::to_string(server.max_num_seqs / c.attention_ranks()) + "\n";
  y += "  max_num_tokens: " + std::to_string(server.max_batched_tokens / c.attention_ranks()) + "\n";
  y += own + "  urls:\n";
  for (const Placement& p : servers) y += "    - \"" + layout.host(p) + ":" + std::to_string(p.port) + "\"\n";
  return y;
}

// What the generation servers run apart from the shared options at the top level (a decode
// pool's own CUDA graphs and overlap scheduler), in their section of disagg_config.yaml.
std::string generation_only(const ServingConfig& shared, const ServingConfig& decode) {
  std::string y;
  if (decode.engine.cuda_graphs != shared.engine.cuda_graphs) y += std::string("  use_cuda_graph: ") + (decode.engine.cuda_graphs ? "true" : "false") + "\n";
  if (decode.engine.cuda_graphs && decode.engine.graph_max_tokens != shared.engine.graph_max_tokens) {
    y += "  cuda_graph_config:\n    max_batch_size: " + std::to_string(decode.engine.graph_max_tokens / decode.attention_ranks()) + "\n";
  }
  if (decode.host.async_scheduling != shared.host.async_scheduling) {
    y += std::string("  disable_overlap_scheduler: ") + (decode.host.async_scheduling ? "false" : "true") + "\n";
  }
  return y;
}

// Disaggregated pools: the context servers, the generation servers (the decode pool's TP, PP
// and limits where it has its own, on machines of its own), then the disaggregated server
// that routes between them.
std::string disaggregated_text(const Scenario& s, const std::string& id) {
  const ServingConfig& c = s.serving;
  const PoolLayout layout = lay_out_pools(s, 8001);
  std::string text = layout.machines_comment(s);
  // TensorRT-LLM's disaggregated context servers do not support the overlap scheduler.
  const std::string context_only = c.host.async_scheduling ? "disable_overlap_scheduler: true\n" : "";
  text += "cat > ctx_extra_llm_api_options.yml <<'EOF'\n" + api_options_yaml(c) + context_only + cache_transceiver_yaml(c) + "EOF\n";
  const ServingConfig decode = decode_replicas_config(c);  // a decode pool's own graphs and scheduling
  text += "cat > gen_extra_llm_api_options.yml <<'EOF'\n" + api_options_yaml(decode) + cache_transceiver_yaml(c) + "EOF\n";
  const auto server_text = [&](const ServerShape& server, const Placement& p, const std::string& yaml) {
    const std::string command = continued_lines(serve_lines(id, c, server, yaml, {"CUDA_VISIBLE_DEVICES=" + p.devices()},
                                                             {"--host", layout.one_machine() ? "localhost" : "0.0.0.0", "--port", std::to_string(p.port)}));
    return layout.where(p, "one rank per GPU, launched with trtllm-llmapi-launch under srun (TensorRT-LLM's multi-node instructions)") +
           in_background(command);
  };
  for (const Placement& p : layout.prefill) text += server_text(prefill_server_shape(s), p, "ctx_extra_llm_api_options.yml");
  for (const Placement& p : layout.decode) text += server_text(decode_server_shape(s), p, "gen_extra_llm_api_options.yml");
  // The generation server prefills prompts this short itself (TensorRT-LLM's conditional disaggregation).
  const std::string conditional = c.conditional_disagg ? "conditional_disagg_config:\n  max_local_prefill_length: " +
                                                             std::to_string(c.conditional_disagg->max_local_prefill_length) + "\n"
                                                       : "";
  text += "cat > disagg_config.yaml <<'EOF'\nhostname: localhost\nport: 8000\nbackend: pytorch\nmodel: " + id + "\nmax_seq_len: " +
          std::to_string(c.max_model_len) + "\n" + api_options_yaml(c, true) + cache_transceiver_yaml(c) + conditional + "context_servers:\n" +
          pool_yaml(c, prefill_server_shape(s), context_only.empty() ? "" : "  " + context_only, layout, layout.prefill) +
          "generation_servers:\n" + pool_yaml(c, decode_server_shape(s), generation_only(c, decode), layout, layout.decode) + "EOF\n";
  return text + "trtllm-serve disaggregated -c disagg_config.yaml\n";
}
}  // namespace

std::string trtllm_launch_text(const Scenario& s, const std::string& label) {
  if (!s.is_serving) throw InputError(s.source, "training", "a training scenario: export trtllm writes serving launches (export megatron writes training ones)");
  const ServingConfig& c = s.serving;
  if (c.engine.name != "trtllm") throw InputError(s.source, "serving.engine", "the engine is " + c.engine.name + ": export trtllm writes TensorRT-LLM launches (engine trtllm)");
  std::vector<std::string> notes = notes_for(s);
  const std::string id = launch_model_id(s.model, notes);
  std::string text = "# foresight export trtllm: " + label + "\n";
  text += "# Traffic (serving.traffic) is the clients', not the server's: replay it with a benchmark client.\n";
  for (const std::string& note : notes) text += "# Not expressible as trtllm-serve options: " + note + "\n";
  if (c.prefill_replicas > 0) return text + disaggregated_text(s, id);
  text += "cat > extra_llm_api_options.yml <<'EOF'\n" + api_options_yaml(c) + "EOF\n";
  return text + continued_lines(serve_lines(id, c, prefill_server_shape(s), "extra_llm_api_options.yml", {}, {}));
}

}  // namespace foresight
