#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "models/attention_dropout.hpp"
#include "models/gpu_spec.hpp"
#include "models/transformer_ops.hpp"

using namespace foresight;

namespace {
double gemm_flops(const std::vector<Op>& ops) {
  double sum = 0;
  for (const Op& op : ops) {
    if (op.kind == OpClass::kGemm) sum += op.flops;
  }
  return sum;
}
double bytes_of(const std::vector<Op>& ops, OpClass kind) {
  double sum = 0;
  for (const Op& op : ops) sum += op.kind == kind ? op.bytes : 0;
  return sum;
}
int count(const std::vector<Op>& ops, CollectiveKind kind) {
  int n = 0;
  for (const Op& op : ops) n += op.collective == kind ? 1 : 0;
  return n;
}
}  // namespace

TEST_CASE("backward GEMMs mirror forward ones: dgrad and wgrad each cost the forward's FLOPs") {
  const ModelOps ops = build_model_ops(*find_builtin_model("llama3_8b"), {1, 1024, Dtype::kBf16, 1, false, true});
  double dgrad = 0, wgrad = 0;
  for (const Op& op : ops.layer_backward) {
    if (op.kind != OpClass::kGemm) continue;
    (op.phase == Phase::kBackwardWeight ? wgrad : dgrad) += op.flops;
  }
  CHECK(dgrad == doctest::Approx(gemm_flops(ops.layer_forward)));
  CHECK(wgrad == doctest::Approx(gemm_flops(ops.layer_forward)));
  // The backward runs in reverse: the MLP's down projection comes first.
  CHECK(ops.layer_backward.front().name == "mlp.residual.bwd");
  CHECK(ops.layer_forward.front().name == "attn.norm");
}

TEST_CASE("tensor parallelism splits GEMM work evenly and adds Megatron's collectives") {
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  const ModelOps one = build_model_ops(llama, {1, 2048, Dtype::kBf16, 1, false, true});
  const ModelOps eight = build_model_ops(llama, {1, 2048, Dtype::kBf16, 8, false, true});
  CHECK(8 * gemm_flops(eight.layer_forward) == doctest::Approx(gemm_flops(one.layer_forward)));
  // Without SP: one all-reduce after attention and one after the MLP, each way.
  CHECK(count(eight.layer_forward, CollectiveKind::kAllReduce) == 2);
  CHECK(count(eight.layer_backward, CollectiveKind::kAllReduce) == 2);
  CHECK(count(one.layer_forward, CollectiveKind::kAllReduce) == 0);
  // With SP each all-reduce becomes a reduce-scatter + all-gather pair.
  const ModelOps sp = build_model_ops(llama, {1, 2048, Dtype::kBf16, 8, true, true});
  CHECK(count(sp.layer_forward, CollectiveKind::kAllReduce) == 0);
  CHECK(count(sp.layer_forward, CollectiveKind::kAllGather) == 2);
  CHECK(count(sp.layer_forward, CollectiveKind::kReduceScatter) == 2);
  CHECK(count(sp.layer_backward, CollectiveKind::kAllGather) == 2);
  CHECK(count(sp.layer_backward, CollectiveKind::kReduceScatter) == 2);
  // All-reduce buffer = tokens x hidden x 2 bytes.
  for (const Op& op : eight.layer_forward) {
    if (op.kind == OpClass::kCollective) CHECK(op.collective_bytes == 2048.0 * 4096 * 2);
  }
}

TEST_CASE("sequence parallelism shards saved activations of norms by the TP degree") {
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  const ModelOps plain = build_model_ops(llama, {1, 2048, Dtype::kBf16, 4, false, true});
  const ModelOps sp = build_model_ops(llama, {1, 2048, Dtype::kBf16, 4, true, true});
  CHECK(total_saved_bytes(sp.layer_forward) < total_saved_bytes(plain.layer_forward));
  CHECK(plain.layer_forward.front().saved_bytes == 4 * sp.layer_forward.front().saved_bytes);
}

TEST_CASE("causal attention executes half the square when masked tiles are skipped") {
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  const ModelOps skip = build_model_ops(llama, {1, 4096, Dtype::kBf16, 1, false, true});
  const ModelOps full = build_model_ops(llama, {1, 4096, Dtype::kBf16, 1, false, false});
  const auto attention = [](const std::vector<Op>& ops) {
    for (const Op& op : ops) {
      if (op.kind == OpClass::kAttention) return op.flops;
    }
    return 0.0;
  };
  // 4 * b * heads * s^2 * head_dim = 4 * 32 * 4096^2 * 128
  CHECK(attention(full.layer_forward) == doctest::Approx(4.0 * 32 * 4096.0 * 4096 * 128));
  CHECK(attention(skip.layer_forward) == doctest::Approx(0.5 * attention(full.layer_forward)));
  // Packed documents of 1,024 tokens under a document mask: each query meets its own
  // document's keys only, a quarter of the sequence, half of them under the causal mask.
  ShapeConfig documents{1, 4096, Dtype::kBf16, 1, false, true};
  documents.document = 1024;
  const ModelOps packed = build_model_ops(llama, documents);
  CHECK(attention(packed.layer_forward) == doctest::Approx(0.5 * 4.0 * 32 * 4096.0 * 1024 * 128));
}

