// An MoE layer's kernels as foresight builds them (the routed experts' grouped GEMMs and
// activation, one EP rank's share at a balanced load) against the same kernels measured
// on an H200 on 2026-12-04 (scripts/gpu/torch_moe_profile.py; PyTorch 2.11, CUDA 13.0,
// cuDNN 9.19; calibration/runs/2026-12-04-h200-moe/), and from the same lease grouped GEMMs
// at decode sizes and attention under document masks. Five layers: GPT-OSS 120B at EP 8 and
// EP 64, Qwen3-30B-A3B, DeepSeek-V3 and Mixtral 8x7B at EP 8. The GEMM and attention rows
// are held out: no figure was set from them. The activation's are not: its backward's two
// kernels and what they read were taken from this run's kernel list (activation_kernels.json),
// so those rows check that structure against the times rather than predict them.
//
// The GEMMs are measured as Transformer Engine's BF16 GroupedLinear runs them, one cuBLAS
// GEMM per local expert (the CUTLASS grouped kernel, torch._grouped_mm, is printed beside);
// the activation as Megatron-core fuses it (one compiled forward and one compiled backward
// that also returns the routing probabilities' gradient). The kernels ran alone, mostly at
// the 1,980 MHz boost clock; the roofline times training at the clock a sustained step
// leaves (docs/calibration.md, "The H200 profile"), which costs bf16 GEMMs of this size
// little (8192^3: 708 TFLOP/s at boost, 671 settled).
#include <doctest/doctest.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "calibration/calibrated_cost_models.hpp"
#include "calibration/learned_cost_model.hpp"
#include "error_stats.hpp"
#include "models/model_arch.hpp"
#include "models/roofline_model.hpp"
#include "models/transformer_ops.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"

using namespace foresight;
using foresight::testing::ErrorStats;
using nlohmann::json;

namespace {
const std::string kRun = "calibration/runs/2026-12-04-h200-moe/";

struct Layer {
  const char* config;  // the profile's name for it
  const char* model;
  std::int64_t micro_batch, ep;
};

const Layer kLayers[] = {{"gpt_oss_120b_ep8", "gpt_oss_120b", 4, 8},
                         {"gpt_oss_120b_ep64", "gpt_oss_120b", 4, 64},
                         {"qwen3_30b_a3b_ep8", "qwen3_30b_a3b", 2, 8},
                         {"deepseek_v3_ep8", "deepseek_v3", 1, 8},
                         {"mixtral_8x7b_ep8", "mixtral_8x7b", 1, 8}};

const json& find_record(const json& profile, const std::string& config, const std::string& component, const std::string& pass) {
  for (const json& r : profile["records"]) {
    if (r.value("config", "") == config && r.value("component", "") == component && r.value("pass", "") == pass) return r;
  }
  throw std::runtime_error("no record " + config + " " + component + " " + pass);
}

const Op& find_op(const ModelOps& ops, const std::string& name) {
  for (const auto* list : {&ops.layer_forward, &ops.layer_backward}) {
    for (const Op& op : *list) {
      if (op.name == name) return op;
    }
  }
  throw std::runtime_error("no op " + name);
}

ModelOps layer_ops(const Layer& layer) {
  ShapeConfig shape;
  shape.micro_batch = layer.micro_batch;
  shape.sequence = 4096;
  shape.ep = layer.ep;
  shape.attention = AttentionKernel::kFlash3;
  return build_model_ops(*find_builtin_model(layer.model), shape);
}

double predicted_us(const Op& op) {
  static const RooflineModel roofline{RooflineParameters{}};
  return static_cast<double>(roofline.estimate(op, *find_builtin_gpu("h200_sxm")).duration) / 1e6;
}

Op attention(std::int64_t head_dim, Phase phase, bool warp_specialized) {
  Op op;
  op.kind = OpClass::kAttention;
  op.phase = phase;
  op.attention.head_dim = head_dim;
  op.attention.warp_specialized = warp_specialized;
  return op;
}
}  // namespace

