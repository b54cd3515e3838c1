#pragma once
// `foresight search`: the best point of a sweep's grid without simulating all of it.
//
// A point is looked at ever more closely, each look dearer than the one before:
//  1. Screen. The point's scenario is read and checked and its memory per GPU worked out
//     without a simulation. Invalid layouts, points out of memory and points that fail a
//     constraint on a metric known before simulating (gpus, memory_gb, usd_per_hour) stop.
//  2. Bound. The step's graph is built, not run: each GPU's kernels back to back, between
//     the dependency chains that must come before and after them, give a step time no run
//     can beat (TrainingStep::compute_lower_bound).
//  3. Estimate. Once its pipeline's pattern is whole, a training step grows by the same
//     time with every micro-batch: T(m) = a + b m. Two short runs past the fill give a and
//     b, and so the step at the full count. A step of few micro-batches skips this look.
//  4. Simulate whole.
// Looks 1 and 2 (or, for objectives a faster step does not improve, 3) are taken for every
// point. Then the most promising points are looked at more closely, a batch at a time,
// until none could still beat the best point simulated whole: a bound must beat it
// outright, an estimate by more than the estimates' error (twice the largest relative error
// seen among estimates confirmed so far, and at least `slack`). Serving points are
// simulated whole after screening. The batches do not depend on the thread count, so the
// same grid gives the same search on any number of threads. Under MPI every rank screens
// every point, then looks at its share of each stage's points and learns what the others
// found before choosing the next batch, so the search is the same on any number of ranks.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sim/runner/sweep.hpp"
#include "sim/runner/sweep_analysis.hpp"

namespace foresight {

enum class SearchStage {
  kScreenedOut,  // invalid, out of memory or failing a constraint: never simulated
  kBounded,      // metrics of the fastest step the point could take (its kernels alone)
  kEstimated,    // metrics extrapolated from two short runs
  kSimulated,    // metrics from a whole simulation
};
const char* search_stage_name(SearchStage stage);

// The processes sharing a search (MPI ranks): rank r looks at every size-th point of a
// stage from its r-th; all_gather gives every rank's text, in rank order, on every rank.
struct SearchRanks {
  int rank = 0, size = 1;
  std::function<std::vector<std::string>(const std::string&)> all_gather;
};

struct SearchSettings {
  Goal objective;
  std::vector<Constraint> constraints;
  int threads = 0;         // 0: every core
  int min_confirmed = 3;   // estimated points simulated whole, at least, to measure the estimates' error
  double slack = 0.02;     // the least relative error an estimate is granted
  bool quiet = true;       // no progress on stderr
  SearchRanks ranks;       // one process unless run under MPI
};

struct SearchPoint {
  SweepRow row;
  SearchStage stage = SearchStage::kScreenedOut;
  bool bounded = false;    // the point got a bound in stage 2
  double bound = 0;        // the objective at it: no run does better
  bool estimated = false;  // the point got an estimate from two short runs
  double estimate = 0;     // the objective so estimated
  bool recalled = false;   // its whole simulation came from the cache (--cache)
  int short_runs = 0;
  std::int64_t micro_batches = 0;      // training: the step's, whole
  double simulated_micro_batches = 0;  // training: over all its simulations
};

struct SearchOutcome {
  std::vector<SearchPoint> points;  // in grid order
  std::size_t screened_out = 0;
  std::size_t bounded = 0;
  std::size_t estimated = 0;     // by two short runs
  std::size_t simulated = 0;     // whole, by this run
  std::size_t recalled = 0;      // whole simulations from the cache
  std::size_t confirmed = 0;     // of them, bounded or estimated first
  std::size_t short_runs = 0;    // the estimates' simulations
  double simulated_micro_batches = 0;  // training: all the simulations' micro-batches, a measure of the work
  double grid_micro_batches = 0;       // what simulating every valid point whole would take
  double largest_estimate_error = 0;   // relative, among confirmed points
  double margin = 0;             // the estimates' error bound when the search stopped
  double stage_seconds[3] = {};  // wall time of screening, the first look and refining
};

SearchOutcome run_search(const SweepSpec& spec, const SearchSettings& settings);

// The rows of the outcome, in grid order, for ranking and output.
std::vector<SweepRow> search_rows(const SearchOutcome& outcome);

}  // namespace foresight