// A causal query at position p of a sequence meets min(p + 1, w) keys in a sliding-window
// layer: w - w^2/2s on average over s > w tokens, against s/2 in a global layer.
TEST_CASE("sliding-window layers meet at most the window's keys: Gemma 2's core attention is the layers' average") {
  const ModelArch& gemma = *find_builtin_model("gemma2_9b");
  const auto attention = [](const std::vector<Op>& ops) {
    for (const Op& op : ops) {
      if (op.kind == OpClass::kAttention) return op.flops;
    }
    return 0.0;
  };
  const double s = 8192, w = 4096, per_key = 4.0 * 16 * s * 256;  // 4 x heads x queries x head_dim
  const ModelOps long_sequence = build_model_ops(gemma, {1, 8192, Dtype::kBf16, 1, false, true});
  CHECK(attention(long_sequence.layer_forward) == doctest::Approx(per_key * (0.5 * s / 2 + 0.5 * (w - w * w / (2 * s)))));
  // A sequence that fits the window: every layer meets every earlier key.
  ModelArch global = gemma;
  global.sliding_window = 0;
  CHECK(attention(build_model_ops(gemma, {1, 4096, Dtype::kBf16, 1, false, true}).layer_forward) ==
        doctest::Approx(attention(build_model_ops(global, {1, 4096, Dtype::kBf16, 1, false, true}).layer_forward)));

  // Serving: a 2,048-token chunk after 3,072 cached tokens; the window fills after 1,024 of its queries.
  const Op windowed = prefill_attention_op(1, 16, 8, 256, 2048, 3072, Dtype::kBf16, 4096);
  const double keys = 1024.0 * 3072 + 1024.0 * 1025 / 2 + 1024.0 * 4096;
  CHECK(windowed.flops == doctest::Approx(4.0 * 16 * 256 * keys));
  CHECK(windowed.flops < prefill_attention_op(1, 16, 8, 256, 2048, 3072, Dtype::kBf16).flops);
}

TEST_CASE("MoE layers route k of E experts per token") {
  const ModelArch& mixtral = *find_builtin_model("mixtral_8x7b");
  const ModelOps ops = build_model_ops(mixtral, {1, 4096, Dtype::kBf16, 1, false, true});
  double expert_flops = 0;
  for (const Op& op : ops.layer_forward) {
    if (op.kind == OpClass::kGemm && op.name.rfind("moe.expert.", 0) == 0) {
      CHECK(op.gemm.batch == 8);
      CHECK(op.gemm.m == 4096 * 2 / 8);
      expert_flops += op.flops;
    }
  }
  // 2 FLOPs x tokens x k x (3 h f) for the three projections of each routed expert
  CHECK(expert_flops == doctest::Approx(2.0 * 4096 * 2 * 3 * 4096 * 14336));
}

// Megatron-core's all-to-all dispatcher: with 16 experts on a rank (GPT-OSS 120B at EP 8) the
// received rows are copied into expert order after the dispatch and back before the combine,
// as many bytes as the all-to-all carries, forward and backward; one expert per rank
// (Mixtral at EP 8) or DeepEP's dispatcher copies nothing more.
TEST_CASE("the all-to-all dispatcher sorts received rows by local expert, and back") {
  ShapeConfig shape;
  shape.micro_batch = 4;
  shape.sequence = 4096;
  shape.ep = 8;
  shape.sort_received_by_expert = true;
  const auto ops_of = [&](const char* model, const ShapeConfig& s) { return build_model_ops(*find_builtin_model(model), s); };
  const ModelOps sorted = ops_of("gpt_oss_120b", shape);
  const auto count = [](const std::vector<Op>& ops, const std::string& prefix) {
    return std::count_if(ops.begin(), ops.end(), [&](const Op& op) { return op.name.rfind(prefix, 0) == 0; });
  };
  const Op* dispatch = nullptr;
  for (const Op& op : sorted.layer_forward) {
    if (op.name == "ep.dispatch") dispatch = &op;
  }
  REQUIRE(dispatch != nullptr);
  for (const char* name : {"moe.sort_by_expert", "moe.restore_order"}) {
    const Op* op = nullptr;
    for (const Op& candidate : sorted.layer_forward) {
      if (candidate.name == name) op = &candidate;
    }
    REQUIRE(op != nullptr);
    CHECK(op->bytes == doctest::Approx(2 * dispatch->collective_bytes));  // read and write what the all-to-all carried
    CHECK(count(sorted.layer_backward, std::string(name) + ".bwd") == 1);
  }
  ShapeConfig deepep = shape;
  deepep.sort_received_by_expert = false;
  CHECK(count(ops_of("gpt_oss_120b", deepep).layer_forward, "moe.sort_by_expert") == 0);
  CHECK(count(ops_of("mixtral_8x7b", shape).layer_forward, "moe.sort_by_expert") == 0);  // one expert per rank
}

// The routed experts' fused activation applies the routing probabilities; its backward is
// two kernels (calibration/runs/2026-12-04-h200-moe/activation_kernels.json): the input
// gradient, whose two halves each re-read the gate, the linear half and the gradient, and
// the probabilities' gradient, a row sum over the activation input and the gradient. A dense
// MLP's activation backward reads its input and the gradient once.
TEST_CASE("the experts' weighted activation backward reads its inputs three times, a dense MLP's once") {
  const auto act_backward_bytes_per_output = [](const char* model) {
    const ModelOps ops = build_model_ops(*find_builtin_model(model), {1, 4096, Dtype::kBf16, 1, false, true});
    double forward_output = 0, backward = 0;
    for (const Op& op : ops.layer_forward) {
      if (op.name == "moe.expert.act" || op.name == "mlp.act") forward_output = op.bytes / 3;  // reads 2 elements, writes 1
    }
    for (const Op& op : ops.layer_backward) {
      if (op.name == "moe.expert.act.bwd" || op.name == "mlp.act.bwd") backward = op.bytes;
    }
    return backward / forward_output;
  };
  CHECK(act_backward_bytes_per_output("llama3_8b") == doctest::Approx(3 + 2));
  CHECK(act_backward_bytes_per_output("mixtral_8x7b") == doctest::Approx(6 + 3 + 2));
}

