#include "sim/runner/export_vllm.hpp"

#include <vector>

#include "sim/input/input_error.hpp"
#include "sim/runner/export_placement.hpp"
#include "sim/runner/import_support.hpp"
#include "sim/runner/scenario.hpp"

namespace foresight {
namespace {
std::vector<std::string> parallelism(const ServingConfig& c) {
  // vLLM runs data-parallel attention as data-parallel engines of one GPU each, their MoE
  // layers expert-parallel over all of them.
  if (c.attention_dp) return {"--tensor-parallel-size", "1", "--data-parallel-size", std::to_string(c.tp * c.replicas), "--enable-expert-parallel"};
  std::vector<std::string> w = {"--tensor-parallel-size", std::to_string(c.tp)};
  if (c.pp > 1) w.insert(w.end(), {"--pipeline-parallel-size", std::to_string(c.pp)});
  if (c.cp > 1) w.insert(w.end(), {"--prefill-context-parallel-size", std::to_string(c.cp)});
  if (c.replicas > 1) w.insert(w.end(), {"--data-parallel-size", std::to_string(c.replicas)});
  if (c.expert_parallel) w.push_back("--enable-expert-parallel");
  return w;
}

std::vector<std::string> batching(const ServingConfig& c) {
  const bool chunked = c.scheduler == "sarathi" || c.scheduler == "adaptive";
  const std::int64_t ranks = c.attention_ranks();  // each data-parallel engine's limits
  std::vector<std::string> w = {"--max-num-seqs", std::to_string(c.max_num_seqs / ranks), "--max-num-batched-tokens",
                                std::to_string((chunked ? c.chunk_size : c.max_batched_tokens) / ranks), "--max-model-len",
                                std::to_string(c.max_model_len)};
  w.push_back(chunked ? "--enable-chunked-prefill" : "--no-enable-chunked-prefill");
  if (c.engine.scheduler_steps > 1) w.insert(w.end(), {"--num-scheduler-steps", std::to_string(c.engine.scheduler_steps)});
  if (c.engine.stream_interval > 1) w.insert(w.end(), {"--stream-interval", std::to_string(c.engine.stream_interval)});
  if (!c.engine.cuda_graphs) w.push_back("--enforce-eager");
  return w;
}

std::vector<std::string> memory(const ServingConfig& c, std::vector<std::string>& notes) {
  std::vector<std::string> w = {"--gpu-memory-utilization", number_text(c.gpu_memory_utilization), "--block-size", std::to_string(c.block_size)};
  if (c.max_total_tokens > 0) w.insert(w.end(), {"--num-gpu-blocks-override", std::to_string(c.max_total_tokens / c.block_size)});
  w.push_back(c.prefix_caching ? "--enable-prefix-caching" : "--no-enable-prefix-caching");
  if (c.dtype == Dtype::kFp8) {
    w.insert(w.end(), {"--quantization", "fp8"});
  } else {
    w.insert(w.end(), {"--dtype", c.dtype == Dtype::kFp16 ? "float16" : "bfloat16"});
  }
  if (c.weight_bits == 4) w.insert(w.end(), {"--quantization", "awq_marlin"});
  if (c.weight_bits == 8) notes.push_back("8-bit weight-only quantization: vLLM reads it from the checkpoint's quantization config");
  if (c.eviction_policy != "lru") notes.push_back("eviction policy " + c.eviction_policy + ": vLLM's prefix cache evicts least recently used");
  if (c.engine.admission != "fcfs") notes.push_back("admission order " + c.engine.admission + ": vLLM admits first come, first served");
  if (c.kv_dtype == Dtype::kFp8) w.insert(w.end(), {"--kv-cache-dtype", "fp8"});
  if (c.kv_int_bits > 0) notes.push_back("an int" + std::to_string(c.kv_int_bits) + " KV cache: vLLM's --kv-cache-dtype offers fp8, not integers");
  if (c.preemption == "swap") w.insert(w.end(), {"--swap-space", number_text(c.swap_space_bytes / 1e9)});
  return w;
}

std::vector<std::string> extras(const ServingConfig& c, std::vector<std::string>& notes) {
  std::vector<std::string> w;
  if (c.lora_rank > 0) w.insert(w.end(), {"--enable-lora", "--max-lora-rank", std::to_string(c.lora_rank), "--max-loras", std::to_string(c.max_loras)});
  if (c.lora_rank > 0 && c.lora_unified) notes.push_back("adapters paged into the KV cache (lora_memory unified, S-LoRA's): vLLM sets aside --max-loras slots");
  const SpeculativeConfig& spec = c.speculative;
  if (spec.on()) {
    const std::string drafter = spec.draft_model.empty() ? "\"method\": \"eagle\"" : "\"model\": \"" + spec.draft_model + "\"";
    w.insert(w.end(), {"--speculative-config", "'{" + drafter + ", \"num_speculative_tokens\": " + std::to_string(spec.tokens) + "}'"});
    if (spec.draft_model.empty() && spec.draft_layers != 1) notes.push_back("a " + std::to_string(spec.draft_layers) + "-layer drafter: EAGLE heads have one");
    if (!spec.draft_model.empty()) notes.push_back("the draft model by its catalog name: give its HuggingFace id");
    if (spec.topk > 1) notes.push_back("a tree of drafts (eagle_topk " + std::to_string(spec.topk) + ", " + std::to_string(spec.verified_tokens()) + " tokens verified): a chain here");
    notes.push_back("the drafts' acceptance rate (" + acceptance_text(spec) + ") is the data's, not a flag");
  }
  if (c.scheduler == "adaptive") notes.push_back("adaptive chunks: vLLM's chunks are fixed at --max-num-batched-tokens");
  if (c.router != "round_robin") notes.push_back("routing (" + c.router + "): the load balancer in front of the replicas");
  return w;
}
// Disaggregated pools as vLLM runs them (docs/features/nixl_connector_usage.md): a vllm serve
// per prefill and decode server, each with the NIXL connector and a handshake port of its own
// on its machine (one per GPU worker from the base), then the proxy that sends each request to
// a prefiller and then a decoder.
std::string disaggregated_text(const Scenario& s, const std::string& id, std::vector<std::string>& notes) {
  const ServingConfig& c = s.serving;
  constexpr int kFirstSideChannelPort = 5600;  // vLLM's default
  const PoolLayout layout = lay_out_pools(s, 8100);
  note_pool_rules(c, false, notes);
  std::string text = layout.machines_comment(s);
  std::vector<int> side_channel(static_cast<std::size_t>(layout.machines), kFirstSideChannelPort);
  const auto server_text = [&](const ServerShape& shape, const Placement& p) {
    const ServingConfig server = server_config(c, shape);
    int& port = side_channel[static_cast<std::size_t>(p.machine)];
    const std::vector<std::string> environment = {"CUDA_VISIBLE_DEVICES=" + p.devices(), "VLLM_NIXL_SIDE_CHANNEL_PORT=" + std::to_string(port)};
    port += static_cast<int>(shape.tp * shape.pp);
    std::vector<std::string> first = environment;
    first.insert(first.end(), {"vllm", "serve", id});
    std::vector<std::string> unused;  // the scenario's notes come from its whole launch, once
    const std::string command = continued_lines({first, {"--port", std::to_string(p.port)}, parallelism(server), batching(server),
                                                 memory(server, unused), extras(server, unused),
                                                 {"--kv-transfer-config", "'{\"kv_connector\":\"NixlConnector\",\"kv_role\":\"kv_both\"}'"}});
    return layout.where(p, "a multi-node vLLM server (Ray, or --nnodes and --node-rank)") + in_background(command);
  };
  std::vector<std::string> proxy = {"python3", "tests/v1/kv_connector/nixl_integration/toy_proxy_server.py", "--port", "8192"};
  const auto list = [&](const std::vector<Placement>& servers, const std::string& role) {
    std::vector<std::string> hosts = {"--" + role + "-hosts"}, ports = {"--" + role + "-ports"};
    for (const Placement& p : servers) {
      hosts.push_back(layout.host(p));
      ports.push_back(std::to_string(p.port));
    }
    proxy.insert(proxy.end(), hosts.begin(), hosts.end());
    proxy.insert(proxy.end(), ports.begin(), ports.end());
  };
  for (const Placement& p : layout.prefill) text += server_text(prefill_server_shape(s), p);
  for (const Placement& p : layout.decode) text += server_text(decode_server_shape(s), p);
  list(layout.prefill, "prefiller");
  list(layout.decode, "decoder");
  notes.push_back("the NIXL transport (UCX's devices, UCX_NET_DEVICES) is the machines', not the scenario's; the proxy is the one "
                  "vLLM's NIXL guide runs, from vLLM's source tree");
  return text + continued_lines({proxy});
}
}  // namespace

std::string vllm_launch_text(const Scenario& s, const std::string& label) {
  if (!s.is_serving) throw InputError(s.source, "training", "a training scenario: export vllm writes serving launches (export megatron writes training ones)");
  const ServingConfig& c = s.serving;
  if (c.engine.name != "vllm_v1" && c.engine.name != "vllm_v0") {
    throw InputError(s.source, "serving.engine", "the engine is " + c.engine.name + ": export vllm writes vLLM launches (vllm_v1 or vllm_v0)");
  }
  std::vector<std::string> notes;
  const std::string id = launch_model_id(s.model, notes);
  // Built for disaggregated pools too: writing the whole launch collects the scenario's notes.
  const std::vector<std::vector<std::string>> lines = {{"vllm", "serve", id}, parallelism(c), batching(c), memory(c, notes), extras(c, notes)};
  const std::string body = c.prefill_replicas > 0 ? disaggregated_text(s, id, notes) : continued_lines(lines);
  std::string text = "# foresight export vllm: " + label + "\n";
  text += "# Traffic (serving.traffic) is the clients', not the server's: replay it with vLLM's benchmark script.\n";
  if (c.engine.name == "vllm_v0") text += "# The scenario's engine is vllm_v0: run it on vLLM 0.6 (VLLM_USE_V1=0 on later releases).\n";
  for (const std::string& note : notes) text += "# Not expressible as vLLM flags: " + note + "\n";
  return text + body;
}

}  // namespace foresight
