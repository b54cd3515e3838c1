// Whole serving runs against published benchmarks that the model was not built from: S2,
// vLLM 0.6.0 with multi-step scheduling on an H100 and an A100 (LambdaLabs' benchmark; one
// run set the API server's time per request, the others are held out), S3, vLLM on an RTX
// 4090 described as a custom GPU, S4, recent vLLM decoding one request at a time on an
// H100 and an A100 40GB, S5, TensorRT-LLM's published FP8 throughput on H100 and H200
// (held out), and S6, vLLM 0.19 serving a small model on an H100 all at once (which set
// V1's API-server time per request) and at 16 requests/s (held out), S7, Mixtral
// decoding one request at a time on TensorRT-LLM (held out), and S10, S-LoRA's capacity
// with 0 to 400 adapters on an A100-80GB (held out). Each case is a
// scenario under scenarios/validation/ with the run's measurements in measured.csv beside
// it; the tests print predicted beside measured and leave the rows for docs/validation.md
// and the serving error bands.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "csv_table.hpp"
#include "error_stats.hpp"
#include "sim/runner/scenario.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"
#include "workloads/serving_simulation.hpp"

using namespace foresight;
using namespace foresight::testing;

namespace {
// Means over the requests that returned more than one token (the benchmarks' TPOT
// population; the replayed 0-token answers have one), end to end over all of them.
struct RunMeans {
  double ttft_ms = 0, tpot_ms = 0, e2e_ms = 0, output_tokens_per_s = 0, requests_per_s = 0;
};

RunMeans simulate(const std::string& scenario_path) {
  const Scenario s = load_scenario(scenario_path, {});
  IterationCostModel cost(s.model, s.gpu, s.fabric, s.serving, *s.cost_model);
  const ServingResult r = simulate_serving(s.serving, make_requests(s.serving.traffic, s.seed), cost);
  RunMeans m;
  int answered = 0;
  for (const RequestRecord& q : r.records) {
    m.e2e_ms += q.e2e() * 1e3 / static_cast<double>(r.records.size());
    if (q.output_tokens <= 1) continue;
    m.ttft_ms += q.ttft() * 1e3;
    m.tpot_ms += q.tpot() * 1e3;
    ++answered;
  }
  m.ttft_ms /= answered;
  m.tpot_ms /= answered;
  m.output_tokens_per_s = r.output_token_throughput;
  m.requests_per_s = r.request_throughput;
  return m;
}

struct Metric {
  const char* name;
  const char* column;
  double RunMeans::*value;
};

// Runs every case of `suite` and adds each metric's predicted and measured values to
// `record` and `errors` (held-out cases only).
void run_suite(const std::string& suite, const std::vector<Metric>& metrics, ValidationRecord& record, ErrorStats& held_out,
               std::string& report) {
  const std::string folder = source_path("scenarios/validation/" + suite + "/");
  const CsvTable measured = read_csv(folder + "measured.csv");
  REQUIRE(measured.loaded());
  for (const auto& row : measured.rows) {
    const std::string name = row[measured.column("case")];
    const bool fitting = row[measured.column("split")] == "fitting";
    const RunMeans predicted = simulate(folder + name + ".json");
    for (const Metric& metric : metrics) {
      if (row[measured.column(metric.column)].empty()) continue;  // not measured, or not a prediction (an offered rate)
      const double p = predicted.*metric.value, m = measured.number(row, metric.column);
      const double pct = (p / m - 1) * 100;
      if (!fitting) held_out.add(p, m);
      record.add(name + " " + metric.name + (fitting ? " (fitting)" : ""), p, m);
      char line[160];
      std::snprintf(line, sizeof line, "  %-31s %-11s predicted %9.1f  measured %9.1f  %+6.1f%%%s\n", name.c_str(), metric.name, p, m, pct,
                    fitting ? "  (fitting run)" : "");
      report += line;
    }
  }
}
}  // namespace

