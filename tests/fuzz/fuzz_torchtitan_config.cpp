// Surface: a torchtitan training config (TOML), read and imported as a training scenario.
#include <sstream>

#include "fuzz_target.hpp"
#include "sim/runner/import_command.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  ImportOptions options;
  options.tool = "torchtitan";
  options.command = {"--job.config_file", scratch_file(data, ".toml")};
  std::ostringstream out;
  (void)run_import_command(options, out);
}

}  // namespace foresight::fuzz
