// Surface: a Megatron-Bridge ConfigContainer (YAML), read and imported as a training scenario.
#include <filesystem>
#include <sstream>

#include "fuzz_target.hpp"
#include "sim/runner/import_command.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  const std::filesystem::path file = scratch_file(data, ".yaml");
  ImportOptions options;
  options.tool = "megatron-bridge";
  options.command = {"train.sh", "--nodes", "2", "--gpus-per-node", "8", file.string()};
  std::ostringstream out;
  (void)run_import_command(options, out);
}

}  // namespace foresight::fuzz
