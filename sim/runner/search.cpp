#include "sim/runner/search.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

#include "sim/engine/progress.hpp"
#include "sim/runner/result_cache.hpp"
#include "workloads/pipeline_schedule.hpp"

namespace foresight {
namespace {
constexpr std::size_t kConfirmBatch = 8;  // fixed, so that the search does not depend on the thread count

bool better(double a, double b, const Goal& goal) { return goal.maximize ? a > b : a < b; }

// A constraint that an estimate meets within `margin` of its value: the whole run may meet it.
bool may_hold(const Constraint& c, const SweepRow& row, double margin) {
  const double actual = row.metric(c.metric);
  if (std::isnan(actual)) return false;
  const double give = margin * std::abs(c.value);
  return c.at_most ? actual <= c.value + give : actual >= c.value - give;
}

// ---- stage 1: screen ----

void add_known_metrics(const Scenario& s, const MemoryFootprint* memory, SweepRow& row, double gpu_hour_usd) {
  const auto gpus = static_cast<double>(s.is_serving ? s.serving.serving_gpus() : s.training.gpus());
  row.metrics = {{"gpus", gpus}};
  if (memory != nullptr) row.metrics.emplace_back("memory_gb", memory->total() / 1e9);
  row.metrics.emplace_back("usd_per_hour", gpus * gpu_hour_usd);
}

// The first constraint on a metric known before simulating that the point fails, or "".
std::string failed_constraint(const SweepRow& row, const std::vector<Constraint>& constraints) {
  for (const Constraint& c : constraints) {
    if (!std::isnan(row.metric(c.metric)) && !c.holds(row)) {
      char value[32];
      std::snprintf(value, sizeof value, "%.4g", row.metric(c.metric));
      return "fails " + c.text + " (" + c.metric + " = " + value + ")";
    }
  }
  return "";
}

// Returns the scenario when the point goes on to be simulated; fills in its name in the
// cache and its memory per GPU.
std::optional<Scenario> screen(const SweepSpec& spec, const SearchSettings& settings, SearchPoint& point, std::string& cache_name,
                               MemoryFootprint& memory) {
  SweepRow& row = point.row;
  try {
    std::optional<InputLog> reads;
    if (spec.cache != nullptr) reads.emplace();
    Scenario s = load_sweep_point(spec, row.index);
    cache_name = cache_key(spec, row.index, s, reads);
    if (s.is_serving) {
      const IterationCostModel cost(s.model, s.gpu, s.fabric, s.serving, *s.cost_model);
      add_known_metrics(s, nullptr, row, spec.gpu_hour_usd);
      row.reason = no_kv_room_reason(cost);
    } else {
      point.micro_batches = s.training.micro_batches();
      memory = training_step_memory(s.model, s.gpu, s.training);
      add_known_metrics(s, &memory, row, spec.gpu_hour_usd);
      if (!memory.fits()) row.reason = out_of_memory_reason(memory);
    }
    row.feasible = row.reason.empty();
    if (row.feasible) row.reason = failed_constraint(row, settings.constraints);
    if (row.reason.empty()) return s;
  } catch (const InputError& e) {
    mark_infeasible(e, row);
  }
  return std::nullopt;
}

// ---- stage 2: bound or estimate; stage 3: refine ----

struct ShortRuns {
  std::int64_t first = 0, second = 0;  // micro-batches
};

// Two micro-batch counts from which the schedule's step is affine, one apart where the
// schedule takes any count (a stage count apart where it takes multiples), or none where
// the whole step costs as much to simulate as the two short ones.
std::optional<ShortRuns> short_runs(const TrainingConfig& c) {
  const auto schedule = c.make_schedule();
  const auto runs_with = [&](std::int64_t m) { return schedule->unsupported_reason(static_cast<int>(c.pp), static_cast<int>(m)).empty(); };
  const std::int64_t filled = schedule->steady_from(static_cast<int>(c.pp));
  if (filled <= 0) return std::nullopt;
  const ShortRuns runs{filled, runs_with(filled + 1) ? filled + 1 : filled + c.pp};
  if (c.micro_batches() <= runs.first + runs.second || !runs_with(runs.first) || !runs_with(runs.second)) return std::nullopt;
  return runs;
}

TrainingStep step_with_micro_batches(const Scenario& s, std::int64_t micro_batches, TrainingConfig config) {
  config.global_batch = micro_batches * config.dp * config.micro_batch;
  config.target = {};  // only the step time is wanted; fill_row adds a warmup step
  return TrainingStep(s.model, s.gpu, s.fabric, config, *s.cost_model);
}

// f(full) on the line through f(first) and f(second).
double on_the_line(double at_first, double at_second, const ShortRuns& runs, std::int64_t full) {
  const double slope = (at_second - at_first) / static_cast<double>(runs.second - runs.first);
  return at_first + static_cast<double>(full - runs.first) * slope;
}

// The row of a step that takes `step` at the point's full size; `warmup`: 1-bit Adam's
// uncompressed step, which a target counts (0: the warmup runs at `step`).
void fill_row(const Scenario& s, const MemoryFootprint& memory, Time step, const SweepSpec& spec, SweepRow& row, Time warmup = 0) {
  TrainingResult r = training_rates(s.model, s.gpu, s.training, step);
  r.memory = memory;
  r.warmup_step = warmup;
  training_metrics(s, r, row, spec.gpu_hour_usd);
}

// Whether a faster step is a better point, so that a lower bound on the step bounds the
// objective from the optimistic side.
bool faster_is_better(const Goal& goal) {
  static const std::vector<std::string> kHigher = {"tokens_per_s", "tokens_per_s_per_gpu", "mfu"};
  static const std::vector<std::string> kLower = {"step_time_s", "usd_per_million_tokens", "days_to_target", "gpu_hours_to_target", "usd_to_target"};
  const auto& names = goal.maximize ? kHigher : kLower;
  return std::find(names.begin(), names.end(), goal.metric) != names.end();
}

// Everything the search knows of one point and the work that refines it.
struct Refinement {
  const Scenario* scenario = nullptr;
  std::optional<ShortRuns> runs;  // training steps long enough to extrapolate
  std::string cache_name;         // with --cache
  MemoryFootprint memory;         // training: per GPU, from the screen
};

void simulate_whole(const Refinement& r, const SweepSpec& spec, SearchPoint& point) {
  point.row.reason.clear();
  point.stage = SearchStage::kSimulated;
  run_or_mark_infeasible(point.row, [&] { simulate_or_recall(spec, r.cache_name, *r.scenario, point.row); });
  if (!r.scenario->is_serving) point.simulated_micro_batches += static_cast<double>(point.micro_batches);
}

// A look at the point that an earlier run kept (with --cache): its row, and true.
bool recall_look(const Refinement& r, const SweepSpec& spec, const std::string& look, SweepRow& row) {
  if (r.cache_name.empty()) return false;
  const std::optional<SweepRow> kept = spec.cache->find(r.cache_name, look);
  if (!kept) return false;
  row.feasible = kept->feasible;
  row.reason = kept->reason;
  row.metrics = kept->metrics;
  return true;
}

void keep_look(const Refinement& r, const SweepSpec& spec, const std::string& look, const SweepRow& row) {
  if (!r.cache_name.empty()) spec.cache->store(r.cache_name, row, look);
}

// A whole simulation kept by an earlier run costs nothing: it is the first look.
bool recall(const Refinement& r, const SweepSpec& spec, const Goal& objective, SearchPoint& point) {
  if (!recall_look(r, spec, "", point.row)) return false;
  point.stage = SearchStage::kSimulated;
  point.recalled = true;
  // Its estimate, if one was kept, still measures the estimates' error.
  SweepRow estimated;
  if (recall_look(r, spec, "estimate", estimated)) {
    point.estimated = true;
    point.estimate = estimated.metric(objective.metric);
  }
  return true;
}

// A step no run beats (TrainingStep::compute_lower_bound). For a long step it comes from the
// two short runs' graphs, on their line: each micro-batch adds the same kernels, and the
// bound, a maximum over GPUs of such lines, lies above the line through two of its points.
// Returns false where the point could not be looked at so (a whole run says why).
bool bound(const Refinement& r, const SweepSpec& spec, const Goal& objective, SearchPoint& point) {
  const Scenario& s = *r.scenario;
  return run_or_mark_infeasible(point.row, [&] {
    if (!recall_look(r, spec, "bound", point.row)) {
      const auto fastest_of = [&](const TrainingConfig& config) -> Time {
        if (!r.runs) return TrainingStep(s.model, s.gpu, s.fabric, config, *s.cost_model).compute_lower_bound();
        const auto first = static_cast<double>(step_with_micro_batches(s, r.runs->first, config).compute_lower_bound());
        const auto second = static_cast<double>(step_with_micro_batches(s, r.runs->second, config).compute_lower_bound());
        return static_cast<Time>(std::floor(on_the_line(first, second, *r.runs, point.micro_batches)));
      };
      const Time fastest = fastest_of(s.training);
      const Time warmup = s.training.onebit_warmup_counts() ? fastest_of(s.training.onebit_warmup()) : 0;
      fill_row(s, r.memory, fastest, spec, point.row, warmup);
      char reason[96];
      std::snprintf(reason, sizeof reason, "bounded: no step is shorter than %.4g s", to_seconds(fastest));
      point.row.reason = reason;
      keep_look(r, spec, "bound", point.row);
    }
    point.stage = SearchStage::kBounded;
    point.bounded = true;
    point.bound = point.row.metric(objective.metric);
  });
}

// Two short runs and the step on their line: exact once the pipeline's pattern is whole.
// Returns false where the point could not be looked at so (a whole run says why).
bool estimate(const Refinement& r, const SweepSpec& spec, const Goal& objective, SearchPoint& point) {
  const Scenario& s = *r.scenario;
  return run_or_mark_infeasible(point.row, [&] {
    if (!recall_look(r, spec, "estimate", point.row)) {
      const auto first = static_cast<double>(step_with_micro_batches(s, r.runs->first, s.training).run({}).step_time);
      const auto second = static_cast<double>(step_with_micro_batches(s, r.runs->second, s.training).run({}).step_time);
      const Time warmup = onebit_warmup_step(s.model, s.gpu, s.fabric, s.training, *s.cost_model);
      fill_row(s, r.memory, static_cast<Time>(std::llround(on_the_line(first, second, *r.runs, point.micro_batches))), spec, point.row, warmup);
      point.short_runs = 2;
      point.simulated_micro_batches += static_cast<double>(r.runs->first + r.runs->second);
      point.row.reason = "estimated from " + std::to_string(r.runs->first) + " and " + std::to_string(r.runs->second) + " micro-batches";
      keep_look(r, spec, "estimate", point.row);
    }
    point.stage = SearchStage::kEstimated;
    point.estimated = true;
    point.estimate = point.row.metric(objective.metric);
  });
}

// Stage 2: the cheapest look that can rank the point against the others.
void first_look(const Refinement& r, const SweepSpec& spec, const SearchSettings& settings, SearchPoint& point) {
  if (recall(r, spec, settings.objective, point)) return;
  const bool training = !r.scenario->is_serving;
  if (training && faster_is_better(settings.objective) && bound(r, spec, settings.objective, point)) return;
  if (training && r.runs && estimate(r, spec, settings.objective, point)) return;
  simulate_whole(r, spec, point);
}

// Stage 3: one level closer to a whole simulation.
void look_closer(const Refinement& r, const SweepSpec& spec, const SearchSettings& settings, SearchPoint& point) {
  if (point.stage == SearchStage::kBounded && r.runs && estimate(r, spec, settings.objective, point)) return;
  simulate_whole(r, spec, point);
}

bool eligible(const SweepRow& row, const SearchSettings& settings) {
  if (!row.feasible || std::isnan(row.metric(settings.objective.metric))) return false;
  return std::all_of(settings.constraints.begin(), settings.constraints.end(), [&](const Constraint& c) { return c.holds(row); });
}

// Which points to look at more closely, best first, and when to stop.
class Refiner {
 public:
  Refiner(const SearchSettings& settings, std::vector<SearchPoint>& points) : settings_(settings), points_(points) {
    for (const SearchPoint& p : points) note_simulated(p);
  }