TEST_CASE("serving runs: vLLM 0.6.0 multi-step on an H100 and vLLM on an RTX 4090 against their published measurements") {
  std::string report = "\nS2: vLLM 0.6.0, Llama-3-8B, one H100 (one A100 for a100_n80), N ShareGPT requests at once (LambdaLabs)\n";
  ErrorStats lambda;
  ValidationRecord s2("s2_lambda_vllm060", "S2: vLLM 0.6.0 (10-step scheduling) serving Llama-3-8B on one H100 and one A100, LambdaLabs' benchmark",
                      "github.com/LambdaLabsML/vllm-benchmark results (scenarios/validation/serving_lambda_vllm060/README.md)",
                      "held out (the n320 run set the API server's time per request; its rows are marked)", "serving / hopper",
                      "mean per request (ms) and output tokens/s");
  run_suite("serving_lambda_vllm060",
            {{"TTFT", "ttft_mean_ms", &RunMeans::ttft_ms}, {"TPOT", "tpot_mean_ms", &RunMeans::tpot_ms},
             {"E2E", "e2e_mean_ms", &RunMeans::e2e_ms}, {"throughput", "output_tokens_per_s", &RunMeans::output_tokens_per_s}},
            s2, lambda, report);
  s2.write();

  report += "S3: vLLM, Mistral-7B, one RTX 4090 (a custom GPU), 300 requests at concurrency C\n";
  ErrorStats rtx_latency, rtx_ttft;
  ValidationRecord s3("s3_rtx4090_vllm", "S3: vLLM serving Mistral-7B on one RTX 4090 described as a custom GPU",
                      "mushfiqrahman.dev/?p=1668 (scenarios/validation/serving_rtx4090/README.md)", "held out", "serving / ada",
                      "mean per request (ms) and requests/s");
  run_suite("serving_rtx4090", {{"TTFT", "ttft_mean_ms", &RunMeans::ttft_ms}}, s3, rtx_ttft, report);
  run_suite("serving_rtx4090",
            {{"E2E", "e2e_mean_ms", &RunMeans::e2e_ms}, {"throughput", "requests_per_s", &RunMeans::requests_per_s}}, s3,
            rtx_latency, report);
  s3.write();

  report += "S4: recent vLLM (0.21-0.23), Llama-3.1-8B, one request at a time (TPOT)\n";
  ErrorStats recent;
  ValidationRecord s4("s4_recent_vllm_decode", "S4: single-stream decode of Llama-3.1-8B on recent vLLM (0.21, 0.23), an H100 and an A100 40GB",
                      "johnmusgrave.com and yobitelcomm.github.io (scenarios/validation/serving_recent_vllm/README.md)", "held out",
                      "serving / hopper, ampere", "TPOT (ms)");
  run_suite("serving_recent_vllm", {{"TPOT", "tpot_mean_ms", &RunMeans::tpot_ms}}, s4, recent, report);
  s4.write();

  report += "S6: vLLM 0.19, Qwen3-0.6B, one H100, 500 requests of 512 + 128 tokens at once (fitting) and at 16/s\n";
  ErrorStats frontend;
  ValidationRecord s6("s6_kvcached_h100_vllm019", "S6: vLLM 0.19 serving Qwen3-0.6B on one H100, all at once and at 16 requests/s (kvcached's baseline)",
                      "ovg-project/kvcached benchmarks/bench_layout (scenarios/validation/serving_kvcached_h100/README.md)",
                      "held out (the run of 500 requests at once set V1's API-server time per request; its rows are marked)",
                      "serving / hopper", "mean per request (ms) and requests/s");
  run_suite("serving_kvcached_h100",
            {{"TTFT", "ttft_mean_ms", &RunMeans::ttft_ms}, {"TPOT", "tpot_mean_ms", &RunMeans::tpot_ms},
             {"throughput", "requests_per_s", &RunMeans::requests_per_s}},
            s6, frontend, report);
  s6.write();
  MESSAGE(report << "held out: S2 " << lambda.n << " values, MAPE " << lambda.mape() << "%, mean signed " << lambda.bias() << "%; S3 "
                 << rtx_latency.n + rtx_ttft.n << " values, E2E and throughput MAPE " << rtx_latency.mape() << "%, TTFT MAPE "
                 << rtx_ttft.mape() << "%");
  // Issue 15's target is a held-out median |error| of 8%. These bounds hold the model to
  // what it reaches (docs/validation.md lists every value). S3 runs the RTX 4090's measured
  // kernels: within 5% at concurrency 4, but the measured run queues its requests as load
  // grows (TTFT median 0.84 s at 48, ten requests waiting) and the model does not, so its
  // end-to-end latency is 20% short and its throughput 19% high at 48.
  CHECK(lambda.mape() < 12);
  CHECK(lambda.worst < 25);
  CHECK(rtx_latency.mape() < 12);
  CHECK(rtx_latency.worst < 22);
  CHECK(rtx_ttft.mape() < 50);
  CHECK(recent.worst < 10);
  // S6's held-out run at 16 requests/s: TPOT within 12%; its TTFT of 39 ms is over twice
  // the model's 17 ms (docs/validation.md).
  CHECK(frontend.n == 2);
  CHECK(frontend.worst < 60);
}

