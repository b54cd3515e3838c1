// Compute-communication interference: kernels that start beside a collective lose its SMs
// (tensor-core kernels) or its HBM traffic (memory-bound kernels).
#include <doctest/doctest.h>

#include "models/gpu_spec.hpp"
#include "sim/engine/op_graph.hpp"
#include "workloads/comm_interference.hpp"

using namespace foresight;

namespace {
// Op 0: a collective over ranks 0 and 1 holding 16 SMs and 100 GB/s of HBM traffic;
// op 1: a GEMM on rank 0; op 2: a norm on rank 0; op 3: a GEMM on rank 2.
const std::vector<InterferenceKind> kKinds = {InterferenceKind::kCollective, InterferenceKind::kTensorCompute,
                                              InterferenceKind::kMemoryCompute, InterferenceKind::kTensorCompute};
const std::vector<int> kRanks = {0, 0, 0, 2};
CollectiveLoad on_ranks(std::vector<int> members) { return {100e9, 16, std::move(members)}; }

GpuSpec gpu_with(int sms, double hbm) {
  GpuSpec gpu;
  gpu.sm_count = sms;
  gpu.memory_bandwidth = hbm;
  return gpu;
}
}  // namespace

TEST_CASE("kernels beside a collective lose its SMs or its HBM traffic, only while it runs") {
  const OpGraph graph;
  CommInterference model(gpu_with(128, 400e9), 4, kKinds, kRanks, [](OpId) { return on_ranks({0, 1}); });
  CHECK(model.duration_at_start(1, 1000) == 1000);  // nothing in flight
  model.on_op_start(graph, 0, 0);
  CHECK(model.duration_at_start(1, 1000) == 1143);  // 128 / (128 - 16) = 1.142857
  CHECK(model.duration_at_start(2, 1000) == 1333);  // 1 / (1 - 100/400)
  CHECK(model.duration_at_start(3, 1000) == 1000);  // rank 2 is not in the collective
  CHECK(model.added_time(0) == 143 + 333);
  model.on_op_end(graph, 0, 0, 10);
  CHECK(model.duration_at_start(1, 1000) == 1000);
}

TEST_CASE("what collectives take is capped at half of the GPU") {
  const OpGraph graph;
  CommInterference model(gpu_with(32, 100e9), 4, kKinds, kRanks, [](OpId) { return on_ranks({0}); });
  model.on_op_start(graph, 0, 0);
  model.on_op_start(graph, 0, 0);  // two at once: 32 SMs and 200 GB/s asked of 32 and 100
  CHECK(model.duration_at_start(1, 1000) == 2000);
  CHECK(model.duration_at_start(2, 1000) == 2000);
}