  // Up to a batch of points that may still beat the best simulated one, most promising first.
  std::vector<std::size_t> next_batch() const {
    std::vector<std::pair<double, std::size_t>> open;
    for (std::size_t i = 0; i < points_.size(); ++i) {
      const double value = promise(points_[i]);
      if (!std::isnan(value)) open.emplace_back(value, i);
    }
    std::stable_sort(open.begin(), open.end(), [&](const auto& a, const auto& b) { return better(a.first, b.first, settings_.objective); });
    std::vector<std::size_t> batch;
    for (std::size_t k = 0; k < open.size() && batch.size() < kConfirmBatch; ++k) batch.push_back(open[k].second);
    return batch;
  }

  void record(const SearchPoint& point) { note_simulated(point); }

  double margin() const { return std::max(settings_.slack, 2 * largest_error_); }
  double largest_error() const { return largest_error_; }

 private:
  // How good the point could still be, or NaN when it cannot beat the best any more.
  double promise(const SearchPoint& p) const {
    if (p.stage == SearchStage::kBounded) {
      return beats_best(p.bound) ? p.bound : nan();  // a run never beats its bound
    }
    if (p.stage != SearchStage::kEstimated || !may_qualify(p.row)) return nan();
    if (p.bounded && !beats_best(p.bound)) return nan();
    const double optimistic = settings_.objective.maximize ? p.estimate * (1 + margin()) : p.estimate * (1 - margin());
    const bool owed = confirmed_estimates_ < static_cast<std::size_t>(settings_.min_confirmed);
    return owed || beats_best(optimistic) ? optimistic : nan();
  }
  bool beats_best(double value) const { return std::isnan(best_) || better(value, best_, settings_.objective); }
  // An estimate that meets every constraint within the estimates' error: its run may.
  bool may_qualify(const SweepRow& row) const {
    return row.feasible && std::all_of(settings_.constraints.begin(), settings_.constraints.end(),
                                       [&](const Constraint& c) { return may_hold(c, row, margin()); });
  }
  // A whole simulation may be the new best, and measures its estimate's error.
  void note_simulated(const SearchPoint& point) {
    if (point.stage != SearchStage::kSimulated) return;
    const double value = point.row.metric(settings_.objective.metric);
    if (point.estimated) {
      ++confirmed_estimates_;
      if (!std::isnan(value) && point.estimate != 0) largest_error_ = std::max(largest_error_, std::abs(value - point.estimate) / std::abs(point.estimate));
    }
    if (eligible(point.row, settings_) && beats_best(value)) best_ = value;
  }
  static double nan() { return std::numeric_limits<double>::quiet_NaN(); }