TEST_CASE("an MoE layer's expert GEMMs against cuBLAS on an H200 (GPT-OSS, Qwen3, DeepSeek-V3, Mixtral)") {
  const json profile = foresight::testing::read_json_file(foresight::testing::source_path(kRun + "moe_profile.json"));
  foresight::testing::ValidationRecord record(
      "kernels_moe_expert_gemms_h200", "MoE expert GEMMs on an H200: one EP rank's grouped GEMMs, measured beside modeled",
      "foresight's H200 run of 2026-12-04 (calibration/runs/2026-12-04-h200-moe, per-expert cuBLAS GEMMs)", "held out",
      "kernels", "microseconds");
  ErrorStats errors, learned_errors;
  const LearnedCostModel learned(load_kernel_model(shipped_kernel_model_path()), RooflineParameters{});
  std::string lines = "layer               op                         rows x experts  cuBLAS us  grouped us  modeled us  error   learned us  error\n";
  for (const Layer& layer : kLayers) {
    const ModelOps ops = layer_ops(layer);
    for (const auto& [matmul, op_prefix] : {std::pair{"fc1", "moe.expert.gate_up"}, std::pair{"fc2", "moe.expert.down"}}) {
      for (const char* pass : {"forward", "dgrad", "wgrad"}) {
        const std::string name = std::string(op_prefix) + (std::string(pass) == "forward" ? "" : std::string(".") + pass);
        const Op& op = find_op(ops, name);
        const json& cublas = find_record(profile, layer.config, std::string(matmul) + "_per_expert_mm", pass);
        const json& grouped = find_record(profile, layer.config, std::string(matmul) + "_grouped_mm", pass);
        // The layer foresight builds is the layer that was measured.
        REQUIRE(op.gemm.batch == cublas["local_experts"].get<std::int64_t>());
        REQUIRE(2.0 * static_cast<double>(op.gemm.m * op.gemm.n * op.gemm.k * op.gemm.batch) == doctest::Approx(cublas["flops"].get<double>()));
        const double measured = cublas["median_us"];
        const double modeled = predicted_us(op);
        const double error = errors.add(modeled, measured);
        const double by_learned = static_cast<double>(learned.estimate(op, *find_builtin_gpu("h200_sxm")).duration) / 1e6;
        const double learned_error = learned_errors.add(by_learned, measured);
        record.add(std::string(layer.config) + " " + name, modeled, measured);
        char line[240];
        std::snprintf(line, sizeof line, "%-19s %-26s %6lld x %-5lld %9.0f  %10.0f  %10.0f  %+5.1f%%  %10.0f  %+5.1f%%\n", layer.config,
                      name.c_str(), static_cast<long long>(cublas["rows_per_expert"].get<std::int64_t>()),
                      static_cast<long long>(op.gemm.batch), measured, grouped["median_us"].get<double>(), modeled, error, by_learned,
                      learned_error);
        lines += line;
      }
    }
  }
  MESSAGE(lines);
  MESSAGE("expert GEMMs: " << errors.n << " kernels, roofline MAPE " << errors.mape() << "%, worst " << errors.worst
                            << "%; the shipped learned model (which never saw an H200) MAPE " << learned_errors.mape() << "%, mean signed "
                            << learned_errors.bias() << "%");
  record.write();
  REQUIRE(errors.n == 30);
  // On 2026-12-04: MAPE 4.4%, every GEMM within 15% (DeepSeek-V3's 1,024-row down
  // projection the worst; per-expert cuBLAS and the grouped kernel themselves differ by up
  // to 20% on one shape): the expert GEMMs are not where foresight's MoE training rows
  // (V10, V15, V16) lose their time.
  CHECK(errors.worst < 18);
  CHECK(errors.mape() < 8);
}

TEST_CASE("an MoE layer's fused activation against Megatron-style compiled kernels on an H200") {
  const json fused = foresight::testing::read_json_file(foresight::testing::source_path(kRun + "moe_activation.json"));
  ErrorStats forward, backward;
  std::string lines = "layer               pass      measured us  modeled us  error\n";
  for (const Layer& layer : kLayers) {
    if (std::string(layer.config) == "gpt_oss_120b_ep64") continue;  // the same activation as EP 8's
    const ModelOps ops = layer_ops(layer);
    for (const char* pass : {"forward", "backward"}) {
      const bool fwd = std::string(pass) == "forward";
      const double measured = find_record(fused, layer.config, "activation_fused_static", pass)["median_us"];
      const double modeled = predicted_us(find_op(ops, fwd ? "moe.expert.act" : "moe.expert.act.bwd"));
      const double error = (fwd ? forward : backward).add(modeled, measured);
      char line[160];
      std::snprintf(line, sizeof line, "%-19s %-8s %12.0f %11.0f  %+5.1f%%\n", layer.config, pass, measured, modeled, error);
      lines += line;
    }
  }
  MESSAGE(lines);
  REQUIRE(forward.n == 4);
  // On 2026-12-04: the forward, one pass over its bytes at copy speed, within 32% (Qwen3's
  // and DeepSeek-V3's narrow rows the worst). The backward runs as two kernels (the input
  // gradient, each half re-reading all three inputs, and the probabilities' gradient, a
  // row sum; activation_kernels.json lists them): modeled so, within 4% for Mixtral and
  // DeepSeek-V3, 28% fast for Qwen3 (its two short kernels took 290 us under the profiler,
  // 402 timed alone after an L2 flush) and 35% for GPT-OSS, whose 2,880-wide rows run the
  // concatenating kernel at 1.7 TB/s where the others reach 2.4. Modeled as one pass over
  // the minimum bytes, as before, it was 55-70% fast in every row.
  CHECK(forward.worst < 35);
  CHECK(backward.worst < 40);
  CHECK(backward.mape() < 25);
}

