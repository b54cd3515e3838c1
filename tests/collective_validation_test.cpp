// The foundation's analytic collective model against the published nccl-tests
// all_reduce_perf curve on one DGX H100 node (shared/validation/published-cases.md, V3:
// 8 ranks, float sum, out-of-place). This model is a stand-in: it has no NVLink SHARP
// (in-switch reduction) and no protocol switching (LL/LL128/Simple), so it is too fast in
// the latency-bound middle and too slow for large messages. The flow-level network with
// real collective algorithms replaces it and must tighten this tolerance.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>

#include "topologies/node_fabric.hpp"

using namespace foresight;

TEST_CASE("ring all-reduce stand-in vs nccl-tests on 8x H100 (V3)") {
  NodeFabric fabric;  // the defaults read_node_fabric applies for an H100 SXM node
  fabric.gpus = 8;
  fabric.bandwidth = 450e9;
  fabric.step_latency_seconds = 0.25e-6;
  fabric.launch_latency_seconds = 10e-6;
  fabric.efficiency = 0.9;
  const struct { double bytes; double measured_us; } published[] = {
      {8, 13.67},           {65536, 19.54},     {1024.0 * 1024, 27.37},   {16.0 * 1024 * 1024, 123.8},
      {64.0 * 1024 * 1024, 324.7}, {256.0 * 1024 * 1024, 1112.5}, {1024.0 * 1024 * 1024, 4029.4},
      {8.0 * 1024 * 1024 * 1024, 31307},
  };
  std::string table = "\nsize (B)        predicted us   measured us   error\n";
  double worst = 0;
  for (const auto& row : published) {
    const double predicted = to_microseconds(collective_duration(fabric, CollectiveKind::kAllReduce, row.bytes, 8));
    const double error = (predicted - row.measured_us) / row.measured_us * 100;
    worst = std::max(worst, std::fabs(error));
    char line[128];
    std::snprintf(line, sizeof line, "%-14.0f %13.1f %13.1f %+7.1f%%\n", row.bytes, predicted, row.measured_us, error);
    table += line;
  }
  MESSAGE(table);
  // Closed form at the largest size: 2(n-1)/n * S / (B * eff) + launch + 2(n-1) * step.
  const double s = 8.0 * 1024 * 1024 * 1024;
  const double closed_form = 2.0 * 7 / 8 * s / (450e9 * 0.9) + 10e-6 + 14 * 0.25e-6;
  CHECK(to_seconds(collective_duration(fabric, CollectiveKind::kAllReduce, s, 8)) == doctest::Approx(closed_form).epsilon(1e-9));
  CHECK(worst < 40.0);
}
