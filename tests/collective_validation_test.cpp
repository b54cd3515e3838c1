// Collective models against the published nccl-tests all_reduce_perf curve on one DGX
// H100 node (shared/validation/published-cases.md, V3: 8 ranks, float sum, out-of-place):
// the flow network with NCCL's costs, and the foundation's analytic stand-in.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "error_stats.hpp"
#include "topologies/collective_tuner.hpp"
#include "topologies/node_fabric.hpp"
#include "topologies/topology_spec.hpp"

using namespace foresight;

namespace {
struct Published {
  double bytes;
  double measured_us;
};
// published-cases.md V3 (nccl-tests all_reduce_perf, DGX H100, 8 ranks)
const Published kV3[] = {
    {8, 13.67},        {65536, 19.54},     {1048576, 27.37},    {16777216, 123.8},
    {67108864, 324.7}, {268435456, 1112.5}, {1073741824, 4029.4}, {8589934592, 31307},
};

// Prints predicted beside measured for every V3 row and returns the worst |error| in %.
template <class Predict>
double compare_with_v3(Predict predict_us) {
  foresight::testing::ErrorStats errors;
  std::string table = "\nsize (B)        predicted us   measured us   error\n";
  for (const Published& row : kV3) {
    const double predicted = predict_us(row.bytes);
    const double error = errors.add(predicted, row.measured_us);
    char line[128];
    std::snprintf(line, sizeof line, "%-14.0f %13.1f %13.1f %+7.1f%%\n", row.bytes, predicted, row.measured_us, error);
    table += line;
  }
  MESSAGE(table);
  return errors.worst;
}
}  // namespace

TEST_CASE("flow network with NCCL's costs on the hgx_h100 preset vs nccl-tests (V3)") {
  // NCCL's choice (ring with LL, LL128 or Simple, or NVLS) with the costs fitted to the
  // apex_plus nccl-tests tables (nccl_costs.cpp); V3 took no part in the fit. Tolerance
  // 30% at every size: two nccl-tests runs on 8x H100, V3 and apex_plus, differ by up to
  // 24% from each other (1 MiB: 27.4 against 34 us; 8 B: 13.7 against 15 us), so a model
  // fitted to one cannot be held closer to the other. Measured: -20% to +25%.
  const Topology node = topology_from_argument("hgx_h100");
  const auto router = make_router(node);
  CollectiveTuner tuner(node, *router, nccl_h100_costs(), nccl_algorithms(CollectiveKind::kAllReduce));
  std::vector<NodeId> ranks;
  for (std::size_t i = 0; i < node.gpu_count(); ++i) ranks.push_back(node.gpu(i));
  std::ostringstream choices;
  const double worst = compare_with_v3([&](double bytes) {
    const CollectiveChoice choice = tuner.choose({CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, bytes, ranks, 0});
    choices << " " << algorithm_name(choice.algorithm) << "/" << protocol_name(choice.protocol);
    return to_microseconds(choice.idle_time);
  });
  MESSAGE("chosen:" << choices.str());
  CHECK(worst < 30.0);
}

TEST_CASE("only NVLS reaches the bus bandwidth V3 measures for 1 GiB and 8 GiB") {
  // busbw = algbw x 2(n-1)/n. A ring moves 2(n-1)/n x S per port, so its busbw cannot
  // exceed the 450 GB/s link (Simple's copy rate keeps it near 300); V3 measures 466 and
  // 480 GB/s, which needs in-switch reduction (S (n+1)/n per port). NVLS predicts 443
  // and 446 GB/s: its copy rate was fitted to apex_plus, whose NVLS runs are slower.
  const Topology node = topology_from_argument("hgx_h100");
  const auto router = make_router(node);
  std::vector<NodeId> ranks;
  for (std::size_t i = 0; i < node.gpu_count(); ++i) ranks.push_back(node.gpu(i));
  for (const double bytes : {1073741824.0, 8589934592.0}) {
    CollectiveTuner ring(node, *router, nccl_h100_costs(), {CollectiveAlgorithm::kRing});
    CollectiveTuner nvls(node, *router, nccl_h100_costs(), {CollectiveAlgorithm::kNvls});
    const CollectiveRequest request{CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, bytes, ranks, 0};
    const auto busbw = [&](Time t) { return bytes / to_seconds(t) / 1e9 * 2 * 7 / 8; };
    const double ring_busbw = busbw(ring.choose(request).idle_time);
    const double nvls_busbw = busbw(nvls.choose(request).idle_time);
    MESSAGE(bytes << " B: busbw ring " << ring_busbw << " GB/s, nvls " << nvls_busbw << " GB/s");
    CHECK(ring_busbw < 450.0);
    CHECK(nvls_busbw > 430.0);
  }
}

TEST_CASE("ring all-reduce stand-in vs nccl-tests on 8x H100 (V3)") {
  NodeFabric fabric;  // the defaults read_node_fabric applies for an H100 SXM node
  fabric.gpus = 8;
  fabric.bandwidth = 450e9;
  fabric.step_latency_seconds = 0.25e-6;
  fabric.launch_latency_seconds = 10e-6;
  fabric.efficiency = 0.9;
  const double worst = compare_with_v3([&](double bytes) {
    return to_microseconds(collective_duration(fabric, CollectiveKind::kAllReduce, bytes, 8));
  });
  // Closed form at the largest size: 2(n-1)/n * S / (B * eff) + launch + 2(n-1) * step.
  const double s = 8.0 * 1024 * 1024 * 1024;
  const double closed_form = 2.0 * 7 / 8 * s / (450e9 * 0.9) + 10e-6 + 14 * 0.25e-6;
  CHECK(to_seconds(collective_duration(fabric, CollectiveKind::kAllReduce, s, 8)) == doctest::Approx(closed_form).epsilon(1e-9));
  CHECK(worst < 40.0);
}