TEST_CASE("attention's head dim 64 over 128, forward and backward, against cuDNN and FlashAttention-2 on an H200") {
  const json profile = foresight::testing::read_json_file(foresight::testing::source_path(kRun + "moe_profile.json"));
  const RooflineModel roofline{RooflineParameters{}};
  const GpuSpec& h200 = *find_builtin_gpu("h200_sxm");
  ErrorStats errors;
  std::string lines = "kernel      pass      measured  modeled  error   (rate at head dim 64 over 128, same FLOPs)\n";
  for (const char* kernel : {"sdpa_cudnn", "sdpa_flash"}) {
    const auto find = [&](const std::string& config) -> const json& {
      for (const json& r : profile["records"]) {
        if (r.value("config", "") == config && r.value("kernel", "") == kernel) return r;
      }
      throw std::runtime_error(config + " " + kernel);
    };
    const json& d64 = find("gpt_oss_full");
    const json& d128 = find("hd128_same_flops");
    REQUIRE(d64["causal_flops"].get<double>() == d128["causal_flops"].get<double>());
    for (const char* pass : {"forward", "backward"}) {
      const Phase phase = std::string(pass) == "forward" ? Phase::kForward : Phase::kBackwardInput;
      const double measured = d128[pass]["median_us"].get<double>() / d64[pass]["median_us"].get<double>();
      const bool warp_specialized = std::string(kernel) == "sdpa_cudnn";
      const double modeled = roofline.attention_head_dim_share(attention(64, phase, warp_specialized), h200) /
                             roofline.attention_head_dim_share(attention(128, phase, warp_specialized), h200);
      const double error = errors.add(modeled, measured);
      char line[160];
      std::snprintf(line, sizeof line, "%-11s %-8s %9.3f %8.3f  %+5.1f%%\n", kernel, pass, measured, modeled, error);
      lines += line;
    }
  }
  MESSAGE(lines);
  // On 2026-12-04: within 8% each (cuDNN 9.19 0.70 forward and 0.81 backward, modeled
  // 0.75 and 0.86). The backward rows are the first backward head-dim check.
  CHECK(errors.worst < 12);
}

