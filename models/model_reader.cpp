// The scenario's "model" value.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "models/model_arch.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/object_reader.hpp"

namespace foresight {
namespace {
const char* activation_name(Activation a) {
  return a == Activation::kSilu ? "silu" : a == Activation::kRelu ? "relu" : "gelu";
}
const char* norm_name(NormKind n) { return n == NormKind::kRmsNorm ? "rmsnorm" : "layernorm"; }
const char* position_name(PositionKind p) {
  return p == PositionKind::kRotary ? "rotary" : p == PositionKind::kRelativeBias ? "relative" : "learned";
}

void read_fields(ObjectReader& r, ModelArch& m) {
  const FieldInfo positive{"", "", {}, {}, true};
  // Upper bounds keep shape products (tokens x width x width) far from overflow.
  auto count = [&](const char* key, std::int64_t current, std::string_view doc, double min, double max = 1e7) {
    return r.integer(key, current, {doc, "", min, max});
  };
  m.hidden = count("hidden", m.hidden, "Model width d_model.", 1);
  m.layers = count("layers", m.layers, "Decoder layers (the only stack for decoder-only models).", 1, 1e5);
  m.encoder_layers = count("encoder_layers", m.encoder_layers, "Encoder layers; > 0 makes an encoder-decoder model.", 0, 1e5);
  m.heads = count("heads", m.heads, "Attention (query) heads.", 1);
  m.kv_heads = count("kv_heads", m.kv_heads ? m.kv_heads : m.heads, "Key/value heads (grouped-query attention when < heads).", 1);
  m.head_dim = count("head_dim", m.head_dim ? m.head_dim : (m.heads ? m.hidden / m.heads : 0), "Per-head width.", 1);
  m.ffn_hidden = count("ffn_hidden", m.ffn_hidden, "MLP inner width (per expert for MoE).", 1);
  m.vocab = count("vocab", m.vocab, "Vocabulary size.", 1);
  m.max_positions = count("max_positions", m.max_positions, "Longest sequence (sizes learned position tables).", 1);
  m.gated_mlp = r.boolean("gated_mlp", m.gated_mlp, "SwiGLU/GeGLU MLP with gate, up and down projections.");
  const std::string act = r.string("activation", activation_name(m.activation), {"MLP activation.", "", {}, {}, false, {"gelu", "silu", "relu"}});
  m.activation = act == "silu" ? Activation::kSilu : act == "relu" ? Activation::kRelu : Activation::kGelu;
  const std::string norm = r.string("norm", norm_name(m.norm), {"Normalisation layer.", "", {}, {}, false, {"layernorm", "rmsnorm"}});
  m.norm = norm == "rmsnorm" ? NormKind::kRmsNorm : NormKind::kLayerNorm;
  const std::string position = r.string("position", position_name(m.position), {"Position encoding.", "", {}, {}, false, {"learned", "rotary", "relative"}});
  m.position = position == "rotary" ? PositionKind::kRotary : position == "relative" ? PositionKind::kRelativeBias : PositionKind::kLearned;
  m.tied_embeddings = r.boolean("tied_embeddings", m.tied_embeddings, "Output head shares the embedding matrix.");
  m.linear_bias = r.boolean("linear_bias", m.linear_bias, "Biases on every projection (GPT-2 style).");
  m.qkv_bias = r.boolean("qkv_bias", m.qkv_bias, "Biases on Q, K, V projections only (Qwen2 style).");
  m.experts = count("experts", m.experts, "MoE experts per layer (0 = dense).", 0, 1e5);
  m.experts_per_token = count("experts_per_token", m.experts_per_token, "Experts each token is routed to (top-k).", 0);
  m.shared_expert_ffn = count("shared_expert_ffn", m.shared_expert_ffn,
                              "MoE: inner width of the shared expert(s) every token passes through beside its routed ones (Qwen2-MoE, DeepSeek; 0 = none).", 0);
  m.dense_layers = count("dense_layers", m.dense_layers,
                         "MoE: the first layers keep a dense MLP of dense_ffn instead of experts (DeepSeek's first_k_dense_replace).", 0, 1e5);
  m.dense_ffn = count("dense_ffn", m.dense_ffn, "MoE: the inner width of the leading dense layers' MLP.", 0);
  m.mla.kv_rank = count("kv_latent", m.mla.kv_rank,
                        "Multi-head latent attention (DeepSeek-V2/V3): the key/value latent's width, the cached one (kv_lora_rank; 0 = ordinary attention).", 0);
  m.mla.q_rank = count("q_latent", m.mla.q_rank, "Latent attention: the query latent's width (q_lora_rank; 0 = queries straight from the hidden state).", 0);
  m.mla.rope_dim = count("rope_head_dim", m.mla.rope_dim,
                         "Latent attention: the rotary part of head_dim (qk_rope_head_dim), its key shared by all heads and cached beside the latent.", 0);
  m.mla.v_head_dim = count("v_head_dim", m.mla.v_head_dim, "Latent attention: the width of a value head.", 0);
  m.qk_norm = r.boolean("qk_norm", m.qk_norm, "An RMSNorm on each head's queries and keys (Qwen3, Gemma 3).");
  m.sliding_window = count("sliding_window", m.sliding_window,
                           "Sliding-window attention: local_layers of the layers attend to at most this many preceding keys (0 = none).", 0);
  m.local_layers = count("local_layers", m.local_layers, "Layers whose attention slides the window (Gemma 2: every other one).", 0);
}

void check_consistency(ObjectReader& r, const ModelArch& m) {
  if (r.is_documenting()) return;
  // head_dim defaults to hidden / heads, which more heads than hidden width round to 0.
  if (m.heads > 0 && m.head_dim < 1) {
    r.error("head_dim", "hidden / heads = " + std::to_string(m.hidden) + " / " + std::to_string(m.heads) +
                            " rounds to 0: give head_dim, or fewer heads");
  }
  if (m.heads > 0 && m.kv_heads > 0 && m.heads % m.kv_heads != 0) {
    r.error("kv_heads", "must divide heads (" + std::to_string(m.heads) + ")");
  }
  if (m.is_moe() && (m.experts_per_token < 1 || m.experts_per_token > m.experts)) {
    r.error("experts_per_token", "must be between 1 and experts (" + std::to_string(m.experts) + ") for an MoE model");
  }
  if (!m.is_moe() && m.experts_per_token > 0) r.error("experts_per_token", "is set but experts is 0");
  if (!m.is_moe() && m.shared_expert_ffn > 0) r.error("shared_expert_ffn", "is set but experts is 0 (a dense model's MLP is ffn_hidden)");
  if (m.local_layers > m.layers) r.error("local_layers", "must be at most layers (" + std::to_string(m.layers) + ")");
  if (m.dense_layers > 0 && !m.is_moe()) r.error("dense_layers", "is set but experts is 0 (every layer of a dense model is dense)");
  if (m.dense_layers >= m.layers && m.is_moe()) r.error("dense_layers", "must leave some of the " + std::to_string(m.layers) + " layers to the experts");
  if (m.dense_layers > 0 && m.dense_ffn == 0) r.error("dense_ffn", "is required with dense_layers");
  if (m.latent_attention()) {
    if (m.mla.v_head_dim == 0) r.error("v_head_dim", "is required with kv_latent");
    if (m.mla.rope_dim >= m.head_dim) r.error("rope_head_dim", "must be below head_dim (" + std::to_string(m.head_dim) + "), which includes it");
    if (m.kv_heads != m.heads) r.error("kv_heads", "must equal heads with kv_latent: every head's key and value come up from the latent");
  }
  const std::pair<const char*, std::int64_t> required[] = {
      {"hidden", m.hidden}, {"layers", m.layers}, {"heads", m.heads},
      {"ffn_hidden", m.ffn_hidden}, {"vocab", m.vocab}};
  for (const auto& [name, value] : required) {
    if (value == 0) r.error(name, "is required for a model without `base` or `hf_config`");
  }
}
}  // namespace

ModelArch read_model(ObjectReader& parent, const char* key, const std::string& scenario_dir) {
  const nlohmann::json* value = parent.raw(key, "string or object",
      "A catalog model name (`foresight list models`), or an object: `hf_config` (a "
      "HuggingFace config.json), `base` plus fields to override, or every field.");
  const ModelArch fallback = *find_builtin_model("llama3_8b");
  if (parent.is_documenting()) {
    ModelArch m = fallback;
    auto r = parent.documenting_child(key, "[object form] ");
    r.string("base", "", {"Catalog model to start from."});
    r.string("hf_config", "", {"Path to a HuggingFace config.json (relative to the scenario file)."});
    r.string("name", "", {"Name shown in results."});
    read_fields(r, m);
    return m;
  }
  if (value == nullptr) return fallback;
  if (value->is_string()) {
    const std::string name = value->get<std::string>();
    if (const ModelArch* m = find_builtin_model(name)) return *m;
    parent.error(key, "unknown model \"" + name + "\"" + did_you_mean(name, builtin_model_names()) +
                          "; see `foresight list models`, or give {\"hf_config\": \"path/config.json\"}");
    return fallback;
  }
  if (!value->is_object()) {
    parent.error(key, std::string("expected a model name or an object, got ") + value->type_name());
    return fallback;
  }
  ObjectReader r(*value, parent.child_path(key), parent.diagnostics());
  const std::string base = r.string("base", "", {"Catalog model to start from."});
  const std::string hf_config = r.string("hf_config", "", {"Path to a HuggingFace config.json."});
  ModelArch m;
  if (!base.empty() && !hf_config.empty()) r.error("hf_config", "give either `base` or `hf_config`, not both");
  if (!base.empty()) {
    if (const ModelArch* found = find_builtin_model(base)) {
      m = *found;
      m.name = base + "_custom";
    } else {
      r.error("base", "unknown model \"" + base + "\"" + did_you_mean(base, builtin_model_names()) +
                          "; see `foresight list models`");
      m = fallback;
    }
  } else if (!hf_config.empty()) {
    std::filesystem::path path(hf_config);
    if (path.is_relative() && !scenario_dir.empty()) path = std::filesystem::path(scenario_dir) / path;
    try {
      m = load_hf_config(path.string());
    } catch (const InputError& e) {
      for (const Problem& problem : e.problems()) {
        r.error("hf_config", format_problem(problem));
      }
      m = fallback;
    }
  }
  m.name = r.string("name", m.name.empty() ? "custom" : m.name, {"Name shown in results."});
  read_fields(r, m);
  check_consistency(r, m);
  return m;
}

}  // namespace foresight
