#include "sim/runner/export_command.hpp"

#include <algorithm>

#include "sim/runner/export_megatron.hpp"
#include "sim/runner/export_megatron_bridge.hpp"
#include "sim/input/input_error.hpp"
#include "sim/runner/export_sglang.hpp"
#include "sim/runner/export_trtllm.hpp"
#include "sim/runner/export_vllm.hpp"
#include "sim/runner/import_support.hpp"
#include "sim/runner/megatron_layout.hpp"
#include "sim/runner/scenario.hpp"
#include "workloads/training_step.hpp"

namespace foresight {
namespace {
using LaunchCommand = MegatronLaunch;

std::vector<std::string> launcher(const Scenario& s) {
  const std::int64_t gpus = s.training.gpus(), per_node = std::min<std::int64_t>(gpus, s.fabric.gpus);
  return {"torchrun", "--nproc_per_node", std::to_string(per_node), "--nnodes", std::to_string(gpus / per_node), "pretrain_gpt.py"};
}

std::vector<std::string> architecture(const ModelArch& m, std::int64_t sequence, LaunchCommand& c) {
  if (m.is_encoder_decoder()) throw InputError("", "model", m.name + " is an encoder-decoder model: pretrain_gpt.py trains decoder-only models");
  // With leading dense layers, --ffn-hidden-size is their MLP and --moe-ffn-hidden-size the experts'.
  const bool dense_layers = m.is_moe() && m.dense_layers > 0;
  std::vector<std::string> w = {"--num-layers", std::to_string(m.layers), "--hidden-size", std::to_string(m.hidden), "--ffn-hidden-size",
                                std::to_string(dense_layers ? m.dense_ffn : m.ffn_hidden), "--num-attention-heads", std::to_string(m.heads)};
  if (m.kv_heads != m.heads) w.insert(w.end(), {"--group-query-attention", "--num-query-groups", std::to_string(m.kv_heads)});
  if (m.latent_attention()) {
    w.insert(w.end(), {"--multi-latent-attention", "--kv-lora-rank", std::to_string(m.mla.kv_rank), "--qk-head-dim",
                       std::to_string(m.head_dim - m.mla.rope_dim), "--qk-pos-emb-head-dim", std::to_string(m.mla.rope_dim), "--v-head-dim",
                       std::to_string(m.mla.v_head_dim)});
    if (m.mla.q_rank > 0) w.insert(w.end(), {"--q-lora-rank", std::to_string(m.mla.q_rank)});
  } else if (m.head_dim * m.heads != m.hidden) {
    w.insert(w.end(), {"--kv-channels", std::to_string(m.head_dim)});
  }
  if (m.gated_mlp && m.activation == Activation::kSilu) w.push_back("--swiglu");
  if (m.gated_mlp && m.activation != Activation::kSilu) c.notes.push_back("a gated MLP with another activation than SiLU: Megatron's --swiglu is SiLU's");
  if (m.norm == NormKind::kRmsNorm) w.insert(w.end(), {"--normalization", "RMSNorm"});
  if (m.position == PositionKind::kRotary) w.insert(w.end(), {"--position-embedding-type", "rope"});
  if (m.position == PositionKind::kRelativeBias) c.notes.push_back("relative position biases (T5's): Megatron's GPT has none");
  if (!m.tied_embeddings) w.push_back("--untie-embeddings-and-output-weights");
  if (!m.linear_bias) w.push_back("--disable-bias-linear");
  if (!m.linear_bias && m.qkv_bias) w.push_back("--add-qkv-bias");
  if (m.qk_norm) w.push_back("--qk-layernorm");
  if (m.sliding_window > 0) c.notes.push_back("sliding-window attention in " + std::to_string(m.local_layers) + " layers: pretrain_gpt.py's --window-size applies to all");
  if (m.is_moe()) w.insert(w.end(), {"--num-experts", std::to_string(m.experts), "--moe-router-topk", std::to_string(m.experts_per_token)});
  if (m.shared_expert_ffn > 0) w.insert(w.end(), {"--moe-shared-expert-intermediate-size", std::to_string(m.shared_expert_ffn)});
  if (dense_layers) {
    // Quoted: the list's brackets, parentheses and '*' mean something to the shell.
    w.insert(w.end(), {"--moe-ffn-hidden-size", std::to_string(m.ffn_hidden), "--moe-layer-freq",
                       "'([0]*" + std::to_string(m.dense_layers) + "+[1]*" + std::to_string(m.layers - m.dense_layers) + ")'"});
  }
  // Megatron wants at least the sequence length, learned positions or not.
  if (m.max_positions < sequence) c.notes.push_back("max_positions " + std::to_string(m.max_positions) + ": Megatron needs --max-position-embeddings of at least the sequence length, given instead");
  w.insert(w.end(), {"--max-position-embeddings", std::to_string(std::max(m.max_positions, sequence)), "--vocab-size", std::to_string(m.vocab)});
  return w;
}

// Megatron pads the vocabulary to a multiple of make_vocab_size_divisible_by (128) x TP; the
// largest power-of-two divisor that the scenario's vocabulary already meets keeps its size.
std::vector<std::string> vocabulary_padding(const ModelArch& m, std::int64_t tp, LaunchCommand& c) {
  std::int64_t divisor = 128;
  while (divisor > 1 && m.vocab % (divisor * tp) != 0) divisor /= 2;
  if (m.vocab % (divisor * tp) != 0) {
    c.notes.push_back("a vocabulary of " + std::to_string(m.vocab) + " tokens, which Megatron pads to a multiple of TP (" + std::to_string(tp) + ")");
  }
  if (divisor == 128) return {};
  return {"--make-vocab-size-divisible-by", std::to_string(divisor)};
}

std::vector<std::string> precision(const TrainingConfig& t, LaunchCommand& c) {
  std::vector<std::string> w;
  if (t.dtype == Dtype::kBf16 || t.dtype == Dtype::kFp8) w.push_back("--bf16");
  if (t.dtype == Dtype::kFp16) w.push_back("--fp16");
  if (t.dtype == Dtype::kFp8) w.insert(w.end(), {"--fp8-format", "hybrid", "--fp8-recipe", t.fp8_current_scaling ? "tensorwise" : "delayed"});
  if (t.fp8_param_gather) w.push_back("--fp8-param-gather");
  if (t.has_bf16_layers()) {
    w.insert(w.end(), {"--first-last-layers-bf16", "--num-layers-at-start-in-bf16", std::to_string(t.bf16_layers_at_start),
                       "--num-layers-at-end-in-bf16", std::to_string(t.bf16_layers_at_end)});
  }
  if (t.dtype == Dtype::kFp8 && t.fp8_current_scaling && !t.fp8_amax_fused) {
    c.notes.push_back("fp8_amax_fused false: Transformer Engine 2.6+ computes the amax inside its norm and activation kernels");
  }
  if (t.dtype == Dtype::kFp8 && !t.fp8_saved_inputs) {
    c.notes.push_back("fp8_saved_inputs false: Transformer Engine keeps its fp8 linear layers' inputs in fp8");
  }
  if (t.dtype == Dtype::kTf32) c.notes.push_back("tf32: Megatron trains in fp32, whose matmuls PyTorch may run in TF32");
  if (t.lora.on()) c.notes.push_back(kMegatronLoraNote);
  const bool sixteen_bit_grads = t.grad_dtype != Dtype::kFp32;
  if ((t.dtype == Dtype::kBf16 || t.dtype == Dtype::kFp8) && sixteen_bit_grads) w.push_back("--grad-reduce-in-bf16");
  if (t.dtype == Dtype::kFp16 && !sixteen_bit_grads) w.push_back("--accumulate-allreduce-grads-in-fp32");
  return w;
}

std::vector<std::string> layout(const TrainingConfig& t, LaunchCommand& c) {
  std::vector<std::string> w = {"--tensor-model-parallel-size", std::to_string(t.tp), "--pipeline-model-parallel-size", std::to_string(t.pp),
                                "--context-parallel-size", std::to_string(t.cp)};
  if (t.ep > 1) w.insert(w.end(), {"--expert-model-parallel-size", std::to_string(t.ep)});
  if (t.experts_folded()) w.insert(w.end(), {"--expert-tensor-parallel-size", "1"});
  if (t.pp > 1 && t.schedule == "interleaved_1f1b") w.insert(w.end(), {"--num-virtual-stages-per-pipeline-rank", std::to_string(t.virtual_stages)});
  if (t.pp > 1 && t.schedule == "bitpipe") {
    w.push_back("--enable-bitpipe-schedule");
    c.notes.push_back("--enable-bitpipe-schedule is the flag of BitPipe's authors' Megatron-LM fork (wuhouming/BitPipe); upstream Megatron-LM refuses it");
  } else if (t.pp > 1 && t.schedule != "1f1b" && t.schedule != "interleaved_1f1b") {
    c.notes.push_back("the " + t.schedule + " pipeline schedule: Megatron-LM runs 1F1B and its interleaved form");
  }
  if (!t.stage_layers.empty()) {
    std::string quoted(1, '\'');  // the layout's '|' and '*' mean something to the shell
    quoted.append(megatron_layout_string(t.stage_layers, t.mtp_layers)).push_back('\'');
    w.insert(w.end(), {"--pipeline-model-parallel-layout", quoted});
  }
  if (t.first_stage_layers >= 0) w.insert(w.end(), {"--decoder-first-pipeline-num-layers", std::to_string(t.first_stage_layers)});
  if (t.last_stage_layers >= 0) w.insert(w.end(), {"--decoder-last-pipeline-num-layers", std::to_string(t.last_stage_layers)});
  if (t.sequence_parallel) w.push_back("--sequence-parallel");
  if (t.tp_comm_overlap) w.push_back("--tp-comm-overlap");
  if (t.tp_comm_overlap && !t.tp_comm_overlap_backward_rs) {
    c.notes.push_back("tp_comm_overlap_backward_rs false (PyTorch's async TP): Megatron-LM overlaps the backward reduce-scatters too");
  }
  if (t.tp_comm_overlap && t.tp_comm_overlap_separate_sum) {
    c.notes.push_back("tp_comm_overlap_separate_sum (PyTorch's async TP): Megatron-LM's userbuffers add the partials inside the exchange");
  }
  if (t.cp > 1 && t.cp_ring == CpRing::kPyTorch) {
    c.notes.push_back("cp_ring pytorch (PyTorch's context_parallel): Megatron-LM runs Transformer Engine's ring");
  }
  if (t.cp > 1 && t.cp_ring == CpRing::kAllGather) {
    c.notes.push_back("cp_ring all_gather (Llama 3's CP): Megatron-LM runs Transformer Engine's ring");
  }
  if (t.overlap_p2p) w.push_back("--overlap-p2p-communication");
  if (t.moe_a2a_overlap) w.push_back("--overlap-moe-expert-parallel-comm");
  if (t.delay_wgrad_compute) w.push_back("--delay-wgrad-compute");
  return w;
}

// ZeRO-1 is the distributed optimizer; stages 2 and 3 are Megatron-FSDP's sharding
// strategies, or PyTorch FSDP2 for its copies. Megatron has no ZeRO++, no local SGD and no
// compressed gradient reduction.
std::vector<std::string> sharding(const TrainingConfig& t, LaunchCommand& c) {
  if (t.zero_quantized_weights || t.zero_hpz_partition_size > 1 || t.zero_quantized_gradients) {
    c.notes.push_back("ZeRO++ (zero_quantized_weights, zero_hpz_partition_size, zero_quantized_gradients) is DeepSpeed's: "
                      "Megatron-FSDP below gathers and reduces in 16 bits over the whole DP group");
  }
  if (t.local_sgd()) {
    c.notes.push_back("local SGD (local_sgd.period " + std::to_string(t.local_sgd_period) +
                      ") has no Megatron-LM argument: every step below reduces its gradients over DP");
  }
  if (t.fp8_gradients || t.onebit_adam) {
    c.notes.push_back(std::string("grad_compression ") + (t.fp8_gradients ? "fp8 (FP8-LM's, MS-AMP's)" : "onebit_adam (DeepSpeed's)") +
                      " has no Megatron-LM argument: the gradients below are reduced in grad_dtype");
  }
  if (t.zero_stage == 0) return {};
  if (t.zero_stage == 1) return {"--use-distributed-optimizer"};
  if (t.fsdp2_copies) return {"--use-torch-fsdp2"};
  return {"--use-megatron-fsdp", "--data-parallel-sharding-strategy", t.zero_stage == 2 ? "optim_grads" : "optim_grads_params"};
}

// Megatron's --recompute-modules words for the modules selective recomputation reruns.
std::string recompute_module_list(const RecomputedModules& m) {
  std::string list;
  for (const auto& [name, flag] : kRecomputedModuleNames) {
    if (!(m.*flag)) continue;
    if (!list.empty()) list += ' ';
    list += name;
  }
  return list;
}

std::vector<std::string> step(const TrainingConfig& t, std::int64_t layers, LaunchCommand& c) {
  std::vector<std::string> w = {"--seq-length", std::to_string(t.sequence), "--micro-batch-size", std::to_string(t.micro_batch),
                                "--global-batch-size", std::to_string(t.global_batch)};
  if (const std::string modules = recompute_module_list(t.recompute_modules); t.recompute == Recompute::kSelective && !modules.empty()) {
    w.insert(w.end(), {"--recompute-granularity", "selective", "--recompute-modules", modules});
  }
  if (t.recompute == Recompute::kSelectiveOp) {
    c.notes.push_back("torchtitan's op-level selective recompute has no Megatron-LM flag: left out, no recomputation");
  }
  if (t.recompute == Recompute::kFull && t.recompute_every == 1) {
    w.insert(w.end(), {"--recompute-granularity", "full", "--recompute-method", "uniform"});
  }
  if (t.recompute == Recompute::kFull && t.recompute_every > 1) {
    const std::int64_t chunk_layers = layers / t.positions();
    w.insert(w.end(), {"--recompute-granularity", "full", "--recompute-method", "block", "--recompute-num-layers",
                       std::to_string(chunk_layers / t.recompute_every)});
    c.notes.push_back("every " + std::to_string(t.recompute_every) + "th layer recomputed: Megatron's block method reruns as many, the first of each model chunk");
  }
  if (t.offload_layers > 0) w.insert(w.end(), {"--cpu-offloading", "--cpu-offloading-num-layers", std::to_string(t.offload_layers)});
  if (t.mtp_layers > 0) w.insert(w.end(), {"--mtp-num-layers", std::to_string(t.mtp_layers)});
  const char* backend = t.attention == AttentionKernel::kUnfused ? "unfused" : t.attention == AttentionKernel::kFlash3 ? "fused" : "flash";
  w.insert(w.end(), {"--attention-backend", backend, "--attention-dropout", number_text(t.dropout), "--hidden-dropout", number_text(t.dropout)});
  if (!t.grad_clip) w.insert(w.end(), {"--clip-grad", "0.0"});
  if (!t.fp32_cross_entropy) w.push_back("--cross-entropy-loss-fusion");
  if (!t.grad_accumulation_fusion) w.push_back("--no-gradient-accumulation-fusion");
  if (t.overlap_grad_reduce) w.push_back("--overlap-grad-reduce");
  if (t.overlap_param_gather) w.push_back("--overlap-param-gather");
  if (t.document_length > 0) c.notes.push_back("packed documents under a document mask: Megatron's --reset-attention-mask masks them, without fused attention's skipping");
  return w;
}

// A balanced split is the step's own: build it to learn the counts.
TrainingConfig split_as_built(const Scenario& s) {
  TrainingConfig t = s.training;
  if (t.balance_stages) t.stage_layers = TrainingStep(s.model, s.gpu, s.fabric, t, *s.cost_model).stage_layers();
  return t;
}

}  // namespace

MegatronLaunch megatron_launch(const Scenario& s) {
  LaunchCommand c;
  const TrainingConfig& t = s.training;
  c.add(launcher(s));
  std::vector<std::string> model = architecture(s.model, t.sequence, c);
  const std::vector<std::string> padding = vocabulary_padding(s.model, t.tp, c);
  model.insert(model.end(), padding.begin(), padding.end());
  c.add(model);
  c.add(step(t, s.model.layers, c));
  if (s.model.is_moe() && !t.dropless_routing) c.add({"--moe-expert-capacity-factor", "1.0", "--moe-pad-expert-input-to-capacity"});
  if (s.model.is_moe()) {
    c.add(t.sorts_received_by_expert ? std::vector<std::string>{"--moe-token-dispatcher-type", "alltoall"}
                                     : std::vector<std::string>{"--moe-token-dispatcher-type", "flex", "--moe-flex-dispatcher-backend", "deepep"});
    if (t.moe_shared_expert_overlap) c.add({"--moe-shared-expert-overlap"});
  }
  if (t.host.cuda_graphs && t.host.graph_scopes.empty()) c.add({"--cuda-graph-impl", "local"});
  if (t.host.cuda_graphs && !t.host.graph_scopes.empty()) {
    std::vector<std::string> graphs = {"--cuda-graph-impl", "transformer_engine", "--cuda-graph-scope"};
    graphs.insert(graphs.end(), t.host.graph_scopes.begin(), t.host.graph_scopes.end());
    c.add(graphs);
  }
  c.add(precision(t, c));
  c.add(layout(split_as_built(s), c));
  c.add(sharding(t, c));
  return c;
}

namespace {
std::string shell_text(const ExportOptions& o, const Scenario& s, const LaunchCommand& c) {
  std::string text = "# foresight export megatron: " + (o.scenario.empty() ? std::string("the built-in default scenario") : o.scenario) + "\n";
  text += "# Add your data, tokenizer, checkpoint and learning-rate arguments; run it on every node with its --node_rank.\n";
  for (const std::string& note : c.notes) text += "# Not expressible as Megatron-LM arguments: " + note + "\n";
  if (s.fabric.nodes > 1) text += "# The cluster's fabric (NICs, switches) is the scenario's hardware.topology, not part of the launch.\n";
  for (std::size_t i = 0; i < c.lines.size(); ++i) {
    std::string line;
    for (const std::string& word : c.lines[i]) line += (line.empty() ? "" : " ") + word;
    text += (i == 0 ? "" : "    ") + line + (i + 1 < c.lines.size() ? " \\\n" : "\n");
  }
  return text;
}
}  // namespace

int run_export_command(const ExportOptions& o, std::ostream& out) {
  if (o.tool != "megatron" && o.tool != "megatron-bridge" && o.tool != "vllm" && o.tool != "sglang" && o.tool != "trtllm") {
    throw InputError("", "export", "expected megatron, megatron-bridge, vllm, sglang or trtllm, got \"" + o.tool + "\"");
  }
  const Scenario s = o.scenario.empty() ? default_scenario(o.overrides) : load_scenario(o.scenario, o.overrides);
  const std::string label = o.scenario.empty() ? std::string("the built-in default scenario") : o.scenario;
  if (o.tool == "vllm") {
    out << vllm_launch_text(s, label);
    return 0;
  }
  if (o.tool == "sglang") {
    out << sglang_launch_text(s, label);
    return 0;
  }
  if (o.tool == "trtllm") {
    out << trtllm_launch_text(s, label);
    return 0;
  }
  if (s.is_serving) throw InputError(s.source, "serving", "a serving scenario: export megatron writes training launches");
  if (o.tool == "megatron-bridge") {
    if (s.is_serving) throw InputError(s.source, "serving", "a serving scenario: export megatron-bridge writes training configs");
    out << megatron_bridge_config_text(s, label);
    return 0;
  }
  out << shell_text(o, s, megatron_launch(s));
  return 0;
}

}  // namespace foresight
