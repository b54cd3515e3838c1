// Compute-communication interference: kernels beside a collective lose its SMs (tensor-core
// kernels) or its HBM traffic (memory-bound kernels) while it runs.
#include <doctest/doctest.h>

#include <map>

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
// The ends the model moved, by op.
struct Moves {
  std::map<OpId, Time> end;
  CommInterference::MoveEnd recorder() {
    return [this](OpId op, Time when) { end[op] = when; };
  }
};
}  // namespace

TEST_CASE("kernels that start beside a collective lose its SMs or its HBM traffic") {
  const OpGraph graph;
  Moves moves;
  CommInterference model(gpu_with(128, 400e9), 4, kKinds, kRanks, [](OpId) { return on_ranks({0, 1}); }, moves.recorder());
  CHECK(model.duration_at_start(1, 0, 1000) == 1000);  // nothing in flight
  model.on_op_end(graph, 1, 0, 1000);
  model.on_op_start(graph, 0, 1000);
  CHECK(model.duration_at_start(1, 1000, 1000) == 1143);  // 128 / (128 - 16) = 1.142857
  CHECK(model.duration_at_start(2, 1000, 1000) == 1333);  // 1 / (1 - 100/400)
  CHECK(model.duration_at_start(3, 1000, 1000) == 1000);  // rank 2 is not in the collective
  // The collective outlasts them: they end when first said.
  model.on_op_end(graph, 1, 1000, 2143);
  model.on_op_end(graph, 2, 1000, 2333);
  CHECK(model.added_time(0) == 143 + 333);
  CHECK(moves.end.empty());
}

TEST_CASE("a kernel runs slower only while a collective runs beside it") {
  const OpGraph graph;
  Moves moves;
  CommInterference model(gpu_with(128, 400e9), 4, kKinds, kRanks, [](OpId) { return on_ranks({0, 1}); }, moves.recorder());
  REQUIRE(model.duration_at_start(1, 0, 1000) == 1000);
  // At 500 the collective starts: the other 500 go at 112/128, to end at 500 + 571.
  model.on_op_start(graph, 0, 500);
  CHECK(moves.end.at(1) == 1071);
  // At 800 it ends: 500 - 300 x 0.875 = 237.5 left, at full rate.
  model.on_op_end(graph, 0, 500, 800);
  CHECK(moves.end.at(1) == 1038);
  model.on_op_end(graph, 1, 0, 1038);
  CHECK(model.added_time(0) == 38);
}

TEST_CASE("what collectives take is capped at half of the GPU") {
  const OpGraph graph;
  Moves moves;
  CommInterference model(gpu_with(32, 100e9), 4, kKinds, kRanks, [](OpId) { return on_ranks({0}); }, moves.recorder());
  model.on_op_start(graph, 0, 0);
  model.on_op_start(graph, 0, 0);  // two at once: 32 SMs and 200 GB/s asked of 32 and 100
  CHECK(model.duration_at_start(1, 0, 1000) == 2000);
  CHECK(model.duration_at_start(2, 0, 1000) == 2000);
}
