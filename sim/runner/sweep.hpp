#pragma once
// Sweeps over a design space: every combination of a grid of scenario values (--set
// assignments), each point an independent simulation with its own engine, run on a pool
// of threads (and across MPI ranks, sweep_mpi.hpp). A point whose scenario is invalid (TP
// not dividing the heads, a layout that does not cover the GPUs) or whose result cannot
// run (out of memory, no room for the KV cache) is kept as infeasible, with the reason.
// Rows come back in grid order whatever the number of threads or ranks.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/input/input_error.hpp"
#include "sim/input/input_log.hpp"
#include "sim/engine/time.hpp"
#include "sim/runner/scenario.hpp"
#include "workloads/iteration_cost.hpp"
#include "workloads/training_step.hpp"

namespace foresight {

// "a,b,c" split at `separator` (empty parts kept, as the user wrote them).
std::vector<std::string> split_list(const std::string& text, char separator);

// "key=v1,v2,..." dimensions; every combination as --set assignments, the first
// dimension varying slowest. Throws InputError naming `flag` for a malformed one.
// One dimension of a grid: a key and its values, each a --set value as written.
struct GridDimension {
  std::string key;
  std::vector<std::string> values;
};
// "key=v1,v2,..." as given to --grid (values split on commas).
GridDimension parse_grid_flag(const std::string& spec, const std::string& flag);
std::vector<std::vector<std::string>> grid_points(const std::vector<GridDimension>& dimensions);
std::vector<std::vector<std::string>> grid_points(const std::vector<std::string>& dimensions, const std::string& flag);

// `count` of `points` drawn at random without replacement (seeded, so the same seed draws
// the same points), kept in grid order; all of them when count >= their number.
std::vector<std::vector<std::string>> sample_points(std::vector<std::vector<std::string>> points, std::size_t count, std::uint64_t seed);

// A point's assignments, space-separated; "(as given)" for none.
std::string assignments_label(const std::vector<std::string>& assignments);

struct SweepRow {
  std::size_t index = 0;
  std::vector<std::string> assignments;
  bool feasible = false;
  std::string reason;  // why not, when infeasible
  std::vector<std::pair<std::string, double>> metrics;  // in a fixed order per workload

  double metric(const std::string& name) const;  // NaN when absent
  std::string label() const;                     // the assignments, space-separated
  nlohmann::json to_json() const;
  // For the MPI gather: as to_json, with non-finite metrics kept (as "inf", "-inf", "nan").
  nlohmann::json to_wire_json() const;
  static SweepRow from_json(const nlohmann::json& json);  // reads either form
};

// JSON has no infinities: on the wire between MPI ranks they travel as "inf", "-inf", "nan".
nlohmann::json wire_number(double value);
double from_wire_number(const nlohmann::json& value);

class ResultCache;

struct SweepSpec {
  std::string scenario;                        // "" for the built-in default
  std::vector<std::string> overrides;          // applied to every point
  std::vector<std::vector<std::string>> points;
  double gpu_hour_usd = 2.0;                   // for the cost metrics
  const ResultCache* cache = nullptr;          // --cache: whole simulations kept on disk (result_cache.hpp)
};

// The metrics a training or a serving sweep's rows carry, in their order.
const std::vector<std::string>& sweep_metric_names(bool serving);

// Throws InputError naming --grid for every grid key that is not a scenario key. One
// scenario is read per dimension (with its first value), so the check simulates nothing.
void check_grid_keys(const SweepSpec& spec, const std::vector<GridDimension>& dimensions);

// 0 or less: every core.
int thread_count(int requested);

// Calls work(i) for every i below `count` on `threads` threads, each taking the next index;
// an exception on any thread stops the others and is rethrown here.
void parallel_for(std::size_t count, int threads, const std::function<void(std::size_t)>& work);

// Runs one point (catching its input errors as infeasibility).
SweepRow run_sweep_point(const SweepSpec& spec, std::size_t index);

// The parts of a point's run, for searches that look at a point before simulating it.
// Throws InputError when the point's scenario is invalid.
Scenario load_sweep_point(const SweepSpec& spec, std::size_t index);
// The point's name in spec.cache (empty without one or without `reads`): open the log
// before loading the point where there is a cache, and call this after; a serving point's
// trace is read here if it was not yet.
std::string cache_key(const SweepSpec& spec, std::size_t index, const Scenario& s, const std::optional<InputLog>& reads);
// A whole simulation of the point from spec.cache, or from simulate_sweep_point (and then
// stored) when `key` is empty or not found.
void simulate_or_recall(const SweepSpec& spec, const std::string& key, const Scenario& s, SweepRow& row);
// Simulates the point whole and fills the row's metrics and feasibility.
void simulate_sweep_point(const Scenario& s, SweepRow& row, double gpu_hour_usd);
// The row's metrics from a training result (simulated, or extrapolated from shorter runs).
void training_metrics(const Scenario& s, const TrainingResult& r, SweepRow& row, double gpu_hour_usd);
// The point cannot run: the input errors' paths and messages become its reason.
void mark_infeasible(const InputError& e, SweepRow& row);
// Runs `work` on the point's row; input errors and a step beyond the simulated clock make
// the point infeasible with the reason, as a sweep reports it. Returns whether it ran.
template <class Work>
bool run_or_mark_infeasible(SweepRow& row, Work&& work) {
  try {
    work();
    return true;
  } catch (const InputError& e) {
    mark_infeasible(e, row);
  } catch (const SimulatedTimeOverflow& e) {
    row.feasible = false;
    row.metrics.clear();
    row.reason = e.what();
  }
  return false;
}
std::string out_of_memory_reason(const MemoryFootprint& memory);
std::string no_kv_room_reason(const IterationCostModel& cost);  // "" when the KV cache has room

// Roughly what simulating each point costs, for dealing points to MPI ranks: a training
// step's ops (estimated_graph_ops), a serving run's requests; a point that does not load
// costs nothing (it fails at once). Loads every point on `threads` threads.
std::vector<double> point_costs(const SweepSpec& spec, int threads);

// The rank each point goes to: the costliest first, each to the rank with the least cost so
// far (the lowest such rank on a tie), so that every rank computes the same deal.
std::vector<int> deal_by_cost(const std::vector<double>& costs, int ranks);

// Runs the points whose index satisfies `mine` on `threads` threads (0: every core); `done` is called
// after each (from any thread).
std::vector<SweepRow> run_sweep_points(const SweepSpec& spec, int threads, const std::function<bool(std::size_t)>& mine,
                                       const std::function<void(const SweepRow&)>& done);

}  // namespace foresight