// Grouped GEMMs at serving's decode sizes (1-64 rows per expert), where they stream the
// experts' weights: PyTorch's grouped kernels (torch._grouped_mm in bf16, the CUTLASS
// row-wise fp8 kernel behind torch._scaled_grouped_mm) stream them at 0.7-3.1 TB/s here,
// 15-65% of the H200's 4.8 TB/s, where the roofline assumes about 75%; SGLang's
// published H200 benchmark of the same kind of kernels (benchmark/fbgemm/README.md,
// Qwen2-57B-A14B fp8 at TP 4) spans 47% (its Triton kernel) to 78% (FBGEMM's Triton).
// The engines' own MoE kernels are not measured, so nothing is set from these rows; a
// single expert through cuBLAS (Mixtral) is the control.
TEST_CASE("MoE grouped GEMMs at decode sizes on an H200: PyTorch's grouped kernels and one expert's cuBLAS GEMM") {
  const json decode = foresight::testing::read_json_file(foresight::testing::source_path(kRun + "grouped_gemm_decode.json"));
  const GpuSpec& h200 = *find_builtin_gpu("h200_sxm");
  const RooflineModel roofline{RooflineParameters{}};
  ErrorStats grouped, control;
  std::string lines = "layer               gemm  rows/expert  kernel                  measured us  modeled us  error\n";
  for (const json& r : decode["records"]) {
    const auto rows = r["rows_per_expert"].get<std::int64_t>();
    if (rows > 64 || r.contains("error")) continue;
    const std::string kernel = r["kernel"];
    Op op = gemm_op("expert", GemmShape{rows, r["n"].get<std::int64_t>(), r["k"].get<std::int64_t>(), r["local_experts"].get<std::int64_t>()},
                    Dtype::kBf16, Phase::kForward);
    if (kernel == "scaled_grouped_mm_fp8") {
      op.dtype = Dtype::kFp8;
      use_fp8_operands(op);
    }
    const double modeled = static_cast<double>(roofline.estimate(op, h200).duration) / 1e6;
    const double measured = r["median_us"];
    const bool one_expert = r["local_experts"].get<std::int64_t>() == 1 && kernel == "per_expert_mm_bf16";
    if (!one_expert && kernel == "per_expert_mm_bf16") continue;  // a launch per expert: no engine decodes so
    const double error = (one_expert ? control : grouped).add(modeled, measured);
    char line[200];
    std::snprintf(line, sizeof line, "%-19s %-5s %11lld  %-22s %11.1f %11.1f  %+5.1f%%\n", r["config"].get<std::string>().c_str(),
                  r["matmul"].get<std::string>().c_str(), static_cast<long long>(rows), kernel.c_str(), measured, modeled, error);
    lines += line;
  }
  MESSAGE(lines);
  REQUIRE(control.n == 8);
  // On 2026-12-04: one expert's GEMM through cuBLAS 3-11% below the modeled time for the
  // up projection and 16-52% for the down projection (k = 14,336, whose kernel choice swings
  // from row count to row count), mean -23%; the grouped kernels 17-70% below it in every
  // row, mean -38%. At decode sizes the roofline streams weights faster than these kernels
  // do; which rate an engine's own MoE kernels reach is not measured here (docs/serving.md,
  // "Not yet").
  CHECK(control.bias() < 0);
  CHECK(control.bias() > -40);
  CHECK(grouped.bias() < -20);
  CHECK(grouped.bias() > -55);
}

// Causal attention under a document mask against the same 8,192 tokens without it, on the
// H200 run's FlexAttention (a FlashAttention-2-class kernel that skips the tiles the mask
// empties; torch_document_mask_attention.py): Llama 3 8B's heads, two sequences, documents
// of 128 to 4,096 tokens. Rates relative to the unmasked run, so clock-free; held out. The
// model charges each query tile a fixed cost (FlashAttention-2's per-tile keys on Hopper,
// fitted on the H200 profile's unmasked cases), which is what makes short documents cost
// more than their FLOPs.
TEST_CASE("attention under a document mask, forward and backward, against FlexAttention on an H200") {
  const json runs = foresight::testing::read_json_file(foresight::testing::source_path(kRun + "document_mask_attention.json"));
  const RooflineModel roofline{RooflineParameters{}};
  const GpuSpec& h200 = *find_builtin_gpu("h200_sxm");
  const auto modeled_us = [&](std::int64_t document, const char* name) {
    ShapeConfig shape;
    shape.micro_batch = 2;
    shape.sequence = 8192;
    shape.document = document;
    return static_cast<double>(roofline.estimate(find_op(build_model_ops(*find_builtin_model("llama3_8b"), shape), name), h200).duration) / 1e6;
  };
  const json* unmasked = nullptr;
  for (const json& r : runs["records"]) {
    if (r["document"] == 0) unmasked = &r;
  }
  REQUIRE(unmasked != nullptr);
  const double measured_full = (*unmasked)["forward"]["median_us"].get<double>() + (*unmasked)["backward"]["median_us"].get<double>();
  const double modeled_full = modeled_us(0, "attn.core") + modeled_us(0, "attn.core.bwd");
  ErrorStats pair;
  std::string lines = "document  forward meas/model  backward meas/model  both meas/model  error   (time over the unmasked run's)\n";
  for (const json& r : runs["records"]) {
    const auto document = r["document"].get<std::int64_t>();
    if (document == 0) continue;
    const double forward = r["forward"]["median_us"].get<double>() / (*unmasked)["forward"]["median_us"].get<double>();
    const double backward = r["backward"]["median_us"].get<double>() / (*unmasked)["backward"]["median_us"].get<double>();
    const double modeled_forward = modeled_us(document, "attn.core") / modeled_us(0, "attn.core");
    const double modeled_backward = modeled_us(document, "attn.core.bwd") / modeled_us(0, "attn.core.bwd");
    const double measured = (r["forward"]["median_us"].get<double>() + r["backward"]["median_us"].get<double>()) / measured_full;
    const double modeled = (modeled_us(document, "attn.core") + modeled_us(document, "attn.core.bwd")) / modeled_full;
    const double error = pair.add(modeled, measured);
    char line[200];
    std::snprintf(line, sizeof line, "%8lld  %7.3f / %5.3f     %7.3f / %5.3f      %6.3f / %5.3f  %+5.1f%%\n", static_cast<long long>(document), forward,
                  modeled_forward, backward, modeled_backward, measured, modeled, error);
    lines += line;
  }
  MESSAGE(lines);
  REQUIRE(pair.n == 6);
  // On 2026-12-04: forward and backward together +3% at 4,096-token documents, +10% at
  // 2,048 and +19% to +27% at 128-1,024, slow: the model's per-tile cost for backward (750
  // keys) is larger than FlexAttention's. Alone, the forward comes out fast below 1,024-token
  // documents (FlexAttention's forward floors at about 440 us, 15% of the unmasked run,
  // whatever the document) and the backward slow.
  CHECK(pair.worst < 32);
  CHECK(pair.bias() > 0);
}

