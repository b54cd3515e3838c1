#include "sim/runner/sweep.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>

#include "sim/input/input_error.hpp"
#include "sim/input/object_reader.hpp"
#include "sim/runner/result_cache.hpp"
#include "sim/runner/results.hpp"
#include "sim/engine/random.hpp"
#include "sim/engine/time.hpp"
#include "sim/runner/scenario.hpp"
#include "workloads/serving_simulation.hpp"
#include "workloads/training_step.hpp"

namespace foresight {
namespace {
std::string gigabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GB", bytes / 1e9);
  return text;
}

Scenario load_point(const SweepSpec& spec, const std::vector<std::string>& overrides) {
  return spec.scenario.empty() ? default_scenario(overrides) : load_scenario(spec.scenario, overrides);
}

void serving_metrics(const Scenario& s, SweepRow& row, double gpu_hour_usd) {
  IterationCostModel cost(s.model, s.gpu, s.fabric, s.serving, *s.cost_model);
  row.reason = no_kv_room_reason(cost);
  if (!row.reason.empty()) return;
  const std::vector<Request> requests = make_requests(s.serving.traffic, s.seed);
  require_servable(s.serving, cost, requests, s.source);
  const ServingResult r = simulate_serving(s.serving, requests, cost);
  const auto gpus = static_cast<double>(s.serving.serving_gpus());
  const double usd_per_hour = gpus * gpu_hour_usd;
  row.metrics = {{"gpus", gpus},
                 {"requests_per_s", r.request_throughput},
                 {"output_tokens_per_s", r.output_token_throughput},
                 {"goodput_requests_per_s", r.goodput},
                 {"slo_attainment", r.slo_attainment},
                 {"ttft_p50_s", r.ttft.p50},
                 {"ttft_p99_s", r.ttft.p99},
                 {"tpot_p50_s", r.tpot.p50},
                 {"tpot_p99_s", r.tpot.p99},
                 {"e2e_p99_s", r.e2e.p99},
                 {"usd_per_hour", usd_per_hour},
                 {"usd_per_million_tokens", usd_per_hour / 3600 / r.output_token_throughput * 1e6}};
  row.feasible = r.requests == static_cast<std::int64_t>(r.records.size());
  if (!row.feasible) row.reason = "unfinished: " + std::to_string(static_cast<std::int64_t>(r.records.size()) - r.requests) + " requests";
}
}  // namespace

void training_metrics(const Scenario& s, const TrainingResult& r, SweepRow& row, double gpu_hour_usd) {
  const auto gpus = static_cast<double>(s.training.gpus());
  const double usd_per_hour = gpus * gpu_hour_usd;
  row.metrics = {{"gpus", gpus},
                 {"step_time_s", to_seconds(r.step_time)},
                 {"tokens_per_s", r.tokens_per_second},
                 {"tokens_per_s_per_gpu", r.tokens_per_second_per_gpu},
                 {"mfu", r.mfu},
                 {"memory_gb", r.memory.total() / 1e9},
                 {"usd_per_hour", usd_per_hour},
                 {"usd_per_million_tokens", usd_per_hour / 3600 / r.tokens_per_second * 1e6}};
  if (s.training.target.set()) {
    const TimeToTarget t = time_to_target(s, r);
    row.metrics.insert(row.metrics.end(), {{"days_to_target", t.wall_seconds / 86400},
                                           {"gpu_hours_to_target", t.gpu_hours},
                                           {"usd_to_target", t.gpu_hours * gpu_hour_usd}});
  }
  row.feasible = r.memory.fits();
  if (!row.feasible) row.reason = out_of_memory_reason(r.memory);
}

std::string no_kv_room_reason(const IterationCostModel& cost) {
  const std::string problem = cost.kv_room_problem();
  return problem.empty() ? "" : "out of memory: " + problem;
}

std::string out_of_memory_reason(const MemoryFootprint& memory) {
  return "out of memory: " + gigabytes(memory.total()) + " per GPU of " + gigabytes(memory.capacity);
}

Scenario load_sweep_point(const SweepSpec& spec, std::size_t index) {
  std::vector<std::string> overrides = spec.overrides;
  overrides.insert(overrides.end(), spec.points[index].begin(), spec.points[index].end());
  return load_point(spec, overrides);
}

void simulate_sweep_point(const Scenario& s, SweepRow& row, double gpu_hour_usd) {
  if (s.is_serving) {
    serving_metrics(s, row, gpu_hour_usd);
    return;
  }
  TrainingStep step(s.model, s.gpu, s.fabric, s.training, *s.cost_model);
  training_metrics(s, step.run({}), row, gpu_hour_usd);
}

