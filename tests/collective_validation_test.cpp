// The foundation's analytic collective model against the published nccl-tests
// all_reduce_perf curve on one DGX H100 node (shared/validation/published-cases.md, V3:
// 8 ranks, float sum, out-of-place). This model is a stand-in: it has no NVLink SHARP
// (in-switch reduction) and no protocol switching (LL/LL128/Simple), so it is too fast in
// the latency-bound middle and too slow for large messages. The flow-level network with
// real collective algorithms replaces it and must tighten this tolerance.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "error_stats.hpp"
#include "topologies/collective_algorithms.hpp"
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

TEST_CASE("flow-level ring all-reduce on the hgx_h100 preset vs nccl-tests (V3)") {
  // The flow network models links, hops and sharing but not yet NCCL's protocols
  // (LL/LL128/Simple), its channels and kernel launch, nor NVLink SHARP, so it is fast in
  // the 64 KB-16 MB range (per-step protocol overheads dominate there) and its bus
  // bandwidth stops at the 450 GB/s link rate where NVLS reaches 480. Tolerance 40%:
  // the band this model is in today, to be tightened as those mechanisms are added.
  const Topology node = topology_from_argument("hgx_h100");
  std::vector<NodeId> ranks;
  for (std::size_t i = 0; i < node.gpu_count(); ++i) ranks.push_back(node.gpu(i));
  const double worst = compare_with_v3([&](double bytes) {
    Engine engine;
    ShortestPathRouter router(node);
    FlowNetwork network(engine, node, router);
    auto run = make_collective(network, {CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, bytes, ranks, 0});
    run->start();
    engine.run();
    return to_microseconds(run->finish_time());
  });
  CHECK(worst < 40.0);
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
