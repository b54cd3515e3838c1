// Surface: a NeMo 2.0 launch, imported as a training scenario. A first byte of 'p' makes the
// rest a Python script that builds a recipe (imported as `python SCRIPT.py`); anything else
// is NeMo-Run's command line, one word per line or space, after `nemo llm pretrain`.
#include <filesystem>
#include <sstream>

#include "fuzz_target.hpp"
#include "sim/runner/import_command.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  ImportOptions options;
  options.tool = "nemo";
  if (!data.empty() && data.front() == 'p') {
    options.command = {"python", scratch_file(data.substr(1), ".py")};
  } else {
    options.command = {"nemo", "llm", "pretrain"};
    std::istringstream words{std::string(data)};
    for (std::string word; words >> word;) options.command.push_back(word);
  }
  std::ostringstream out;
  (void)run_import_command(options, out);
}

}  // namespace foresight::fuzz
