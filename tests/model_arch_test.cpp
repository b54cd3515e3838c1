#include <doctest/doctest.h>

#include "models/model_arch.hpp"
#include "sim/input/input_error.hpp"
#include "sim/input/object_reader.hpp"
#include "test_support.hpp"

using namespace foresight;
using foresight::testing::source_path;

// Parameter counts against the sizes their authors publish. The catalog's published
// figures are rounded (GPT-3 "175B" is 174.6B by its own Table 2.1 shapes), so the
// tolerance is 0.5%.
TEST_CASE("built-in models have their published parameter counts") {
  for (const ModelArch& model : builtin_models()) {
    CAPTURE(model.name);
    const double counted = count_parameters(model).total;
    MESSAGE(model.name << ": counted " << counted / 1e9 << " B, published " << model.published_params / 1e9 << " B");
    CHECK(counted == doctest::Approx(model.published_params).epsilon(0.005));
  }
}

TEST_CASE("Mixtral activates two of eight experts per token: 12.9B active parameters") {
  const ParameterCount p = count_parameters(*find_builtin_model("mixtral_8x7b"));
  CHECK(p.active_per_token == doctest::Approx(12.9e9).epsilon(0.01));  // Mistral AI's announcement
}

struct HfCase {
  const char* dir;
  double published;  // total parameters as the HuggingFace model card / safetensors index states
};

