#pragma once
// `foresight import megatron-bridge -- CONFIG.yaml [key=value ...]`: a training scenario from a
// Megatron-Bridge run's ConfigContainer, as YAML: what `logger.save_config_filepath` saves for
// every run and scripts/performance's dry runs write, every field resolved. The model's fields
// are Megatron-core's TransformerConfig, so each is read as the Megatron-LM argument it sets
// and the Megatron importer builds the scenario; `key=value` words override fields as
// run_recipe.py's trailing overrides do, and train.sh's `--nodes N --gpus-per-node G` give
// the cluster, which a ConfigContainer does not hold.
#include <string>
#include <vector>

#include "sim/runner/import_nemo.hpp"
#include "sim/runner/import_support.hpp"

namespace foresight {

// ConfigContainer fields and the Megatron-LM arguments they are (Megatron-Bridge's
// src/megatron/bridge/training/config.py; the model's are Megatron-core's TransformerConfig),
// read both ways: by the import, and by `foresight export megatron-bridge`.
const std::vector<NemoKey>& megatron_bridge_keys();

Imported import_megatron_bridge(const std::vector<std::string>& command, const std::string& gpu, int gpus);

}  // namespace foresight
