// Surface: a NeMo Hydra config (YAML), read and imported as a training scenario.
#include <filesystem>
#include <sstream>

#include "fuzz_target.hpp"
#include "sim/runner/import_command.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  const std::filesystem::path file = scratch_file(data, ".yaml");
  ImportOptions options;
  options.tool = "nemo";
  options.command = {"--config-path", file.parent_path().string(), "--config-name", file.filename().string()};
  std::ostringstream out;
  (void)run_import_command(options, out);
}

}  // namespace foresight::fuzz
