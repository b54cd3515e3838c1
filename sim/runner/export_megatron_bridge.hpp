#pragma once
// `foresight export megatron-bridge SCENARIO`: the reverse of `foresight import
// megatron-bridge`. Writes the scenario's training settings as a Megatron-Bridge
// ConfigContainer override file (YAML: model, train, ddp, mixed_precision and optimizer
// fields), the same settings `export megatron` writes as pretrain_gpt.py's arguments, each
// read through the import's table the other way; what the fields cannot express is listed in
// comments at the top, beside the train.sh cluster flags.
#include <string>

#include "sim/runner/scenario.hpp"

namespace foresight {

std::string megatron_bridge_config_text(const Scenario& s, const std::string& label);

}  // namespace foresight
