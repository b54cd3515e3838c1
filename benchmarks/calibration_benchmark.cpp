// The learned GEMM predictor's costs (issue 6 targets: fitting all shipped data in under
// 60 s; a prediction under 1 us, since serving asks millions of times): fitting on
// NeuSight's 21,715 measured kernels, and predicting one shape.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "calibration/gemm_predictor.hpp"

using namespace foresight;

namespace {
struct Data {
  std::map<std::string, DeviceFeatures> devices;
  std::vector<KernelMeasurement> rows;
};

const Data& data() {
  static const Data kData = [] {
    const std::string neusight = std::string(FORESIGHT_SOURCE_DIR) + "/../shared/data/neusight";
    Data d{load_devices(neusight + "/device_configs"), {}};
    for (const char* file : {"/test_linear.csv", "/test_bmm.csv"}) {
      for (KernelMeasurement& r : load_gemm_measurements(neusight + file)) {
        if (d.devices.contains(r.device)) d.rows.push_back(std::move(r));
      }
    }
    return d;
  }();
  return kData;
}

void BM_FitOnAllRows(benchmark::State& state) {
  for (auto _ : state) {
    GemmPredictor p;
    p.fit(data().rows, data().devices);
    benchmark::DoNotOptimize(p);
  }
  state.counters["rows"] = static_cast<double>(data().rows.size());
}
BENCHMARK(BM_FitOnAllRows)->Unit(benchmark::kSecond)->Iterations(1);

void BM_PredictOneShape(benchmark::State& state) {
  GemmPredictor p;
  p.fit(data().rows, data().devices);
  const DeviceFeatures& h100 = data().devices.at("NVIDIA H100 80GB HBM3");
  KernelMeasurement shape{"linear", h100.name, 1, 4096, 4096, 4096, 0};
  for (auto _ : state) {
    shape.m = 4096 + (shape.m & 7);  // vary the shape so nothing is hoisted
    benchmark::DoNotOptimize(p.predict(shape, h100));
  }
}
BENCHMARK(BM_PredictOneShape);
}  // namespace

BENCHMARK_MAIN();
