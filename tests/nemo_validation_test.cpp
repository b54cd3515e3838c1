// NVIDIA NeMo 24.07 FP8 pre-training on DGX H100 (published-cases.md V4): tokens/s per
// GPU of seven models from 8 to 128 GPUs, with TP, PP (interleaved), CP and sequence
// parallelism. Each row is a shipped scenario in scenarios/validation/nemo_h100/
// (measured.csv beside them), run through the CLI with the roofline cost model and the
// flow network. NeMo's exact settings beyond the published table (recomputation, overlap
// options) are not published there; the scenarios state what they assume.
//
// No row was used to set any figure. The GPU catalog's sustained FP8 clock (1,335 MHz at
// 700 W), GEMM efficiency and cuDNN-class attention come from the H200 calibration and
// public kernel benchmarks (models/gpu_catalog.cpp); interference of overlapped
// collectives and the slowest GPU's pace are on. The GPT-3 rows run with the dropout 0.1
// that NeMo's GPT-3 configurations keep, drawn inside fused attention (read from the
// launcher's configs after the rows were compared). The rows come out from 1% slow to 11%
// fast (docs/validation.md). The test holds to: the ranking of the seven rows, the spread
// of predicted / measured under 20%, each row within 20% and the MAPE under 15%.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "csv_table.hpp"
#include "error_stats.hpp"
#include "suite_run.hpp"
#include "test_support.hpp"
#include "validation_record.hpp"

using namespace foresight::testing;

TEST_CASE("NeMo FP8 pre-training on H100: tokens/s per GPU (V4)") {
  const std::string dir = source_path("scenarios/validation/nemo_h100/");
  const CsvTable measured = read_csv(dir + "measured.csv");
  REQUIRE(measured.rows.size() == 7);
  ErrorStats errors;
  ValidationRecord record("v4_nemo_h100_fp8", "V4: NVIDIA NeMo 24.07, FP8 (delayed scaling) pre-training on DGX H100",
                          "NeMo 24.07 performance summary (shared/validation/published-cases.md V4)", "held out",
                          "hopper / fp8", "tokens/s per GPU");
  std::vector<std::pair<double, double>> rows;  // measured, predicted
  std::string table = "\nmodel        GPUs  predicted  measured   error   (tokens/s per GPU)\n";
  for (const auto& row : measured.rows) {
    const std::string name = row[measured.column("scenario")];
    const double predicted = run_scenario(dir + name + ".json")["tokens_per_second_per_gpu"];
    const double truth = measured.number(row, "measured_tokens_per_second_per_gpu");
    const double pct = errors.add(predicted, truth);
    record.add(name, predicted, truth, static_cast<int>(measured.number(row, "gpus")));
    rows.emplace_back(truth, predicted);
    char line[160];
    std::snprintf(line, sizeof line, "%-11s %5.0f %10.0f %9.0f  %+6.1f%%\n", name.c_str(), measured.number(row, "gpus"), predicted, truth, pct);
    table += line;
    CHECK(std::fabs(pct) < 20);
  }
  std::sort(rows.begin(), rows.end());
  double low = 1e9, high = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) CHECK(rows[i].second > rows[i - 1].second);  // the same ranking as measured
    low = std::min(low, rows[i].second / rows[i].first);
    high = std::max(high, rows[i].second / rows[i].first);
  }
  char summary[200];
  std::snprintf(summary, sizeof summary, "MAPE %.1f%%, worst %.1f%%; predicted / measured from %.2f to %.2f (roofline)\n",
                errors.mape(), errors.worst, low, high);
  table += summary;
  MESSAGE(table);
  record.write();
  CHECK(high / low < 1.20);
  CHECK(errors.mape() < 15);
}

namespace {
// A measured.csv row's tokens/s per GPU, by scenario name.
double measured_tokens(const CsvTable& table, const std::string& name) {
  for (const auto& row : table.rows) {
    if (row[table.column("scenario")] == name) return table.number(row, "measured_tokens_per_second_per_gpu");
  }
  FAIL("no row " << name);
  return 0;
}
}  // namespace

