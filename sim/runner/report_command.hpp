#pragma once
// `foresight report`: one self-contained HTML page (inline SVG, no network, no script)
// with plots of whatever results it is given (docs/report.md): training results (step
// time by class, memory per GPU), Chrome traces (timelines per rank and stream), serving
// results (latency percentiles, queue over time, memory), per-request CSVs (latency CDFs),
// sweeps (scatter with the Pareto front, metrics against a swept value such as the request
// rate) and capacity tables.
#include <ostream>
#include <string>
#include <vector>

namespace foresight {

struct ReportOptions {
  std::vector<std::string> inputs;
  std::string out_path;
};

int run_report_command(const ReportOptions& options, std::ostream& out);

}  // namespace foresight
