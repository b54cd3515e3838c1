#include "sim/runner/capacity_command.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "sim/input/input_error.hpp"
#include "sim/engine/progress.hpp"
#include "sim/runner/results.hpp"
#include "sim/runner/scenario.hpp"
#include "sim/runner/sweep.hpp"
#include "workloads/serving_simulation.hpp"

namespace foresight {
namespace {
double parse_duration(const std::string& text, const std::string& item) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  const double scale = unit == "s" ? 1 : unit == "ms" ? 1e-3 : unit == "us" ? 1e-6 : -1;
  if (used == 0 || scale < 0 || !(value > 0)) {
    throw InputError("", "--slo", "\"" + item + "\": expected a positive duration with a unit (s, ms, us), like 500ms");
  }
  return value * scale;
}

double statistic_of(const ServingResult& r, const SloTarget& t) {
  const Percentiles& p = t.metric == "ttft" ? r.ttft : t.metric == "tpot" ? r.tpot : t.metric == "itl" ? r.itl
                         : t.metric == "e2e" ? r.e2e : r.queueing;
  return t.statistic == "mean" ? p.mean : t.statistic == "p50" ? p.p50 : t.statistic == "p90" ? p.p90 : p.p99;
}

struct Trial {
  bool meets = false;  // every request finished and every SLO target held
  ServingResult result;
};

// A trace's mean arrival rate as recorded (speedup 1).
double recorded_rate(const TrafficConfig& traffic, std::uint64_t seed) {
  TrafficConfig recorded = traffic;
  recorded.trace_speedup = 1;
  const std::vector<Request> requests = make_requests(recorded, seed);
  const double span = to_seconds(requests.back().arrival - requests.front().arrival);
  if (requests.size() < 2 || span <= 0) throw InputError(traffic.trace, "", "capacity needs a trace whose arrivals span some time");
  return static_cast<double>(requests.size() - 1) / span;
}

// One configuration at one request rate: synthetic arrivals at that rate, or the trace
// replayed as much faster as needed (`recorded`: its rate at speedup 1).
Trial try_rate(const Scenario& base, double rate, double recorded, const std::vector<SloTarget>& slo, IterationCostModel& cost) {
  ServingConfig config = base.serving;
  TrafficConfig& t = config.traffic;
  if (t.trace.empty()) {
    t.rate = rate;
  } else {
    t.trace_speedup = rate / recorded;
  }
  Trial trial{false, simulate_serving(config, make_requests(t, base.seed), cost)};
  trial.meets = trial.result.requests == static_cast<std::int64_t>(trial.result.records.size());
  for (const SloTarget& target : slo) trial.meets = trial.meets && statistic_of(trial.result, target) <= target.seconds;
  return trial;
}

struct Capacity {
  std::string label;
  double rate = 0;  // highest rate found within the SLOs; 0 when even the lowest tried fails
  Trial best;
  int simulations = 0;
};

// Doubles the rate from the scenario's until the SLOs fail, then bisects.
Capacity find_capacity(const Scenario& scenario, const std::vector<SloTarget>& slo, double precision) {
  IterationCostModel cost(scenario.model, scenario.gpu, scenario.fabric, scenario.serving, *scenario.cost_model);
  require_kv_room(cost, scenario.source);
  Capacity capacity;
  const TrafficConfig& traffic = scenario.serving.traffic;
  const double recorded = traffic.trace.empty() ? 0 : recorded_rate(traffic, scenario.seed);
  const double start = traffic.trace.empty() ? traffic.rate : recorded * traffic.trace_speedup;
  double lo = 0, hi = start;  // the highest rate known to pass (0: none yet), and one known to fail or untried
  const auto probe = [&](double rate) {
    Trial t = try_rate(scenario, rate, recorded, slo, cost);
    ++capacity.simulations;
    if (!t.meets) return false;
    lo = rate;
    capacity.best = std::move(t);
    return true;
  };
  for (int doubling = 0; doubling < 30 && probe(hi); ++doubling) hi *= 2;
  // The starting rate already fails: halve down until one passes.
  for (int halving = 0; halving < 30 && lo == 0; ++halving) {
    if (!probe(hi / 2)) hi /= 2;
  }
  while (lo > 0 && hi / lo - 1 > precision) {
    const double mid = std::sqrt(lo * hi);
    if (!probe(mid)) hi = mid;
  }
  capacity.rate = lo;
  return capacity;
}

}  // namespace