void mark_infeasible(const InputError& e, SweepRow& row) {
  row.feasible = false;
  row.metrics.clear();
  for (const Problem& p : e.problems()) {
    // Every point's values come from --set; saying so at each one is noise.
    const std::string message = p.message.substr(0, p.message.find(" (set by --set "));
    row.reason += (row.reason.empty() ? "" : "; ") + (p.path.empty() ? "" : p.path + ": ") + message;
  }
}

std::vector<std::string> split_list(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

GridDimension parse_grid_flag(const std::string& spec, const std::string& flag) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) throw InputError("", flag, "\"" + spec + "\": expected key=value1,value2,...");
  return {spec.substr(0, eq), split_list(spec.substr(eq + 1), ',')};
}

std::vector<std::vector<std::string>> grid_points(const std::vector<GridDimension>& dimensions) {
  std::vector<std::vector<std::string>> points{{}};
  for (const GridDimension& dimension : dimensions) {
    std::vector<std::vector<std::string>> next;
    for (const auto& point : points) {
      for (const std::string& value : dimension.values) {
        auto extended = point;
        extended.push_back(dimension.key + "=" + value);
        next.push_back(std::move(extended));
      }
    }
    points = std::move(next);
  }
  return points;
}

std::vector<std::vector<std::string>> grid_points(const std::vector<std::string>& dimensions, const std::string& flag) {
  std::vector<GridDimension> parsed;
  for (const std::string& spec : dimensions) parsed.push_back(parse_grid_flag(spec, flag));
  return grid_points(parsed);
}

