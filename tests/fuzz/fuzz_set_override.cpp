// Surface: `--set key=value` on the default scenario (the input is one assignment).
#include "fuzz_target.hpp"
#include "sim/runner/scenario.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) { (void)default_scenario({std::string(data)}); }

}  // namespace foresight::fuzz
