// End-to-end cost of `foresight run` on the default scenario (Llama-3-8B, 8x H100, one
// optimizer step): graph construction plus simulation, without output files.
#include <benchmark/benchmark.h>

#include "sim/runner/scenario.hpp"
#include "workloads/training_step.hpp"

using namespace foresight;

namespace {
void BM_DefaultTrainingStep(benchmark::State& state) {
  const Scenario scenario = default_scenario({});
  std::size_t ops = 0;
  for (auto _ : state) {
    TrainingStep step(scenario.model, scenario.gpu, scenario.fabric, scenario.training, *scenario.cost_model);
    const TrainingResult result = step.run();
    ops += result.ops;
    benchmark::DoNotOptimize(result.step_time);
  }
  state.counters["ops_per_second"] = benchmark::Counter(static_cast<double>(ops), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DefaultTrainingStep)->Unit(benchmark::kMillisecond);
}  // namespace

BENCHMARK_MAIN();
