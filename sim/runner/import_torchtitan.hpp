#pragma once
// `foresight import torchtitan -- <launch command>`: a training scenario from the command that
// starts torchtitan (torchrun ... -m torchtitan.train or train.py, or NGPU=8
// CONFIG_FILE=... ./run_train.sh) with its --job.config_file TOML and --section.key
// overrides, in the layouts of its releases from late 2024 ([training] and [experimental]
// parallelism keys) to today's ([parallelism], [compile], model converters). docs/import.md
// lists every key that maps.
#include <string>
#include <vector>

#include "sim/runner/import_support.hpp"

namespace foresight {

// `gpus`: all the job's GPUs when neither the launcher nor NGPU says (0: one node of 8).
Imported import_torchtitan(const std::vector<std::string>& command, const std::string& gpu, int gpus);

}  // namespace foresight
