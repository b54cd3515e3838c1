#pragma once
// Transient stragglers: short stalls that hit one GPU at a time (a garbage-collection pause
// in the training process, an OS or driver hiccup, a moment of thermal or power throttling)
// and that every GPU coupled to it by a synchronous collective waits out. The persistent
// kind, GPUs that are always slower, is GpuSpec::slowest_of.
//
// Each GPU stalls at random, a Poisson process of `stalls_per_gpu_hour`, for `stall_ms`
// each. GPUs that synchronize many times a step (a TP group every layer, a pipeline's
// stages every micro-batch, a ZeRO-3 or expert-parallel group every layer) form a coupled
// group: a stall anywhere in it holds the whole group, so the group's stalls in a step add
// up. Coupled groups synchronize once a step (the gradient reduction), so the step waits
// for the group that stalled longest. Per step of length T, a group of G GPUs stalls K times,
// K ~ Poisson(G x rate x T), and the step is late by stall x max over the M groups of K.
// Its distribution is exact: P(max <= k) = P(K <= k)^M. First order in the stalls: T is
// the step without them, and a stall that overlaps another on the same group counts whole.
#include <cstdint>

namespace foresight {

struct StragglerSettings {
  double stalls_per_gpu_hour = 0;  // 0: off
  double stall_ms = 0;
  bool on() const { return stalls_per_gpu_hour > 0 && stall_ms > 0; }
};

struct StragglerDelay {
  std::int64_t coupled_gpus = 0;  // G
  std::int64_t groups = 0;        // M
  double stalls_per_step = 0;     // a group's mean K
  double mean_seconds = 0;        // E[stall x max K]
  double p50_seconds = 0;
  double p99_seconds = 0;
};

// The stalls a step of `step_seconds` waits for, with `groups` coupled groups of `coupled_gpus`.
StragglerDelay straggler_delay(const StragglerSettings& s, double step_seconds, std::int64_t coupled_gpus, std::int64_t groups);

}  // namespace foresight