// DeepSeek-V3's latent attention at TP 2 (Megatron's MLA): the down projections run whole on
// each rank, the up projections and the output projection on half the heads. A layer's
// projection FLOPs are 2 x tokens x its attention weights over the ranks that split them, and
// core attention meets each key with 2 x (192 + 128) FLOPs per head (QK^T over the query/key
// width, PV over the value width), causal: half the keys.
TEST_CASE("latent attention: duplicated down projections, split up projections, unequal query and value heads") {
  const ModelArch& v3 = *find_builtin_model("deepseek_v3");
  const std::int64_t tokens = 4096, tp = 2;
  const ModelOps ops = build_model_ops(v3, {1, tokens, Dtype::kBf16, tp, false, true});
  double down = 0, split = 0, core = 0;
  for (const Op& op : ops.layer_forward) {
    if (op.kind == OpClass::kGemm && (op.name == "attn.q_down" || op.name == "attn.kv_down")) down += op.flops;
    if (op.kind == OpClass::kGemm && (op.name == "attn.q_up" || op.name == "attn.kv_up" || op.name == "attn.out")) split += op.flops;
    if (op.kind == OpClass::kAttention) core += op.flops;
  }
  const double t = static_cast<double>(tokens);
  CHECK(down == doctest::Approx(2 * t * 7168.0 * (1536 + 512 + 64)));
  CHECK(split == doctest::Approx(2 * t * (1536.0 * 128 * 192 + 512.0 * 128 * (128 + 128) + 128.0 * 128 * 7168) / tp));
  CHECK(core == doctest::Approx(2 * (192.0 + 128) * (128 / tp) * t * t / 2));
  // The leading dense layers run an MLP of 18,432 where the others route to experts.
  REQUIRE_FALSE(ops.dense_layer.forward.empty());
  bool dense_routes = false;
  double dense_mlp = 0;
  for (const Op& op : ops.dense_layer.forward) {
    dense_routes = dense_routes || op.name.rfind("moe.", 0) == 0;
    if (op.kind == OpClass::kGemm && op.name.rfind("mlp.", 0) == 0) dense_mlp += op.flops;
  }
  CHECK_FALSE(dense_routes);
  CHECK(dense_mlp == doctest::Approx(2 * t * 3 * 7168.0 * 18432 / tp));
  CHECK(build_model_ops(*find_builtin_model("mixtral_8x7b"), {1, 1024, Dtype::kBf16, 1, false, true}).dense_layer.forward.empty());
}

TEST_CASE("encoder-decoder models get encoder layers and cross-attention") {
  ModelArch t5;
  t5.name = "t5_small_test";
  t5.hidden = 512; t5.layers = 6; t5.encoder_layers = 6; t5.heads = 8; t5.kv_heads = 8;
  t5.head_dim = 64; t5.ffn_hidden = 2048; t5.vocab = 32128; t5.norm = NormKind::kRmsNorm;
  t5.position = PositionKind::kRelativeBias;
  const ModelOps ops = build_model_ops(t5, {1, 512, Dtype::kBf16, 1, false, true});
  CHECK_FALSE(ops.encoder_layer_forward.empty());
  bool cross = false;
  for (const Op& op : ops.layer_forward) cross = cross || op.name == "xattn.core";
  CHECK(cross);
}

namespace {
const Op* find_op(const std::vector<Op>& ops, const std::string& name) {
  for (const Op& op : ops) {
    if (op.name == name) return &op;
  }
  return nullptr;
}
}  // namespace

TEST_CASE("unfused attention runs the full square as two batched matmuls around a softmax") {
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  ShapeConfig shape{2, 2048, Dtype::kBf16, 4, false, true};
  shape.attention = AttentionKernel::kUnfused;
  const ModelOps ops = build_model_ops(llama, shape);
  const Op* qk = find_op(ops.layer_forward, "attn.core.qk");
  const Op* softmax = find_op(ops.layer_forward, "attn.core.softmax");
  const Op* pv = find_op(ops.layer_forward, "attn.core.pv");
  REQUIRE((qk && softmax && pv));
  const double heads = 2.0 * 32 / 4, scores = heads * 2048 * 2048;
  // Causal masking does not skip work here: each matmul is 2 s^2 d per head.
  CHECK(qk->flops == doctest::Approx(2 * scores * 128));
  CHECK(pv->flops == doctest::Approx(2 * scores * 128));
  CHECK(qk->gemm.batch == 16);
  CHECK(softmax->saved_bytes == doctest::Approx(2 * scores));
  CHECK(find_op(ops.layer_forward, "attn.core.dropout") == nullptr);
  // Their four backward matmuls are activation gradients: a zero-bubble W pass skips them.
  int core_backward = 0;
  for (const Op& op : ops.layer_backward) {
    if (op.name.rfind("attn.core.", 0) == 0 && op.kind == OpClass::kGemm) {
      ++core_backward;
      CHECK(op.phase == Phase::kBackwardInput);
    }
  }
  CHECK(core_backward == 4);
  CHECK(ops.layer_selective_recompute.empty());  // rerun only when selective recomputation names core_attn
}

TEST_CASE("dropout adds a score dropout with its mask and masks on residual adds") {
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  ShapeConfig shape{1, 1024, Dtype::kBf16, 1, false, true};
  shape.attention = AttentionKernel::kUnfused;
  const ModelOps plain = build_model_ops(llama, shape);
  shape.dropout = true;
  const ModelOps dropped = build_model_ops(llama, shape);
  const double scores = 32.0 * 1024 * 1024;
  const Op* dropout = find_op(dropped.layer_forward, "attn.core.dropout");
  REQUIRE(dropout != nullptr);
  CHECK(dropout->saved_bytes == doctest::Approx(1.5 * scores * 2));  // bf16 output and a 1-byte mask
  // Two residual adds per layer, each keeping a 1-byte mask per element.
  const double masks = 2 * 1024.0 * 4096;
  CHECK(total_saved_bytes(dropped.layer_forward) - total_saved_bytes(plain.layer_forward) ==
        doctest::Approx(dropout->saved_bytes + masks));
}

