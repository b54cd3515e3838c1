#pragma once
// LoRA fine-tuning (Hu et al. 2021, arXiv 2106.09685): the base model's weights are frozen
// and each adapted linear layer W (k inputs, n outputs) gains a trainable path x A B with
// A of k x rank and B of rank x n, added to x W. What changes against full training:
//  - a frozen weight needs no gradient: its layer runs the input-gradient GEMM in backward
//    and no weight-gradient GEMM (4 FLOPs per parameter and token instead of 6);
//  - only the adapters have gradients, optimizer state and a data-parallel reduction;
//  - every adapted layer runs four more small GEMMs (A and B, forward and backward with
//    their weight gradients) and an add.
// Which layers are adapted follows NeMo's LoRA (nemo.collections.llm.peft.LoRA): by default
// all four linear layers of every decoder layer, at dim 32.
#include <cstdint>
#include <string>
#include <string_view>

namespace foresight {

struct ModelArch;

struct LoraConfig {
  std::int64_t rank = 0;  // 0: no adapters, every weight trained
  bool qkv = true;        // the attention's fused query/key/value projection (NeMo's linear_qkv)
  bool proj = true;       // its output projection (linear_proj)
  bool fc1 = true;        // the MLP's first projection, gate and up together when gated (linear_fc1)
  bool fc2 = true;        // the MLP's second projection (linear_fc2)

  bool on() const { return rank > 0; }
  // Whether the weight GEMM named `gemm` (the op names models/transformer_ops.cpp gives a
  // decoder layer's projections: attn.qkv, attn.q, attn.kv, attn.out, mlp.gate_up, mlp.up,
  // mlp.down) carries an adapter. A routed or shared expert's does not.
  bool adapts(std::string_view gemm) const;
};

// The adapted layers, by foresight's names (qkv, proj, fc1, fc2) or Megatron-core's
// (linear_qkv, linear_proj, linear_fc1, linear_fc2), in that order, `separator` between them.
std::string adapted_layers(const LoraConfig& lora, bool megatron_names, std::string_view separator);

inline constexpr std::int64_t kNemoLoraDim = 32;  // nemo.collections.llm.peft.LoRA's dim

// The adapters' parameters in one decoder layer: `dense_mlp` for a layer whose MLP is dense
// (every layer of a dense model, an MoE model's leading dense layers), whose fc1 and fc2 are
// adapted; an MoE layer adapts its attention only.
double lora_layer_parameters(const ModelArch& model, const LoraConfig& lora, bool dense_mlp);
// The adapters of every decoder layer.
double model_lora_parameters(const ModelArch& model, const LoraConfig& lora);

}  // namespace foresight