// V24: the other pre-training rows of the same NeMo 24.07 table (NVIDIA/NeMo
// docs/source/performance/performance_summary.md), which V4 left out and the repository did
// not hold while the model was built: GPT3-175B on 512 GPUs (V4 has its 128-GPU row) and
// LLAMA2-13B on 16 (PP 4 with ten one-layer chunks a stage). The scenarios in
// scenarios/validation/nemo_h100_more/ take V4's assumptions. Held out: nothing was set from
// them. Tolerances: issue 14's 15% per row; the 175B row's gain from 128 to 512 GPUs (a
// micro-batch of 2, DP 16) within 5 points of the measured 782 / 726.
TEST_CASE("NeMo 24.07 FP8 pre-training rows beyond V4 on 16 and 512 H100, held out: tokens/s per GPU (V24)") {
  const std::string dir = source_path("scenarios/validation/nemo_h100_more/");
  const CsvTable measured = read_csv(dir + "measured.csv");
  REQUIRE(measured.rows.size() == 2);
  ValidationRecord record("v24_nemo_h100_fp8_more", "V24: NVIDIA NeMo 24.07's pre-training rows beyond V4, FP8 on DGX H100",
                          "NVIDIA/NeMo docs/source/performance/performance_summary.md (NeMo 24.07)", "held out", "hopper / fp8",
                          "tokens/s per GPU");
  const SuiteRun run = run_suite(dir, measured, record, "release", [](const std::vector<std::string>&) { return true; },
                                 [](const std::string&, double pct) { CHECK(std::fabs(pct) < 15); });
  MESSAGE(run.table);
  record.write();

  const CsvTable v4 = read_csv(source_path("scenarios/validation/nemo_h100/measured.csv"));
  const double measured_gain = measured_tokens(measured, "gpt3_175b_512") / measured_tokens(v4, "gpt3_175b");
  const double predicted_gain = double(run_scenario(dir + "gpt3_175b_512.json")["tokens_per_second_per_gpu"]) /
                                double(run_scenario(source_path("scenarios/validation/nemo_h100/gpt3_175b.json"))["tokens_per_second_per_gpu"]);
  MESSAGE("GPT3-175B, 512 over 128 GPUs: predicted " << predicted_gain << ", measured " << measured_gain);
  CHECK(std::fabs(predicted_gain - measured_gain) < 0.05);
}

// V25: NeMo 24.07's fine-tuning rows (the same performance summary): Llama 2 7B, 13B and 70B
// on 8 or 16 H100 at FP8, SFT and LoRA, SQuAD packed into 4,096-token sequences. The LoRA
// rows exercise training.lora (frozen weights, no weight gradients, adapters of dim 32 on the
// QKV projection as NeMo 1.0 defaults them). What a packed document is (about 230 tokens,
// estimated from SQuAD's size) moves no row by more than 1% between 150 and 320 tokens.
// Held out: nothing was set from them. Tolerances: each row within 20% (a tripwire: issue 14's
// target is 15%), and LoRA's gain over SFT on the same 8 GPUs (Llama 2 7B, measured 1.47x)
// within 10%.
TEST_CASE("NeMo 24.07 FP8 fine-tuning, SFT and LoRA, on 8 and 16 H100, held out: tokens/s per GPU (V25)") {
  const std::string dir = source_path("scenarios/validation/nemo_h100_finetune/");
  const CsvTable measured = read_csv(dir + "measured.csv");
  REQUIRE(measured.rows.size() == 6);
  ValidationRecord record("v25_nemo_h100_finetune", "V25: NVIDIA NeMo 24.07's fine-tuning rows, SFT and LoRA, FP8 on DGX H100",
                          "NVIDIA/NeMo docs/source/performance/performance_summary.md (NeMo 24.07)", "held out", "hopper / fp8",
                          "tokens/s per GPU");
  const SuiteRun run = run_suite(dir, measured, record, "task", [](const std::vector<std::string>&) { return true; },
                                 [](const std::string&, double pct) { CHECK(std::fabs(pct) < 20); });
  MESSAGE(run.table);
  record.write();

  const auto tokens_per_gpu = [&](const std::string& name) {
    return double(run_scenario(dir + name + ".json")["tokens_per_second_per_gpu"]);
  };
  const double predicted_gain = tokens_per_gpu("llama2_7b_lora") / tokens_per_gpu("llama2_7b_sft");
  const double measured_gain = measured_tokens(measured, "llama2_7b_lora") / measured_tokens(measured, "llama2_7b_sft");
  MESSAGE("Llama 2 7B on 8 GPUs, LoRA over SFT: predicted " << predicted_gain << ", measured " << measured_gain);
  CHECK(std::fabs(predicted_gain / measured_gain - 1) < 0.10);
}
