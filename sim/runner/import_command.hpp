#pragma once
// `foresight import kineto -- TRACE...` makes a replay graph from profiler traces instead
// (import_kineto.hpp).
// `foresight import megatron|nemo|torchtitan|vllm|sglang|trtllm -- <launch command>`: a scenario from the
// command line that starts the job: a training scenario from a Megatron-LM, NeMo or torchtitan launch, a serving
// scenario from an engine's (docs/import.md). Each flag that sets something foresight
// models maps to its scenario key; flags with no effect on performance (ports, logging,
// paths, learning rates) are dropped; the rest are listed as not modelled. The scenario
// opens with a comment saying which was which, and what was assumed. Serving traffic is
// not part of a launch command and keeps the scenario defaults.
#include <ostream>
#include <string>
#include <vector>

namespace foresight {

struct ImportOptions {
  std::string tool;                  // megatron, nemo, torchtitan, vllm, sglang or trtllm
  std::vector<std::string> command;  // the launch command, program name included
  std::string gpu = "h100_sxm";      // launch commands do not say which GPU
  int gpus = 0;                      // megatron: all the job's GPUs, where its launcher does not say; 0 = unknown
  std::string out_path;              // "" writes to standard output
  std::vector<std::string> overrides;  // "a.b=value", applied to the scenario the command becomes (what it cannot say)
  bool retime_collectives = false;     // kineto: merged collectives without their measured durations
};

int run_import_command(const ImportOptions& options, std::ostream& out);

}  // namespace foresight
