// Surface: a PyTorch profiler (Kineto) trace, imported as a replay graph and checked by the
// replay's reader, as `foresight import kineto` does.
#include "fuzz_target.hpp"
#include "sim/input/json_document.hpp"
#include "sim/runner/import_kineto.hpp"
#include "workloads/replay.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  const KinetoImport imported = import_kineto({scratch_file(data, ".json")}, "h100_sxm", false);
  (void)read_replay_graph(imported.graph, "(imported)");
}

}  // namespace foresight::fuzz
