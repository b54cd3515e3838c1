#include "sim/runner/export_sglang.hpp"

#include <vector>

#include "sim/input/input_error.hpp"
#include "sim/runner/export_placement.hpp"
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
  if (c.max_total_tokens > 0) w.insert(w.end(), {"--max-total-tokens", std::to_string(c.max_total_tokens)});
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
  if (c.router != "round_robin") notes.push_back("routing (" + c.router + "): SGLang's router in front of the replicas");
  return w;
}

// Disaggregated pools as SGLang runs them (docs/advanced_features/pd_disaggregation.md): a
// launch_server per prefill and decode server, --disaggregation-mode saying which, each
// prefill server with a bootstrap port of its own, then sglang_router's PD router in front.
std::string disaggregated_text(const Scenario& s, const std::string& id, std::vector<std::string>& notes) {
  const ServingConfig& c = s.serving;
  constexpr int kFirstBootstrapPort = 8998;  // SGLang's default
  const PoolLayout layout = lay_out_pools(s, 30000);
  note_pool_rules(c, false, notes);
  std::string text = layout.machines_comment(s);
  const auto server_text = [&](const ServerShape& shape, const Placement& p, const std::string& mode, int bootstrap) {
    const ServingConfig server = server_config(c, shape);
    std::vector<std::string> where = {"--disaggregation-mode", mode, "--host", layout.one_machine() ? "127.0.0.1" : "0.0.0.0", "--port",
                                      std::to_string(p.port), "--base-gpu-id", std::to_string(p.first_device)};
    if (bootstrap > 0) where.insert(where.end(), {"--disaggregation-bootstrap-port", std::to_string(bootstrap)});
    std::vector<std::string> unused;  // the scenario's notes come from its whole launch, once
    const std::string command = continued_lines({{"python3", "-m", "sglang.launch_server", "--model-path", id}, where, parallelism(server),
                                                 batching(server), memory(server, unused), extras(server, unused)});
    return layout.where(p, "the same command on each, with --nnodes " + std::to_string(p.machines) + " --node-rank R --dist-init-addr " +
                               layout.host(p) + ":5000") +
           in_background(command);
  };
  std::vector<std::string> router = {"python3", "-m", "sglang_router.launch_router", "--pd-disaggregation"};
  const auto url = [&](const Placement& p) { return "http://" + (layout.one_machine() ? "127.0.0.1" : layout.host(p)) + ":" + std::to_string(p.port); };
  for (std::size_t i = 0; i < layout.prefill.size(); ++i) {
    const Placement& p = layout.prefill[i];
    const int bootstrap = kFirstBootstrapPort + static_cast<int>(i);
    text += server_text(prefill_server_shape(s), p, "prefill", bootstrap);
    router.insert(router.end(), {"--prefill", url(p), std::to_string(bootstrap)});
  }
  for (const Placement& p : layout.decode) {
    text += server_text(decode_server_shape(s), p, "decode", 0);
    router.insert(router.end(), {"--decode", url(p)});
  }
  router.insert(router.end(), {"--host", "0.0.0.0", "--port", "8000"});
  notes.push_back("the prefill and decode servers' RDMA devices (--disaggregation-ib-device) and the KV transfer backend "
                  "(--disaggregation-transfer-backend, Mooncake by default) are the machines', not the scenario's");
  if (c.kv_transfer == "layerwise") notes.push_back("layer-wise KV transfer: the transfer backend sends a request's cache as SGLang's prefill produces it");
  return text + continued_lines({router});
}
}  // namespace

std::string sglang_launch_text(const Scenario& s, const std::string& label) {
  if (!s.is_serving) throw InputError(s.source, "training", "a training scenario: export sglang writes serving launches (export megatron writes training ones)");
  const ServingConfig& c = s.serving;
  if (c.engine.name != "sglang") throw InputError(s.source, "serving.engine", "the engine is " + c.engine.name + ": export sglang writes SGLang launches (engine sglang)");
  std::vector<std::string> notes;
  const std::string id = launch_model_id(s.model, notes);
  // Built for disaggregated pools too: writing the whole launch collects the scenario's notes.
  const std::vector<std::vector<std::string>> lines = {
      {"python3", "-m", "sglang.launch_server", "--model-path", id}, parallelism(c), batching(c), memory(c, notes), extras(c, notes)};
  const std::string body = c.prefill_replicas > 0 ? disaggregated_text(s, id, notes) : continued_lines(lines);
  std::string text = "# foresight export sglang: " + label + "\n";
  text += "# Traffic (serving.traffic) is the clients', not the server's: replay it with SGLang's bench_serving.\n";
  for (const std::string& note : notes) text += "# Not expressible as SGLang flags: " + note + "\n";
  return text + body;
}

}  // namespace foresight
