// LoRA fine-tuning (models/lora.hpp): frozen weights run their input gradients only, the
// adapters add their own small GEMMs, and only the adapters carry gradients, optimizer
// state and a data-parallel reduction. Closed forms on a small Llama-shaped model.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "models/lora.hpp"
#include "models/roofline_model.hpp"
#include "workloads/memory_footprint.hpp"
#include "workloads/training_step.hpp"
#include "training_fixtures.hpp"

using namespace foresight;
using namespace foresight::testing;

namespace {
LoraConfig lora(std::int64_t rank) {
  LoraConfig l;
  l.rank = rank;
  return l;
}

bool has_op(const std::vector<Op>& ops, const std::string& name) {
  for (const Op& op : ops) {
    if (op.name == name) return true;
  }
  return false;
}

double gemm_flops(const std::vector<Op>& ops, bool adapters) {
  double flops = 0;
  for (const Op& op : ops) {
    const bool adapter = op.name.find(".lora_") != std::string::npos;
    if (op.kind == OpClass::kGemm && op.gemm.weight_operand && adapter == adapters) flops += op.flops;
  }
  return flops;
}

TrainingConfig data_parallel(std::int64_t dp) {
  TrainingConfig c;
  c.global_batch = 4 * dp;
  c.micro_batch = 1;
  c.sequence = 1024;
  c.dp = dp;
  c.host.launch_seconds = 0;
  c.overlap_grad_reduce = false;
  return c;
}
}  // namespace

TEST_CASE("LoRA: an adapter's parameters are rank x (inputs + outputs) of each adapted layer") {
  const ModelArch m = small_model();
  // qkv 1024 -> 1024 + 2 x 256, proj 1024 -> 1024, fc1 1024 -> 2 x 4096 (gated), fc2 4096 -> 1024.
  const double expected = 8.0 * ((1024 + 1536) + (1024 + 1024) + (1024 + 8192) + (4096 + 1024));
  CHECK(lora_layer_parameters(m, lora(8), true) == expected);
  LoraConfig attention_only = lora(8);
  attention_only.fc1 = attention_only.fc2 = false;
  CHECK(lora_layer_parameters(m, attention_only, true) == 8.0 * (2560 + 2048));
  CHECK(lora_layer_parameters(m, LoraConfig{}, true) == 0);
}

TEST_CASE("LoRA: frozen weights run no weight-gradient GEMM; each adapted layer adds A and B with theirs") {
  const ModelArch m = small_model();
  ShapeConfig full{1, 1024, Dtype::kBf16, 1, false, true};
  ShapeConfig tuned = full;
  tuned.lora = lora(16);
  const ModelOps base = build_model_ops(m, full);
  const ModelOps adapted = build_model_ops(m, tuned);
  for (const char* name : {"attn.qkv", "attn.out", "mlp.gate_up", "mlp.down"}) {
    CAPTURE(name);
    CHECK(has_op(adapted.layer_forward, std::string(name) + ".lora_a"));
    CHECK(has_op(adapted.layer_forward, std::string(name) + ".lora_b"));
    CHECK(has_op(adapted.layer_backward, std::string(name) + ".lora_b.wgrad"));
    CHECK(has_op(base.layer_backward, std::string(name) + ".wgrad"));
    CHECK_FALSE(has_op(adapted.layer_backward, std::string(name) + ".wgrad"));
  }
  CHECK_FALSE(has_op(adapted.head_backward, "lm_head.wgrad"));
  // The frozen GEMMs' backward is their input gradients alone: as many FLOPs as forward,
  // where training every weight doubles them.
  CHECK(gemm_flops(adapted.layer_backward, false) == doctest::Approx(gemm_flops(adapted.layer_forward, false)));
  CHECK(gemm_flops(base.layer_backward, false) == doctest::Approx(2 * gemm_flops(base.layer_forward, false)));
  // Each adapter GEMM of m tokens is 2 m rank (k + n) FLOPs forward, twice that backward.
  const double tokens = 1024;
  const double adapter_flops = 2 * tokens * lora_layer_parameters(m, tuned.lora, true);
  CHECK(gemm_flops(adapted.layer_forward, true) == doctest::Approx(adapter_flops));
  CHECK(gemm_flops(adapted.layer_backward, true) == doctest::Approx(2 * adapter_flops));
}

TEST_CASE("LoRA: gradients, optimizer state and the DP reduction cover the adapters alone") {
  const Fixture f;
  const ModelArch& m = f.model;
  TrainingConfig c = data_parallel(4);
  c.lora = lora(8);
  TrainingStep step(m, f.gpu, fabric(4), c, f.roofline);
  const TrainingResult r = step.run();
  const double adapters = static_cast<double>(m.layers) * lora_layer_parameters(m, c.lora, true);
  // ZeRO-1 over 4 ranks: the adapters' 16-bit gradients reduce-scattered, their updated
  // weights gathered, the norm's sum; nothing of the frozen weights.
  const Time expected = collective_duration(fabric(4), CollectiveKind::kReduceScatter, adapters * 2, 4) +
                        collective_duration(fabric(4), CollectiveKind::kAllReduce, 4, 4) +
                        collective_duration(fabric(4), CollectiveKind::kAllGather, adapters * 2, 4);
  CHECK(r.exposed_dp == expected);
  const MemoryFootprint memory = training_step_memory(m, f.gpu, c);
  CHECK(memory.gradients == doctest::Approx(adapters * 2));
  CHECK(memory.optimizer == doctest::Approx(adapters / 4 * c.optimizer_state_bytes()));
  CHECK(memory.weights == doctest::Approx(count_parameters(m).total * 2));  // every frozen weight stays
}

