// Surface: Chakra execution traces (protobuf), imported as a replay graph and checked by the
// replay's reader, as `foresight import chakra` does. An input whose first byte is odd is
// split in two ranks' traces at the middle, so that collectives and send/receives are matched.
#include "fuzz_target.hpp"
#include "sim/runner/import_chakra.hpp"
#include "workloads/replay.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  std::vector<std::string> traces;
  if (!data.empty() && (static_cast<unsigned char>(data.front()) & 1) != 0) {
    const std::string_view rest = data.substr(1);
    traces = {scratch_file(rest.substr(0, rest.size() / 2), ".0.et"), scratch_file(rest.substr(rest.size() / 2), ".1.et")};
  } else {
    traces = {scratch_file(data, ".0.et")};
  }
  ChakraImport imported = import_chakra(traces, "h100_sxm", false);
  imported.graph["topology"] = "hgx_h100";  // times what carries no duration, as --set topology does
  (void)read_replay_graph(imported.graph, "(imported)");
}

}  // namespace foresight::fuzz