std::vector<SloTarget> parse_slo(const std::string& text) {
  std::vector<SloTarget> targets;
  for (const std::string& item : split_list(text, ',')) {
    const auto eq = item.find('=');
    const auto underscore = item.rfind('_', eq);
    if (eq == std::string::npos || underscore == std::string::npos || underscore > eq) {
      throw InputError("", "--slo", "\"" + item + "\": expected metric_statistic=duration, like ttft_p99=500ms");
    }
    SloTarget t{item.substr(0, underscore), item.substr(underscore + 1, eq - underscore - 1), parse_duration(item.substr(eq + 1), item)};
    if (t.metric == "tbt") t.metric = "itl";  // the name before vLLM's benchmark naming was adopted
    const std::vector<std::string> metrics = {"ttft", "tpot", "itl", "e2e", "queueing"};
    const std::vector<std::string> statistics = {"mean", "p50", "p90", "p99"};
    if (std::find(metrics.begin(), metrics.end(), t.metric) == metrics.end() ||
        std::find(statistics.begin(), statistics.end(), t.statistic) == statistics.end()) {
      throw InputError("", "--slo", "\"" + item + "\": the metric is one of ttft, tpot, itl, e2e, queueing and the statistic one of "
                                  "mean, p50, p90, p99");
    }
    targets.push_back(t);
  }
  if (targets.empty()) throw InputError("", "--slo", "expected at least one target, like ttft_p99=500ms");
  return targets;
}

int run_capacity_command(const CapacityOptions& o, std::ostream& out) {
  const std::vector<SloTarget> slo = parse_slo(o.slo);
  std::vector<Scenario> scenarios;
  std::vector<std::string> labels;
  for (const auto& set : grid_points(o.vary, "--vary")) {
    std::vector<std::string> overrides = o.overrides;
    overrides.insert(overrides.end(), set.begin(), set.end());
    scenarios.push_back(load_scenario(o.scenario, overrides));
    if (!scenarios.back().is_serving) throw InputError(o.scenario, "serving", "capacity needs a serving scenario");
    labels.push_back(assignments_label(set));
  }
  out << "# foresight capacity: " << o.scenario << ", SLO " << o.slo << "; rates within " << o.precision * 100 << "%\n";
  char line[400];
  std::snprintf(line, sizeof line, "%-48s %10s %8s %10s %10s %10s %12s %6s\n", "# configuration", "req/s", "per GPU", "TTFT p99",
                "TPOT p99", "goodput", "tokens/s", "runs");
  out << line;
  nlohmann::json rows = nlohmann::json::array();
  Progress progress("capacity", static_cast<int>(scenarios.size()), o.quiet);
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const Capacity c = find_capacity(scenarios[i], slo, o.precision);
    progress.step(labels[i]);
    const ServingResult& r = c.best.result;
    const double gpus = static_cast<double>(scenarios[i].serving.serving_gpus());
    std::snprintf(line, sizeof line, "%-48s %10.3f %8.3f %8.0fms %8.1fms %10.3f %12.0f %6d\n", labels[i].c_str(), c.rate, c.rate / gpus,
                  r.ttft.p99 * 1e3, r.tpot.p99 * 1e3, r.goodput, r.total_token_throughput, c.simulations);
    out << line;
    rows.push_back({{"configuration", labels[i]}, {"capacity_requests_per_s", c.rate}, {"gpus", gpus},
                    {"capacity_requests_per_s_per_gpu", c.rate / gpus}, {"ttft_p99_s", r.ttft.p99},
                    {"tpot_p99_s", r.tpot.p99}, {"goodput_requests_per_s", r.goodput}, {"total_tokens_per_s", r.total_token_throughput},
                    {"simulations", c.simulations}});
  }
  progress.finish();
  if (!o.out_path.empty()) {
    write_file_atomically(o.out_path, nlohmann::json{{"format", "foresight.capacity.v1"}, {"scenario", o.scenario}, {"slo", o.slo}, {"configurations", rows}}.dump(2) + "\n");
    out << "Wrote results to " << o.out_path << "\n";
  }
  return 0;
}

}  // namespace foresight
