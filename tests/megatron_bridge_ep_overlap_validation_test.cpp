// Megatron-Bridge's controlled A/B of expert-parallel communication overlap (pull request 5094,
// NVIDIA-NeMo/Megatron-Bridge, restated in 5129): Qwen3-30B-A3B on 16 H100 in two nodes, BF16,
// EP 16 over both nodes with HybridEP, one layout run without and with
// overlap_moe_expert_parallel_comm: 24.714 s against 20.992 s a step, 1.177x
// (scenarios/validation/megatron_bridge_h100_ep_overlap/, measured.csv beside it). Added after
// every figure was set: held out.
//
// The gain is the combined 1F1B schedule (training.parallel.moe_a2a_overlap) hiding all-to-alls
// whose bytes DeepEP's deduplication sets: a token crosses to the other node once, not once per
// expert there (workloads/deepep_traffic.hpp). The ratio is the check with a tolerance; the
// absolute rows are a tripwire on today's error (both about 23% fast in tokens/s).
#include <doctest/doctest.h>

#include <string>

#include "suite_run.hpp"

using namespace foresight::testing;

TEST_CASE("Megatron-Bridge's EP overlap A/B on 16 H100, held out: each row, and the overlap's gain within 5% (V18)") {
  const std::string dir = source_path("scenarios/validation/megatron_bridge_h100_ep_overlap/");
  const CsvTable measured = read_csv(dir + "measured.csv");
  REQUIRE(measured.rows.size() == 2);
  ValidationRecord record("v18_megatron_bridge_h100_ep_overlap",
                          "V18: Megatron-Bridge's EP-overlap A/B (pull request 5094), Qwen3-30B-A3B BF16 on 16 H100 with HybridEP",
                          "NVIDIA-NeMo/Megatron-Bridge pull requests 5094 and 5129 (scenarios/validation/megatron_bridge_h100_ep_overlap/)",
                          "held out", "hopper / 16-bit / moe", "tokens/s per GPU");
  const SuiteRun run = run_suite(dir, measured, record, "overlap", [](const std::vector<std::string>&) { return true; },
                                 [](const std::string&, double pct) {
    CHECK(pct > -15);
    CHECK(pct < 35);
  });
  MESSAGE(run.table);
  record.write();
  const double plain = run_scenario(dir + "qwen3_30b_a3b_ep16.json")["step_time_s"];
  const double overlapped = run_scenario(dir + "qwen3_30b_a3b_ep16_overlap.json")["step_time_s"];
  const double measured_gain = 24.714 / 20.992;
  MESSAGE("overlap's gain: predicted " << plain / overlapped << "x (" << plain << " s -> " << overlapped << " s), measured "
                                       << measured_gain << "x (24.714 s -> 20.992 s)");
  CHECK(plain / overlapped == doctest::Approx(measured_gain).epsilon(0.05));
}
