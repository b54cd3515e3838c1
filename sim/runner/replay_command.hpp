#pragma once
// `foresight replay`: runs a recorded op graph (docs/replay.md) and prints its makespan and
// how busy each rank was; writes the results and a Chrome trace on request.
#include <ostream>
#include <string>

namespace foresight {

struct ReplayOptions {
  std::string graph_path;
  std::string out_path;
  std::string trace_path;
  std::string cost_model;  // overrides the graph's cost_model name; "" keeps it (default roofline)
};

int run_replay_command(const ReplayOptions& options, std::ostream& out);

}  // namespace foresight