TEST_CASE("fused attention with dropout draws one number per score element forward and again backward") {
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  ShapeConfig shape{1, 1024, Dtype::kBf16, 1, false, true};
  const ModelOps without = build_model_ops(llama, shape);
  const Op* plain = find_op(without.layer_forward, "attn.core");
  REQUIRE(plain != nullptr);
  CHECK(attention_dropout_seconds(*plain, *find_builtin_gpu("h100_sxm")) == 0);
  shape.dropout = true;
  const ModelOps ops = build_model_ops(llama, shape);
  const Op* forward = find_op(ops.layer_forward, "attn.core");
  const Op* backward = find_op(ops.layer_backward, "attn.core.bwd");
  REQUIRE((forward && backward));
  CHECK(find_op(ops.layer_forward, "attn.core.dropout") == nullptr);  // no kernel of its own
  // 32 heads x 1024 queries x 512 keys met on average under the causal mask.
  const double scores = 32.0 * 1024 * 512;
  GpuSpec gpu = *find_builtin_gpu("h100_sxm");
  gpu.clocks = {};  // no sustained clock: the clock behind the fp32 peak with 128 lanes per SM
  gpu.peak_flops[static_cast<std::size_t>(Dtype::kFp32)] = 2.0 * 128 * 100 * 1.5e9;
  gpu.sm_count = 100;
  // FlashAttention-2's 7-round Philox yields 16 bytes: 68 issue slots per 16 elements.
  const double seconds = scores * 68 / 16 / (64 * 100 * 1.5e9);
  CHECK(attention_dropout_seconds(*forward, gpu) == doctest::Approx(seconds));
  CHECK(attention_dropout_seconds(*backward, gpu) == doctest::Approx(seconds));
}

TEST_CASE("selective recomputation frees only the score tensors and reruns core attention") {
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  ShapeConfig shape{1, 2048, Dtype::kBf16, 1, false, true};
  shape.attention = AttentionKernel::kUnfused;
  shape.dropout = true;
  const ModelOps kept = build_model_ops(llama, shape);
  shape.recompute.core_attn = true;
  const ModelOps freed = build_model_ops(llama, shape);
  // Korthikanti et al. 2022, Table 2: 5 a s^2 b bytes per layer go (2 softmax, 1 mask, 2 dropout).
  const double five_as2b = 5.0 * 32 * 2048 * 2048;
  CHECK(total_saved_bytes(kept.layer_forward) - total_saved_bytes(freed.layer_forward) == doctest::Approx(five_as2b));
  std::vector<std::string> rerun;
  for (const Op& op : freed.layer_selective_recompute) rerun.push_back(op.name);
  CHECK(rerun == std::vector<std::string>{"attn.core.qk", "attn.core.softmax", "attn.core.dropout", "attn.core.pv"});
  CHECK(kept.layer_selective_recompute.empty());  // nothing is rerun unless a module is named
  // FlashAttention holds no s x s tensor: its one kernel is what selective recompute reruns.
  ShapeConfig fused{1, 2048, Dtype::kBf16, 1, false, true};
  fused.recompute.core_attn = true;
  const ModelOps flash = build_model_ops(llama, fused);
  REQUIRE(flash.layer_selective_recompute.size() == 1);
  CHECK(flash.layer_selective_recompute.front().kind == OpClass::kAttention);
}

namespace {
std::vector<std::string> names(const std::vector<Op>& ops) {
  std::vector<std::string> out;
  for (const Op& op : ops) out.push_back(op.name);
  return out;
}
// Saved bytes a layer frees when selective recomputation reruns `modules`, and what it reruns.
std::pair<double, std::vector<std::string>> freed_by(const ModelArch& model, const RecomputedModules& modules) {
  ShapeConfig shape{2, 1024, Dtype::kBf16, 1, false, true};
  const double kept = total_saved_bytes(build_model_ops(model, shape).layer_forward);
  shape.recompute = modules;
  const ModelOps ops = build_model_ops(model, shape);
  return {kept - total_saved_bytes(ops.layer_forward), names(ops.layer_selective_recompute)};
}
}  // namespace

// Megatron's --recompute-modules: each module's forward reruns before the layer's backward;
// its input stays and what only it needed goes (2,048 tokens a micro-batch, bf16).
TEST_CASE("selective recomputation by module: what layernorm, mlp, moe_act and shared_experts free and rerun") {
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  const double tokens = 2048, bf16 = 2;
  // The two block norms' outputs, which the QKV and gate/up GEMMs would keep.
  const auto [norms, norm_ops] = freed_by(llama, {.layernorm = true});
  CHECK(norms == doctest::Approx(2 * tokens * 4096 * bf16));
  CHECK(norm_ops == std::vector<std::string>{"attn.norm", "mlp.norm"});
  // A dense MLP keeps its input; the gate/up output (2 x 14,336) and SwiGLU's (14,336) go.
  const auto [mlp, mlp_ops] = freed_by(llama, {.mlp = true});
  CHECK(mlp == doctest::Approx(3 * tokens * 14336 * bf16));
  CHECK(mlp_ops == std::vector<std::string>{"mlp.gate_up", "mlp.act", "mlp.down"});
  // GPT-OSS 120B: each token's 4 expert rows keep their gate/up output, not SwiGLU's (2,880 wide).
  const ModelArch& oss = *find_builtin_model("gpt_oss_120b");
  const auto [act, act_ops] = freed_by(oss, {.moe_act = true});
  CHECK(act == doctest::Approx(tokens * 4 * 2880 * bf16));
  CHECK(act_ops == std::vector<std::string>{"moe.expert.act"});
  // The router keeps the norm output it reads, which the shared expert reads too: recomputing
  // the shared expert (Qwen1.5-MoE's, 5,632 wide) frees its intermediates only.
  const ModelArch& qwen = *find_builtin_model("qwen15_moe_a2_7b");
  const auto [shared, shared_ops] = freed_by(qwen, {.shared_experts = true});
  CHECK(shared == doctest::Approx(3 * tokens * 5632 * bf16));
  CHECK(shared_ops == std::vector<std::string>{"moe.shared.gate_up", "moe.shared.act", "moe.shared.down"});
  const auto [router_input, _] = freed_by(qwen, {.layernorm = true});
  CHECK(router_input == doctest::Approx(2 * tokens * 2048 * bf16));
  // Modules rerun in forward order whatever order they are named in.
  CHECK(freed_by(oss, {.core_attn = true, .layernorm = true, .moe_act = true}).second ==
        std::vector<std::string>{"attn.norm", "attn.core", "mlp.norm", "moe.expert.act"});
}

