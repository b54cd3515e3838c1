#pragma once
// `foresight export megatron SCENARIO`: the reverse of `foresight import megatron`. Prints
// the launch command (torchrun and pretrain_gpt.py's arguments) that runs the scenario's
// training job as Megatron-LM would, so that a layout chosen by a sweep can be launched.
// What Megatron-LM cannot express (schedules it lacks, a cluster's fabric) is listed in
// comments above the command; data, tokenizer and learning-rate arguments are the user's.
#include <ostream>
#include <string>
#include <vector>

namespace foresight {

struct ExportOptions {
  std::string tool;                    // megatron, megatron-bridge, vllm, sglang or trtllm
  std::string scenario;                // "" for the built-in default
  std::vector<std::string> overrides;  // --set key=value, applied first
};

int run_export_command(const ExportOptions& options, std::ostream& out);

}  // namespace foresight
