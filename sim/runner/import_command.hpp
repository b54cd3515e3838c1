#pragma once
// `foresight import vllm|sglang -- <launch command>`: a serving scenario from the command
// line that starts the engine (docs/import.md). Each flag that sets something foresight
// models maps to its scenario key; flags with no effect on performance (ports, logging,
// API keys) are dropped; the rest are listed as not modelled. The scenario opens with a
// comment saying which was which. Traffic is not part of a launch command and keeps the
// scenario defaults.
#include <ostream>
#include <string>
#include <vector>

namespace foresight {

struct ImportOptions {
  std::string tool;                  // vllm or sglang
  std::vector<std::string> command;  // the launch command, program name included
  std::string gpu = "h100_sxm";      // launch commands do not say which GPU
  std::string out_path;              // "" writes to standard output
};

int run_import_command(const ImportOptions& options, std::ostream& out);

}  // namespace foresight
