#include "kernels/timing.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cuda_check.hpp"

namespace foresight::kernels {
namespace {
double percentile(const std::vector<double>& sorted, double q) {
  const auto at = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(at, 1) - 1];
}
}  // namespace

KernelTimer::KernelTimer(cudaStream_t stream, std::size_t l2_bytes) : stream_(stream), scrub_bytes_(2 * l2_bytes) {
  check(cudaEventCreate(&start_), "cudaEventCreate");
  check(cudaEventCreate(&stop_), "cudaEventCreate");
  check(cudaMalloc(&scrub_, scrub_bytes_), "cudaMalloc (L2 scrub buffer)");
}

KernelTimer::~KernelTimer() {
  cudaFree(scrub_);
  cudaEventDestroy(start_);
  cudaEventDestroy(stop_);
}

double KernelTimer::time_once(const std::function<void(cudaStream_t)>& launch, bool flush) {
  if (flush) check(cudaMemsetAsync(scrub_, 0, scrub_bytes_, stream_), "cudaMemsetAsync (L2 scrub)");
  check(cudaEventRecord(start_, stream_), "cudaEventRecord");
  launch(stream_);
  check(cudaGetLastError(), "kernel launch");
  check(cudaEventRecord(stop_, stream_), "cudaEventRecord");
  check(cudaEventSynchronize(stop_), "cudaEventSynchronize");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
  return static_cast<double>(ms) * 1e3;
}

Spread KernelTimer::time(const std::function<void(cudaStream_t)>& launch, const TimingPlan& plan) {
  for (int i = 0; i < plan.warmup; ++i) time_once(launch, false);
  const double first = time_once(launch, plan.flush_l2);
  const int wanted = static_cast<int>(plan.budget_seconds * 1e6 / std::max(first, 1.0));
  const int repetitions = std::clamp(wanted, plan.min_repetitions, plan.max_repetitions);
  std::vector<double> times{first};
  for (int i = 1; i < repetitions; ++i) times.push_back(time_once(launch, plan.flush_l2));
  std::sort(times.begin(), times.end());
  return {percentile(times, 0.5), percentile(times, 0.1), percentile(times, 0.9), repetitions};
}

}  // namespace foresight::kernels
