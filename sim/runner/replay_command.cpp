#include "sim/runner/replay_command.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/input/object_reader.hpp"
#include "sim/runner/scenario.hpp"
#include "sim/engine/chrome_trace.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/results.hpp"
#include "workloads/replay.hpp"

namespace foresight {

namespace {
// The graph's cost_model object, read as a scenario's is, with --cost-model naming it.
std::unique_ptr<OpCostModel> replay_cost_model(const ReplayGraph& graph, const ReplayOptions& o, std::string& name) {
  nlohmann::json spec = graph.cost_model.is_object() ? graph.cost_model : nlohmann::json::object();
  if (!o.cost_model.empty()) spec["name"] = o.cost_model;
  const CostModelRegistry& registry = cost_model_registry();
  Diagnostics diagnostics(o.graph_path);
  std::unique_ptr<OpCostModel> model;
  {
    ObjectReader r(spec, "cost_model", diagnostics);
    name = r.string("name", "roofline", {"Cost model for shaped ops.", "", {}, {}, false, registry.names()});
    if (diagnostics.empty()) model = registry.create(name, r, {std::filesystem::path(o.graph_path).parent_path().string(), graph.gpu});
  }
  diagnostics.throw_if_any();
  return model;
}
}  // namespace

int run_replay_command(const ReplayOptions& o, std::ostream& out) {
  if (!o.out_path.empty()) check_output_path(o.out_path, "--out");
  if (!o.trace_path.empty()) check_output_path(o.trace_path, "--trace");
  ReplayGraph graph = read_replay_graph(load_json_file(o.graph_path), o.graph_path);
  std::string model_name;
  const std::unique_ptr<OpCostModel> cost_model = replay_cost_model(graph, o, model_name);
  const std::string gpu_name = graph.gpu.name;
  const int ranks = graph.ranks;
  Replay replay(std::move(graph), *cost_model);
  ChromeTraceWriter trace([&replay](OpId op) { return replay.trace_args(op); });
  std::vector<ExecutionObserver*> observers;
  if (!o.trace_path.empty()) observers.push_back(&trace);
  const ReplayResult result = replay.run(observers);

  out << "foresight replay: " << o.graph_path << "  (" << result.ops << " ops on " << ranks << " ranks; shaped ops on "
      << gpu_name << " by the " << model_name << " model)\n"
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
