// Engine throughput on synthetic workloads (issue target: >= 20 million events/s on one
// core; ASTRA-sim's engine does about 1.3 million).
//
//   hold model: the classic priority-queue benchmark (Vaucher & Duval 1975): a queue of
//     N pending events; each fired event schedules one more at now + random increment, so
//     the queue size stays N and every event costs one pop and one push.
//   DAG: a layered random DAG on 64 streams run by DagExecutor (one event per op plus
//     resource hand-offs), the path every workload takes.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "sim/engine/dag_executor.hpp"
#include "sim/engine/engine.hpp"
#include "sim/engine/random.hpp"

using namespace foresight;

namespace {
class HoldModel : public EventHandler {
 public:
  explicit HoldModel(std::uint64_t seed) : rng_(seed, "hold") {
    for (auto& increment : increments_) increment = static_cast<Time>(rng_.exponential(1000.0)) + 1;
  }
  void handle_event(Engine& engine, std::uint64_t tag) override {
    engine.schedule_in(increments_[cursor_++ & (increments_.size() - 1)], *this, tag);
  }

 private:
  RandomStream rng_;
  std::vector<Time> increments_ = std::vector<Time>(1 << 16);
  std::size_t cursor_ = 0;
};

void BM_HoldModel(benchmark::State& state) {
  const auto queue_size = static_cast<std::uint64_t>(state.range(0));
  constexpr std::uint64_t kEventsPerRun = 2'000'000;
  std::uint64_t events = 0;
  for (auto _ : state) {
    Engine engine;
    HoldModel model(1);
    for (std::uint64_t i = 0; i < queue_size; ++i) engine.schedule_at(static_cast<Time>(i), model, i);
    for (std::uint64_t i = 0; i < kEventsPerRun; ++i) engine.step();
    events += engine.events_processed();
  }
  state.counters["events_per_second"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_HoldModel)->Arg(64)->Arg(1024)->Arg(16384)->Arg(262144)->Unit(benchmark::kMillisecond);

OpGraph layered_dag(std::uint32_t layers, std::uint32_t width, std::uint32_t streams) {
  OpGraph graph;
  std::vector<ResourceId> resources;
  for (std::uint32_t s = 0; s < streams; ++s) resources.push_back(graph.add_resource({"GPU " + std::to_string(s), "compute", 1}));
  RandomStream rng(3, "dag");
  const LabelId name = graph.label("op");
  std::vector<OpId> previous, current;
  for (std::uint32_t layer = 0; layer < layers; ++layer) {
    current.clear();
    for (std::uint32_t i = 0; i < width; ++i) {
      const ResourceId r = resources[i % streams];
      const OpId op = graph.add_op(static_cast<Time>(1 + rng.next_u64() % 1000), std::vector<ResourceId>{r}, name, name);
      if (!previous.empty()) {
        graph.add_dependency(previous[i], op);
        graph.add_dependency(previous[rng.next_u64() % previous.size()], op);
      }
      current.push_back(op);
    }
    std::swap(previous, current);
  }
  return graph;
}

// Setup (building the executor's adjacency from the graph) and execution, end to end.
void BM_DagExecutor(benchmark::State& state) {
  const OpGraph graph = layered_dag(static_cast<std::uint32_t>(state.range(0)), 256, 64);
  std::uint64_t events = 0, ops = 0;
  for (auto _ : state) {
    Engine engine;
    DagExecutor executor(engine, graph);
    executor.start();
    engine.run();
    events += engine.events_processed();
    ops += graph.op_count();
  }
  state.counters["events_per_second"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["ops_per_second"] = benchmark::Counter(static_cast<double>(ops), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DagExecutor)->Arg(4096)->Unit(benchmark::kMillisecond);

// Execution only: the event loop with resource hand-offs, executor setup excluded.
void BM_DagExecutorRunOnly(benchmark::State& state) {
  const OpGraph graph = layered_dag(static_cast<std::uint32_t>(state.range(0)), 256, 64);
  std::uint64_t events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto engine = std::make_unique<Engine>();
    auto executor = std::make_unique<DagExecutor>(*engine, graph);
    state.ResumeTiming();
    executor->start();
    engine->run();
    events += engine->events_processed();
    state.PauseTiming();
    executor.reset();
    engine.reset();
    state.ResumeTiming();
  }
  state.counters["events_per_second"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DagExecutorRunOnly)->Arg(4096)->Unit(benchmark::kMillisecond);
}  // namespace

BENCHMARK_MAIN();
