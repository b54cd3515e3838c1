#pragma once
// `foresight collective`: an nccl-tests-style table of one collective over a range of
// sizes on a topology, simulated on the flow-level network.
#include <ostream>
#include <string>
#include <vector>

namespace foresight {

struct CollectiveOptions {
  std::string topology = "hgx_h100";
  std::string op = "all_reduce";
  std::string algorithm = "nccl";  // an algorithm; nccl: NCCL's candidates; auto: all
  std::string sizes = "8B:1GiB";
  double factor = 2;  // geometric step between sizes, as nccl-tests' -f
  int gpus = 0;       // the first N GPUs of the topology; 0 = all
  int ranks_per_node = 8;  // hierarchical: consecutive GPUs that share a node
  // auto: NCCL's costs (nccl_costs.hpp), protocol picked per size; ll, ll128, simple:
  // that protocol; none: the bare network.
  std::string protocol = "auto";
  double launch_us = -1;   // per-collective launch latency; negative: the costs' own
  std::string out_path;
};

// "8", "64K", "1MiB", "8GB": nccl-tests units, which are binary (K = 1024).
double parse_size(const std::string& text);
// "8B:8GiB" (with the factor) or one size.
std::vector<double> parse_size_range(const std::string& text, double factor);

int run_collective_command(const CollectiveOptions& options, std::ostream& out);

}  // namespace foresight
