#pragma once
// `foresight search`: the sweep's question (the best point of a grid under constraints)
// answered with as few simulations as it takes (sim/runner/search.hpp, docs/sweeps.md).
#include <ostream>

#include "sim/runner/sweep_command.hpp"

namespace foresight {

struct SearchOptions {
  SweepOptions sweep;      // the grid, goals and outputs, as `sweep` takes them
  int min_confirmed = 3;   // --confirm
  double slack = 0.02;     // --slack
};

int run_search_command(SearchOptions options, std::ostream& out);

}  // namespace foresight
