// Weight-only quantization against closed forms: the weights' bytes, and one request's
// decode step, which streams the weights, shortened by the bytes no longer read.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "models/gpu_spec.hpp"
#include "models/model_arch.hpp"
#include "serving_support.hpp"
#include "test_support.hpp"

using foresight::testing::read_json_file;
using foresight::testing::run_cli;
using foresight::testing::source_path;

namespace {
const std::string kScenario = source_path("tests/data/quantized_decode.json");

nlohmann::json run_with(const std::string& weights) {
  const std::string out = foresight::testing::scratch_path("foresight_quantization_test", "results.json");
  const auto r = run_cli({"run", kScenario, "--out", out, "--set", "serving.weight_dtype=" + weights});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  return read_json_file(out);
}
}  // namespace

TEST_CASE("4- and 8-bit weights: the projections shrink, the embedding and output head do not") {
  const foresight::ParameterCount p = foresight::count_parameters(*foresight::find_builtin_model("llama31_8b"));
  const double layers = p.per_layer * 32, rest = p.total - layers;
  for (const std::pair<std::string, double>& weights : std::vector<std::pair<std::string, double>>{{"auto", 16}, {"int8", 8}, {"int4", 4}}) {
    const std::string& name = weights.first;
    const double bits = weights.second;  // clang 14 cannot capture structured bindings in CAPTURE's lambda
    CAPTURE(name);
    const double per_weight = bits >= 16 ? 2 : bits / 8 + 2.0 / 128;  // one fp16 scale per 128 weights
    CHECK(run_with(name)["memory_per_gpu_bytes"]["weights"].get<double>() == doctest::Approx(layers * per_weight + rest * 2));
  }
}

// At one request, decode streams the weights from HBM: dropping from 2 bytes to 0.52 a
// projection weight saves those bytes over the GPU's streaming rate (0.865 of HBM
// bandwidth on an H100), and nothing else changes; the prompt's prefill is compute-bound
// and its 16-bit math is the same.
TEST_CASE("one request at a time: 4-bit weights save their bytes' streaming time per token") {
  const auto full = run_with("auto");
  const auto int4 = run_with("int4");
  const foresight::GpuSpec& h100 = *foresight::find_builtin_gpu("h100_sxm");
  const double layers = foresight::count_parameters(*foresight::find_builtin_model("llama31_8b")).per_layer * 32;
  const double saved = layers * (2 - (0.5 + 2.0 / 128)) / (h100.memory_bandwidth * h100.efficiency.memory);
  const double tpot = full["latency_s"]["tpot"]["mean"].get<double>(), tpot4 = int4["latency_s"]["tpot"]["mean"].get<double>();
  MESSAGE("Llama-3.1-8B on an H100, one request: TPOT " << tpot * 1e3 << " ms in bf16, " << tpot4 * 1e3 << " ms with 4-bit weights; "
          << "the weights' streaming time saved: " << saved * 1e3 << " ms");
  CHECK(tpot - tpot4 == doctest::Approx(saved).epsilon(0.03));
  CHECK(int4["latency_s"]["ttft"]["mean"].get<double>() == doctest::Approx(full["latency_s"]["ttft"]["mean"].get<double>()).epsilon(0.01));
  CHECK(int4["kv_cache"]["tokens_per_replica"].get<double>() > full["kv_cache"]["tokens_per_replica"].get<double>());
}

TEST_CASE("weight-only quantization: fp8 math is refused, and vLLM's AWQ and GPTQ flags import as 4-bit weights") {
  const auto fp8 = run_cli({"run", kScenario, "--set", "serving.dtype=fp8"});
  CHECK(fp8.status == 2);
  CHECK(fp8.err.find("serving.weight_dtype") != std::string::npos);
  const std::string out = foresight::testing::scratch_path("foresight_quantization_test", "imported.json");
  const auto imported = run_cli({"import", "vllm", "--out", out, "--", "vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct", "--quantization", "awq_marlin"});
  REQUIRE_MESSAGE(imported.status == 0, imported.err);
  CHECK(foresight::testing::file_text(out).find("\"weight_dtype\": \"int4\"") != std::string::npos);
}

// An integer KV cache: b bits per element plus an fp16 scale and zero point per 64 elements
// (b / 8 + 1/16 bytes), against bf16's 2. Results report bytes per token per GPU; the cache
// holds what the same memory fits, and a long-context decode step reads the cache, so its
// attention's time falls with the bytes (to within the kernel's fixed cost).
TEST_CASE("int8 and int4 KV caches: their bytes per token, the tokens the same memory holds, a long decode's reads") {
  const auto with_kv = [](const std::string& kv) {
    const std::string out = foresight::testing::scratch_path("foresight_quantization_test", "kv.json");
    const auto r = run_cli({"run", kScenario, "--out", out, "--set", "serving.weight_dtype=auto", "--set", "serving.kv_dtype=" + kv});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return read_json_file(out)["kv_cache"];
  };
  const nlohmann::json bf16 = with_kv("bf16"), int8 = with_kv("int8"), int4 = with_kv("int4");
  const double per_token = bf16["bytes_per_token_per_gpu"].get<double>();
  CHECK(per_token == doctest::Approx(2.0 * 32 * 8 * 128 * 2));  // Llama-3.1-8B: K and V of 32 layers x 8 heads x 128
  CHECK(int8["bytes_per_token_per_gpu"].get<double>() == doctest::Approx(per_token * (1 + 1.0 / 16) / 2));
  CHECK(int4["bytes_per_token_per_gpu"].get<double>() == doctest::Approx(per_token * (0.5 + 1.0 / 16) / 2));
  const double tokens = bf16["tokens_per_replica"].get<double>();
  CHECK(int8["tokens_per_replica"].get<double>() == doctest::Approx(tokens * 2 / (1 + 1.0 / 16)).epsilon(0.001));
  CHECK(int4["tokens_per_replica"].get<double>() == doctest::Approx(tokens * 2 / (0.5 + 1.0 / 16)).epsilon(0.001));

  // A decode step of 64 sequences over 32k cached tokens each on an H100 (Llama-3-8B): the
  // cache's reads shrink by 64 x 32,768 tokens x (2 - 9/16) bytes x 65,536 elements per
  // token, at the GPU's streaming rate (0.865 of HBM bandwidth); nothing else changes.
  foresight::testing::ServingBench bench;
  foresight::BatchShape step;
  step.tokens = step.decodes = step.outputs = step.sequences = 64;
  step.decode_context = 64 * 32768;
  const auto device_time = [&bench, &step](int bits) {
    bench.config.kv_int_bits = bits;
    foresight::IterationCostModel cost(bench.model, bench.gpu, bench.fabric, bench.config, bench.roofline);
    return foresight::to_seconds(cost.device_time(step));
  };
  const double full = device_time(0), quarter = device_time(4);
  const double saved = 64.0 * 32768 * (2 - (0.5 + 1.0 / 16)) * 65536 / (bench.gpu.memory_bandwidth * bench.gpu.efficiency.memory);
  MESSAGE("a decode step over 64 x 32k cached tokens: " << full * 1e3 << " ms with a bf16 cache, " << quarter * 1e3 << " ms with int4; "
          << "the reads' streaming time saved: " << saved * 1e3 << " ms");
  CHECK(full - quarter == doctest::Approx(saved).epsilon(0.02));
}
