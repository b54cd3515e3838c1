// Transient stragglers against the process they model: every GPU stalling as a Poisson
// process, stalls adding up within a coupled group and the step waiting for the group that
// stalled most, simulated stall by stall with a seeded generator.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "test_support.hpp"
#include "workloads/stragglers.hpp"

using namespace foresight;

namespace {
// The step's delay, `steps` times: each of groups x coupled GPUs stalls at exponential
// intervals over the step; a group's delay is its stalls' count times their length.
std::vector<double> simulate_delays(const StragglerSettings& s, double step_seconds, int coupled, int groups, int steps, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> gap(s.stalls_per_gpu_hour / 3600);
  std::vector<double> delays;
  for (int step = 0; step < steps; ++step) {
    int most = 0;
    for (int g = 0; g < groups; ++g) {
      int stalls = 0;
      for (int gpu = 0; gpu < coupled; ++gpu) {
        for (double t = gap(rng); t < step_seconds; t += gap(rng)) ++stalls;
      }
      most = std::max(most, stalls);
    }
    delays.push_back(most * s.stall_ms / 1000);
  }
  std::sort(delays.begin(), delays.end());
  return delays;
}

double share_at_most(const std::vector<double>& sorted, double x) {
  return static_cast<double>(std::upper_bound(sorted.begin(), sorted.end(), x) - sorted.begin()) / static_cast<double>(sorted.size());
}

double mean_of(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}
}  // namespace

TEST_CASE("stragglers: one coupled group waits out all its stalls, the rate times the group times the step") {
  const StragglerSettings s{30, 100};  // 30 stalls an hour, 100 ms each
  const StragglerDelay d = straggler_delay(s, 10, 64, 1);
  CHECK(d.stalls_per_step == doctest::Approx(64 * 30.0 / 3600 * 10));
  CHECK(d.mean_seconds == doctest::Approx(0.1 * d.stalls_per_step));
  // A mean of a million stalls a step: no underflow of e^-mean, the same closed form.
  const StragglerDelay big = straggler_delay({3600, 1}, 1e6 / 1024, 1024, 1);
  CHECK(big.mean_seconds == doctest::Approx(1e6 * 1e-3).epsilon(1e-6));
  CHECK(straggler_delay({}, 10, 8, 4).mean_seconds == 0);
}

TEST_CASE("stragglers: the step waits for the group that stalled most; mean and quantiles against a seeded simulation") {
  const StragglerSettings s{6, 250};
  for (const auto& [coupled, groups] : std::vector<std::pair<int, int>>{{8, 16}, {64, 4}, {4, 128}}) {
    const double step = 12.0;
    const StragglerDelay d = straggler_delay(s, step, coupled, groups);
    const std::vector<double> simulated = simulate_delays(s, step, coupled, groups, 20000, 7);
    MESSAGE("G=" << coupled << " M=" << groups << ": mean " << d.mean_seconds << " s, simulated " << mean_of(simulated) << " s");
    CHECK(d.mean_seconds == doctest::Approx(mean_of(simulated)).epsilon(0.02));
    // A quantile q of delays that come in whole stalls: at least q of the simulated steps
    // are no later, fewer than q earlier (within the sample's spread).
    for (const auto& [q, at] : std::vector<std::pair<double, double>>{{0.5, d.p50_seconds}, {0.99, d.p99_seconds}}) {
      CHECK(share_at_most(simulated, at) >= q - 0.005);
      CHECK(share_at_most(simulated, at - 1e-9) <= q + 0.005);
    }
    // Waiting for the worst of M groups costs more than one group's mean.
    CHECK(d.mean_seconds > 0.25 * d.stalls_per_step);
  }
}

TEST_CASE("stragglers: the mean stall is in the step time; ZeRO-3 couples the whole job") {
  using foresight::testing::run_scenario;
  const std::string scenario = foresight::testing::source_path("scenarios/llama3_70b_4_nodes.json");
  const std::vector<std::string> stalls = {"training.stragglers.stalls_per_gpu_hour=10", "training.stragglers.stall_ms=200"};
  const nlohmann::json plain = run_scenario(scenario);
  const nlohmann::json slow = run_scenario(scenario, stalls);
  const nlohmann::json& d = slow["stragglers"];
  CHECK(d["coupled_gpus"] == 8);  // a TP group of 8, four DP replicas
  CHECK(d["coupled_groups"] == 4);
  const double step = plain["step_time_s"].get<double>();
  CHECK(slow["step_time_s"].get<double>() == doctest::Approx(step + d["mean_delay_s"].get<double>()));
  CHECK(d["stalls_per_group_step"].get<double>() == doctest::Approx(8 * 10.0 / 3600 * step));

  std::vector<std::string> zero3 = stalls;
  zero3.push_back("training.parallel.zero_stage=3");
  const nlohmann::json sharded = run_scenario(scenario, zero3);
  CHECK(sharded["stragglers"]["coupled_gpus"] == 32);
  CHECK(sharded["stragglers"]["coupled_groups"] == 1);
}