// S-LoRA's own synthetic runs: the adapters' decode kernels (BGMV, a gather GEMV per
// adapted projection) cost a fifth of its capacity, and hundreds of adapters paged in and
// out of its pool a few percent more; the base model alone is served at the rate offered.
// Its router's admission (kv_admission peak) never preempts.
TEST_CASE("serving runs: S-LoRA serving 0 to 400 LoRA adapters on one A100-80GB (S10)") {
  std::string report = "\nS10: S-LoRA, LLaMA-7B (S2) and LLaMA-13B (S4) with n adapters, one A100-80GB, requests/s\n";
  ErrorStats slora;
  ValidationRecord s10("s10_slora_a100", "S10: S-LoRA serving 0 to 400 LoRA adapters of mixed ranks on one A100-80GB (its published synthetic runs)",
                       "S-LoRA/S-LoRA benchmarks/paper/synthetic/slora (scenarios/validation/serving_slora_a100/README.md)", "held out",
                       "serving / ampere", "requests/s");
  run_suite("serving_slora_a100", {{"throughput", "requests_per_s", &RunMeans::requests_per_s}}, s10, slora, report);
  s10.write();
  MESSAGE(report << "held out: " << slora.n << " values, MAPE " << slora.mape() << "%, mean signed " << slora.bias() << "%, worst "
                 << slora.worst << "%");
  // With decodes on the tiled kernels instead (serving.lora_kernel sgmv) the runs with
  // adapters come out 19-38% fast. LLaMA-13B's runs with 100 to 400 adapters stay 12-18%
  // fast: S-LoRA's host side weighs more than the vLLM 0.5 host assumed (S12; docs/serving.md, S10).
  CHECK(slora.n == 11);
  CHECK(slora.mape() < 11);
  CHECK(slora.worst < 22);
}

// S11: S-LoRA's ablation without its unified pool: adapters in buffers of their own, the
// KV pool shrunk to leave them room (125,000 down to 90,000 tokens on LLaMA-7B, 65,000 down
// to 35,000 on LLaMA-13B). Its router still counts running requests' adapters against the
// pool, which lora_memory unified with kv_admission peak does, so the scenarios differ from
// S10's in the pool's size alone (scenarios/validation/serving_slora_no_unified_a100/README.md).
TEST_CASE("serving runs: S-LoRA without its unified pool, its KV pool shrunk (S11)") {
  std::string report = "\nS11: S-LoRA without its unified pool, LLaMA-7B (S2) and LLaMA-13B (S4), one A100-80GB, requests/s\n";
  ErrorStats no_unified;
  ValidationRecord s11("s11_slora_no_unified_a100",
                       "S11: S-LoRA without its unified memory pool, its KV pool shrunk, on one A100-80GB (its published ablation)",
                       "S-LoRA/S-LoRA benchmarks/paper/synthetic/no_mem (scenarios/validation/serving_slora_no_unified_a100/README.md)",
                       "held out", "serving / ampere", "requests/s");
  run_suite("serving_slora_no_unified_a100", {{"throughput", "requests_per_s", &RunMeans::requests_per_s}}, s11, no_unified, report);
  s11.write();
  MESSAGE(report << "held out: " << no_unified.n << " values, MAPE " << no_unified.mape() << "%, mean signed " << no_unified.bias()
                 << "%, worst " << no_unified.worst << "%");
  // At S10's pools these runs agree with S10's within 3%; as the pool shrinks S-LoRA's
  // capacity falls faster than the model's (LLaMA-13B at 35,000 tokens: -35% measured from
  // S10's 65,000, -15% predicted). A tripwire, not a target: issue 15 keeps the gap.
  CHECK(no_unified.n == 8);
  CHECK(no_unified.mape() < 20);
  CHECK(no_unified.worst < 60);
}

// S12: S-LoRA below its capacity (LLaMA-13B, 400 adapters, 1 to 4 requests/s): the mean
// latencies, which test the host costs S10 assumes (vLLM 0.5's, launching each kernel in
// 21.8 us) where the batch is small (scenarios/validation/serving_slora_load_a100/).
TEST_CASE("serving runs: S-LoRA's latency below its capacity (S12)") {
  std::string report = "\nS12: S-LoRA, LLaMA-13B with 400 adapters at 1, 2 and 4 requests/s, one A100-80GB, mean latencies (ms)\n";
  ErrorStats load;
  ValidationRecord s12("s12_slora_load_a100", "S12: S-LoRA's mean latencies below its capacity, LLaMA-13B with 400 adapters on one A100-80GB",
                       "S-LoRA/S-LoRA benchmarks/paper/synthetic/slora/synthetic_req_rate_a100-80_S4_slora.jsonl "
                       "(scenarios/validation/serving_slora_load_a100/measured.csv)",
                       "held out", "serving / ampere", "mean per request (ms)");
  run_suite("serving_slora_load_a100", {{"E2E", "e2e_mean_ms", &RunMeans::e2e_ms}, {"TTFT", "ttft_mean_ms", &RunMeans::ttft_ms}}, s12,
            load, report);
  s12.write();
  MESSAGE(report << "held out: " << load.n << " values, MAPE " << load.mape() << "%, mean signed " << load.bias() << "%, worst "
                 << load.worst << "%");
  // S-LoRA decodes a token every 58-86 ms at these loads where the model says 25-52 ms:
  // its host side (LightLLM's kernels launched from Python, 25 a layer, 6 of them Triton's)
  // outweighs the GPU at small batches, beyond vLLM 0.5's that S10 assumes. A tripwire,
  // not a target.
  CHECK(load.n == 6);
  CHECK(load.worst < 85);
}

