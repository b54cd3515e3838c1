// The learned predictor's costs against issue 6's targets: fitting on all shipped data in
// under 60 s (2-core machine), and under 1 us per op for the simulator, which asks
// millions of times with repeating shapes (the cost models cache by shape).
#include <benchmark/benchmark.h>

#include "calibration/calibrated_cost_models.hpp"
#include "calibration/learned_cost_model.hpp"
#include "calibration/public_measurements.hpp"
#include "models/transformer_ops.hpp"

using namespace foresight;

namespace {
const MeasuredKernels& kernels() {
  static const MeasuredKernels kKernels = load_public_measurements(std::string(FORESIGHT_SOURCE_DIR) + "/calibration/data");
  return kKernels;
}

// The GEMMs of a serving run: the four projections of Llama-3-70B at TP 8 over 1,024
// batch sizes.
std::vector<Op> serving_gemms() {
  std::vector<Op> ops;
  for (std::int64_t tokens = 1; tokens <= 1024; ++tokens) {
    for (const GemmShape& s : {GemmShape{tokens, 1280, 8192, 1}, GemmShape{tokens, 8192, 1024, 1}, GemmShape{tokens, 7168, 8192, 1},
                               GemmShape{tokens, 8192, 3584, 1}}) {
      ops.push_back(gemm_op("gemm", s, Dtype::kBf16, Phase::kForward));
    }
  }
  return ops;
}

void BM_LoadPublicMeasurements(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(load_public_measurements(std::string(FORESIGHT_SOURCE_DIR) + "/calibration/data"));
}
BENCHMARK(BM_LoadPublicMeasurements)->Unit(benchmark::kSecond)->Iterations(1);

void BM_FitOnAllSamples(benchmark::State& state) {
  for (auto _ : state) {
    KernelPredictor p;
    p.fit(kernels().samples, kernels().devices);
    benchmark::DoNotOptimize(p);
  }
  state.counters["samples"] = static_cast<double>(kernels().samples.size());
}
BENCHMARK(BM_FitOnAllSamples)->Unit(benchmark::kSecond)->Iterations(1);

void BM_PredictUncached(benchmark::State& state) {
  const auto predictor = load_kernel_model(shipped_kernel_model_path());
  const GpuSpec& h100 = *find_builtin_gpu("h100_sxm");
  const std::vector<Op> ops = serving_gemms();
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(predictor->predict(ops[i++ % ops.size()], h100));
}
BENCHMARK(BM_PredictUncached);

// What the simulator pays: the learned cost model over shapes that repeat.
void BM_LearnedCostModelRepeatedShapes(benchmark::State& state) {
  const LearnedCostModel model(load_kernel_model(shipped_kernel_model_path()), RooflineParameters{});
  const GpuSpec& h100 = *find_builtin_gpu("h100_sxm");
  const std::vector<Op> ops = serving_gemms();
  for (const Op& op : ops) model.estimate(op, h100);
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(model.estimate(ops[i++ % ops.size()], h100));
}
BENCHMARK(BM_LearnedCostModelRepeatedShapes);
}  // namespace

BENCHMARK_MAIN();