// Megatron-core's mla_up_proj: the up projections and the rotary embedding rerun from the
// latents, which stay; the normalized latents they keep and the heads' Q, K and V core
// attention keeps go. DeepSeek-V3: 128 heads, queries and keys 192 wide, values 128.
TEST_CASE("selective recomputation by module: what mla_up_proj frees and reruns") {
  const ModelArch& v3 = *find_builtin_model("deepseek_v3");
  const double tokens = 2048, bf16 = 2;
  const auto [freed, rerun] = freed_by(v3, {.mla_up_proj = true});
  CHECK(freed == doctest::Approx(tokens * bf16 * (1536 + 512 + 128 * 192 + 128 * 192 + 128 * 128)));
  CHECK(rerun == std::vector<std::string>{"attn.q_norm", "attn.q_up", "attn.kv_norm", "attn.kv_up", "attn.rope"});
  const ModelArch& gpt = *find_builtin_model("gpt_oss_120b");
  CHECK(freed_by(gpt, {.mla_up_proj = true}).first == 0);  // no latent attention: nothing to rerun
}

// Megatron-core's moe module reruns a whole MoE block, all-to-alls included, keeping only its
// input (the norm output the router reads); a moe_act inside it does not rerun twice.
TEST_CASE("selective recomputation by module: the moe module reruns the whole block and keeps its input") {
  const ModelArch& oss = *find_builtin_model("gpt_oss_120b");
  ShapeConfig shape{2, 1024, Dtype::kBf16, 1, false, true};
  shape.ep = 8;
  shape.recompute = {.moe_act = true, .moe = true};
  const ModelOps ops = build_model_ops(oss, shape);
  const std::vector<std::string> all = names(ops.layer_forward);
  const auto first = std::find(all.begin(), all.end(), "moe.router");
  const auto last = std::find(all.begin(), all.end(), "moe.unpermute");
  REQUIRE((first != all.end() && last != all.end()));
  CHECK(names(ops.layer_selective_recompute) == std::vector<std::string>(first, last + 1));
  CHECK(std::count(all.begin(), all.end(), "ep.dispatch") == 1);
  double block_kept = 0;
  for (auto op = ops.layer_forward.begin() + (first - all.begin()); op != ops.layer_forward.begin() + (last - all.begin()) + 1; ++op) {
    block_kept += op->saved_bytes;
  }
  CHECK(block_kept == doctest::Approx(2048.0 * 2880 * 2));
}

TEST_CASE("expert parallelism over the TP group: whole experts per rank, reached by all-to-all") {
  const ModelArch& mixtral = *find_builtin_model("mixtral_8x7b");
  ShapeConfig shape{1, 1024, Dtype::kBf16, 4, false, true};
  const ModelOps sliced = build_model_ops(mixtral, shape);
  shape.experts_over_tp = true;
  const ModelOps whole = build_model_ops(mixtral, shape);
  const Op* sliced_up = find_op(sliced.layer_forward, "moe.expert.gate_up");
  const Op* whole_up = find_op(whole.layer_forward, "moe.expert.gate_up");
  REQUIRE((sliced_up && whole_up));
  // TP slices: all 8 experts, a quarter of each, for every token; EP: 2 whole experts,
  // each for its share of the tokens: the same FLOPs per rank.
  CHECK(sliced_up->gemm.batch == 8);
  CHECK(sliced_up->gemm.n == 2 * 14336 / 4);
  CHECK(whole_up->gemm.batch == 2);
  CHECK(whole_up->gemm.n == 2 * 14336);
  CHECK(whole_up->gemm.m == sliced_up->gemm.m);
  CHECK(whole_up->flops == doctest::Approx(sliced_up->flops));
  CHECK(find_op(whole.layer_forward, "ep.dispatch") != nullptr);
  CHECK(find_op(whole.layer_forward, "ep.combine") != nullptr);
  CHECK(find_op(sliced.layer_forward, "ep.dispatch") == nullptr);
}

