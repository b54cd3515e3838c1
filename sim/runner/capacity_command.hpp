#pragma once
// `foresight capacity`: the highest request rate each serving configuration sustains
// within its SLOs, found by simulating rising rates and then bisecting.
#include <ostream>
#include <string>
#include <vector>

namespace foresight {

struct CapacityOptions {
  std::string scenario;                  // a serving scenario ("" is refused: the default trains)
  std::vector<std::string> overrides;    // --set, applied to every configuration
  std::vector<std::string> vary;         // --vary key=v1,v2,...: one configuration per combination
  std::string slo = "ttft_p99=2s,tpot_p99=100ms";
  double precision = 0.02;               // stop bisecting when hi / lo - 1 is below this
  std::string out_path;
  bool quiet = false;                    // no progress on stderr
};

struct SloTarget {
  std::string metric;      // ttft, tpot, tbt, e2e, queueing
  std::string statistic;   // mean, p50, p90, p99
  double seconds = 0;
};

// Parses "ttft_p99=500ms,tpot_p99=100ms"; throws InputError naming --slo.
std::vector<SloTarget> parse_slo(const std::string& text);

int run_capacity_command(const CapacityOptions& options, std::ostream& out);

}  // namespace foresight