// Exact counts from the checkpoints (safetensors metadata): an exact architecture
// reading reproduces them to within a few thousand parameters (buffers, rounding).
TEST_CASE("HuggingFace configs of every supported family load with the right size") {
  const HfCase cases[] = {
      {"llama3-8b", 8'030'261'248.0},   {"mistral-7b", 7'241'732'096.0},
      {"mixtral-8x7b", 46'702'792'704.0}, {"qwen2-7b", 7'615'616'512.0},
      {"gpt2", 124'439'808.0},           {"gpt-neox-20b", 20'554'567'680.0},
      {"t5-base", 222'903'552.0},        {"flan-t5-base", 247'577'856.0},
  };
  for (const HfCase& c : cases) {
    const std::string dir = c.dir;
    CAPTURE(dir);
    const ModelArch model = load_hf_config(source_path("tests/data/hf/") + c.dir + "/config.json");
    const double counted = count_parameters(model).total;
    MESSAGE(dir << ": counted " << counted << ", published " << c.published);
    CHECK(counted == doctest::Approx(c.published).epsilon(1e-4));
  }
}

TEST_CASE("HF config fields map onto the architecture") {
  const ModelArch t5 = load_hf_config(source_path("tests/data/hf/flan-t5-base/config.json"));
  CHECK(t5.is_encoder_decoder());
  CHECK(t5.gated_mlp);
  CHECK(t5.encoder_layers == 12);
  CHECK(t5.head_dim == 64);
  const ModelArch qwen = load_hf_config(source_path("tests/data/hf/qwen2-7b/config.json"));
  CHECK(qwen.qkv_bias);
  CHECK(qwen.kv_heads == 4);
  const ModelArch mixtral = load_hf_config(source_path("tests/data/hf/mixtral-8x7b/config.json"));
  CHECK(mixtral.experts == 8);
  CHECK(mixtral.experts_per_token == 2);
}

namespace {
bool same_shape(const ModelArch& a, const ModelArch& b) {
  return a.layers == b.layers && a.hidden == b.hidden && a.heads == b.heads && a.kv_heads == b.kv_heads && a.head_dim == b.head_dim &&
         a.ffn_hidden == b.ffn_hidden && a.vocab == b.vocab && a.max_positions == b.max_positions && a.experts == b.experts &&
         a.experts_per_token == b.experts_per_token && a.shared_expert_ffn == b.shared_expert_ffn && a.qk_norm == b.qk_norm &&
         a.qkv_bias == b.qkv_bias && a.tied_embeddings == b.tied_embeddings;
}
}  // namespace

// Qwen2-MoE (Qwen/Qwen1.5-MoE-A2.7B's config.json): 60 routed experts of 1,408, 4 per token,
// and a shared expert of 5,632 that every token passes through: 14.3B parameters, 2.7B
// active (the model card). Without the shared expert it would count 13.5B and 1.9B.
TEST_CASE("Qwen2-MoE's shared expert: config, catalog and parameter counts") {
  const ModelArch moe = load_hf_config(source_path("tests/data/hf/qwen1.5-moe-a2.7b/config.json"));
  CHECK(moe.shared_expert_ffn == 5632);
  CHECK(moe.ffn_hidden == 1408);
  CHECK(moe.qkv_bias);
  CHECK(same_shape(moe, *find_builtin_model("qwen15_moe_a2_7b")));
  CHECK(count_parameters(moe).total == doctest::Approx(14.3e9).epsilon(0.005));
  CHECK(count_parameters(moe).active_per_token == doctest::Approx(2.7e9).epsilon(0.01));
  // Qwen2-57B-A14B: 14B active (Qwen2 technical report), of which the shared expert is 6.2B.
  CHECK(count_parameters(*find_builtin_model("qwen2_57b_a14b")).active_per_token == doctest::Approx(14e9).epsilon(0.02));
}

// Qwen3's config.json files (Qwen/Qwen3-8B, Qwen/Qwen3-30B-A3B) read into the catalog's
// shapes; the MoE model activates 3.3B of its 30.5B parameters (Qwen3 technical report, Table 2).
TEST_CASE("Qwen3 dense and MoE configs read into the catalog's shapes") {
  const ModelArch dense = load_hf_config(source_path("tests/data/hf/qwen3-8b/config.json"));
  CHECK(same_shape(dense, *find_builtin_model("qwen3_8b")));
  CHECK(dense.head_dim == 128);
  CHECK_FALSE(dense.qkv_bias);
  const ModelArch moe = load_hf_config(source_path("tests/data/hf/qwen3-30b-a3b/config.json"));
  CHECK(same_shape(moe, *find_builtin_model("qwen3_30b_a3b")));
  CHECK(count_parameters(moe).active_per_token == doctest::Approx(3.3e9).epsilon(0.02));
  CHECK(count_parameters(*find_builtin_model("qwen3_235b_a22b")).active_per_token == doctest::Approx(22e9).epsilon(0.02));
}

// DeepSeek-V3 and V2-Lite (their config.json files): latent attention, the leading dense
// layers and the shared experts read into the catalog's shapes. DeepSeek-V3 is 671B
// parameters with 37B active (its technical report; the 14B multi-token prediction module
// apart), V2-Lite 15.7B with 2.4B active (its model card). The active figures leave the
// input embedding out (a lookup): counted with it they are 37.6B and 2.66B.
TEST_CASE("DeepSeek-V3 and V2-Lite configs: latent attention, leading dense layers, published sizes") {
  const ModelArch v3 = load_hf_config(source_path("tests/data/hf/deepseek-v3/config.json"));
  const ModelArch& v3_catalog = *find_builtin_model("deepseek_v3");
  CHECK(same_shape(v3, v3_catalog));
  CHECK(v3.latent_attention());
  CHECK(v3.mla.q_rank == 1536);
  CHECK(v3.mla.kv_rank == 512);
  CHECK(v3.head_dim == 192);
  CHECK(v3.value_head_dim() == 128);
  CHECK(v3.dense_layers == 3);
  CHECK(v3.dense_ffn == 18432);
  CHECK(v3.shared_expert_ffn == 2048);
  const ParameterCount p3 = count_parameters(v3);
  CHECK(p3.total == doctest::Approx(count_parameters(v3_catalog).total).epsilon(1e-12));
  CHECK(p3.total == doctest::Approx(671e9).epsilon(0.005));
  CHECK(p3.active_per_token - p3.embedding == doctest::Approx(37e9).epsilon(0.02));
  // A dense layer keeps attention and an MLP of 18,432 (0.58B); an expert layer 11.5B.
  CHECK(p3.per_dense_layer == doctest::Approx(0.5835e9).epsilon(0.001));
  CHECK(layer_parameters(v3, p3, 0, 4) == doctest::Approx(3 * p3.per_dense_layer + p3.per_layer).epsilon(1e-12));
  CHECK(layer_expert_parameters(v3, p3, 2, 2) == doctest::Approx(p3.per_layer_experts).epsilon(1e-12));

  const ModelArch lite = load_hf_config(source_path("tests/data/hf/deepseek-v2-lite/config.json"));
  CHECK(same_shape(lite, *find_builtin_model("deepseek_v2_lite")));
  CHECK(lite.mla.q_rank == 0);  // q_lora_rank null: queries straight from the hidden state
  CHECK(lite.shared_expert_ffn == 2 * 1408);
  const ParameterCount lite_count = count_parameters(lite);
  CHECK(lite_count.total == doctest::Approx(15.7e9).epsilon(0.005));
  CHECK(lite_count.active_per_token - lite_count.embedding == doctest::Approx(2.4e9).epsilon(0.03));
}

TEST_CASE("a scenario's latent attention and dense layers are checked where they are read") {
  for (const auto& [fields, why] : std::vector<std::pair<std::string, std::string>>{
           {R"("dense_layers": 3, "dense_ffn": 1024)", "dense_layers: is set but experts is 0"},
           {R"("experts": 8, "experts_per_token": 2, "dense_layers": 2)", "dense_ffn: is required with dense_layers"},
           {R"("kv_latent": 512, "rope_head_dim": 64)", "v_head_dim: is required with kv_latent"},
           {R"("kv_latent": 512, "rope_head_dim": 64, "v_head_dim": 128, "kv_heads": 8)", "kv_heads: must equal heads"}}) {
    const std::string field = fields;  // clang before 16 cannot capture a structured binding
    CAPTURE(field);
    const nlohmann::json document = nlohmann::json::parse(R"({"model": {"base": "llama3_8b", )" + field + "}}");
    Diagnostics diagnostics("s.json");
    {
      ObjectReader r(document, "", diagnostics);
      read_model(r, "model", "");
    }
    REQUIRE_FALSE(diagnostics.problems().empty());
    CHECK(format_problem(diagnostics.problems().front()).find(why) != std::string::npos);
  }
}

// Gemma 2 slides a 4,096-token window in every other layer; Gemma 3 in five of every six,
// with a 1,024-token window (its multimodal checkpoint's text_config).
TEST_CASE("Gemma 2 and 3 configs read into the catalog's shapes, with their sliding-window layers") {
  const ModelArch gemma2 = load_hf_config(source_path("tests/data/hf/gemma-2-9b/config.json"));
  const ModelArch& gemma2_catalog = *find_builtin_model("gemma2_9b");
  CHECK(gemma2.sliding_window == 4096);
  CHECK(gemma2.local_layers == 21);
  CHECK(gemma2.tied_embeddings);
  CHECK(gemma2.head_dim == 256);
  CHECK(count_parameters(gemma2).total == doctest::Approx(count_parameters(gemma2_catalog).total).epsilon(1e-9));
  const ModelArch gemma3 = load_hf_config(source_path("tests/data/hf/gemma-3-27b/config.json"));
  const ModelArch& gemma3_catalog = *find_builtin_model("gemma3_27b");
  CHECK(gemma3.sliding_window == 1024);
  CHECK(gemma3.local_layers == 52);
  CHECK(gemma3.qk_norm);
  CHECK(gemma3.local_layers == gemma3_catalog.local_layers);
  CHECK(count_parameters(gemma3).total == doctest::Approx(count_parameters(gemma3_catalog).total).epsilon(1e-9));
}

TEST_CASE("a bad HF config names the file and the key") {
  CHECK_THROWS_WITH_AS(load_hf_config(source_path("tests/data/bad/hf_missing_hidden.json")),
                       doctest::Contains("hf_missing_hidden.json: hidden_size: is required"), InputError);
  CHECK_THROWS_WITH_AS(load_hf_config(source_path("tests/data/bad/hf_unknown_type.json")),
                       doctest::Contains("model_type: unknown value \"llamma\""), InputError);
}

// GPT-OSS (openai/gpt-oss-120b and -20b config.json): 116.83B and 20.91B parameters, 5.13B and
// 3.61B active without the input embedding (OpenAI's gpt-oss model card, Table 1), half the
// layers windowed to 128 keys.
TEST_CASE("GPT-OSS configs: biased attention, experts, alternating windows, published sizes") {
  const struct {
    const char* dir;
    const char* catalog;
    std::int64_t layers, experts;
    double total, active;
  } cases[] = {{"gpt-oss-120b", "gpt_oss_120b", 36, 128, 116.83e9, 5.13e9}, {"gpt-oss-20b", "gpt_oss_20b", 24, 32, 20.91e9, 3.61e9}};
  for (const auto& c : cases) {
    CAPTURE(c.dir);
    const ModelArch model = load_hf_config(source_path("tests/data/hf/") + c.dir + "/config.json");
    CHECK(same_shape(model, *find_builtin_model(c.catalog)));
    CHECK(model.layers == c.layers);
    CHECK(model.experts == c.experts);
    CHECK(model.experts_per_token == 4);
    CHECK(model.head_dim == 64);
    CHECK(model.attention_width() == 4096);  // wider than the 2,880 hidden state
    CHECK(model.linear_bias);
    CHECK(model.sliding_window == 128);
    CHECK(model.local_layers == c.layers / 2);
    const ParameterCount p = count_parameters(model);
    CHECK(p.total == doctest::Approx(c.total).epsilon(0.001));
    CHECK(p.active_per_token - p.embedding == doctest::Approx(c.active).epsilon(0.005));
  }
}