TEST_CASE("expert parallelism folded over the TP group: a rank routes its own shard to whole experts, no TP exchange") {
  const ModelArch& mixtral = *find_builtin_model("mixtral_8x7b");
  ShapeConfig shape{1, 1024, Dtype::kBf16, 4, true, true};  // TP 4 with sequence parallelism
  shape.ep = 4;
  const ModelOps sliced = build_model_ops(mixtral, shape);
  shape.experts_folded = true;
  const ModelOps folded = build_model_ops(mixtral, shape);
  const Op* sliced_up = find_op(sliced.layer_forward, "moe.expert.gate_up");
  const Op* folded_up = find_op(folded.layer_forward, "moe.expert.gate_up");
  REQUIRE((sliced_up && folded_up));
  // EP 4 over DP replicas with experts sliced by TP 4: 2 experts, a quarter of each, for the
  // TP group's tokens; folded: 2 whole experts for a quarter of the rows. The same FLOPs.
  CHECK(folded_up->gemm.batch == sliced_up->gemm.batch);
  CHECK(folded_up->gemm.n == 4 * sliced_up->gemm.n);
  CHECK(folded_up->gemm.m * 4 == sliced_up->gemm.m);
  CHECK(folded_up->flops == doctest::Approx(sliced_up->flops));
  // The router sees the rank's own quarter of the tokens; the all-to-all carries as much.
  CHECK(find_op(folded.layer_forward, "moe.router")->gemm.m * 4 == find_op(sliced.layer_forward, "moe.router")->gemm.m);
  CHECK(find_op(folded.layer_forward, "ep.dispatch")->collective_bytes == find_op(sliced.layer_forward, "ep.dispatch")->collective_bytes);
  // No all-gather or reduce-scatter over TP around the experts: the attention block's only.
  const auto tp_collectives = [](const std::vector<Op>& ops) {
    int n = 0;
    for (const Op& op : ops) n += op.kind == OpClass::kCollective && op.group == CommGroup::kTensor;
    return n;
  };
  CHECK(tp_collectives(folded.layer_forward) == tp_collectives(sliced.layer_forward) - 2);
}

// The busiest EP rank sets the pace: with twice the mean load its experts take twice the
// rows and the all-to-alls, which last as long as their busiest receiver, twice the bytes.
// The shared expert and the rank's own routing work do not change.
TEST_CASE("routing imbalance scales the busiest rank's expert GEMMs and all-to-alls") {
  const ModelArch& moe = *find_builtin_model("qwen15_moe_a2_7b");
  ShapeConfig shape{2, 4096, Dtype::kBf16, 1, false, true};
  shape.ep = 4;
  const ModelOps balanced = build_model_ops(moe, shape);
  shape.expert_load = 2;
  const ModelOps skewed = build_model_ops(moe, shape);
  for (const char* name : {"moe.expert.gate_up", "moe.expert.down"}) {
    CAPTURE(name);
    const Op* a = find_op(balanced.layer_forward, name);
    const Op* b = find_op(skewed.layer_forward, name);
    REQUIRE((a && b));
    CHECK(b->gemm.m == 2 * a->gemm.m);  // 8,192 tokens x 4 of 60 experts x 4 ranks: 2,185 rows each, then 4,370
  }
  for (const char* name : {"ep.dispatch", "ep.combine"}) {
    CAPTURE(name);
    CHECK(find_op(skewed.layer_forward, name)->collective_bytes == doctest::Approx(2 * find_op(balanced.layer_forward, name)->collective_bytes));
  }
  for (const char* name : {"moe.shared.gate_up", "moe.router", "moe.permute"}) {
    CAPTURE(name);
    CHECK(find_op(skewed.layer_forward, name)->flops == find_op(balanced.layer_forward, name)->flops);
  }
}

TEST_CASE("op-level selective checkpointing reruns torchtitan's even matmuls and every elementwise op") {
  // torchtitan counts Llama's matmuls wq, wk, wv, wo, w1, w3, w2 and keeps the odd ones' outputs:
  // wk, wo and w3 are rerun, with every norm, rotary embedding and activation; attention is kept.
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  const std::int64_t tokens = 1024, h = llama.hidden, kv = llama.kv_heads * llama.head_dim, f = llama.ffn_hidden;
  const ModelOps ops = build_model_ops(llama, {1, tokens, Dtype::kBf16, 1, false, true});
  const double rerun_width = static_cast<double>(kv * h + h * h + h * f);
  CHECK(gemm_flops(ops.layer_op_recompute) == doctest::Approx(2.0 * static_cast<double>(tokens) * rerun_width));
  int attention = 0, elementwise = 0;
  for (const Op& op : ops.layer_op_recompute) {
    attention += op.kind == OpClass::kAttention ? 1 : 0;
    elementwise += op.kind == OpClass::kNorm || op.kind == OpClass::kElementwise ? 1 : 0;
  }
  CHECK(attention == 0);
  CHECK(elementwise == 6);  // two norms, rope, the activation, two residual adds
  // Kept: the layer's input, wq's and wv's outputs, attention's output and its fp32 row
  // statistics, w1's and w2's outputs.
  const double kept = static_cast<double>(tokens) * 2 * static_cast<double>(h + h + kv + h + f + h) +
                      static_cast<double>(llama.heads * tokens) * 4;
  CHECK(ops.layer_op_saved_bytes == doctest::Approx(kept));
}

TEST_CASE("eager PyTorch runs RMSNorm, the rotary embedding and SwiGLU as separate ops with fp32 upcasts") {
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  ShapeConfig shape{1, 1024, Dtype::kBf16, 1, false, true};
  const ModelOps fused = build_model_ops(llama, shape);
  shape.eager_elementwise = true;
  const ModelOps eager = build_model_ops(llama, shape);
  const auto bytes = bytes_of;
  // RMSNorm: 40 bytes per element forward and 72 backward, against the fused kernel's 4 and 6.
  CHECK(bytes(eager.layer_forward, OpClass::kNorm) == doctest::Approx(10 * bytes(fused.layer_forward, OpClass::kNorm)));
  CHECK(bytes(eager.layer_backward, OpClass::kNorm) == doctest::Approx(12 * bytes(fused.layer_backward, OpClass::kNorm)));
  CHECK(eager.layer_forward.size() == fused.layer_forward.size() + 2 * 5 + 2 + 1);
  CHECK(gemm_flops(eager.layer_forward) == gemm_flops(fused.layer_forward));
  // LayerNorm is one native kernel in eager PyTorch too.
  const ModelArch& gpt = *find_builtin_model("gpt3_175b");
  shape.eager_elementwise = false;
  const ModelOps gpt_fused = build_model_ops(gpt, shape);
  shape.eager_elementwise = true;
  CHECK(build_model_ops(gpt, shape).layer_forward.size() == gpt_fused.layer_forward.size());
}

