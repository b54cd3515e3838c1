#include "sim/runner/export_trtllm.hpp"

#include <vector>

#include "sim/input/input_error.hpp"
#include "sim/runner/import_support.hpp"
#include "sim/runner/scenario.hpp"

namespace foresight {
namespace {
// The LLM API's options trtllm-serve takes only from its YAML.
std::string api_options_yaml(const ServingConfig& c) {
  std::string y;
  y += "enable_chunked_prefill: " + std::string(c.engine.whole_prompts ? "false" : "true") + "\n";
  y += "kv_cache_config:\n";
  y += "  enable_block_reuse: " + std::string(c.prefix_caching ? "true" : "false") + "\n";
  y += "  tokens_per_block: " + std::to_string(c.block_size) + "\n";
  if (c.kv_dtype == Dtype::kFp8) y += "  dtype: fp8\n";
  y += "scheduler_config:\n";
  y += std::string("  capacity_scheduler_policy: ") + (c.engine.guaranteed_no_evict ? "GUARANTEED_NO_EVICT" : "MAX_UTILIZATION") + "\n";
  if (c.engine.cuda_graphs) y += "cuda_graph_config:\n  max_batch_size: " + std::to_string(c.engine.graph_max_tokens / c.attention_ranks()) + "\n";
  if (c.attention_dp) y += "enable_attention_dp: true\n";
  if (c.engine.stream_interval > 1) y += "stream_interval: " + std::to_string(c.engine.stream_interval) + "\n";
  const SpeculativeConfig& spec = c.speculative;
  if (spec.on() && spec.draft_model.empty()) y += "speculative_config:\n  decoding_type: Eagle\n  max_draft_len: " + std::to_string(spec.tokens) + "\n";
  return y;
}

std::vector<std::string> notes_for(const Scenario& s) {
  const ServingConfig& c = s.serving;
  std::vector<std::string> notes;
  if (c.replicas > 1) notes.push_back("the scenario's " + std::to_string(c.replicas) + " replicas: one trtllm-serve each, behind a router (" + c.router + ")");
  if (c.dtype == Dtype::kFp8) notes.push_back("fp8 weights and GEMMs come from an FP8 checkpoint (ModelOpt's), not a flag");
  if (c.weight_bits < 16) notes.push_back("weight-only quantization comes from the checkpoint's quantization config, not a flag");
  if (c.lora_rank > 0) notes.push_back("LoRA adapters (rank " + std::to_string(c.lora_rank) + "): the LLM API's lora_config");
  if (c.speculative.on()) {
    notes.push_back(c.speculative.draft_model.empty() ? "the EAGLE head's path: speculative_config.speculative_model_dir"
                                                      : "a separate draft model (" + c.speculative.draft_model + "): speculative_config");
    if (c.speculative.topk > 1) notes.push_back("a tree of drafts (eagle_topk " + std::to_string(c.speculative.topk) + ", " + std::to_string(c.speculative.verified_tokens()) + " tokens verified): a chain here");
    notes.push_back("the drafts' acceptance rate (" + acceptance_text(c.speculative) + ") is the data's, not an option");
  }
  if (c.prefill_replicas > 0) notes.push_back("disaggregated prefill and decode pools: TensorRT-LLM runs them as separate servers (trtllm-serve disaggregated)");
  if (c.kv_int_bits > 0) {
    notes.push_back("an int" + std::to_string(c.kv_int_bits) + " KV cache: the PyTorch backend's kv_cache_config.dtype offers fp8; the TensorRT "
                    "backend quantizes the cache to int8 when the checkpoint is built with kv_cache_quant_algo INT8");
  }
  if (c.preemption == "swap") notes.push_back("swapping preempted requests to the host: TensorRT-LLM offloads KV blocks (kv_cache_config.host_cache_size) instead");
  return notes;
}
}  // namespace

std::string trtllm_launch_text(const Scenario& s, const std::string& label) {
  if (!s.is_serving) throw InputError(s.source, "training", "a training scenario: export trtllm writes serving launches (export megatron writes training ones)");
  const ServingConfig& c = s.serving;
  if (c.engine.name != "trtllm") throw InputError(s.source, "serving.engine", "the engine is " + c.engine.name + ": export trtllm writes TensorRT-LLM launches (engine trtllm)");
  std::vector<std::string> notes = notes_for(s);
  const std::string id = launch_model_id(s.model, notes);
  std::vector<std::string> parallel = {"--backend", "pytorch", "--tp_size", std::to_string(c.tp)};
  if (c.pp > 1) parallel.insert(parallel.end(), {"--pp_size", std::to_string(c.pp)});
  if (c.expert_parallel) parallel.insert(parallel.end(), {"--ep_size", std::to_string(c.tp)});
  const std::vector<std::vector<std::string>> lines = {
      {"trtllm-serve", id},
      parallel,
      // Each attention rank's limits, as TensorRT-LLM takes them.
      {"--max_batch_size", std::to_string(c.max_num_seqs / c.attention_ranks()), "--max_num_tokens",
       std::to_string(c.max_batched_tokens / c.attention_ranks()), "--max_seq_len",
       std::to_string(c.max_model_len)},
      {"--kv_cache_free_gpu_memory_fraction", number_text(c.gpu_memory_utilization)},
      {"--extra_llm_api_options", "extra_llm_api_options.yml"}};
  std::string text = "# foresight export trtllm: " + label + "\n";
  text += "# Traffic (serving.traffic) is the clients', not the server's: replay it with a benchmark client.\n";
  for (const std::string& note : notes) text += "# Not expressible as trtllm-serve options: " + note + "\n";
  text += "cat > extra_llm_api_options.yml <<'EOF'\n" + api_options_yaml(c) + "EOF\n";
  return text + continued_lines(lines);
}

}  // namespace foresight
