// torchtitan's published Llama 3.1 runs on H100 (pytorch/torchtitan docs/performance.md, the
// December 2024 benchmark): FSDP2 on 8 and 128 GPUs, eager and torch.compile, bf16 and
// Float8; FSDP2 with context parallelism at sequences of 32k to 256k tokens; 70B with FSDP
// and TP on 256 GPUs; 405B with FSDP, TP and PP on 512 GPUs, at 8k to 256k tokens. Grand Teton hosts: H100 SXM with 96 GB of HBM2e at a 500 W power limit.
// Each row is a shipped scenario in scenarios/validation/torchtitan_h100/ (measured.csv and
// README.md beside them). The rows were added after every figure of the model was set: the
// clean held-out set, and the first one for Hopper in bf16, the default scenario's regime.
//
// Issue 14's targets for held-out rows (median |error| <= 5%, worst <= 15%) are not met: the
// Float8 rows at 32k-256k tokens and the 405B pipelines come out up to 17% fast. The checks
// below hold today's errors so that a change that moves them is seen: they are tripwires, not
// the targets.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "suite_run.hpp"

using namespace foresight::testing;

namespace {
const char* kSource = "pytorch/torchtitan docs/performance.md (benchmarks/llama3_h100_202412_torchtitan.md)";

std::string scenario_dir() { return source_path("scenarios/validation/torchtitan_h100/"); }
}  // namespace

TEST_CASE("torchtitan's bf16 Llama 3.1 8B runs on H100 at 500 W, held out: tokens/s per GPU (V7)") {
  const CsvTable measured = read_csv(scenario_dir() + "measured.csv");
  REQUIRE(measured.rows.size() == 18);
  ValidationRecord record("v7_torchtitan_h100_bf16", "V7: torchtitan (December 2024), bf16 FSDP2 on H100 at 500 W, eager and torch.compile",
                          kSource, "held out", "hopper / 16-bit", "tokens/s per GPU");
  const auto bf16 = [&](const std::vector<std::string>& row) { return row[measured.column("precision")] == "bf16"; };
  const SuiteRun run = run_suite(scenario_dir(), measured, record, "table", bf16, [](const std::string&, double pct) {
    CHECK(std::fabs(pct) < 10);
  });
  MESSAGE(run.table);
  record.write();
  CHECK(run.errors.n == 4);
  CHECK(run.median_abs_error() < 5);
}

// Eager PyTorch runs RMSNorm, the rotary embedding and SwiGLU as separate ops with fp32
// upcasts; torch.compile fuses them. The model derives the difference from the ops' bytes
// alone (docs/training.md, "elementwise"), nothing fitted: it must reproduce the measured
// gap between the two rows of each table.
TEST_CASE("torchtitan: eager PyTorch's unfused elementwise ops cost what torch.compile saves") {
  const CsvTable measured = read_csv(scenario_dir() + "measured.csv");
  for (const char* gpus : {"8", "128"}) {
    const std::string base = scenario_dir() + "llama31_8b_fsdp" + gpus;
    const double predicted = static_cast<double>(run_scenario(base + "_compile.json")["tokens_per_second_per_gpu"]) /
                             static_cast<double>(run_scenario(base + "_eager.json")["tokens_per_second_per_gpu"]);
    double compile = 0, eager = 0;
    for (const auto& row : measured.rows) {
      const std::string name = row[measured.column("scenario")];
      const double value = measured.number(row, "measured_tokens_per_second_per_gpu");
      if (name == std::string("llama31_8b_fsdp") + gpus + "_compile") compile = value;
      if (name == std::string("llama31_8b_fsdp") + gpus + "_eager") eager = value;
    }
    const double truth = compile / eager;
    MESSAGE(std::string(gpus) << " GPUs: torch.compile over eager, predicted " << predicted << ", measured " << truth);
    CHECK(predicted == doctest::Approx(truth).epsilon(0.03));
  }
}

TEST_CASE("torchtitan's Float8 Llama 3.1 runs on H100 at 500 W, held out: tokens/s per GPU (V8)") {
  const CsvTable measured = read_csv(scenario_dir() + "measured.csv");
  ValidationRecord record("v8_torchtitan_h100_float8", "V8: torchtitan (December 2024), Float8 with FSDP2, CP, TP and PP on H100 at 500 W",
                          kSource, "held out", "hopper / fp8", "tokens/s per GPU");
  const auto float8 = [&](const std::vector<std::string>& row) { return row[measured.column("precision")] == "float8"; };
  const SuiteRun run = run_suite(scenario_dir(), measured, record, "table", float8, [](const std::string& name, double pct) {
    // The CP rows (32k tokens and more, attention most of the step, PyTorch's ring
    // attention) go from 15% slow at CP 2 to 16% fast at CP 8; the 405B pipelines without
    // CP come out 14% (1F1B) and 16% (interleaved 1F1B) fast; the others within 15%.
    const bool long_context = name.find("_cp") != std::string::npos;
    const bool pipelined = name.find("_pp8") != std::string::npos;
    CHECK(std::fabs(pct) < (long_context || pipelined ? 20 : 15));
  });
  MESSAGE(run.table);
  record.write();
  CHECK(run.errors.n == 14);
  CHECK(run.median_abs_error() < 12);
}