TEST_CASE("the fp32 loss: Megatron's unfused cross-entropy moves 38 bytes a logit forward and 14 backward") {
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  ShapeConfig shape{2, 1024, Dtype::kBf16, 2, false, true};
  const ModelOps fused = build_model_ops(llama, shape);
  shape.fp32_cross_entropy = true;
  const ModelOps fp32 = build_model_ops(llama, shape);
  const double tokens = 2 * 1024, logits = tokens * static_cast<double>(llama.vocab / 2);  // this TP rank's vocabulary share
  const auto loss_bytes = [](const std::vector<Op>& ops) { return bytes_of(ops, OpClass::kLoss); };
  // bf16 logits: upcast 2 + 4, max 4, shift 8, exp 8, sum 4, normalize 8; the two
  // row reductions also write a float per token. Backward: the in-place scale 8, the cast back 6.
  CHECK(loss_bytes(fp32.head_forward) == doctest::Approx(38 * logits + 2 * 4 * tokens));
  CHECK(loss_bytes(fp32.head_backward) == doctest::Approx(14 * logits));
  // The fused pass reads the logits once forward and reads and writes them backward.
  CHECK(loss_bytes(fused.head_forward) == doctest::Approx(2 * logits + 2 * tokens));
  CHECK(loss_bytes(fused.head_backward) == doctest::Approx(4 * logits));
  // Six kernels forward instead of one; the lm_head GEMM is the same.
  CHECK(fp32.head_forward.size() == fused.head_forward.size() + 5);
  CHECK(gemm_flops(fp32.head_forward) == gemm_flops(fused.head_forward));
}

TEST_CASE("without gradient accumulation fusion each weight's fresh gradient is added into its buffer in a pass of its own") {
  // Llama 3 8B at TP 2: each weight GEMM's W pass gains a kernel that reads the bf16 gradient
  // and reads and writes the fp32 buffer, 10 bytes a weight; nothing else changes.
  const ModelArch& llama = *find_builtin_model("llama3_8b");
  ShapeConfig shape{1, 1024, Dtype::kBf16, 2, false, true};
  shape.grad_dtype = Dtype::kFp32;
  const ModelOps fused = build_model_ops(llama, shape);
  shape.grad_accumulation_fusion = false;
  const ModelOps unfused = build_model_ops(llama, shape);
  const double h = static_cast<double>(llama.hidden), f = static_cast<double>(llama.ffn_hidden);
  const double q = static_cast<double>(llama.heads * llama.head_dim), kv = static_cast<double>(llama.kv_heads * llama.head_dim);
  const double weights = (h * (q + 2 * kv) + q * h + 3 * h * f) / 2;  // this TP rank's share of a layer's
  double added = 0;
  int kernels = 0;
  for (const Op& op : unfused.layer_backward) {
    if (!op.name.ends_with(".wgrad.accumulate")) continue;
    CHECK(op.phase == Phase::kBackwardWeight);
    added += op.bytes;
    kernels += static_cast<int>(op.kernels);
  }
  CHECK(added == doctest::Approx(10 * weights));
  CHECK(kernels == 4);  // QKV, output, gate/up and down projections
  CHECK(unfused.layer_backward.size() == fused.layer_backward.size() + 4);
  CHECK(bytes_of(unfused.layer_backward, OpClass::kElementwise) - bytes_of(fused.layer_backward, OpClass::kElementwise) == doctest::Approx(added));
  CHECK(gemm_flops(unfused.layer_backward) == gemm_flops(fused.layer_backward));
}

TEST_CASE("delayed expert weight gradients leave their place and follow the dispatch's backward all-to-all, beside it") {
  const ModelArch& mixtral = *find_builtin_model("mixtral_8x7b");
  ShapeConfig shape{1, 4096, Dtype::kBf16, 1, false, true};
  shape.ep = 4;
  const ModelOps plain = build_model_ops(mixtral, shape);
  shape.delay_expert_wgrad = true;
  const ModelOps delayed = build_model_ops(mixtral, shape);
  const std::vector<Op>& ops = delayed.layer_backward;
  const auto dispatch = std::find_if(ops.begin(), ops.end(), [](const Op& op) { return op.name == "ep.dispatch.bwd"; });
  REQUIRE(dispatch != ops.end());
  std::vector<std::string> after;
  for (auto op = dispatch + 1; op != ops.end() && op->beside_exchange; ++op) after.push_back(op->name);
  CHECK(after == std::vector<std::string>{"moe.expert.down.wgrad", "moe.expert.gate_up.wgrad"});
  const auto early = std::count_if(ops.begin(), dispatch, [](const Op& op) { return op.name.starts_with("moe.expert.") && op.phase == Phase::kBackwardWeight; });
  CHECK(early == 0);
  // The same kernels, reordered; the attention's weight gradients stay where they were.
  CHECK(ops.size() == plain.layer_backward.size());
  CHECK(gemm_flops(ops) == doctest::Approx(gemm_flops(plain.layer_backward)));
}

TEST_CASE("FP8 as Transformer Engine runs it: linear layers keep one-byte copies of their inputs") {
  // Llama 3 8B at 1,024 tokens, TP 1: the QKV, gate/up and down projections keep their
  // inputs in fp8 instead of bf16, and the output projection keeps an fp8 copy of
  // attention's output beside the bf16 one attention keeps. The output layer stays bf16.
  const ModelArch m = *find_builtin_model("llama3_8b");
  ShapeConfig shape{1, 1024, Dtype::kBf16, 1, false, true};
  const ModelOps bf16 = build_model_ops(m, shape);
  shape.fp8_saved_inputs = true;
  const ModelOps fp8 = build_model_ops(m, shape);
  const double tokens = 1024, h = static_cast<double>(m.hidden), f = static_cast<double>(m.ffn_hidden);
  const double q_width = static_cast<double>(m.heads * m.head_dim);
  // Halved: h (QKV input) + h (gate/up input) + f (down input), in bytes one per element;
  // added: the output projection's q_width.
  const double change = tokens * (q_width - (h + h + f));
  CHECK(total_saved_bytes(fp8.layer_forward) - total_saved_bytes(bf16.layer_forward) == doctest::Approx(change));
  CHECK(total_saved_bytes(fp8.head_forward) == doctest::Approx(total_saved_bytes(bf16.head_forward)));
}

