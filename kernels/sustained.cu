#include "kernels/sustained.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "kernels/cuda_check.hpp"

namespace foresight::kernels {
namespace {
constexpr double kIntervalSeconds = 0.25;

struct Interval {
  cudaEvent_t start = nullptr, stop = nullptr;
  Interval() {
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
  }
  ~Interval() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  Interval(const Interval&) = delete;
  Interval& operator=(const Interval&) = delete;
};

float elapsed_ms(cudaEvent_t from, cudaEvent_t to) {
  float ms = 0;
  check(cudaEventElapsedTime(&ms, from, to), "cudaEventElapsedTime");
  return ms;
}
}  // namespace

std::vector<SustainedCase> sustained_cases(bool quick, bool fp8) {
  const double seconds = quick ? 2 : 10;
  std::vector<SustainedCase> cases = {{"bf16", 8192, 8192, 8192, seconds}};
  if (fp8) cases.push_back({"fp8", 8192, 8192, 8192, seconds});
  return cases;
}

std::vector<SustainedSample> run_sustained(GemmBench& gemms, const Nvml& nvml, const SustainedCase& c, cudaStream_t stream) {
  const GemmCase shape{c.dtype, c.m, c.n, c.k, 1};
  gemms.reserve(shape);
  const std::unique_ptr<PreparedGemm> gemm = gemms.prepare(shape);
  Interval probe;
  for (int i = 0; i < 3; ++i) gemm->enqueue(stream);
  check(cudaEventRecord(probe.start, stream), "cudaEventRecord");
  gemm->enqueue(stream);
  check(cudaEventRecord(probe.stop, stream), "cudaEventRecord");
  check(cudaEventSynchronize(probe.stop), "cudaEventSynchronize");
  const double one_ms = std::max<double>(elapsed_ms(probe.start, probe.stop), 1e-3);
  const int per_interval = std::max(1, static_cast<int>(kIntervalSeconds * 1e3 / one_ms));
  const int intervals = std::max(2, static_cast<int>(c.seconds / kIntervalSeconds));
  const double flops = 2.0 * static_cast<double>(c.m) * static_cast<double>(c.n) * static_cast<double>(c.k) * per_interval;

  // Interval i + 1 is queued before interval i is waited for, so the GPU never idles.
  std::vector<std::unique_ptr<Interval>> timeline;
  const auto enqueue_interval = [&] {
    timeline.push_back(std::make_unique<Interval>());
    check(cudaEventRecord(timeline.back()->start, stream), "cudaEventRecord");
    for (int i = 0; i < per_interval; ++i) gemm->enqueue(stream);
    check(cudaEventRecord(timeline.back()->stop, stream), "cudaEventRecord");
  };
  std::vector<SustainedSample> samples;
  enqueue_interval();
  for (int i = 0; i < intervals; ++i) {
    if (i + 1 < intervals) enqueue_interval();
    std::this_thread::sleep_for(std::chrono::duration<double>(kIntervalSeconds / 2));
    SustainedSample s;
    s.telemetry = nvml.sample();
    check(cudaEventSynchronize(timeline[i]->stop), "cudaEventSynchronize");
    s.tflops = flops / (elapsed_ms(timeline[i]->start, timeline[i]->stop) * 1e-3) / 1e12;
    s.at_seconds = elapsed_ms(timeline.front()->start, timeline[i]->stop) * 1e-3;
    samples.push_back(s);
  }
  return samples;
}

}  // namespace foresight::kernels
