#pragma once
// Choosing among sweep points: an objective (throughput, cost, latency, or any metric to
// maximize or minimize), constraints on metrics ("ttft_p99_s<=2", "memory_gb<=70"), the
// best points that meet them, and the Pareto front of two goals.
#include <string>
#include <vector>

#include "sim/runner/sweep.hpp"

namespace foresight {

struct Goal {
  std::string metric;
  bool maximize = true;
  std::string text() const;  // "max tokens_per_s"
};

// "throughput", "cost", "latency" (per workload), or "max:METRIC" / "min:METRIC".
// Throws InputError naming `flag`.
Goal parse_goal(const std::string& text, bool serving, const std::string& flag);

struct Constraint {
  std::string metric;
  bool at_most = true;  // "<=" (else ">=")
  double value = 0;
  std::string text;
  bool holds(const SweepRow& row) const;
};

std::vector<Constraint> parse_constraints(const std::vector<std::string>& texts);

// Feasible rows meeting every constraint, best first by `goal` (ties: grid order).
std::vector<const SweepRow*> ranked(const std::vector<SweepRow>& rows, const Goal& goal, const std::vector<Constraint>& constraints);
// Of those, the ones no other beats on both goals, ordered by the first goal.
std::vector<const SweepRow*> pareto_front(const std::vector<SweepRow>& rows, const Goal& first, const Goal& second,
                                          const std::vector<Constraint>& constraints);

}  // namespace foresight