// The optimizer step's kernels on a rank's shard of 0.44-2.2 billion parameters, from the
// same lease (torch_optimizer_step.py): fused AdamW over fp32 weights, moments and
// gradients, then a separate copy of the weights to bf16 (Megatron's distributed optimizer
// copies its main parameters to the model's in a kernel of its own), and the zeroing of the
// gradients. The model's Adam pass writes the bf16 copy as it goes, one pass over 30 bytes a
// parameter. Held out.
TEST_CASE("the optimizer step's kernels against fused AdamW, its bf16 copy and zeroing on an H200") {
  const json runs = foresight::testing::read_json_file(foresight::testing::source_path(kRun + "optimizer_step.json"));
  const RooflineModel roofline{RooflineParameters{}};
  const GpuSpec& h200 = *find_builtin_gpu("h200_sxm");
  const auto us = [&](const Op& op) { return static_cast<double>(roofline.estimate(op, h200).duration) / 1e6; };
  const auto measured_us = [&](double parameters, const std::string& component, const std::string& implementation) {
    for (const json& r : runs["records"]) {
      if (r["parameters"].get<double>() == parameters && r["component"] == component && r["implementation"] == implementation) return r["median_us"].get<double>();
    }
    throw std::runtime_error("no " + component);
  };
  ErrorStats adam, adam_and_copy, zero;
  std::string lines = "parameters  fused AdamW us  + bf16 copy us  modeled Adam us  zeroing us  modeled us\n";
  for (const json& r : runs["records"]) {
    if (r["component"] != "zero_grad") continue;
    const double parameters = r["parameters"];
    const double step = measured_us(parameters, "adamw_step", "fused");
    const double copy = measured_us(parameters, "bf16_copy", "foreach");
    const double modeled = us(optimizer_op(parameters, Dtype::kFp32));
    const double zeroing = r["median_us"];
    const double modeled_zeroing = us(zero_grad_op(parameters, Dtype::kFp32));
    adam.add(modeled, step);
    adam_and_copy.add(modeled, step + copy);
    zero.add(modeled_zeroing, zeroing);
    char line[200];
    std::snprintf(line, sizeof line, "%9.0fM  %13.0f  %14.0f  %15.0f  %10.0f  %10.0f\n", parameters / 1e6, step, step + copy, modeled, zeroing,
                  modeled_zeroing);
    lines += line;
  }
  MESSAGE(lines);
  REQUIRE(zero.n == 4);
  // On 2026-12-04: the model's Adam pass 7-8% under fused AdamW alone (3.4 TB/s counting
  // its 28 bytes a parameter) and 23-26% under it with Megatron's separate bf16 copy; the
  // zeroing 8-11% under. Which frameworks copy separately (Megatron-LM, DeepSpeed) and which
  // cast as they gather (FSDP2) the scenario does not say, so the pass stays one.
  CHECK(adam.worst < 12);
  CHECK(adam_and_copy.bias() < -15);
  CHECK(adam_and_copy.bias() > -35);
  CHECK(zero.worst < 15);
}
