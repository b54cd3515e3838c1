#pragma once
// A transformer's shape: enough to count its parameters and generate its ops. Loaded
// from a built-in name, a HuggingFace config.json, or an object in the scenario.
#include <cstdint>
#include <string>
#include <vector>

namespace foresight {

class ObjectReader;

enum class Activation { kGelu, kSilu, kRelu };
enum class NormKind { kLayerNorm, kRmsNorm };
enum class PositionKind { kLearned, kRotary, kRelativeBias };

struct ModelArch {
  std::string name;
  std::string family;              // llama, mistral, mixtral, qwen2, gpt2, gpt_neox, t5, gpt3
  std::int64_t hidden = 0;         // d_model
  std::int64_t layers = 0;         // decoder layers (or the only stack)
  std::int64_t encoder_layers = 0; // > 0 for encoder-decoder models (T5)
  std::int64_t heads = 0;
  std::int64_t kv_heads = 0;       // < heads for grouped-query attention
  std::int64_t head_dim = 0;       // heads * head_dim may differ from hidden (T5)
  std::int64_t ffn_hidden = 0;     // per expert for MoE
  std::int64_t vocab = 0;
  std::int64_t max_positions = 0;
  bool gated_mlp = false;          // SwiGLU / GeGLU: three projections instead of two
  Activation activation = Activation::kGelu;
  NormKind norm = NormKind::kLayerNorm;
  PositionKind position = PositionKind::kLearned;
  bool tied_embeddings = false;
  bool linear_bias = false;        // biases on every projection (GPT-2, GPT-NeoX)
  bool qkv_bias = false;           // biases on Q, K, V only (Qwen2)
  bool qk_norm = false;            // an RMSNorm on each head's queries and keys (Qwen3)
  // Sliding-window attention (Gemma 2 and 3, Mistral v0.1): `local_layers` of the layers
  // attend to at most the last `sliding_window` keys; the others to every key.
  std::int64_t sliding_window = 0;  // tokens; 0: every layer attends globally
  std::int64_t local_layers = 0;
  std::int64_t experts = 0;        // 0 = dense
  std::int64_t experts_per_token = 0;
  // MoE: the inner width of the shared expert(s) every token also passes through (Qwen2-MoE's
  // shared_expert_intermediate_size, DeepSeek's n_shared_experts x moe_intermediate_size).
  std::int64_t shared_expert_ffn = 0;
  // MoE: the first `dense_layers` layers keep a dense MLP of inner width `dense_ffn` instead
  // of experts (DeepSeek's first_k_dense_replace and intermediate_size).
  std::int64_t dense_layers = 0;
  std::int64_t dense_ffn = 0;
  // Multi-head latent attention (DeepSeek-V2/V3, Liu et al. 2024): keys and values come up
  // from a shared latent of `kv_rank` per token (queries from one of `q_rank`, or straight
  // from the hidden state when 0), each head's query and key ending in a rotary part of
  // `rope_dim` whose key is shared by all heads. head_dim is the query/key head width (its
  // rotary part included); values are `v_head_dim` wide. kv_rank 0: ordinary attention.
  struct LatentAttention {
    std::int64_t q_rank = 0;
    std::int64_t kv_rank = 0;
    std::int64_t rope_dim = 0;
    std::int64_t v_head_dim = 0;
  } mla;
  std::int64_t relative_attention_buckets = 0;  // T5
  double published_params = 0;     // the size its authors state, for checks; 0 if unknown
  std::string source;

  bool is_moe() const { return experts > 0; }
  bool latent_attention() const { return mla.kv_rank > 0; }
  // Layer `l` (from 0) is one of an MoE model's leading dense layers (the readers keep
  // dense_layers 0 for dense models, whose layers are all of one kind).
  bool leading_dense_layer(std::int64_t l) const { return l < dense_layers; }
  // How many of the layers [first, first + count) are leading dense layers.
  std::int64_t dense_layers_in(std::int64_t first, std::int64_t count) const;
  // The width of a value head, which latent attention sets apart from head_dim.
  std::int64_t value_head_dim() const { return latent_attention() ? mla.v_head_dim : head_dim; }
  bool is_encoder_decoder() const { return encoder_layers > 0; }
  std::int64_t attention_width() const { return heads * head_dim; }
  std::int64_t value_width() const { return heads * value_head_dim(); }
  // The head width a fused attention kernel is timed at: latent attention's query/key and
  // value heads differ, and their mean gives the kernel's matmul FLOPs and Q, K, V, O bytes (exactly when
  // their sum is even, as DeepSeek's 192 + 128 is; an odd sum loses half a column).
  std::int64_t kernel_head_dim() const { return latent_attention() ? (head_dim + mla.v_head_dim) / 2 : head_dim; }
  std::int64_t kv_width() const { return kv_heads * head_dim; }
  // The share of layers whose attention is windowed (0 without a window).
  double local_layer_share() const {
    return sliding_window > 0 && layers > 0 ? static_cast<double>(local_layers) / static_cast<double>(layers) : 0;
  }
};

struct ParameterCount {
  double embedding = 0;      // token (and learned position) embeddings
  double per_layer = 0;      // one decoder layer, all experts included
  double per_layer_experts = 0;  // the experts' share of per_layer (0 for dense models)
  double per_dense_layer = 0;    // one of an MoE model's leading dense layers (ModelArch::dense_layers)
  double per_encoder_layer = 0;
  double lm_head = 0;        // 0 when tied to the embedding
  double final_norms = 0;
  double total = 0;
  double active_per_token = 0;  // MoE: only the routed experts
  double matmul_active = 0;     // parameters a token multiplies through (MFU's N)
};

ParameterCount count_parameters(const ModelArch& model);
// The parameters of decoder layers [first, first + count), and the experts' share of them.
double layer_parameters(const ModelArch& model, const ParameterCount& count, std::int64_t first, std::int64_t layers);
double layer_expert_parameters(const ModelArch& model, const ParameterCount& count, std::int64_t first, std::int64_t layers);

const std::vector<ModelArch>& builtin_models();
const ModelArch* find_builtin_model(const std::string& name);
std::vector<std::string> builtin_model_names();

// Throws InputError naming the file and the key for missing or malformed fields.
ModelArch load_hf_config(const std::string& path);

// Reads the scenario's "model" value: a catalog name; {"hf_config": "path"}; or an object
// with "base" and overrides, or every field for a new architecture.
ModelArch read_model(ObjectReader& parent, const char* key, const std::string& scenario_dir);

}  // namespace foresight
