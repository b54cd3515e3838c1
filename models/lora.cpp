#include "models/lora.hpp"

#include <utility>

#include "models/model_arch.hpp"

namespace foresight {

bool LoraConfig::adapts(std::string_view gemm) const {
  if (!on()) return false;
  if (gemm == "attn.qkv" || gemm == "attn.q" || gemm == "attn.kv") return qkv;
  if (gemm == "attn.out") return proj;
  if (gemm == "mlp.gate_up" || gemm == "mlp.up") return fc1;
  if (gemm == "mlp.down") return fc2;
  return false;
}

std::string adapted_layers(const LoraConfig& lora, bool megatron_names, std::string_view separator) {
  std::string text;
  for (const auto& [name, on] : {std::pair{"qkv", lora.qkv}, {"proj", lora.proj}, {"fc1", lora.fc1}, {"fc2", lora.fc2}}) {
    if (!on) continue;
    if (!text.empty()) text += separator;
    text += (megatron_names ? "linear_" : "") + std::string(name);
  }
  return text;
}

double lora_layer_parameters(const ModelArch& model, const LoraConfig& lora, bool dense_mlp) {
  if (!lora.on()) return 0;
  const auto r = static_cast<double>(lora.rank);
  const auto h = static_cast<double>(model.hidden);
  const auto q = static_cast<double>(model.attention_width());
  const auto kv = static_cast<double>(model.kv_width());
  const auto f = static_cast<double>(model.is_moe() ? model.dense_ffn : model.ffn_hidden);
  // An adapter of W (k x n) holds A (k x r) and B (r x n).
  double adapters = 0;
  if (lora.qkv) adapters += r * (h + q + 2 * kv);
  if (lora.proj) adapters += r * (q + h);
  if (dense_mlp && lora.fc1) adapters += r * (h + (model.gated_mlp ? 2 : 1) * f);
  if (dense_mlp && lora.fc2) adapters += r * (f + h);
  return adapters;
}

double model_lora_parameters(const ModelArch& model, const LoraConfig& lora) {
  const auto layers = static_cast<double>(model.layers);
  const auto dense = static_cast<double>(model.is_moe() ? model.dense_layers : model.layers);
  return dense * lora_layer_parameters(model, lora, true) + (layers - dense) * lora_layer_parameters(model, lora, false);
}

}  // namespace foresight
