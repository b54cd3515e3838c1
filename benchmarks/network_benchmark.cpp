// Flow-level network at scale (issue targets: a congestion-aware 1 MiB ring all-reduce
// on 4,096 GPUs in under 2 s and 300 MB; ASTRA-sim's analytical backend needs 222 s and
// 5.6 GB). Reports wall time, flows per second and peak resident memory.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>

#include "topologies/builders.hpp"
#include "topologies/collective_algorithms.hpp"
#include "topologies/nccl_costs.hpp"
#include "topologies/topology_spec.hpp"

using namespace foresight;

namespace {
double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

void BM_RingAllReduceOnRing(benchmark::State& state) {
  const int gpus = static_cast<int>(state.range(0));
  const Topology ring = build_ring(gpus, {50e9, 1e-6});
  std::vector<NodeId> ranks;
  for (int i = 0; i < gpus; ++i) ranks.push_back(ring.gpu(static_cast<std::size_t>(i)));
  std::uint64_t flows = 0;
  Time simulated = 0;
  for (auto _ : state) {
    Engine engine;
    ShortestPathRouter router(ring, 4);
    FlowNetwork network(engine, ring, router);
    auto run = make_collective(network, {CollectiveKind::kAllReduce, CollectiveAlgorithm::kRing, 1024.0 * 1024, ranks, 0});
    run->start();
    engine.run();
    flows += network.flows_started();
    simulated = run->finish_time();
  }
  state.counters["flows_per_second"] = benchmark::Counter(static_cast<double>(flows), benchmark::Counter::kIsRate);
  state.counters["simulated_us"] = to_microseconds(simulated);
  state.counters["peak_rss_MB"] = peak_rss_mb();
}
BENCHMARK(BM_RingAllReduceOnRing)->Arg(256)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->Iterations(1);

// Hierarchical all-reduce (intra-node ring, inter-node ring per rail, intra-node ring) on
// the fat_tree:NODES preset: 8 H100 per node, 400 Gb/s NICs, rail-optimized leaf-spine.
// Building the topology and routes is included: it is part of what a user waits for.
// The third argument, when 1, adds NCCL's Simple-protocol costs (nccl_costs.hpp): a
// handshake per step and a copy-rate limit per rank, one virtual link each.
void BM_HierarchicalAllReduceOnFatTree(benchmark::State& state) {
  const auto nodes = state.range(0);
  const double bytes = static_cast<double>(state.range(1));
  const bool nccl = state.range(2) != 0;
  std::uint64_t flows = 0;
  Time simulated = 0;
  for (auto _ : state) {
    const Topology fat = topology_from_argument("fat_tree:" + std::to_string(nodes));
    std::vector<NodeId> ranks;
    for (std::size_t i = 0; i < fat.gpu_count(); ++i) ranks.push_back(fat.gpu(i));
    Engine engine;
    const std::unique_ptr<Router> router = make_router(fat);
    FlowNetwork network(engine, fat, *router);
    CollectiveRequest request{CollectiveKind::kAllReduce, CollectiveAlgorithm::kHierarchical, bytes, ranks, 0};
    request.ranks_per_node = 8;
    if (nccl) apply_costs(nccl_h100_costs(), Protocol::kSimple, request);
    auto run = make_collective(network, request);
    run->start();
    engine.run();
    flows += network.flows_started();
    simulated = run->finish_time();
  }
  state.counters["gpus"] = static_cast<double>(nodes * 8);
  state.counters["flows_per_second"] = benchmark::Counter(static_cast<double>(flows), benchmark::Counter::kIsRate);
  state.counters["simulated_us"] = to_microseconds(simulated);
  state.counters["peak_rss_MB"] = peak_rss_mb();
}
BENCHMARK(BM_HierarchicalAllReduceOnFatTree)
    ->Args({128, 1 << 20, 0})
    ->Args({512, 1 << 20, 0})
    ->Args({2048, 1 << 20, 0})
    ->Args({2048, 256 << 20, 0})
    ->Args({2048, 1 << 20, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// Expert-parallel all-to-alls as a pipeline runs them: groups of 64 GPUs (8 nodes each) of
// the fat_tree:NODES preset, each group's direct all-to-all of BYTES (NCCL's Simple
// protocol, a copy-rate link per rank) starting 20 us after the previous group's, so they
// overlap. A change re-rates only the flows linked to it by shared links (flow_network.hpp).
void BM_ConcurrentAllToAllsOnFatTree(benchmark::State& state) {
  const auto nodes = state.range(0);
  const double bytes = static_cast<double>(state.range(1));
  constexpr std::size_t kGroup = 64;
  std::uint64_t flows = 0, solved = 0;
  Time simulated = 0;
  for (auto _ : state) {
    const Topology fat = topology_from_argument("fat_tree:" + std::to_string(nodes));
    Engine engine;
    const std::unique_ptr<Router> router = make_router(fat);
    FlowNetwork network(engine, fat, *router);
    std::vector<std::unique_ptr<CollectiveRun>> runs;
    for (std::size_t first = 0; first + kGroup <= fat.gpu_count(); first += kGroup) {
      CollectiveRequest request{CollectiveKind::kAllToAll, CollectiveAlgorithm::kDirect, bytes, {}, first};
      for (std::size_t i = first; i < first + kGroup; ++i) request.ranks.push_back(fat.gpu(i));
      apply_costs(nccl_h100_costs(), Protocol::kSimple, request);
      runs.push_back(make_collective(network, request));
      CollectiveRun& run = *runs.back();
      engine.call_at(static_cast<Time>(first / kGroup) * 20 * kMicrosecond, [&run] { run.start(); });
    }
    engine.run();
    flows += network.flows_started();
    solved += network.flows_solved();
    for (const auto& run : runs) simulated = std::max(simulated, run->finish_time());
  }
  state.counters["gpus"] = static_cast<double>(nodes * 8);
  state.counters["flows_per_second"] = benchmark::Counter(static_cast<double>(flows), benchmark::Counter::kIsRate);
  state.counters["flows_solved_per_flow"] = static_cast<double>(solved) / static_cast<double>(flows);
  state.counters["simulated_us"] = to_microseconds(simulated);
  state.counters["peak_rss_MB"] = peak_rss_mb();
}
BENCHMARK(BM_ConcurrentAllToAllsOnFatTree)
    ->Args({8, 64 << 20})
    ->Args({128, 64 << 20})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
}  // namespace

BENCHMARK_MAIN();
