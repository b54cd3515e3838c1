// Surface: a replay graph, read and (when small) replayed with its trace written.
#include <sstream>

#include "fuzz_target.hpp"
#include "models/roofline_model.hpp"
#include "sim/engine/chrome_trace.hpp"
#include "sim/input/json_document.hpp"
#include "workloads/replay.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  ReplayGraph graph = read_replay_graph(parse_json_text(data, "fuzz.json"), "fuzz.json");
  if (graph.ops.size() > 256 || graph.ranks > 64) return;
  static const RooflineModel roofline{RooflineParameters{}};
  Replay replay(std::move(graph), roofline);
  ChromeTraceWriter trace([&replay](OpId op) { return replay.trace_args(op); });
  (void)replay.run({&trace});
  std::ostringstream text;
  trace.write(replay.graph(), text);
  (void)parse_json_text(text.str(), "the replay's trace");  // must always be valid JSON
}

}  // namespace foresight::fuzz
