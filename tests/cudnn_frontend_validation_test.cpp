// cuDNN-frontend's training benchmark of Llama-3.2-1B (NVIDIA/cudnn-frontend,
// benchmark/Llama-3.2-1B-Training): Hugging Face's model in eager PyTorch on one GPU, bf16
// weights and plain SGD, at six batch x sequence shapes and two SDPA backends, with the SM
// clock locked (H200 at 1,500 MHz, B200 at 1,665 MHz). A locked clock is a ceiling, not a
// floor: the power limit still holds GEMMs to their sustained clock where that is lower (the
// B200's 1,439 MHz in bf16, the H200's 1,485), so the locks set the clock of everything else
// and the rows check what foresight assumes a GPU does per clock. Each row runs the
// GPU's scenario in scenarios/validation/cudnn_frontend_llama32_1b/ with its shape and
// attention kernel set. Held out: no figure was set from them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "suite_run.hpp"

using namespace foresight::testing;

namespace {
const char* kSource = "NVIDIA/cudnn-frontend benchmark/Llama-3.2-1B-Training (artifacts/{h200,b200}_training_timing.csv)";

std::string scenario_dir() { return source_path("scenarios/validation/cudnn_frontend_llama32_1b/"); }

// Runs the rows of one GPU and records tokens/s per GPU, predicted beside measured.
SuiteRun run_gpu_rows(const std::string& gpu, ValidationRecord& record) {
  const CsvTable measured = read_csv(scenario_dir() + "measured.csv");
  REQUIRE(measured.rows.size() == 24);
  SuiteRun run;
  run.table = "\nbackend           batch x sequence  predicted  measured   error   (tokens/s per GPU)\n";
  for (const auto& row : measured.rows) {
    if (row[measured.column("gpu")] != gpu) continue;
    const std::string batch = row[measured.column("batch_size")], sequence = row[measured.column("seq_len")];
    const std::string kernel = row[measured.column("attention_kernel")];
    const auto results = run_scenario(scenario_dir() + gpu + ".json",
                                      {"training.global_batch=" + batch, "training.micro_batch=" + batch,
                                       "training.sequence_length=" + sequence, "training.attention_kernel=" + kernel});
    const double tokens = std::stod(batch) * std::stod(sequence);
    const double predicted = results["tokens_per_second_per_gpu"];
    const double truth = tokens / measured.number(row, "measured_seconds_per_step");
    const std::string name = row[measured.column("sdpa_backend")] + " " + batch + "x" + sequence;
    run.errors.add(predicted, truth);
    run.abs_errors.push_back(std::fabs((predicted - truth) / truth * 100));
    record.add(name, predicted, truth, 1);
    char line[200];
    std::snprintf(line, sizeof line, "%-17s %7s x %-6s %9.0f %9.0f  %+6.1f%%\n", row[measured.column("sdpa_backend")].c_str(),
                  batch.c_str(), sequence.c_str(), predicted, truth, (predicted - truth) / truth * 100);
    run.table += line;
  }
  std::sort(run.abs_errors.begin(), run.abs_errors.end());
  return run;
}

// One GPU's twelve rows as a validation suite: recorded, printed and checked for count.
SuiteRun run_gpu_suite(const std::string& gpu, const std::string& suite, const std::string& title, const std::string& regime) {
  ValidationRecord record(suite, title, kSource, "held out", regime, "tokens/s per GPU");
  const SuiteRun run = run_gpu_rows(gpu, record);
  MESSAGE(run.table);
  record.write();
  REQUIRE(run.errors.n == 12);
  return run;
}
}  // namespace

TEST_CASE("cuDNN-frontend's Llama-3.2-1B training on one H200 at a locked 1,500 MHz, held out: tokens/s per GPU (V13)") {
  const SuiteRun run = run_gpu_suite(
      "h200", "v13_cudnn_frontend_h200_bf16",
      "V13: cuDNN-frontend's Llama-3.2-1B training on one H200, SM clock locked at 1,500 MHz, eager PyTorch, bf16", "hopper / 16-bit");
  // On 2026-12-06: -10.0% to -0.7%, median 3.3%, slow as attention's share grows (16k tokens
  // the worst); -9.2% to 0.0% when the lock was taken as the GEMMs' clock. Before head dim 64 paid its exponentials (models/roofline_model.cpp) the rows
  // came within -5.0% to +1.2%: that agreement hid attention 15-35% too fast per FLOP at head
  // dim 64 against the measured kernels (tests/attention_head_dim_validation_test.cpp).
  CHECK(run.errors.worst < 12);
  CHECK(run.median_abs_error() < 4);
}

TEST_CASE("cuDNN-frontend's Llama-3.2-1B training on one B200 at a locked 1,665 MHz, held out: tokens/s per GPU (V14)") {
  const SuiteRun run = run_gpu_suite(
      "b200", "v14_cudnn_frontend_b200_bf16",
      "V14: cuDNN-frontend's Llama-3.2-1B training on one B200, SM clock locked at 1,665 MHz, eager PyTorch, bf16", "blackwell / 16-bit");
  // Ten rows of twelve come out fast (docs/training.md, "Blackwell at a locked clock"), -6% to
  // +19% on 2026-12-06; +6% to +32% when the lock was taken as the GEMMs' clock, though the
  // B200's power limit holds them to 1,439 MHz. A tripwire on today's error, not a target.
  for (double e : run.abs_errors) CHECK(e < 25);
  CHECK(run.errors.bias() > 5);
}
