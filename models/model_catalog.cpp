#include "models/model_arch.hpp"

#include <algorithm>

namespace foresight {
namespace {
ModelArch llama_like(std::string name, std::int64_t layers, std::int64_t hidden, std::int64_t heads,
                     std::int64_t kv_heads, std::int64_t ffn, std::int64_t vocab,
                     std::int64_t positions, double published, std::string source) {
  ModelArch m;
  m.name = std::move(name);
  m.family = "llama";
  m.layers = layers;
  m.hidden = hidden;
  m.heads = heads;
  m.kv_heads = kv_heads;
  m.head_dim = hidden / heads;
  m.ffn_hidden = ffn;
  m.vocab = vocab;
  m.max_positions = positions;
  m.gated_mlp = true;
  m.activation = Activation::kSilu;
  m.norm = NormKind::kRmsNorm;
  m.position = PositionKind::kRotary;
  m.published_params = published;
  m.source = std::move(source);
  return m;
}

ModelArch gpt3_175b() {
  ModelArch m;
  m.name = "gpt3_175b";
  m.family = "gpt3";
  m.layers = 96;
  m.hidden = 12288;
  m.heads = 96;
  m.kv_heads = 96;
  m.head_dim = 128;
  m.ffn_hidden = 4 * 12288;
  m.vocab = 50257;
  m.max_positions = 2048;
  m.activation = Activation::kGelu;
  m.norm = NormKind::kLayerNorm;
  m.position = PositionKind::kLearned;
  m.tied_embeddings = true;
  m.linear_bias = true;
  m.published_params = 175e9;
  m.source = "Brown et al. 2020, Table 2.1";
  return m;
}

// Qwen3 (Qwen3 technical report, Yang et al. 2025, Tables 1 and 2; the models' config.json):
// head_dim 128 whatever the width, QK-norm, no QKV bias, untied embeddings from 8B up.
ModelArch qwen3(std::string name, std::int64_t layers, std::int64_t hidden, std::int64_t heads, std::int64_t kv_heads,
                std::int64_t ffn, double published, std::string source) {
  ModelArch m = llama_like(std::move(name), layers, hidden, heads, kv_heads, ffn, 151936, 40960, published, std::move(source));
  m.family = "qwen3";
  m.head_dim = 128;
  m.qk_norm = true;
  return m;
}

// Qwen3's MoE models: 128 experts of `expert_ffn` in every layer, 8 per token.
ModelArch qwen3_moe(std::string name, std::int64_t layers, std::int64_t hidden, std::int64_t heads, std::int64_t kv_heads,
                    std::int64_t expert_ffn, double published, std::string source) {
  ModelArch m = qwen3(std::move(name), layers, hidden, heads, kv_heads, expert_ffn, published, std::move(source));
  m.family = "qwen3_moe";
  m.experts = 128;
  m.experts_per_token = 8;
  return m;
}

// Gemma 2 and 3 (their technical reports' parameter tables; the models' config.json):
// GeGLU, tied embeddings, and sliding-window attention in `local` of the layers.
ModelArch gemma(std::string name, std::int64_t layers, std::int64_t hidden, std::int64_t heads, std::int64_t kv_heads,
                std::int64_t head_dim, std::int64_t ffn, std::int64_t vocab, std::int64_t positions, std::int64_t window,
                std::int64_t local, double published, std::string source) {
  ModelArch m = llama_like(std::move(name), layers, hidden, heads, kv_heads, ffn, vocab, positions, published, std::move(source));
  m.family = "gemma";
  m.head_dim = head_dim;
  m.activation = Activation::kGelu;
  m.tied_embeddings = true;
  m.sliding_window = window;
  m.local_layers = local;
  return m;
}

ModelArch gemma3_27b() {
  ModelArch m = gemma("gemma3_27b", 62, 5376, 32, 16, 128, 21504, 262208, 131072, 1024, 52, 27.016e9,
                      "google/gemma-3-27b-pt text_config; 1,416M embedding + 25,600M other parameters (Gemma 3 technical report, "
                      "Table 1; the 417M vision encoder left out); 52 of 62 layers slide a 1,024-token window");
  m.qk_norm = true;
  return m;
}

// Qwen2-MoE (the models' config.json): Qwen2's attention with QKV bias, and in every layer
// `experts` routed experts of `expert_ffn` beside one shared expert of `shared_ffn`.
ModelArch qwen2_moe(std::string name, std::int64_t layers, std::int64_t hidden, std::int64_t heads, std::int64_t kv_heads,
                    std::int64_t experts, std::int64_t per_token, std::int64_t expert_ffn, std::int64_t shared_ffn,
                    std::int64_t positions, double published, std::string source) {
  ModelArch m = llama_like(std::move(name), layers, hidden, heads, kv_heads, expert_ffn, 151936, positions, published, std::move(source));
  m.family = "qwen2_moe";
  m.qkv_bias = true;
  m.experts = experts;
  m.experts_per_token = per_token;
  m.shared_expert_ffn = shared_ffn;
  return m;
}

// DeepSeek-V2 and V3 (their config.json): latent attention with 128-wide nope and 64-wide
// rotary query/key heads and 128-wide values, the first `dense_layers` layers dense, the
// rest routing to 6 or 8 of their experts beside `shared` shared ones.
ModelArch deepseek(std::string name, std::int64_t layers, std::int64_t hidden, std::int64_t heads, std::int64_t q_rank,
                   std::int64_t dense_layers, std::int64_t dense_ffn, std::int64_t experts, std::int64_t per_token,
                   std::int64_t expert_ffn, std::int64_t shared, std::int64_t vocab, double published, std::string source) {
  ModelArch m = llama_like(std::move(name), layers, hidden, heads, heads, expert_ffn, vocab, 163840, published, std::move(source));
  m.family = "deepseek_v3";
  m.head_dim = 128 + 64;
  m.mla = {q_rank, 512, 64, 128};
  m.dense_layers = dense_layers;
  m.dense_ffn = dense_ffn;
  m.experts = experts;
  m.experts_per_token = per_token;
  m.shared_expert_ffn = shared * expert_ffn;
  return m;
}

// GPT-OSS (openai/gpt-oss-20b and -120b config.json; OpenAI's gpt-oss model card, Table 1):
// 2,880 wide, 64 query heads of 64 and 8 key/value heads, biases on the attention
// projections and the experts, `experts` experts of 2,880 in every layer with 4 per token,
// and every other layer (from the first) attending to the last 128 keys only.
ModelArch gpt_oss(std::string name, std::int64_t layers, std::int64_t experts, double published, std::string source) {
  ModelArch m = llama_like(std::move(name), layers, 2880, 64, 8, 2880, 201088, 131072, published, std::move(source));
  m.family = "gpt_oss";
  m.head_dim = 64;
  m.linear_bias = true;
  m.experts = experts;
  m.experts_per_token = 4;
  m.sliding_window = 128;
  m.local_layers = (layers + 1) / 2;
  return m;
}

ModelArch mixtral_8x7b() {
  ModelArch m = llama_like("mixtral_8x7b", 32, 4096, 32, 8, 14336, 32000, 32768, 46.7e9,
                           "mistralai/Mixtral-8x7B-v0.1 config.json; 46.7B total, 12.9B active");
  m.family = "mixtral";
  m.experts = 8;
  m.experts_per_token = 2;
  return m;
}
}  // namespace

const std::vector<ModelArch>& builtin_models() {
  static const std::vector<ModelArch> kModels = {
      gpt3_175b(),
      llama_like("llama3_8b", 32, 4096, 32, 8, 14336, 128256, 8192, 8.03e9,
                 "meta-llama/Meta-Llama-3-8B config.json; 8.03B parameters"),
      llama_like("llama3_70b", 80, 8192, 64, 8, 28672, 128256, 8192, 70.6e9,
                 "meta-llama/Meta-Llama-3-70B config.json; 70.6B parameters"),
      llama_like("llama3_405b", 126, 16384, 128, 8, 53248, 128256, 131072, 405.9e9,
                 "meta-llama/Llama-3.1-405B config.json; 405.9B parameters"),
      llama_like("llama2_7b", 32, 4096, 32, 32, 11008, 32000, 4096, 6.74e9,
                 "meta-llama/Llama-2-7b-hf config.json; 6.74B parameters"),
      llama_like("llama2_13b", 40, 5120, 40, 40, 13824, 32000, 4096, 13.02e9,
                 "meta-llama/Llama-2-13b-hf config.json; 13.02B parameters"),
      llama_like("llama2_70b", 80, 8192, 64, 8, 28672, 32000, 4096, 68.98e9,
                 "meta-llama/Llama-2-70b-hf config.json; 68.98B parameters"),
      llama_like("llama31_8b", 32, 4096, 32, 8, 14336, 128256, 131072, 8.03e9,
                 "meta-llama/Llama-3.1-8B config.json; 8.03B parameters, 128k positions"),
      llama_like("llama31_70b", 80, 8192, 64, 8, 28672, 128256, 131072, 70.6e9,
                 "meta-llama/Llama-3.1-70B config.json; 70.6B parameters, 128k positions"),
      llama_like("llama33_70b", 80, 8192, 64, 8, 28672, 128256, 131072, 70.6e9,
                 "meta-llama/Llama-3.3-70B-Instruct config.json; 70.6B parameters, 128k positions (Llama 3.1 70B's shape)"),
      llama_like("mistral_7b", 32, 4096, 32, 8, 14336, 32768, 32768, 7.25e9,
                 "mistralai/Mistral-7B-Instruct-v0.3 config.json; 7.25B parameters"),
      mixtral_8x7b(),
      qwen3("qwen3_8b", 36, 4096, 32, 8, 12288, 8.2e9, "Qwen/Qwen3-8B config.json; 8.2B parameters (Qwen3 technical report)"),
      qwen3("qwen3_32b", 64, 5120, 64, 8, 25600, 32.8e9, "Qwen/Qwen3-32B config.json; 32.8B parameters (Qwen3 technical report)"),
      qwen3_moe("qwen3_30b_a3b", 48, 2048, 32, 4, 768, 30.5e9,
                "Qwen/Qwen3-30B-A3B config.json; 30.5B total, 3.3B active (Qwen3 technical report)"),
      qwen3_moe("qwen3_235b_a22b", 94, 4096, 64, 4, 1536, 235e9,
                "Qwen/Qwen3-235B-A22B config.json; 235B total, 22B active (Qwen3 technical report)"),
      qwen2_moe("qwen15_moe_a2_7b", 24, 2048, 16, 16, 60, 4, 1408, 5632, 32768, 14.3e9,
                "Qwen/Qwen1.5-MoE-A2.7B config.json; 14.3B total, 2.7B active (Qwen1.5-MoE model card); 60 experts, "
                "4 per token, and a shared expert 4 experts wide"),
      qwen2_moe("qwen2_57b_a14b", 28, 3584, 28, 4, 64, 8, 2560, 20480, 131072, 57.41e9,
                "Qwen/Qwen2-57B-A14B config.json; 57.41B total, 14B active (Qwen2 technical report, Table 1); 64 experts, "
                "8 per token, and a shared expert 8 experts wide"),
      gemma("gemma2_9b", 42, 3584, 16, 8, 256, 14336, 256000, 8192, 4096, 21, 9.2417e9,
            "google/gemma-2-9b config.json; 918M embedding + 8,324M other parameters (Gemma 2 technical report, Table 1); "
            "every other layer slides a 4,096-token window"),
      gemma("gemma2_27b", 46, 4608, 32, 16, 128, 36864, 256000, 8192, 4096, 23, 27.227e9,
            "google/gemma-2-27b config.json; 1,180M embedding + 26,047M other parameters (Gemma 2 technical report, Table 1); "
            "every other layer slides a 4,096-token window"),
      gemma3_27b(),
      gpt_oss("gpt_oss_120b", 36, 128, 116.83e9,
              "openai/gpt-oss-120b config.json; 116.83B total, 5.13B active without the input embedding (gpt-oss model "
              "card, Table 1); 128 experts, 4 per token; every other layer slides a 128-token window"),
      gpt_oss("gpt_oss_20b", 24, 32, 20.91e9,
              "openai/gpt-oss-20b config.json; 20.91B total, 3.61B active without the input embedding (gpt-oss model "
              "card, Table 1); 32 experts, 4 per token; every other layer slides a 128-token window"),
      deepseek("deepseek_v3", 61, 7168, 128, 1536, 3, 18432, 256, 8, 2048, 1, 129280, 671e9,
               "deepseek-ai/DeepSeek-V3 config.json; 671B total, 37B active (DeepSeek-V3 technical report; the 14B "
               "multi-token prediction module left out); latent attention, 256 experts, 8 per token, one shared, the "
               "first 3 layers dense"),
      deepseek("deepseek_r1", 61, 7168, 128, 1536, 3, 18432, 256, 8, 2048, 1, 129280, 671e9,
               "deepseek-ai/DeepSeek-R1 config.json; DeepSeek-V3's shape, 671B total, 37B active (the 14B multi-token "
               "prediction module left out)"),
      deepseek("deepseek_v2_lite", 27, 2048, 16, 0, 1, 10944, 64, 6, 1408, 2, 102400, 15.7e9,
               "deepseek-ai/DeepSeek-V2-Lite config.json; 15.7B total, 2.4B active (its model card); latent attention "
               "without a query latent, 64 experts, 6 per token, two shared, the first layer dense"),
  };
  return kModels;
}

const ModelArch* find_builtin_model(const std::string& name) {
  for (const ModelArch& model : builtin_models()) {
    if (model.name == name) return &model;
  }
  return nullptr;
}

std::vector<std::string> builtin_model_names() {
  std::vector<std::string> names;
  for (const ModelArch& model : builtin_models()) names.push_back(model.name);
  return names;
}

std::int64_t ModelArch::dense_layers_in(std::int64_t first, std::int64_t count) const {
  return std::clamp<std::int64_t>(dense_layers - first, 0, count);
}

namespace {
// Latent attention's projections: the query's down (with its latent's RMSNorm) and up, the
// joint key/value down projection to the latent and the shared rotary key (with the latent's
// RMSNorm), the up projection to each head's key (beside the rotary part) and value, and the
// output projection from the value heads.
double latent_attention_parameters(const ModelArch& m) {
  const auto h = static_cast<double>(m.hidden);
  const auto heads = static_cast<double>(m.heads);
  const auto q_rank = static_cast<double>(m.mla.q_rank);
  const auto kv_rank = static_cast<double>(m.mla.kv_rank);
  const auto query_width = heads * static_cast<double>(m.head_dim);
  const double query = q_rank > 0 ? h * q_rank + q_rank + q_rank * query_width : h * query_width;
  const double key_value_down = h * (kv_rank + static_cast<double>(m.mla.rope_dim)) + kv_rank;
  const double key_value_up = kv_rank * heads * static_cast<double>(m.head_dim - m.mla.rope_dim + m.mla.v_head_dim);
  const double out = static_cast<double>(m.value_width()) * h;
  return query + key_value_down + key_value_up + out;
}
}  // namespace

double layer_parameters(const ModelArch& model, const ParameterCount& count, std::int64_t first, std::int64_t layers) {
  const std::int64_t dense = model.dense_layers_in(first, layers);
  return count.per_dense_layer * static_cast<double>(dense) + count.per_layer * static_cast<double>(layers - dense);
}

double layer_expert_parameters(const ModelArch& model, const ParameterCount& count, std::int64_t first, std::int64_t layers) {
  return count.per_layer_experts * static_cast<double>(layers - model.dense_layers_in(first, layers));
}

ParameterCount count_parameters(const ModelArch& m) {
  const auto h = static_cast<double>(m.hidden);
  const auto attn = static_cast<double>(m.attention_width());
  const auto kv = static_cast<double>(m.kv_width());
  const auto ffn = static_cast<double>(m.ffn_hidden);
  const double norm = m.norm == NormKind::kLayerNorm ? 2 * h : h;
  const double qk_norm = m.qk_norm ? 2 * static_cast<double>(m.head_dim) : 0;

  const double qkv = h * (attn + 2 * kv) + (m.linear_bias || m.qkv_bias ? attn + 2 * kv : 0);
  const double out = attn * h + (m.linear_bias ? h : 0);
  const double self_attention = m.latent_attention() ? latent_attention_parameters(m) : qkv + out;
  const double mlp = (m.gated_mlp ? 3 : 2) * h * ffn + (m.linear_bias ? ffn + h : 0);
  const auto dense_ffn = static_cast<double>(m.dense_ffn);
  const double dense_mlp = (m.gated_mlp ? 3 : 2) * h * dense_ffn + (m.linear_bias ? dense_ffn + h : 0);
  const auto shared_ffn = static_cast<double>(m.shared_expert_ffn);
  const double shared = (m.gated_mlp ? 3 : 2) * h * shared_ffn + (m.linear_bias && shared_ffn > 0 ? shared_ffn + h : 0);
  const double experts = m.is_moe() ? static_cast<double>(m.experts) : 1;
  const double router = m.is_moe() ? h * static_cast<double>(m.experts) : 0;
  // T5 keeps its relative position bias table in the first layer of each stack.
  const double relative_bias = static_cast<double>(m.relative_attention_buckets * m.heads);

  ParameterCount count;
  count.embedding = static_cast<double>(m.vocab) * h +
                    (m.position == PositionKind::kLearned ? static_cast<double>(m.max_positions) * h : 0);
  count.lm_head = m.tied_embeddings ? 0 : static_cast<double>(m.vocab) * h;
  const double cross_attention = m.is_encoder_decoder() ? self_attention + norm : 0;
  count.per_layer = self_attention + cross_attention + experts * mlp + shared + router + 2 * norm + qk_norm;
  count.per_layer_experts = m.is_moe() ? experts * mlp : 0;
  count.per_dense_layer = m.dense_layers > 0 ? self_attention + cross_attention + dense_mlp + 2 * norm + qk_norm : 0;
  count.per_encoder_layer = m.is_encoder_decoder() ? self_attention + mlp + 2 * norm : 0;
  count.final_norms = norm * (m.is_encoder_decoder() ? 2 : 1);
  const auto dense_layers = static_cast<double>(m.dense_layers);
  const auto layers = static_cast<double>(m.layers) - dense_layers;  // the layers of per_layer
  const auto encoder_layers = static_cast<double>(m.encoder_layers);
  count.total = count.embedding + count.lm_head + count.final_norms + layers * count.per_layer +
                dense_layers * count.per_dense_layer + encoder_layers * count.per_encoder_layer +
                relative_bias * (m.is_encoder_decoder() ? 2 : 1);

  const double active_mlp = (m.is_moe() ? static_cast<double>(m.experts_per_token) : 1) * mlp + shared;
  const double active_layer = self_attention + cross_attention + active_mlp + router + 2 * norm + qk_norm;
  count.active_per_token = count.total - layers * (count.per_layer - active_layer);
  // Every weight a token is multiplied by: the projections, router and output head; the
  // embedding lookup is a gather, not a matmul, unless it doubles as the output head.
  const double head = static_cast<double>(m.vocab) * h;
  count.matmul_active = layers * (self_attention + cross_attention + active_mlp + router) +
                        dense_layers * (self_attention + cross_attention + dense_mlp) +
                        encoder_layers * (self_attention + mlp) + head;
  return count;
}

}  // namespace foresight
