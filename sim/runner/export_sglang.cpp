#include "sim/runner/export_sglang.hpp"

#include <vector>

#include "sim/input/input_error.hpp"
#include "sim/runner/import_support.hpp"
#include "sim/runner/scenario.hpp"

namespace foresight {
namespace {
std::vector<std::string> parallelism(const ServingConfig& c) {
  std::vector<std::string> w = {"--tp", std::to_string(c.tp)};
  if (c.pp > 1) w.insert(w.end(), {"--pp-size", std::to_string(c.pp)});
  if (c.replicas > 1) w.insert(w.end(), {"--dp", std::to_string(c.replicas)});
  if (c.expert_parallel) w.push_back("--enable-ep-moe");
  // SGLang's --dp counts the attention ranks inside the TP group here, one server.
  if (c.attention_dp) w.insert(w.end(), {"--enable-dp-attention", "--dp", std::to_string(c.tp)});
  return w;
}

std::vector<std::string> batching(const ServingConfig& c) {
  const std::int64_t ranks = c.attention_ranks();  // each attention rank's limits, as SGLang takes them
  std::vector<std::string> w = {"--max-running-requests", std::to_string(c.max_num_seqs / ranks), "--chunked-prefill-size", std::to_string(c.chunk_size / ranks),
                                "--context-length", std::to_string(c.max_model_len), "--schedule-policy",
                                c.engine.admission == "lpm" ? "lpm" : "fcfs"};
  if (c.scheduler == "sarathi") w.push_back("--enable-mixed-chunk");  // decodes beside each prefill chunk
  if (c.engine.stream_interval > 1) w.insert(w.end(), {"--stream-interval", std::to_string(c.engine.stream_interval)});
  if (!c.engine.cuda_graphs) {
    w.push_back("--disable-cuda-graph");
  } else {
    w.insert(w.end(), {"--cuda-graph-max-bs", std::to_string(c.engine.graph_max_tokens / ranks)});
  }
  return w;
}

std::vector<std::string> memory(const ServingConfig& c, std::vector<std::string>& notes) {
  std::vector<std::string> w = {"--mem-fraction-static", number_text(c.gpu_memory_utilization), "--page-size", std::to_string(c.block_size)};
  if (!c.prefix_caching) w.push_back("--disable-radix-cache");
  if (c.dtype == Dtype::kFp8) {
    w.insert(w.end(), {"--quantization", "fp8"});
  } else {
    w.insert(w.end(), {"--dtype", c.dtype == Dtype::kFp16 ? "float16" : "bfloat16"});
  }
  if (c.weight_bits == 4) w.insert(w.end(), {"--quantization", "awq_marlin"});
  if (c.weight_bits == 8) notes.push_back("8-bit weight-only quantization: SGLang reads it from the checkpoint's quantization config");
  if (c.kv_dtype == Dtype::kFp8) w.insert(w.end(), {"--kv-cache-dtype", "fp8_e5m2"});
  if (c.kv_int_bits > 0) notes.push_back("an int" + std::to_string(c.kv_int_bits) + " KV cache: SGLang's --kv-cache-dtype offers fp8, not integers");
  if (c.preemption == "swap") notes.push_back("swapping preempted requests to the host: SGLang recomputes them");
  if (c.eviction_policy != "lru") w.insert(w.end(), {"--radix-eviction-policy", c.eviction_policy});
  if (c.engine.admission != "lpm" && c.engine.admission != "fcfs") {
    notes.push_back("admission order " + c.engine.admission + ": not an SGLang schedule policy, written as fcfs");
  }
  return w;
}

std::vector<std::string> extras(const ServingConfig& c, std::vector<std::string>& notes) {
  std::vector<std::string> w;
  if (c.lora_rank > 0) w.insert(w.end(), {"--max-lora-rank", std::to_string(c.lora_rank), "--max-loras-per-batch", std::to_string(c.max_loras)});
  if (c.lora_rank > 0 && c.lora_unified) notes.push_back("adapters paged into the KV cache (lora_memory unified, S-LoRA's): SGLang sets aside a pool for --max-loras-per-batch");
  const SpeculativeConfig& spec = c.speculative;
  if (spec.on()) {
    // A chain of drafts (top-1 per step), or a tree of eagle_topk candidates per step.
    w.insert(w.end(), {"--speculative-algorithm", spec.draft_model.empty() ? "EAGLE" : "STANDALONE", "--speculative-num-steps",
                       std::to_string(spec.tokens), "--speculative-eagle-topk", std::to_string(spec.topk), "--speculative-num-draft-tokens",
                       std::to_string(spec.verified_tokens())});
    w.insert(w.end(), {"--speculative-draft-model-path", spec.draft_model.empty() ? "DRAFT" : spec.draft_model});
    notes.push_back(spec.draft_model.empty() ? "the EAGLE head's path: put it where DRAFT stands"
                                             : "the draft model by its catalog name: give its HuggingFace id");
    notes.push_back("the drafts' acceptance rate (" + acceptance_text(spec) + ") is the data's, not a flag");
  }
  if (c.prefill_replicas > 0) notes.push_back("disaggregated prefill and decode pools: SGLang runs them as separate servers (--disaggregation-mode)");
  if (c.router != "round_robin") notes.push_back("routing (" + c.router + "): SGLang's router in front of the replicas");
  return w;
}
}  // namespace

std::string sglang_launch_text(const Scenario& s, const std::string& label) {
  if (!s.is_serving) throw InputError(s.source, "training", "a training scenario: export sglang writes serving launches (export megatron writes training ones)");
  const ServingConfig& c = s.serving;
  if (c.engine.name != "sglang") throw InputError(s.source, "serving.engine", "the engine is " + c.engine.name + ": export sglang writes SGLang launches (engine sglang)");
  std::vector<std::string> notes;
  const std::string id = launch_model_id(s.model, notes);
  const std::vector<std::vector<std::string>> lines = {
      {"python3", "-m", "sglang.launch_server", "--model-path", id}, parallelism(c), batching(c), memory(c, notes), extras(c, notes)};
  std::string text = "# foresight export sglang: " + label + "\n";
  text += "# Traffic (serving.traffic) is the clients', not the server's: replay it with SGLang's bench_serving.\n";
  for (const std::string& note : notes) text += "# Not expressible as SGLang flags: " + note + "\n";
  return text + continued_lines(lines);
}

}  // namespace foresight
