#pragma once
// `foresight regress`: runs a suite of scenarios and compares their predicted throughput,
// latency and memory with a stored baseline, metric by metric within tolerances; exit
// status 1 when any prediction moved beyond its tolerance, `--update` to accept the new
// values (docs/sweeps.md).
#include <ostream>
#include <string>

namespace foresight {

struct RegressOptions {
  std::string baseline;
  bool update = false;
  int threads = 0;  // 0: every core
};

int run_regress_command(const RegressOptions& options, std::ostream& out);

}  // namespace foresight
