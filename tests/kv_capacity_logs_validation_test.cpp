// KV-cache capacity against what engines log at start-up, in public runs the model was not
// built from (scenarios/validation/kv_capacity_logs/, measured.csv beside the scenarios):
// vLLM V1 on an A100 40GB (a maintainer's measurement in kvcached's pull request 448),
// SGLang and vLLM serving Qwen3-235B-A22B-FP8 on four H100 (a user's logs, vLLM issue 21348),
// vLLM serving Qwen3-Coder-480B-A35B-FP8 data-parallel on eight H20 at two memory
// fractions (a user's logs, vLLM recipes pull request 12) and Qwen3-8B on an A100-80GB with
// its cache in bf16 and in fp8 (a user's measurement, vLLM issue 42058).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "csv_table.hpp"
#include "sim/runner/scenario.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"
#include "workloads/iteration_cost.hpp"

using namespace foresight;
using namespace foresight::testing;

TEST_CASE("KV-cache capacity against vLLM's and SGLang's start-up logs") {
  const std::string dir = source_path("scenarios/validation/kv_capacity_logs/");
  const CsvTable table = read_csv(dir + "measured.csv");
  REQUIRE(table.rows.size() == 7);
  ValidationRecord record("kv_capacity_logs", "KV-cache capacity against vLLM's and SGLang's start-up logs",
                          "kvcached pull request 448 (vLLM V1, A100 40GB); vLLM issue 21348 (SGLang and vLLM, 4 H100); "
                          "vLLM recipes pull request 12 (vLLM, DP 8 with EP, 8 H20); vLLM issue 42058 (vLLM, A100-80GB) "
                          "(scenarios/validation/kv_capacity_logs/)",
                          "held out", "kv capacity", "KV-cache tokens per replica");
  std::map<std::string, double> error;
  std::string report = "\nKV-cache tokens per replica, predicted vs logged\n";
  for (const auto& row : table.rows) {
    const std::string name = row[table.column("scenario")];
    const Scenario s = load_scenario(dir + name + ".json", {});
    const IterationCostModel cost(s.model, s.gpu, s.fabric, s.serving, *s.cost_model);
    const double predicted = static_cast<double>(cost.kv_blocks() * s.serving.block_size);
    // A log that gives the cache in GiB only counts tokens at the model's bytes per token,
    // which is arithmetic on the model's config, not a modelled figure.
    const std::string& tokens = row[table.column("measured_kv_tokens")];
    const double measured = !tokens.empty() ? std::stod(tokens) : table.number(row, "measured_kv_gib") * kGiB / cost.kv_bytes_per_token();
    error[name] = (predicted / measured - 1) * 100;
    record.add(name + " (" + row[table.column("engine")] + ")", predicted, measured, static_cast<int>(s.serving.tp));
    char line[200];
    std::snprintf(line, sizeof line, "  %-42s predicted %10.0f  logged %10.0f  %+6.1f%%\n", name.c_str(), predicted, measured, error[name]);
    report += line;
  }
  MESSAGE(report);
  record.write();
  // vLLM V1's cache on one GPU: gpu_memory_utilization of the total, less the weights, the
  // profiled activations and non-torch memory. Tolerance 2% (issue 15's target is 5%).
  CHECK(std::abs(error["vllm_qwen25_05b_a100_40gb"]) < 2);
  // vLLM 0.26 on an A100-80GB, settings beyond those stated at their defaults, the cache in
  // bf16 and in fp8 (twice the tokens in both). Tolerance 5% (issue 15's).
  CHECK(std::abs(error["vllm_qwen3_8b_a100_80gb_bf16_kv"]) < 5);
  CHECK(std::abs(error["vllm_qwen3_8b_a100_80gb_fp8_kv"]) < 5);
  // vLLM with data-parallel attention and EP over eight GPUs: each GPU's MoE layer profiles
  // every rank's 8,192 tokens, its fused MoE's buffers one 32,768-token chunk of them.
  // Tolerance 2%.
  CHECK(std::abs(error["vllm_qwen3_coder_480b_fp8_h20_dp8_util090"]) < 2);
  CHECK(std::abs(error["vllm_qwen3_coder_480b_fp8_h20_dp8_util095"]) < 2);
  // SGLang's fraction applies to the memory free after CUDA and NCCL start (+12.8% while the
  // model took it of the total); what it still leaves out (the CUDA context) keeps it high.
  CHECK(error["sglang_qwen3_235b_fp8_h100_tp4"] > 0);
  CHECK(error["sglang_qwen3_235b_fp8_h100_tp4"] < 7);
  // vLLM with LMCache's connector, on a MoE checkpoint: the model's cache is half again the
  // logged one and the cause is unknown (docs/serving.md, "Not yet"); held to what it reaches.
  CHECK(error["vllm_qwen3_235b_fp8_h100_tp4"] > 40);
  CHECK(error["vllm_qwen3_235b_fp8_h100_tp4"] < 60);
}