TEST_CASE("LoRA: a fine-tuning step is shorter than training every weight, by at most the weight gradients' third") {
  const Fixture f;
  const ModelArch& m = f.model;
  TrainingConfig c = data_parallel(1);
  const Time full = TrainingStep(m, f.gpu, fabric(1), c, f.roofline).run().step_time;
  c.lora = lora(8);
  const Time tuned = TrainingStep(m, f.gpu, fabric(1), c, f.roofline).run().step_time;
  CHECK(tuned < full);
  CHECK(3 * tuned > 2 * full);  // attention, norms and the adapters do not shrink
}

TEST_CASE("LoRA: a frozen layer without an adapter keeps nothing of its input; an adapted one keeps it for its adapter") {
  const ModelArch m = small_model();
  ShapeConfig full{1, 1024, Dtype::kBf16, 1, false, true};
  ShapeConfig all_four = full;
  all_four.lora = lora(8);
  ShapeConfig attention_only = all_four;
  attention_only.lora.fc1 = attention_only.lora.fc2 = false;
  const auto kept = [&](const ShapeConfig& shape, const std::string& name) {
    for (const Op& op : build_model_ops(m, shape).layer_forward) {
      if (op.name == name) return op.saved_bytes;
    }
    return -1.0;
  };
  for (const char* name : {"attn.qkv", "mlp.gate_up", "mlp.down"}) {
    CAPTURE(name);
    CHECK(kept(full, name) > 0);
    CHECK(kept(all_four, name) == kept(full, name));
  }
  CHECK(kept(attention_only, "attn.qkv") == kept(full, "attn.qkv"));
  CHECK(kept(attention_only, "mlp.gate_up") == 0);
  CHECK(kept(attention_only, "mlp.down") == 0);
  const double layer_full = total_saved_bytes(build_model_ops(m, all_four).layer_forward);
  const double layer_attention = total_saved_bytes(build_model_ops(m, attention_only).layer_forward);
  // The MLP's adapters keep their rank-wide inputs (B's) too.
  const double mlp_adapters_kept = kept(all_four, "mlp.gate_up.lora_b") + kept(all_four, "mlp.down.lora_b");
  CHECK(layer_full - layer_attention == doctest::Approx(kept(full, "mlp.gate_up") + kept(full, "mlp.down") + mlp_adapters_kept));
}

TEST_CASE("LoRA under FP8: frozen GEMMs cast their inputs without the transposed copy; the adapters stay in bf16") {
  const Fixture f;
  const ModelArch& m = f.model;
  TrainingConfig c = data_parallel(1);
  c.global_batch = 1;
  c.dtype = Dtype::kFp8;
  // Per cast: the bytes it moves; per adapter GEMM: its dtype.
  const auto run = [&](const LoraConfig& l, std::map<std::string, double>& casts, std::map<std::string, std::string>& adapters) {
    c.lora = l;
    const TrainingStep step(m, f.gpu, fabric(1), c, f.roofline);
    for (OpId op = 0; op < step.graph().op_count(); ++op) {
      const std::string& name = step.graph().label_text(step.graph().op(op).name);
      const auto args = nlohmann::json::parse(step.trace_args(op));
      if (name.ends_with(".fp8_cast")) casts[name] = args["bytes"].get<double>();
      if (name.find(".lora_") != std::string::npos && args.value("class", "") == "gemm") adapters[name] = args.value("dtype", "");
    }
  };
  std::map<std::string, double> full_casts, frozen_casts;
  std::map<std::string, std::string> none, adapter_dtypes;
  run(LoraConfig{}, full_casts, none);
  run(lora(8), frozen_casts, adapter_dtypes);
  REQUIRE(full_casts.size() == 8);
  CHECK(frozen_casts.size() == full_casts.size());
  for (const auto& cast : full_casts) {
    const std::string& name = cast.first;
    CAPTURE(name);
    CHECK(frozen_casts[name] == doctest::Approx(cast.second * 3 / 4));  // read 2 bytes, write 1 (not 2) an element
  }
  CHECK(adapter_dtypes.size() == 4 * 2 * 3);  // four layers' A and B: forward, dgrad, wgrad
  for (const auto& adapter : adapter_dtypes) {
    const std::string& name = adapter.first;
    CAPTURE(name);
    CHECK(adapter.second == "bf16");
  }
}

TEST_CASE("LoRA with ZeRO-3: each layer's frozen weights are gathered as without LoRA; only the adapters' gradients are reduce-scattered") {
  const Fixture f;
  const ModelArch& m = f.model;
  TrainingConfig c = data_parallel(4);
  c.zero_stage = 3;
  const TrainingStep full(m, f.gpu, fabric(4), c, f.roofline);
  c.lora = lora(8);
  const TrainingStep tuned(m, f.gpu, fabric(4), c, f.roofline);
  CHECK(collective_bytes_named(tuned, "dp.param_gather") == doctest::Approx(collective_bytes_named(full, "dp.param_gather")));
  const double adapters = static_cast<double>(m.layers) * lora_layer_parameters(m, c.lora, true);
  // ZeRO-3 reduce-scatters every micro-batch's gradients: 4 micro-batches of the adapters' 16-bit ones.
  CHECK(collective_bytes_named(tuned, "dp.grad_reduce_scatter") == doctest::Approx(4 * adapters * 2));
  CHECK(collective_bytes_named(full, "dp.grad_reduce_scatter") > 100 * collective_bytes_named(tuned, "dp.grad_reduce_scatter"));
}
