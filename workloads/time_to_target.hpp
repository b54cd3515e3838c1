#pragma once
// How long a training run takes to reach its target, and what failures add to it.
//
// A step's time becomes the run's time: the target in tokens (or steps), optionally grown
// by the statistical cost of a large batch (McCandlish et al. 2018: reaching the same loss
// takes E_min (1 + B / B_noise) tokens at batch B), then stretched by checkpoints, failures
// and restarts with Daly's model of checkpoint-restart (Daly 2006, "A higher order
// estimate of the optimum checkpoint interval for restart dumps"): exponential failures of
// the whole job's mean time between failures, work since the last checkpoint lost at each.
#include <cstdint>

namespace foresight {

struct TargetSettings {
  double tokens = 0;                 // tokens to train on; 0 with steps 0: no target
  std::int64_t steps = 0;            // or optimizer steps
  double critical_batch_tokens = 0;  // McCandlish et al.'s B_noise in tokens; 0: the batch does not change the tokens needed
  double gpu_hour_price = 0;         // per GPU-hour, in the user's currency; 0: no cost shown
  bool set() const { return tokens > 0 || steps > 0; }
};

// The defaults and their sources are in docs/training.md ("Time to target").
struct ReliabilitySettings {
  bool enabled = true;
  // Llama 3 (Dubey et al. 2024, Sec. 3.3.4): 419 unexpected interruptions in 54 days of
  // pre-training on 16,384 H100s, one per 3.09 hours: 50,650 GPU-hours per failure.
  double gpu_mtbf_hours = 50'650;
  double checkpoint_interval_minutes = 0;  // 0: Daly's optimum
  // Llama 3 (Sec. 3.3.1): Tectonic sustains 2 TB/s of writes for 16,384 GPUs, 122 MB/s each.
  double checkpoint_gbps_per_gpu = 0.122;
  double restart_minutes = 10;  // assumed: no published measurement of a checkpoint-restart
};

// Steps at the start of the run that take longer than the step simulated: 1-bit Adam's
// uncompressed warmup (its freeze_step).
struct Warmup {
  std::int64_t steps = 0;
  double step_seconds = 0;
};

struct TimeToTarget {
  double tokens = 0;                // tokens trained, after the large-batch correction
  std::int64_t steps = 0;
  Warmup warmup;                    // of the steps, those run as the warmup (at most all of them)
  double failure_free_seconds = 0;  // warmup steps x their time + the other steps x step time
  double wall_seconds = 0;          // with checkpoints, failures and restarts
  double gpu_hours = 0;             // wall time x GPUs
  double cost = 0;                  // gpu_hours x price (0 without a price)
  // Zero when reliability is off.
  double job_mtbf_seconds = 0;
  double checkpoint_seconds = 0;
  double checkpoint_interval_seconds = 0;  // of work between checkpoints
  double restart_seconds = 0;
  double expected_failures = 0;
  double goodput() const { return wall_seconds > 0 ? failure_free_seconds / wall_seconds : 1; }
};

// Daly's expected wall-clock time to finish `solve` seconds of work, writing a checkpoint
// of `checkpoint` seconds after every `interval` seconds of work, with failures at rate
// 1 / `mtbf` (during restarts too) and `restart` seconds to come back after each:
// M e^(R/M) (e^((tau + delta)/M) - 1) T_s / tau.
double daly_wall_time(double solve, double interval, double checkpoint, double restart, double mtbf);

// Daly's higher-order optimum interval: sqrt(2 delta M) [1 + (delta / 2M)^(1/2) / 3 +
// (delta / 2M) / 9] - delta for delta < 2M, else M. Young's sqrt(2 delta M) to first order.
double daly_optimal_interval(double checkpoint, double mtbf);

// What one GPU writes per checkpoint when each writes its share of the model state once
// (distributed checkpointing): 16-bit weights and the optimizer's state (Adam's fp32 master
// weights and two moments: 14 bytes a parameter in all).
inline double checkpoint_bytes_per_gpu(double parameters, std::int64_t gpus, double optimizer_state_bytes = 12) {
  return parameters * (2 + optimizer_state_bytes) / static_cast<double>(gpus > 0 ? gpus : 1);
}

// The run to the target: `step_seconds` and `tokens_per_step` from the simulated step,
// `checkpoint_bytes_per_gpu` the model state each GPU writes, `warmup` the first steps'.
TimeToTarget plan_time_to_target(const TargetSettings& target, const ReliabilitySettings& reliability, double step_seconds,
                                 double tokens_per_step, std::int64_t gpus, double checkpoint_bytes_per_gpu,
                                 const Warmup& warmup = {});

}  // namespace foresight
