// Reads a HuggingFace transformers config.json. Only the keys foresight needs are read;
// the many others (dropout, token ids, ...) are ignored, since the format is not ours.
#include <algorithm>
#include <filesystem>
#include <utility>

#include <nlohmann/json.hpp>

#include "models/model_arch.hpp"
#include "sim/input/json_document.hpp"
#include "sim/input/object_reader.hpp"

namespace foresight {
namespace {
// The scenario's own model bounds (models/model_reader.cpp): widths and counts up to 1e7
// keep shape products (tokens x width x width) far from overflow.
const FieldInfo kPositive{"", "", 1.0, 1e7};

// Values derived from others (head_dim = hidden / heads) or defaulted are checked too:
// a config goes through the same bounds as a scenario's model object.
void check_dimensions(ObjectReader& r, const ModelArch& m) {
  const std::pair<const char*, std::int64_t> widths[] = {
      {"hidden size", m.hidden}, {"attention heads", m.heads}, {"key/value heads", m.kv_heads}, {"head_dim (hidden size / heads)", m.head_dim},
      {"MLP width", m.ffn_hidden}, {"vocabulary", m.vocab}, {"positions", m.max_positions}};
  for (const auto& [what, value] : widths) {
    if (value < 1 || value > 10'000'000) r.error("", std::string(what) + " is " + std::to_string(value) + ": expected 1 to 10,000,000");
  }
  if (m.layers < 1 || m.layers > 100'000) r.error("", "layers is " + std::to_string(m.layers) + ": expected 1 to 100,000");
  if (m.heads > m.hidden) r.error("", "more attention heads (" + std::to_string(m.heads) + ") than hidden size (" + std::to_string(m.hidden) + ")");
}

Activation read_activation(ObjectReader& r, const char* key, const std::string& fallback) {
  const std::string act = r.string(key, fallback, {"", "", {}, {}, false,
      {"silu", "swish", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "gated-gelu", "gated-silu"}});
  if (act == "relu") return Activation::kRelu;
  if (act == "silu" || act == "swish" || act == "gated-silu") return Activation::kSilu;
  return Activation::kGelu;
}

// What a family's config leaves out: head_dim 0 is hidden / heads.
struct DecoderDefaults {
  std::int64_t head_dim;
  std::int64_t positions;
  bool tied_embeddings;
  const char* activation_key;
  const char* activation;
};

// The keys every Llama-like decoder's config shares: gated MLP, RMSNorm, rotary positions.
void read_decoder(ObjectReader& r, ModelArch& m, const DecoderDefaults& d) {
  m.hidden = r.required_integer("hidden_size", kPositive);
  m.layers = r.required_integer("num_hidden_layers", kPositive);
  m.heads = r.required_integer("num_attention_heads", kPositive);
  m.kv_heads = r.integer("num_key_value_heads", m.heads, kPositive);
  m.head_dim = r.integer("head_dim", d.head_dim > 0 ? d.head_dim : m.hidden / m.heads, kPositive);
  m.ffn_hidden = r.required_integer("intermediate_size", kPositive);
  m.vocab = r.required_integer("vocab_size", kPositive);
  m.max_positions = r.integer("max_position_embeddings", d.positions, kPositive);
  m.tied_embeddings = r.boolean("tie_word_embeddings", d.tied_embeddings, "");
  m.activation = read_activation(r, d.activation_key, d.activation);
  m.gated_mlp = true;
  m.norm = NormKind::kRmsNorm;
  m.position = PositionKind::kRotary;
}

// Qwen2-MoE (Qwen1.5-MoE, Qwen2-57B-A14B): Qwen2's attention, and in every layer
// num_experts_per_tok of num_experts routed experts of moe_intermediate_size beside one
// shared expert of shared_expert_intermediate_size. The shared expert's sigmoid gate (a
// hidden x 1 projection) is left out. intermediate_size describes no layer of the released
// models, so it is not read.
void read_qwen2_moe(ObjectReader& r, ModelArch& m) {
  m.experts = r.required_integer("num_experts", kPositive);
  m.experts_per_token = r.required_integer("num_experts_per_tok", kPositive);
  m.ffn_hidden = r.required_integer("moe_intermediate_size", kPositive);
  m.shared_expert_ffn = r.integer("shared_expert_intermediate_size", 0, {"", "", 0.0, 1e7});
  if (m.experts_per_token > m.experts) r.error("num_experts_per_tok", "must not exceed num_experts");
  if (r.integer("decoder_sparse_step", 1, kPositive) != 1) r.error("decoder_sparse_step", "only 1 (every layer's MLP is the experts) is modelled");
  if (r.has("mlp_only_layers") && !r.raw("mlp_only_layers", "", "")->empty()) r.error("mlp_only_layers", "dense layers among MoE ones are not modelled");
}

void read_llama_family(ObjectReader& r, ModelArch& m) {
  read_decoder(r, m, {0, 4096, false, "hidden_act", "silu"});
  m.qkv_bias = m.family == "qwen2" || m.family == "qwen2_moe";
  if (m.family == "qwen2_moe") read_qwen2_moe(r, m);
  if (m.family == "mixtral") {
    m.experts = r.required_integer("num_local_experts", kPositive);
    m.experts_per_token = r.required_integer("num_experts_per_tok", kPositive);
    if (m.experts_per_token > m.experts) {
      r.error("num_experts_per_tok", "must not exceed num_local_experts");
    }
  }
}

// The layers layer_types calls sliding_attention; without the list, `fallback`.
std::int64_t sliding_layers(ObjectReader& r, std::int64_t fallback) {
  if (const nlohmann::json* types = r.raw("layer_types", "array", ""); types != nullptr && types->is_array()) {
    return static_cast<std::int64_t>(std::count(types->begin(), types->end(), "sliding_attention"));
  }
  return fallback;
}

// Gemma 2 and 3: GeGLU MLPs, tied embeddings, an explicit head_dim, and sliding-window
// attention in some layers: Gemma 2's every other layer (the even ones, from the first),
// Gemma 3's all but every sliding_window_pattern-th (or as layer_types lists them). Gemma 3
// also normalizes queries and keys. Their extra norms around each block (4 a layer where
// Llama has 2, 0.003% of the weights) and logit soft-capping are left out.
void read_gemma(ObjectReader& r, ModelArch& m) {
  read_decoder(r, m, {256, 8192, true, "hidden_activation", "gelu_pytorch_tanh"});
  m.sliding_window = r.integer("sliding_window", 4096, kPositive);
  if (m.family == "gemma2") {
    m.local_layers = (m.layers + 1) / 2;
    return;
  }
  m.qk_norm = true;
  m.local_layers = sliding_layers(r, m.layers - m.layers / r.integer("sliding_window_pattern", 6, kPositive));
}

// GPT-OSS (openai/gpt-oss-20b and -120b): Llama's shape with biases on every attention
// projection and on the experts (attention_bias), num_local_experts experts of
// intermediate_size in every layer, num_experts_per_tok of them per token, and
// sliding-window attention over the last sliding_window (128) keys in the layers
// layer_types calls sliding_attention, every other one from the first. Each head's learned
// attention sink (one more logit in the softmax's denominator) costs no measurable time and
// is left out; so is the MXFP4 storage of the released experts (quantization_config): a
// scenario says what it trains or serves in.
void read_gpt_oss(ObjectReader& r, ModelArch& m) {
  read_decoder(r, m, {64, 131072, false, "hidden_act", "silu"});
  m.linear_bias = r.boolean("attention_bias", true, "");
  m.experts = r.required_integer("num_local_experts", kPositive);
  m.experts_per_token = r.required_integer("num_experts_per_tok", kPositive);
  if (m.experts_per_token > m.experts) r.error("num_experts_per_tok", "must not exceed num_local_experts");
  m.sliding_window = r.integer("sliding_window", 128, kPositive);
  m.local_layers = sliding_layers(r, (m.layers + 1) / 2);
  if (m.local_layers > m.layers) r.error("layer_types", "lists more sliding_attention layers than num_hidden_layers");
}

// Qwen3 is Llama's shape with an RMSNorm on each head's queries and keys (2 x head_dim
// weights a layer, counted; their kernels are left out) and no QKV bias. Qwen3-MoE routes
// every layer's tokens to num_experts_per_tok of num_experts experts of
// moe_intermediate_size; its dense-layer options (mlp_only_layers, decoder_sparse_step) are
// unused by the released models and refused.
void read_qwen3(ObjectReader& r, ModelArch& m) {
  read_llama_family(r, m);
  m.qk_norm = true;
  if (m.family != "qwen3_moe") return;
  m.experts = r.required_integer("num_experts", kPositive);
  m.experts_per_token = r.required_integer("num_experts_per_tok", kPositive);
  m.ffn_hidden = r.required_integer("moe_intermediate_size", kPositive);
  if (m.experts_per_token > m.experts) r.error("num_experts_per_tok", "must not exceed num_experts");
  if (r.integer("decoder_sparse_step", 1, kPositive) != 1) r.error("decoder_sparse_step", "only 1 (every layer's MLP is the experts) is modelled");
  if (r.has("mlp_only_layers") && !r.raw("mlp_only_layers", "", "")->empty()) r.error("mlp_only_layers", "dense layers among MoE ones are not modelled");
}

// DeepSeek-V2 and V3: latent attention (q_lora_rank null: queries straight from the hidden
// state), the first first_k_dense_replace layers with a dense MLP of intermediate_size, the
// rest routing to num_experts_per_tok of n_routed_experts experts of moe_intermediate_size
// beside n_shared_experts shared ones. Group-limited routing (n_group, topk_group) picks the
// same number of experts and is not modelled apart; the multi-token prediction module
// (num_nextn_predict_layers) is left out, as the models' published sizes leave it out.
void read_deepseek(ObjectReader& r, ModelArch& m) {
  read_decoder(r, m, {0, 163840, false, "hidden_act", "silu"});
  m.mla.kv_rank = r.required_integer("kv_lora_rank", kPositive);
  m.mla.q_rank = r.has("q_lora_rank") && !r.raw("q_lora_rank", "", "")->is_null() ? r.integer("q_lora_rank", 0, kPositive) : 0;
  m.mla.rope_dim = r.required_integer("qk_rope_head_dim", kPositive);
  m.mla.v_head_dim = r.required_integer("v_head_dim", kPositive);
  m.head_dim = r.required_integer("qk_nope_head_dim", kPositive) + m.mla.rope_dim;
  m.kv_heads = m.heads;  // every head has its own key and value, up-projected from the latent
  m.dense_ffn = m.ffn_hidden;
  m.experts = r.required_integer("n_routed_experts", kPositive);
  m.experts_per_token = r.required_integer("num_experts_per_tok", kPositive);
  m.ffn_hidden = r.required_integer("moe_intermediate_size", kPositive);
  m.shared_expert_ffn = r.integer("n_shared_experts", 0, {"", "", 0.0, 1e4}) * m.ffn_hidden;
  m.dense_layers = r.integer("first_k_dense_replace", 0, {"", "", 0.0, 1e5});
  if (m.experts_per_token > m.experts) r.error("num_experts_per_tok", "must not exceed n_routed_experts");
  if (m.dense_layers >= m.layers) r.error("first_k_dense_replace", "must leave some of num_hidden_layers to the experts");
  if (r.integer("moe_layer_freq", 1, kPositive) != 1) r.error("moe_layer_freq", "only 1 (every layer past the dense ones routes) is modelled");
}

void read_gpt2(ObjectReader& r, ModelArch& m) {
  m.hidden = r.required_integer("n_embd", kPositive);
  m.layers = r.required_integer("n_layer", kPositive);
  m.heads = r.required_integer("n_head", kPositive);
  m.kv_heads = m.heads;
  m.head_dim = m.hidden / m.heads;
  // GPT-2 configs write n_inner: null to mean 4 * n_embd.
  m.ffn_hidden = r.has("n_inner") && !r.raw("n_inner", "", "")->is_null()
                     ? r.integer("n_inner", 4 * m.hidden, kPositive)
                     : 4 * m.hidden;
  m.vocab = r.required_integer("vocab_size", kPositive);
  m.max_positions = r.integer("n_positions", 1024, kPositive);
  m.activation = read_activation(r, "activation_function", "gelu_new");
  m.tied_embeddings = r.boolean("tie_word_embeddings", true, "");
  m.linear_bias = true;
}

void read_gpt_neox(ObjectReader& r, ModelArch& m) {
  m.hidden = r.required_integer("hidden_size", kPositive);
  m.layers = r.required_integer("num_hidden_layers", kPositive);
  m.heads = r.required_integer("num_attention_heads", kPositive);
  m.kv_heads = m.heads;
  m.head_dim = m.hidden / m.heads;
  m.ffn_hidden = r.integer("intermediate_size", 4 * m.hidden, kPositive);
  m.vocab = r.required_integer("vocab_size", kPositive);
  m.max_positions = r.integer("max_position_embeddings", 2048, kPositive);
  m.activation = read_activation(r, "hidden_act", "gelu");
  m.tied_embeddings = r.boolean("tie_word_embeddings", false, "");
  m.position = PositionKind::kRotary;
  m.linear_bias = true;
}

void read_t5(ObjectReader& r, ModelArch& m) {
  m.hidden = r.required_integer("d_model", kPositive);
  m.head_dim = r.required_integer("d_kv", kPositive);
  m.ffn_hidden = r.required_integer("d_ff", kPositive);
  m.encoder_layers = r.required_integer("num_layers", kPositive);
  m.layers = r.integer("num_decoder_layers", m.encoder_layers, kPositive);
  m.heads = r.required_integer("num_heads", kPositive);
  m.kv_heads = m.heads;
  m.vocab = r.required_integer("vocab_size", kPositive);
  m.relative_attention_buckets = r.integer("relative_attention_num_buckets", 32, kPositive);
  const std::string projection = r.string("feed_forward_proj", "relu", {"", "", {}, {}, false,
      {"relu", "gated-gelu", "gated-silu", "gelu"}});
  m.gated_mlp = projection.rfind("gated-", 0) == 0;
  m.activation = projection.find("relu") != std::string::npos ? Activation::kRelu
                 : projection.find("silu") != std::string::npos ? Activation::kSilu
                                                                 : Activation::kGelu;
  m.tied_embeddings = r.boolean("tie_word_embeddings", true, "");
  m.norm = NormKind::kRmsNorm;
  m.position = PositionKind::kRelativeBias;
  m.max_positions = 512;
}
}  // namespace

ModelArch load_hf_config(const std::string& path) {
  const nlohmann::json document = load_json_file(path);
  Diagnostics diagnostics(path);
  ModelArch m;
  {
    ObjectReader r(document, "", diagnostics);
    r.ignore_unknown_keys();
    const std::vector<std::string> supported = {"llama",  "mistral", "mixtral",     "qwen2", "qwen2_moe", "qwen3",   "qwen3_moe",
                                                "gemma2", "gemma3",  "gemma3_text", "gpt2",  "gpt_neox",  "t5",
                                                "deepseek_v2", "deepseek_v3", "gpt_oss"};
    m.family = r.required_string("model_type", {"", "", {}, {}, false, supported});
    m.name = std::filesystem::path(path).parent_path().filename().string();
    if (m.name.empty()) m.name = m.family;
    m.source = "HuggingFace config " + path;
    if (m.family == "gpt2") {
      read_gpt2(r, m);
    } else if (m.family == "gpt_neox") {
      read_gpt_neox(r, m);
    } else if (m.family == "t5") {
      read_t5(r, m);
    } else if (m.family == "deepseek_v2" || m.family == "deepseek_v3") {
      read_deepseek(r, m);
    } else if (m.family == "qwen3" || m.family == "qwen3_moe") {
      read_qwen3(r, m);
    } else if (m.family == "gpt_oss") {
      read_gpt_oss(r, m);
    } else if (m.family == "gemma3") {  // the multimodal checkpoint: its language model's text_config (the vision tower is left out)
      auto text = r.object("text_config", "The language model's configuration.");
      text.ignore_unknown_keys();
      read_gemma(text, m);
    } else if (m.family == "gemma2" || m.family == "gemma3_text") {
      read_gemma(r, m);
    } else {
      read_llama_family(r, m);
    }
    if (diagnostics.empty()) check_dimensions(r, m);
    if (diagnostics.empty() && m.heads % m.kv_heads != 0) {
      r.error("num_key_value_heads", "must divide num_attention_heads");
    }
  }
  diagnostics.throw_if_any();
  return m;
}

}  // namespace foresight
