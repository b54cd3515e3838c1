// V22: BigScience's BLOOM-176B pre-training on 384 A100 (bigscience-workshop/bigscience,
// train/tr11-176B-ml/README.md): at the full global batch of 2,048 sequences an iteration
// took 104.70 s (the log line it quotes at iteration 85,376, the end of the first epoch;
// "1 train iteration ~100sec" in its list of times), 104.3 tokens/s per GPU. Megatron-DeepSpeed
// with DeepSpeed's 1F1B pipeline, as V21's MT-NLG ran, a year later. The scenario takes every
// setting from that README (scenarios/validation/bloom_a100/README.md). Held out: added after
// every figure was set, nothing fitted to it. Tolerance: issue 14's 15% per row.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "suite_run.hpp"

using namespace foresight::testing;

TEST_CASE("BLOOM-176B pre-training on 384 A100 with Megatron-DeepSpeed, held out: tokens/s per GPU (V22)") {
  const std::string dir = source_path("scenarios/validation/bloom_a100/");
  const CsvTable measured = read_csv(dir + "measured.csv");
  REQUIRE(measured.rows.size() == 1);
  ValidationRecord record("v22_bloom_a100", "V22: BigScience's BLOOM-176B with Megatron-DeepSpeed on 384 A100",
                          "bigscience-workshop/bigscience train/tr11-176B-ml/README.md", "held out", "ampere / 16-bit",
                          "tokens/s per GPU");
  const SuiteRun run = run_suite(dir, measured, record, "log", [](const std::vector<std::string>&) { return true; },
                                 [](const std::string&, double pct) { CHECK(std::fabs(pct) < 15); });
  MESSAGE(run.table);
  record.write();
}
