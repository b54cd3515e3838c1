// FLOP counts of generated ops against the standard closed forms.
#include <doctest/doctest.h>

#include "models/flop_formulas.hpp"
#include "models/transformer_ops.hpp"

using namespace foresight;

namespace {
struct Flops {
  double gemm = 0;
  double attention_forward = 0;
};

// One micro-batch, forward and backward, every layer; attention counted as the full square
// (causal_skips_masked = false) as the published formulas count it.
Flops training_flops(const ModelArch& m, std::int64_t batch, std::int64_t seq) {
  const ModelOps ops = build_model_ops(m, {batch, seq, Dtype::kBf16, 1, false, false});
  Flops f;
  const auto add = [&](const std::vector<Op>& list, double times) {
    for (const Op& op : list) {
      if (op.kind == OpClass::kGemm) f.gemm += times * op.flops;
      if (op.kind == OpClass::kAttention && op.phase == Phase::kForward) f.attention_forward += times * op.flops;
    }
  };
  const auto layers = static_cast<double>(m.layers);
  add(ops.layer_forward, layers);
  add(ops.layer_backward, layers);
  add(ops.head_forward, 1);
  add(ops.head_backward, 1);
  add(ops.embedding_forward, 1);
  add(ops.embedding_backward, 1);
  return f;
}

// GEMM FLOPs per token of a training step of 2 x 4,096 tokens against 6 x the parameters a
// token multiplies through (Kaplan et al. 2020, Sec. 2.1); returns the FLOPs.
Flops check_gemm_flops_are_6n(const ModelArch& m, double tolerance) {
  const Flops f = training_flops(m, 2, 4096);
  const double tokens = 2 * 4096;
  const double n = count_parameters(m).matmul_active;
  MESSAGE(m.name << " GEMM FLOPs per token: predicted " << f.gemm / tokens << ", 6N = " << 6 * n);
  CHECK(f.gemm / tokens == doctest::Approx(6 * n).epsilon(tolerance));
  return f;
}
}  // namespace

TEST_CASE("GPT-3 175B: GEMM FLOPs equal Megatron-LM's closed form") {
  // Narayanan et al. SC'21, Sec. 5.1 / Appendix: without recomputation a training
  // iteration costs 72 B s l h^2 (1 + s/(6h) + V/(12 l h)) FLOPs. The GEMMs are the
  // 72 B s l h^2 (1 + V/(12 l h)) part (24 B s h^2 per layer forward, times 3, plus the
  // output head's 6 B s h V); attention is the 72 B s l h^2 * s/(6h) = 12 B s^2 l h part,
  // of which the forward is 4 B s^2 h per layer. Biases are not GEMMs. Tolerance: exact
  // up to floating-point summation (1e-9).
  const ModelArch& gpt3 = *find_builtin_model("gpt3_175b");
  const double B = 1, s = 2048, l = 96, h = 12288, V = 50257;
  const Flops f = training_flops(gpt3, 1, 2048);
  const double megatron_gemm = 72 * B * s * l * h * h * (1 + V / (12 * l * h));
  MESSAGE("GPT-3 175B GEMM FLOPs per sequence: predicted " << f.gemm << ", closed form " << megatron_gemm);
  CHECK(f.gemm == doctest::Approx(megatron_gemm).epsilon(1e-9));
  CHECK(f.attention_forward == doctest::Approx(4 * B * s * s * h * l).epsilon(1e-9));
}

TEST_CASE("Llama-3 8B: GEMM FLOPs per token are 6 x matmul parameters") {
  // Kaplan et al. 2020 (Sec. 2.1): training costs 6 FLOPs per parameter per token for the
  // weight multiplications. For Llama-3 8B the multiplied parameters are every projection
  // plus the untied output head (the input embedding is a lookup): 7.50 B of 8.03 B.
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  CHECK(count_parameters(llama).matmul_active == doctest::Approx(7.504e9).epsilon(1e-3));
  const Flops f = check_gemm_flops_are_6n(llama, 1e-9);
  const double tokens = 2 * 4096;
  // GQA: 32 query heads of width 128 against 8 KV heads; the attention square is over
  // query heads: 4 * s * (heads * head_dim) per token per layer.
  CHECK(f.attention_forward / tokens == doctest::Approx(4 * 4096.0 * 4096 * 32).epsilon(1e-9));
}

TEST_CASE("Qwen1.5-MoE: GEMM FLOPs per token are 6 x the parameters a token multiplies through") {
  // The routed experts' 4 of 60, the shared expert every token meets, the router and the
  // output head. Balanced routing rounds each expert's rows up to whole tokens, hence the
  // small tolerance.
  check_gemm_flops_are_6n(*find_builtin_model("qwen15_moe_a2_7b"), 2e-3);
}

TEST_CASE("MFU's model FLOPs follow PaLM's formula") {
  // Chowdhery et al. 2022, Appendix B: 6N + 12 L H Q T per token.
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  const double expected = 6 * count_parameters(llama).matmul_active + 12.0 * 32 * 32 * 128 * 8192;
  CHECK(training_flops_per_token(llama, 8192) == doctest::Approx(expected));
  // Mixtral counts only its 2 routed experts: about 6 x 12.9 B active parameters less the
  // input embedding plus the head, and never the idle experts.
  const ModelArch& mixtral = *find_builtin_model("mixtral_8x7b");
  CHECK(count_parameters(mixtral).matmul_active < 0.3 * count_parameters(mixtral).total);
}