  const SearchSettings& settings_;
  std::vector<SearchPoint>& points_;
  double best_ = std::numeric_limits<double>::quiet_NaN();
  double largest_error_ = 0;
  std::size_t confirmed_estimates_ = 0;
};

// A point as one rank tells the others what it found.
nlohmann::json point_to_wire(const SearchPoint& p) {
  return {{"row", p.row.to_wire_json()}, {"stage", static_cast<int>(p.stage)}, {"bounded", p.bounded}, {"bound", wire_number(p.bound)},
          {"estimated", p.estimated}, {"estimate", wire_number(p.estimate)}, {"recalled", p.recalled}, {"short_runs", p.short_runs},
          {"micro_batches", p.micro_batches}, {"simulated_micro_batches", p.simulated_micro_batches}};
}

void point_from_wire(const nlohmann::json& j, SearchPoint& p) {
  p.row = SweepRow::from_json(j.at("row"));
  p.stage = static_cast<SearchStage>(j.at("stage").get<int>());
  p.bounded = j.at("bounded").get<bool>();
  p.bound = from_wire_number(j.at("bound"));
  p.estimated = j.at("estimated").get<bool>();
  p.estimate = from_wire_number(j.at("estimate"));
  p.recalled = j.at("recalled").get<bool>();
  p.short_runs = j.at("short_runs").get<int>();
  p.micro_batches = j.at("micro_batches").get<std::int64_t>();
  p.simulated_micro_batches = j.at("simulated_micro_batches").get<double>();
}

// Looks at this rank's share of `indices` (every size-th from its rank) on its threads, then,
// with more than one rank, tells the others what it found and learns what they did. Progress
// shows on rank 0 for a named stage.
void look_at_share(const std::vector<std::size_t>& indices, const SearchSettings& settings, std::vector<SearchPoint>& points,
                   const std::string& stage, const std::function<void(std::size_t)>& look) {
  const SearchRanks& ranks = settings.ranks;
  std::vector<std::size_t> mine;
  for (std::size_t k = static_cast<std::size_t>(ranks.rank); k < indices.size(); k += static_cast<std::size_t>(ranks.size)) mine.push_back(indices[k]);
  Progress progress(ranks.size > 1 ? stage + " (rank 0's share)" : stage, static_cast<int>(mine.size()), settings.quiet || ranks.rank != 0 || stage.empty(), 1.0);
  parallel_for(mine.size(), settings.threads, [&](std::size_t k) {
    look(mine[k]);
    progress.step(points[mine[k]].row.label());
  });
  progress.finish();
  if (ranks.size == 1) return;
  nlohmann::json found = nlohmann::json::array();
  for (std::size_t i : mine) found.push_back(point_to_wire(points[i]));
  for (const std::string& text : ranks.all_gather(found.dump())) {
    for (const nlohmann::json& point : nlohmann::json::parse(text)) point_from_wire(point, points[point.at("row").at("index").get<std::size_t>()]);
  }
}
}  // namespace

const char* search_stage_name(SearchStage stage) {
  switch (stage) {
    case SearchStage::kScreenedOut: return "screened out";
    case SearchStage::kEstimated: return "estimated";
    case SearchStage::kBounded: return "bounded";
    case SearchStage::kSimulated: return "simulated";
  }
  return "?";
}

SearchOutcome run_search(const SweepSpec& spec, const SearchSettings& settings) {
  SearchOutcome outcome;
  std::vector<SearchPoint>& points = outcome.points;
  points.resize(spec.points.size());
  std::vector<std::optional<Scenario>> scenarios(spec.points.size());
  std::vector<Refinement> refinements(spec.points.size());
  auto lap = std::chrono::steady_clock::now();
  const auto seconds_since_lap = [&lap] {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - lap).count();
    lap = now;
    return seconds;
  };
  {
    Progress progress("search: screening", static_cast<int>(points.size()), settings.quiet || settings.ranks.rank != 0, 1.0);
    parallel_for(points.size(), settings.threads, [&](std::size_t i) {
      points[i].row.index = i;
      points[i].row.assignments = spec.points[i];
      scenarios[i] = screen(spec, settings, points[i], refinements[i].cache_name, refinements[i].memory);
      if (scenarios[i]) {
        refinements[i].scenario = &*scenarios[i];
        if (!scenarios[i]->is_serving) refinements[i].runs = short_runs(scenarios[i]->training);
      }
      progress.step(points[i].row.label());
    });
    progress.finish();
  }
  outcome.stage_seconds[0] = seconds_since_lap();
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (scenarios[i]) kept.push_back(i);
  }
  look_at_share(kept, settings, points, "search: first look", [&](std::size_t i) { first_look(refinements[i], spec, settings, points[i]); });
  outcome.stage_seconds[1] = seconds_since_lap();
  const std::size_t simulated_first = static_cast<std::size_t>(std::count_if(points.begin(), points.end(), [](const SearchPoint& p) {
    return p.stage == SearchStage::kSimulated;
  }));
  Refiner refiner(settings, points);
  for (std::vector<std::size_t> batch = refiner.next_batch(); !batch.empty(); batch = refiner.next_batch()) {
    look_at_share(batch, settings, points, "", [&](std::size_t i) { look_closer(refinements[i], spec, settings, points[i]); });
    for (std::size_t i : batch) refiner.record(points[i]);
  }
  outcome.stage_seconds[2] = seconds_since_lap();
  for (const SearchPoint& p : points) {
    outcome.screened_out += p.stage == SearchStage::kScreenedOut;
    outcome.estimated += p.estimated;
    outcome.bounded += p.bounded;
    outcome.simulated += p.stage == SearchStage::kSimulated && !p.recalled;
    outcome.recalled += p.recalled;
    outcome.short_runs += static_cast<std::size_t>(p.short_runs);
    outcome.simulated_micro_batches += p.simulated_micro_batches;
    outcome.grid_micro_batches += static_cast<double>(p.micro_batches);
  }
  outcome.confirmed = outcome.simulated + outcome.recalled - simulated_first;
  outcome.largest_estimate_error = refiner.largest_error();
  outcome.margin = refiner.margin();
  return outcome;
}

std::vector<SweepRow> search_rows(const SearchOutcome& outcome) {
  std::vector<SweepRow> rows;
  rows.reserve(outcome.points.size());
  for (const SearchPoint& p : outcome.points) rows.push_back(p.row);
  return rows;
}

}  // namespace foresight