// An expert is missed by all n tokens with probability (1 - k/E)^n: one token reaches k
// experts, and the grouped GEMM reads only theirs; a large batch reaches them all.
TEST_CASE("a dropless MoE batch runs only the experts its tokens reach") {
  const ModelArch& mixtral = *find_builtin_model("mixtral_8x7b");
  CHECK(active_experts(mixtral, 8, 1) == 2);
  CHECK(active_experts(mixtral, 8, 2) == 4);     // 8 (1 - 0.75^2) = 3.5, rounded
  CHECK(active_experts(mixtral, 8, 4) == 5);     // 5.47
  CHECK(active_experts(mixtral, 8, 64) == 8);
  const ModelArch& qwen = *find_builtin_model("qwen3_30b_a3b");
  CHECK(active_experts(qwen, 128, 1) == 8);
  CHECK(active_experts(qwen, 128, 16) == 82);    // 128 (1 - (120/128)^16) = 82.4
  CHECK(active_experts(qwen, 16, 1) == 1);       // EP over 8 ranks: a rank's 16 experts, 1.0 expected

  // The ops stay alive while their pointers are read.
  ShapeConfig decode{1, 1, Dtype::kBf16, 1, false, false};
  const ModelOps decode_ops = build_model_ops(mixtral, decode);
  const Op* one = find_op(decode_ops.layer_forward, "moe.expert.gate_up");
  REQUIRE(one != nullptr);
  CHECK(one->gemm.batch == 2);
  CHECK(one->gemm.m == 1);
  ShapeConfig prefill = decode;
  prefill.sequence = 512;
  const ModelOps prefill_ops = build_model_ops(mixtral, prefill);
  const Op* all = find_op(prefill_ops.layer_forward, "moe.expert.gate_up");
  REQUIRE(all != nullptr);
  CHECK(all->gemm.batch == 8);
  CHECK(all->gemm.m == 128);  // 512 tokens x 2 of 8 experts, evenly
  // Capacity routing pads every expert to its capacity, so all of them run.
  decode.dropless_routing = false;
  const ModelOps padded_ops = build_model_ops(mixtral, decode);
  const Op* padded = find_op(padded_ops.layer_forward, "moe.expert.gate_up");
  REQUIRE(padded != nullptr);
  CHECK(padded->gemm.batch == 8);
}

// Megatron-core's --moe-shared-expert-overlap: the shared expert's up projection and
// activation follow the dispatch all-to-all flagged to run beside it, its down projection
// the combine; in backward each all-to-all's gradient comes first and the shared expert's
// gradients run beside it. Nothing else moves, and no op is added or lost.
TEST_CASE("the shared expert's overlap: its ops beside the dispatch and the combine, forward and backward") {
  const ModelArch& moe = *find_builtin_model("qwen15_moe_a2_7b");
  ShapeConfig shape{2, 4096, Dtype::kBf16, 1, false, true};
  shape.ep = 4;
  const ModelOps plain = build_model_ops(moe, shape);
  shape.shared_expert_overlap = true;
  const ModelOps overlapped = build_model_ops(moe, shape);
  const auto names = [](const std::vector<Op>& ops) {
    std::vector<std::string> out;
    for (const Op& op : ops) out.push_back(op.name + (op.beside_exchange ? " beside" : ""));
    return out;
  };
  const auto after = [&](const std::vector<Op>& ops, const std::string& exchange, std::size_t n) {
    const auto at = std::find_if(ops.begin(), ops.end(), [&](const Op& op) { return op.name == exchange; });
    REQUIRE(at != ops.end());
    std::vector<std::string> out;
    for (auto it = at + 1; it != ops.end() && out.size() < n; ++it) out.push_back(it->name + (it->beside_exchange ? " beside" : ""));
    return out;
  };
  CHECK(after(overlapped.layer_forward, "ep.dispatch", 3) ==
        std::vector<std::string>{"moe.shared.gate_up beside", "moe.shared.act beside", "moe.expert.gate_up"});
  CHECK(after(overlapped.layer_forward, "ep.combine", 2) == std::vector<std::string>{"moe.shared.down beside", "moe.unpermute"});
  CHECK(after(overlapped.layer_backward, "ep.combine.bwd", 3) ==
        std::vector<std::string>{"moe.shared.down.dgrad beside", "moe.shared.down.wgrad beside", "moe.expert.down.dgrad"});
  CHECK(after(overlapped.layer_backward, "ep.dispatch.bwd", 4) ==
        std::vector<std::string>{"moe.shared.act.bwd beside", "moe.shared.gate_up.dgrad beside", "moe.shared.gate_up.wgrad beside",
                                 "moe.permute.bwd"});
  // The same ops and costs, only reordered.
  for (const auto* pair : {&plain.layer_forward, &plain.layer_backward}) {
    const auto& other = pair == &plain.layer_forward ? overlapped.layer_forward : overlapped.layer_backward;
    auto a = names(*pair), b = names(other);
    for (auto& n : b) n = n.substr(0, n.find(" beside"));
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    CHECK(a == b);
  }
  // Without expert parallelism there is no all-to-all to overlap: nothing moves.
  shape.ep = 1;
  const ModelOps single = build_model_ops(moe, shape);
  CHECK(std::none_of(single.layer_forward.begin(), single.layer_forward.end(), [](const Op& op) { return op.beside_exchange; }));
}
