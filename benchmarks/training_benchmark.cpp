// End-to-end cost of `foresight run`: graph construction plus simulation, without output
// files. The default scenario (Llama-3-8B, 8x H100, one optimizer step), and a 4-stage
// pipeline of Llama-3-70B on 32 H100 for each schedule (scenarios/llama3_70b_pp4.json,
// collectives and send/recv on the flow network). ZeRO-3 on 2,048 GPUs: the default
// scenario over 256 nodes, every layer's gathers and reduce-scatters on 2,048-rank
// hierarchical rings (67.8 s before long rings ran in merged super-steps, 1.7 s after).
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

void BM_Zero3On2048Gpus(benchmark::State& state) {
  const Scenario scenario = default_scenario({"hardware.topology.nodes=256", "training.parallel.dp=2048",
                                              "training.global_batch=8192", "training.parallel.zero_stage=3"});
  run_steps(state, scenario);
}
BENCHMARK(BM_Zero3On2048Gpus)->Unit(benchmark::kMillisecond)->Iterations(1);
}  // namespace

BENCHMARK_MAIN();
