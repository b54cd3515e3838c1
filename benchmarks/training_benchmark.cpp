// End-to-end cost of `foresight run`: graph construction plus simulation, without output
// files. The default scenario (Llama-3-8B, 8x H100, one optimizer step), and a 4-stage
// pipeline of Llama-3-70B on 32 H100 for each schedule (scenarios/llama3_70b_pp4.json,
// collectives and send/recv on the flow network).
#include <benchmark/benchmark.h>

#include "sim/runner/scenario.hpp"
#include "workloads/training_step.hpp"

using namespace foresight;

namespace {
void run_steps(benchmark::State& state, const Scenario& scenario) {
  std::size_t ops = 0;
  for (auto _ : state) {
    TrainingStep step(scenario.model, scenario.gpu, scenario.fabric, scenario.training, *scenario.cost_model);
    const TrainingResult result = step.run();
    ops += result.ops;
    benchmark::DoNotOptimize(result.step_time);
  }
  state.counters["ops_per_second"] = benchmark::Counter(static_cast<double>(ops), benchmark::Counter::kIsRate);
}

void BM_DefaultTrainingStep(benchmark::State& state) { run_steps(state, default_scenario({})); }
BENCHMARK(BM_DefaultTrainingStep)->Unit(benchmark::kMillisecond);

void BM_PipelineSchedules(benchmark::State& state) {
  const char* schedules[] = {"gpipe", "1f1b", "interleaved_1f1b", "breadth_first", "zb_h1"};
  const std::string schedule = schedules[state.range(0)];
  const bool looped = schedule == "interleaved_1f1b" || schedule == "breadth_first";
  const Scenario scenario = load_scenario(FORESIGHT_SOURCE_DIR "/scenarios/llama3_70b_pp4.json",
                                          {"training.parallel.schedule=" + schedule,
                                           "training.parallel.virtual_stages=" + std::string(looped ? "5" : "1")});
  state.SetLabel(schedule);
  run_steps(state, scenario);
}
BENCHMARK(BM_PipelineSchedules)->DenseRange(0, 4)->Unit(benchmark::kMillisecond);
}  // namespace

BENCHMARK_MAIN();