TEST_CASE("serving runs: TensorRT-LLM's FP8 throughput table on H100 and H200 (S5)") {
  std::string report = "\nS5: TensorRT-LLM (PyTorch backend), FP8 Llama 3.1 8B / 3.3 70B / 3.1 405B, trtllm-bench at full load\n";
  ErrorStats trtllm;
  ValidationRecord s5("s5_trtllm_perf_overview",
                      "S5: TensorRT-LLM's published FP8 throughput of Llama 3.1 8B, 3.3 70B and 3.1 405B on H100 and H200",
                      "NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md (scenarios/validation/trtllm_perf_overview/README.md)",
                      "held out", "serving / hopper", "total output tokens/s");
  run_suite("trtllm_perf_overview", {{"throughput", "output_tokens_per_s", &RunMeans::output_tokens_per_s}}, s5, trtllm, report);
  s5.write();
  const double median = trtllm.median_abs();
  MESSAGE(report << "held out: S5 " << trtllm.n << " values, median |error| " << median << "%, MAPE " << trtllm.mape()
                 << "%, mean signed " << trtllm.bias() << "%, worst " << trtllm.worst << "%");
  // Issue 15's targets: a held-out median |error| of 8% and no systematic sign.
  CHECK(trtllm.n == 60);
  CHECK(median < 8);
  CHECK(std::fabs(trtllm.bias()) < 6);
  CHECK(trtllm.worst < 25);
}

TEST_CASE("serving runs: a mixture of experts decoding one request at a time reads only its routed experts (S7)") {
  std::string report = "\nS7: TensorRT-LLM, Mixtral-8x7B with int8 weights, one A100, one request at a time (Baseten)\n";
  ErrorStats moe;
  ValidationRecord s7("s7_moe_single_stream", "S7: Mixtral-8x7B (int8 weights) decoding one request at a time on TensorRT-LLM and one A100",
                      "baseten.co/blog/faster-mixtral-inference-with-tensorrt-llm-and-quantization (scenarios/validation/serving_moe_decode/README.md)",
                      "held out", "serving / ampere / moe", "TPOT (ms)");
  run_suite("serving_moe_decode", {{"TPOT", "tpot_mean_ms", &RunMeans::tpot_ms}}, s7, moe, report);
  s7.write();
  MESSAGE(report);
  // The post's "81 perceived tokens/s" is 11.44 ms per token read over the whole request
  // (measured.csv) and 12.35 ms read as one over TPOT; within 15% of either. Reading every
  // expert's weights instead of the two a token picks gives 32 ms.
  REQUIRE(moe.n == 1);
  CHECK(moe.worst < 15);
  const double predicted = simulate(source_path("scenarios/validation/serving_moe_decode/baseten_mixtral_int8_a100_c1.json")).tpot_ms;
  CHECK(std::fabs(predicted / 12.35 - 1) < 0.15);
}

TEST_CASE("serving runs: TensorRT-LLM's FP8 throughput of Qwen3-235B-A22B with attention data parallelism and EP 8 (S8)") {
  std::string report = "\nS8: TensorRT-LLM (PyTorch backend), FP8 Qwen3-235B-A22B, 8 GPUs, attention DP + EP 8, trtllm-bench at full load\n";
  ErrorStats moe;
  ValidationRecord s8("s8_trtllm_perf_overview_moe",
                      "S8: TensorRT-LLM's published FP8 throughput of Qwen3-235B-A22B on 8 H100 and 8 H200, attention data-parallel, EP 8",
                      "NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md (scenarios/validation/trtllm_perf_overview_moe/README.md)",
                      "held out", "serving / hopper / moe", "total output tokens/s");
  run_suite("trtllm_perf_overview_moe", {{"throughput", "output_tokens_per_s", &RunMeans::output_tokens_per_s}}, s8, moe, report);
  s8.write();
  MESSAGE(report << "held out: S8 " << moe.n << " values, median |error| " << moe.median_abs() << "%, mean signed " << moe.bias()
                 << "%, worst " << moe.worst << "%");
  // A tripwire on today's error, not a target: fast in every row (median +47%), where the
  // same rows with TP 8 attention come out slow (scenarios/validation/trtllm_perf_overview_moe/README.md).
  CHECK(moe.n == 17);
  CHECK(moe.bias() > 15);
  CHECK(moe.bias() < 60);
  CHECK(moe.worst < 95);
}
