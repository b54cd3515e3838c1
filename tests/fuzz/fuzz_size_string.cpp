// Surface: `foresight collective --sizes` strings ("8B", "1MiB:1GiB") and `capacity --slo`
// items ("ttft_p99=500ms"): the first line is a size range, the second an SLO list.
#include <sstream>

#include "fuzz_target.hpp"
#include "sim/input/input_error.hpp"
#include "sim/runner/capacity_command.hpp"
#include "sim/runner/collective_command.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  const std::string text(data);
  const std::size_t newline = text.find('\n');
  try {
    (void)parse_size_range(text.substr(0, newline), 2.0);
  } catch (const InputError&) {
  }
  if (newline != std::string::npos) (void)parse_slo(text.substr(newline + 1));
}

}  // namespace foresight::fuzz
