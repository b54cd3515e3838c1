#include "workloads/time_to_target.hpp"

#include <algorithm>
#include <cmath>

namespace foresight {

double daly_wall_time(double solve, double interval, double checkpoint, double restart, double mtbf) {
  if (!(mtbf > 0) || std::isinf(mtbf)) return solve * (1 + checkpoint / interval);
  return mtbf * std::exp(restart / mtbf) * std::expm1((interval + checkpoint) / mtbf) * solve / interval;
}

double daly_optimal_interval(double checkpoint, double mtbf) {
  if (checkpoint >= 2 * mtbf) return mtbf;
  const double x = checkpoint / (2 * mtbf);
  return std::sqrt(2 * checkpoint * mtbf) * (1 + std::sqrt(x) / 3 + x / 9) - checkpoint;
}

namespace {
// McCandlish et al.'s tokens to the same loss at batch B: E_min (1 + B / B_noise).
double tokens_needed(const TargetSettings& target, double tokens_per_step) {
  const double grow = target.critical_batch_tokens > 0 ? 1 + tokens_per_step / target.critical_batch_tokens : 1;
  return target.tokens * grow;
}
}  // namespace

TimeToTarget plan_time_to_target(const TargetSettings& target, const ReliabilitySettings& reliability, double step_seconds,
                                 double tokens_per_step, std::int64_t gpus, double checkpoint_bytes_per_gpu,
                                 const Warmup& warmup) {
  TimeToTarget t;
  t.steps = target.steps > 0 ? target.steps
                             : static_cast<std::int64_t>(std::ceil(tokens_needed(target, tokens_per_step) / tokens_per_step));
  t.tokens = static_cast<double>(t.steps) * tokens_per_step;
  t.warmup = {std::min(warmup.steps, t.steps), warmup.step_seconds};
  t.failure_free_seconds = static_cast<double>(t.warmup.steps) * t.warmup.step_seconds +
                           static_cast<double>(t.steps - t.warmup.steps) * step_seconds;
  t.wall_seconds = t.failure_free_seconds;
  if (reliability.enabled && reliability.gpu_mtbf_hours > 0) {
    t.job_mtbf_seconds = reliability.gpu_mtbf_hours * 3600 / static_cast<double>(std::max<std::int64_t>(1, gpus));
    t.checkpoint_seconds = checkpoint_bytes_per_gpu / (reliability.checkpoint_gbps_per_gpu * 1e9);
    t.restart_seconds = reliability.restart_minutes * 60;
    t.checkpoint_interval_seconds = reliability.checkpoint_interval_minutes > 0
                                        ? reliability.checkpoint_interval_minutes * 60
                                        : daly_optimal_interval(t.checkpoint_seconds, t.job_mtbf_seconds);
    // A checkpoint lands on a step boundary: at least one step of work between them.
    t.checkpoint_interval_seconds = std::max(t.checkpoint_interval_seconds, step_seconds);
    t.wall_seconds = daly_wall_time(t.failure_free_seconds, t.checkpoint_interval_seconds, t.checkpoint_seconds, t.restart_seconds,
                                    t.job_mtbf_seconds);
    t.expected_failures = t.wall_seconds / t.job_mtbf_seconds;
  }
  t.gpu_hours = t.wall_seconds / 3600 * static_cast<double>(gpus);
  t.cost = t.gpu_hours * target.gpu_hour_price;
  return t;
}

}  // namespace foresight
