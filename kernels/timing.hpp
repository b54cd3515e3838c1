#pragma once
// Times one kernel (or one call that launches several) with CUDA events around each
// repetition, after warm-up, and reports the median and the 10th and 90th percentiles.
// Repetitions adapt to the kernel's length so that a measurement takes about `budget`
// seconds; the L2 cache is flushed between repetitions, so every one starts cold, as a
// layer's weights and activations do in a real step.
#include <cuda_runtime.h>

#include <functional>

namespace foresight::kernels {

struct Spread {
  double median_us = 0, p10_us = 0, p90_us = 0;
  int repetitions = 0;
};

struct TimingPlan {
  int warmup = 3;
  int min_repetitions = 5, max_repetitions = 100;
  double budget_seconds = 0.2;
  bool flush_l2 = true;
};

class KernelTimer {
 public:
  KernelTimer(cudaStream_t stream, std::size_t l2_bytes);
  ~KernelTimer();
  KernelTimer(const KernelTimer&) = delete;
  KernelTimer& operator=(const KernelTimer&) = delete;

  // `launch` enqueues the work on the stream it is given.
  Spread time(const std::function<void(cudaStream_t)>& launch, const TimingPlan& plan);

 private:
  double time_once(const std::function<void(cudaStream_t)>& launch, bool flush);

  cudaStream_t stream_;
  cudaEvent_t start_, stop_;
  void* scrub_ = nullptr;  // twice the L2, written between repetitions
  std::size_t scrub_bytes_;
};

}  // namespace foresight::kernels
