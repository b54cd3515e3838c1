#include "sim/runner/replay_command.hpp"

#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "models/roofline_model.hpp"
#include "sim/chrome_trace.hpp"
#include "sim/json_document.hpp"
#include "sim/runner/results.hpp"
#include "workloads/replay.hpp"

namespace foresight {

int run_replay_command(const ReplayOptions& o, std::ostream& out) {
  if (!o.out_path.empty()) check_output_path(o.out_path, "--out");
  if (!o.trace_path.empty()) check_output_path(o.trace_path, "--trace");
  ReplayGraph graph = read_replay_graph(load_json_file(o.graph_path), o.graph_path);
  const RooflineModel roofline{RooflineParameters{}};
  const std::string gpu_name = graph.gpu.name;
  const int ranks = graph.ranks;
  Replay replay(std::move(graph), roofline);
  ChromeTraceWriter trace([&replay](OpId op) { return replay.trace_args(op); });
  std::vector<ExecutionObserver*> observers;
  if (!o.trace_path.empty()) observers.push_back(&trace);
  const ReplayResult result = replay.run(observers);

  out << "foresight replay: " << o.graph_path << "  (" << result.ops << " ops on " << ranks << " ranks; shaped ops on "
      << gpu_name << " by the roofline model)\n"
      << "  makespan  " << format_duration(result.makespan) << "\n\n"
      << "  rank       busy  compute   busy %\n";
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t r = 0; r < result.ranks.size(); ++r) {
    const ReplayRankTime& t = result.ranks[r];
    const double share = result.makespan > 0 ? 100.0 * static_cast<double>(t.busy) / static_cast<double>(result.makespan) : 0;
    if (r < 16 || r + 1 == result.ranks.size()) {
      char line[128];
      std::snprintf(line, sizeof line, "  %4zu %10s %8s %7.1f%%\n", r, format_duration(t.busy).c_str(), format_duration(t.compute).c_str(), share);
      out << line;
    } else if (r == 16) {
      out << "  ...\n";
    }
    rows.push_back({{"rank", r}, {"busy_ps", t.busy}, {"compute_ps", t.compute}});
  }
  OutputFiles files;
  if (!o.out_path.empty()) {
    const nlohmann::json document = {{"format", "foresight.replay-results.v1"}, {"graph", o.graph_path}, {"makespan_ps", result.makespan},
                                     {"makespan_s", to_seconds(result.makespan)}, {"ops", result.ops}, {"ranks", rows}};
    files.add(o.out_path, document.dump(2) + "\n");
  }
  if (!o.trace_path.empty()) {
    std::ostringstream text;
    trace.write(replay.graph(), text);
    files.add(o.trace_path, text.str());
  }
  files.write_all();
  if (!o.out_path.empty()) out << "Wrote results to " << o.out_path << "\n";
  if (!o.trace_path.empty()) out << "Wrote trace to " << o.trace_path << " (open it in ui.perfetto.dev or chrome://tracing)\n";
  return 0;
}

}  // namespace foresight
