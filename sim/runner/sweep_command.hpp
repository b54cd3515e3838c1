#pragma once
// `foresight sweep`: every point of a grid over a scenario's values, on all cores (and
// across machines under MPI), with a results table (CSV, JSON), the best points under
// constraints and the Pareto front (docs/sweeps.md).
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "sim/runner/result_cache.hpp"
#include "sim/runner/sweep.hpp"
#include "sim/runner/sweep_analysis.hpp"

namespace foresight {

struct SweepOptions {
  std::string scenario;                  // "" for the built-in default
  std::string spec_path;                 // --spec: a sweep file instead of the flags below
  std::vector<std::string> overrides;    // --set
  std::vector<std::string> grid;         // --grid key=v1,v2,...
  std::vector<GridDimension> spec_grid;  // a --spec file's grid, whose values may hold commas
  std::string gpus;                      // --gpus 8,16,64: a grid over hardware.gpus, with dp = auto
  std::int64_t sample = 0;               // > 0: run this many grid points drawn at random
  std::uint64_t seed = 1;                // for the draw
  int threads = 0;                       // 0: every core
  std::string objective = "throughput";
  std::vector<std::string> constraints;  // --constraint metric<=value
  std::string pareto;                    // "goal,goal"; "" for the default pair
  int top = 5;
  double gpu_hour_usd = 2.0;
  std::vector<std::string> out_paths;    // .csv or .json
  std::string cache_dir;                 // --cache: keep whole simulations here and reuse them
  bool quiet = false;                    // no progress
};

// A sweep file (--spec) fills the options the flags would; flags given as well are kept
// beside it. Throws InputError naming the file and the JSON path.
void read_sweep_spec(SweepOptions& o);

// What a sweep and a search share: the grid's points and the goals, every name checked
// (exit 2 on a misspelled key or metric) before anything runs.
struct SweepPlan {
  std::vector<GridDimension> dimensions;
  SweepSpec spec;
  std::shared_ptr<const ResultCache> cache;  // spec.cache points into it
  std::size_t grid_size = 0;  // before --sample
  bool serving = false;
  Goal objective;
  std::vector<Constraint> constraints;
  std::pair<Goal, Goal> pareto;
};
SweepPlan plan_sweep(SweepOptions& o);

// Every row, one column per swept key and per metric.
std::string rows_csv(const std::vector<SweepRow>& rows, const std::vector<GridDimension>& dimensions);
// A titled table of rows: the given metric columns, then the assignments.
void print_rows(std::ostream& out, const std::string& title, const std::vector<const SweepRow*>& rows, const std::vector<std::string>& columns,
                std::size_t limit);

int run_sweep_command(SweepOptions options, std::ostream& out);

}  // namespace foresight
