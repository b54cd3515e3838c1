// Surface: `foresight report`'s inputs (results, traces, sweeps, capacity tables as JSON; a
// first byte of 'C' makes the rest a per-request CSV).
#include <sstream>

#include "fuzz_target.hpp"
#include "sim/runner/report_command.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  const bool csv = !data.empty() && data.front() == 'C';
  ReportOptions options;
  options.inputs = {csv ? scratch_file(data.substr(1), ".csv") : scratch_file(data, ".json")};
  options.out_path = scratch_file("", ".html");
  std::ostringstream out;
  (void)run_report_command(options, out);
}

}  // namespace foresight::fuzz
