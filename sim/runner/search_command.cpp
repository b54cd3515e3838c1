#include "sim/runner/search_command.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "sim/runner/output_files.hpp"
#include "sim/runner/search.hpp"
#include "sim/runner/sweep_mpi.hpp"

namespace foresight {
namespace {
std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", 100 * fraction);
  return text;
}

nlohmann::json search_json(const SweepPlan& plan, const SearchOutcome& outcome, const std::vector<const SweepRow*>& best) {
  nlohmann::json rows = nlohmann::json::array(), best_indices = nlohmann::json::array();
  for (const SearchPoint& p : outcome.points) {
    nlohmann::json row = p.row.to_json();
    row["stage"] = search_stage_name(p.stage);
    if (p.estimated) row["estimated_objective"] = p.estimate;
    if (p.bounded) row["objective_bound"] = p.bound;
    rows.push_back(std::move(row));
  }
  for (const SweepRow* row : best) best_indices.push_back(row->index);
  nlohmann::json constraints = nlohmann::json::array();
  for (const Constraint& c : plan.constraints) constraints.push_back(c.text);
  return {{"format", "foresight.search.v1"},
          {"scenario", plan.spec.scenario.empty() ? "(built-in default)" : plan.spec.scenario},
          {"set", plan.spec.overrides},
          {"objective", plan.objective.text()},
          {"constraints", constraints},
          {"screened_out", outcome.screened_out},
          {"estimated", outcome.estimated},
          {"bounded", outcome.bounded},
          {"simulated", outcome.simulated},
          {"recalled", outcome.recalled},
          {"confirmed", outcome.confirmed},
          {"short_runs", outcome.short_runs},
          {"simulated_micro_batches", outcome.simulated_micro_batches},
          {"grid_micro_batches", outcome.grid_micro_batches},
          {"largest_estimate_error", outcome.largest_estimate_error},
          {"margin", outcome.margin},
          {"best", best_indices},
          {"rows", rows}};
}

void print_summary(std::ostream& out, const SweepPlan& plan, const SearchOutcome& outcome, double seconds, int threads, int ranks) {
  char line[512];
  std::snprintf(line, sizeof line, "# foresight search: %zu points in %.1f s on %d thread%s", outcome.points.size(), seconds, threads,
                threads == 1 ? "" : "s");
  out << line;
  if (ranks > 1) out << " x " << ranks << " ranks";
  out << "\n";
  std::snprintf(line, sizeof line,
                "#   %zu screened out before any simulation (invalid, out of memory, or failing a constraint known beforehand)\n"
                "#   %zu bounded by their kernels, %zu estimated from two short runs each, %zu simulated whole\n",
                outcome.screened_out, outcome.bounded, outcome.estimated, outcome.simulated);
  out << line;
  if (plan.cache) {
    // Each rank keeps what it simulated; rank 0 counts only its own stores.
    std::snprintf(line, sizeof line, "#   %zu whole simulations from the cache in %s, %zu simulated and kept there\n", outcome.recalled,
                  plan.cache->folder().c_str(), ranks > 1 ? outcome.simulated : plan.cache->stores());
    out << line;
  }
  std::snprintf(line, sizeof line, "#   wall time: screening %.1f s, first look %.1f s, refining %.1f s\n", outcome.stage_seconds[0],
                outcome.stage_seconds[1], outcome.stage_seconds[2]);
  out << line;
  if (outcome.grid_micro_batches > 0) {
    std::snprintf(line, sizeof line, "#   work: %.0f micro-batches simulated, %s of the %.0f that simulating every valid point takes\n",
                  outcome.simulated_micro_batches, percent(outcome.simulated_micro_batches / outcome.grid_micro_batches).c_str(),
                  outcome.grid_micro_batches);
    out << line;
  }
  if (outcome.confirmed > 0) {
    out << "#   estimates: largest error among those confirmed " << percent(outcome.largest_estimate_error)
        << "; stopped when no estimate left could beat the best by more than " << percent(outcome.margin) << "\n";
  }
  out << "# objective: " << plan.objective.text();
  for (const Constraint& c : plan.constraints) out << (&c == &plan.constraints.front() ? "; constraints: " : ", ") << c.text;
  out << "\n\n";
}
}  // namespace

int run_search_command(SearchOptions o, std::ostream& out) {
  const SweepPlan plan = plan_sweep(o.sweep);
  SearchSettings settings;
  settings.objective = plan.objective;
  settings.constraints = plan.constraints;
  settings.threads = thread_count(o.sweep.threads);
  settings.min_confirmed = o.min_confirmed;
  settings.slack = o.slack;
  settings.quiet = o.sweep.quiet;
  const MpiSession mpi;
  settings.ranks = {mpi.rank(), mpi.size(), [&mpi](const std::string& mine) { return mpi.all_gather(mine); }};
  const auto start = std::chrono::steady_clock::now();
  const SearchOutcome outcome = run_search(plan.spec, settings);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (mpi.rank() != 0) return 0;  // rank 0 reports for all

  // Only whole simulations are ranked: an estimate is a reason to simulate, not a result.
  std::vector<SweepRow> simulated;
  for (const SearchPoint& p : outcome.points) {
    if (p.stage == SearchStage::kSimulated) simulated.push_back(p.row);
  }
  const std::vector<const SweepRow*> best = ranked(simulated, plan.objective, plan.constraints);
  print_summary(out, plan, outcome, seconds, settings.threads, mpi.size());
  std::vector<std::string> columns = {plan.objective.metric};
  for (const std::string& name : {std::string("gpus"), std::string(plan.serving ? "" : "memory_gb"), std::string("usd_per_million_tokens")}) {
    if (!name.empty() && std::find(columns.begin(), columns.end(), name) == columns.end()) columns.push_back(name);
  }
  if (best.empty()) out << "No point meets the constraints.\n";
  print_rows(out, "Best points (" + plan.objective.text() + ", simulated whole):", best, columns, static_cast<std::size_t>(o.sweep.top));
  const std::vector<SweepRow> rows = search_rows(outcome);
  for (const std::string& path : o.sweep.out_paths) {
    const bool csv = std::filesystem::path(path).extension() == ".csv";
    write_file_atomically(path, csv ? rows_csv(rows, plan.dimensions) : search_json(plan, outcome, best).dump(1) + "\n");
    out << "Wrote " << rows.size() << " rows to " << path << "\n";
  }
  return 0;
}

}  // namespace foresight
