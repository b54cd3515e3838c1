// Surface: a custom topology file.
#include "fuzz_target.hpp"
#include "sim/input/json_document.hpp"
#include "topologies/topology_spec.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) { (void)read_custom_topology(parse_json_text(data, "fuzz.json"), "fuzz.json"); }

}  // namespace foresight::fuzz
