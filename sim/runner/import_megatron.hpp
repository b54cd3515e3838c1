#pragma once
// `foresight import megatron -- <launch command>`: a training scenario from the command that
// starts Megatron-LM's pretrain_gpt.py, its launcher included (torchrun, python -m
// torch.distributed.run or .launch, srun). The model is built from the architecture flags;
// where the command is silent, Megatron's own defaults apply and the comment says so
// (docs/import.md lists every flag that maps).
#include <string>
#include <vector>

#include "sim/runner/import_support.hpp"

namespace foresight {

// `gpus`: all the job's GPUs when the launcher does not say (0: unknown, one node is assumed).
Imported import_megatron(const std::vector<std::string>& command, const std::string& gpu, int gpus);

}  // namespace foresight