std::vector<std::vector<std::string>> sample_points(std::vector<std::vector<std::string>> points, std::size_t count, std::uint64_t seed) {
  if (count >= points.size()) return points;
  // A partial Fisher-Yates shuffle of the indices, then grid order again.
  RandomStream random(seed, "sweep.sample");
  std::vector<std::size_t> order(points.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (std::size_t i = 0; i < count; ++i) std::swap(order[i], order[i + random.next_u64() % (order.size() - i)]);
  order.resize(count);
  std::sort(order.begin(), order.end());
  std::vector<std::vector<std::string>> chosen;
  for (std::size_t i : order) chosen.push_back(std::move(points[i]));
  return chosen;
}

double SweepRow::metric(const std::string& name) const {
  for (const auto& [key, value] : metrics) {
    if (key == name) return value;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

std::string assignments_label(const std::vector<std::string>& assignments) {
  std::string text;
  for (const std::string& a : assignments) text += (text.empty() ? "" : " ") + a;
  return text.empty() ? "(as given)" : text;
}

std::string SweepRow::label() const { return assignments_label(assignments); }

nlohmann::json SweepRow::to_json() const {
  nlohmann::json values = nlohmann::json::object();
  for (const auto& [key, value] : metrics) values[key] = value;
  nlohmann::json ordered = nlohmann::json::array();
  for (const auto& [key, value] : metrics) ordered.push_back(key);
  return {{"index", index}, {"set", assignments}, {"feasible", feasible}, {"reason", reason}, {"metrics", values}, {"metric_order", ordered}};
}

nlohmann::json wire_number(double value) {
  if (std::isfinite(value)) return value;
  return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
}

double from_wire_number(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  const std::string text = value.get<std::string>();
  if (text == "nan") return std::numeric_limits<double>::quiet_NaN();
  return text == "inf" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

nlohmann::json SweepRow::to_wire_json() const {
  nlohmann::json json = to_json();
  for (const auto& [key, value] : metrics) json["metrics"][key] = wire_number(value);
  return json;
}

SweepRow SweepRow::from_json(const nlohmann::json& json) {
  SweepRow row;
  row.index = json.at("index").get<std::size_t>();
  row.assignments = json.at("set").get<std::vector<std::string>>();
  row.feasible = json.at("feasible").get<bool>();
  row.reason = json.at("reason").get<std::string>();
  for (const auto& key : json.at("metric_order")) {
    row.metrics.emplace_back(key.get<std::string>(), from_wire_number(json.at("metrics").at(key.get<std::string>())));
  }
  return row;
}

std::string cache_key(const SweepSpec& spec, std::size_t index, const Scenario& s, const std::optional<InputLog>& reads) {
  if (spec.cache == nullptr || !reads) return "";
  if (s.is_serving) (void)make_requests(s.serving.traffic, s.seed);  // its trace, read into the log
  std::vector<std::string> assignments = spec.overrides;
  assignments.insert(assignments.end(), spec.points[index].begin(), spec.points[index].end());
  return spec.cache->key(assignments, spec.gpu_hour_usd, *reads);
}

void simulate_or_recall(const SweepSpec& spec, const std::string& key, const Scenario& s, SweepRow& row) {
  if (!key.empty()) {
    if (std::optional<SweepRow> kept = spec.cache->find(key)) {
      row.feasible = kept->feasible;
      row.reason = kept->reason;
      row.metrics = kept->metrics;
      return;
    }
  }
  simulate_sweep_point(s, row, spec.gpu_hour_usd);
  if (!key.empty()) spec.cache->store(key, row);
}

SweepRow run_sweep_point(const SweepSpec& spec, std::size_t index) {
  SweepRow row;
  row.index = index;
  row.assignments = spec.points[index];
  run_or_mark_infeasible(row, [&] {
    std::optional<InputLog> reads;
    if (spec.cache != nullptr) reads.emplace();  // hashing what a point reads is for the cache only
    const Scenario s = load_sweep_point(spec, index);
    simulate_or_recall(spec, cache_key(spec, index, s, reads), s, row);
  });
  return row;
}

const std::vector<std::string>& sweep_metric_names(bool serving) {
  // The last three only when the scenario sets training.target.
  static const std::vector<std::string> kTraining = {"gpus", "step_time_s", "tokens_per_s", "tokens_per_s_per_gpu", "mfu", "memory_gb",
                                                     "usd_per_hour", "usd_per_million_tokens", "days_to_target", "gpu_hours_to_target",
                                                     "usd_to_target"};
  static const std::vector<std::string> kServing = {"gpus", "requests_per_s", "output_tokens_per_s", "goodput_requests_per_s",
                                                    "slo_attainment", "ttft_p50_s", "ttft_p99_s", "tpot_p50_s", "tpot_p99_s",
                                                    "e2e_p99_s", "usd_per_hour", "usd_per_million_tokens"};
  return serving ? kServing : kTraining;
}

void check_grid_keys(const SweepSpec& spec, const std::vector<GridDimension>& dimensions) {
  std::vector<Problem> problems;
  for (const GridDimension& dimension : dimensions) {
    std::vector<std::string> overrides = spec.overrides;
    overrides.push_back(dimension.key + "=" + dimension.values.front());
    try {
      (void)load_point(spec, overrides);
    } catch (const InputError& e) {
      // Other problems may come from the value or its combination with the others; the
      // points report those. A key no scenario has is wrong at every point.
      for (const Problem& p : e.problems()) {
        const bool on_key = dimension.key == p.path || dimension.key.rfind(p.path + ".", 0) == 0;
        if (on_key && is_unknown_key(p)) problems.push_back({"", "--grid", dimension.key + ": " + p.message.substr(0, p.message.find(" (set by --set "))});
      }
    }
  }
  if (!problems.empty()) throw InputError(problems);
}

int thread_count(int requested) { return requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

void parallel_for(std::size_t count, int threads, const std::function<void(std::size_t)>& work) {
  std::atomic<std::size_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  const auto worker = [&] {
    try {
      for (std::size_t i = next++; i < count; i = next++) work(i);
    } catch (...) {
      const std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = count;
    }
  };
  {
    std::vector<std::jthread> pool;
    for (int t = 1; t < thread_count(threads); ++t) pool.emplace_back(worker);
    worker();
  }
  if (failure) std::rethrow_exception(failure);
}

std::vector<double> point_costs(const SweepSpec& spec, int threads) {
  std::vector<double> costs(spec.points.size(), 0.0);
  parallel_for(costs.size(), threads, [&](std::size_t i) {
    try {
      const Scenario s = load_sweep_point(spec, i);
      costs[i] = s.is_serving ? static_cast<double>(s.serving.traffic.requests) : estimated_graph_ops(s.model, s.training);
    } catch (const InputError&) {
      costs[i] = 0;  // the point fails as it loads, wherever it runs
    }
  });
  return costs;
}

std::vector<int> deal_by_cost(const std::vector<double>& costs, int ranks) {
  std::vector<std::size_t> order(costs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&costs](std::size_t a, std::size_t b) { return costs[a] > costs[b]; });
  std::vector<double> load(static_cast<std::size_t>(std::max(ranks, 1)), 0.0);
  std::vector<int> owner(costs.size(), 0);
  for (const std::size_t point : order) {
    const auto least = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[point] = static_cast<int>(least);
    load[least] += costs[point];
  }
  return owner;
}

std::vector<SweepRow> run_sweep_points(const SweepSpec& spec, int threads, const std::function<bool(std::size_t)>& mine,
                                       const std::function<void(const SweepRow&)>& done) {
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < spec.points.size(); ++i) {
    if (mine(i)) indices.push_back(i);
  }
  std::vector<SweepRow> rows(indices.size());
  parallel_for(indices.size(), threads, [&](std::size_t k) {
    rows[k] = run_sweep_point(spec, indices[k]);
    done(rows[k]);
  });
  return rows;
}

}  // namespace foresight
