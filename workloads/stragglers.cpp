#include "workloads/stragglers.hpp"

#include <algorithm>
#include <cmath>

namespace foresight {
namespace {
// Where the walk below starts: the Poisson CDF is below 1e-300 under 40 standard deviations
// under the mean, so terms before it are taken as P(max K > k) = 1.
std::int64_t walk_start(double mean) {
  return static_cast<std::int64_t>(std::max(0.0, std::floor(mean - 40 * std::sqrt(mean))));
}

// Walks the Poisson(mean) CDF from walk_start, calling visit(k, F(k)^groups) until that
// reaches `until`: about 80 standard deviations of terms, each in log space so that a large
// mean does not underflow e^-mean.
template <class Visit>
void walk_max_cdf(double mean, std::int64_t groups, double until, Visit visit) {
  if (mean <= 0) {
    visit(0, 1.0);
    return;
  }
  const double log_mean = std::log(mean);
  double cdf = 0;
  for (std::int64_t k = walk_start(mean);; ++k) {
    cdf += std::exp(static_cast<double>(k) * log_mean - mean - std::lgamma(static_cast<double>(k) + 1));
    const double max_cdf = std::pow(std::min(cdf, 1.0), static_cast<double>(groups));
    if (!visit(k, max_cdf) || max_cdf >= until || k > 100 + static_cast<std::int64_t>(mean + 40 * std::sqrt(mean))) return;
  }
}

std::int64_t max_quantile(double mean, std::int64_t groups, double q) {
  std::int64_t at = 0;
  walk_max_cdf(mean, groups, q, [&](std::int64_t k, double max_cdf) {
    at = k;
    return max_cdf < q;
  });
  return at;
}
}  // namespace

StragglerDelay straggler_delay(const StragglerSettings& s, double step_seconds, std::int64_t coupled_gpus, std::int64_t groups) {
  StragglerDelay d;
  d.coupled_gpus = coupled_gpus;
  d.groups = groups;
  if (!s.on()) return d;
  d.stalls_per_step = static_cast<double>(coupled_gpus) * s.stalls_per_gpu_hour / 3600 * step_seconds;
  const double stall = s.stall_ms / 1000;
  // E[max K] = sum over k >= 0 of P(max K > k).
  double expected = static_cast<double>(walk_start(d.stalls_per_step));
  walk_max_cdf(d.stalls_per_step, groups, 1 - 1e-12, [&](std::int64_t, double max_cdf) {
    expected += 1 - max_cdf;
    return true;
  });
  d.mean_seconds = stall * expected;
  d.p50_seconds = stall * static_cast<double>(max_quantile(d.stalls_per_step, groups, 0.5));
  d.p99_seconds = stall * static_cast<double>(max_quantile(d.stalls_per_step, groups, 0.99));
  return d;
}

}  // namespace foresight
