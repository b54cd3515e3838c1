#pragma once
// `foresight import nemo` for NeMo 2.0, whose launches name a recipe rather than a config file:
//   nemo llm pretrain --factory llama3_70b trainer.num_nodes=8 data.global_batch_size=1024
//   nemo llm pretrain --factory "llama31_70b(num_nodes=4, performance_mode=True)"
//   python my_pretrain.py   (a script that builds `recipe = llm.llama3_8b.pretrain_recipe(...)`
//                            and sets `recipe.trainer.strategy.context_parallel_size = 1`, ...)
// A recipe is Python, so it is not run: each known factory's defaults are a table taken from
// NeMo's recipe files (the commit each came from is in the table), the factory's arguments and
// the overrides go on top, and every key is read as the Megatron-LM argument it sets.
#include <string>
#include <vector>

#include "sim/runner/import_support.hpp"

namespace foresight {

// True when the command launches a NeMo 2.0 recipe: a --factory, or a Python script that calls
// a recipe's pretrain_recipe().
bool is_nemo2_launch(const std::vector<std::string>& command);

Imported import_nemo2(const std::vector<std::string>& command, const std::string& gpu, int gpus);

// The factories foresight knows, in the order the docs list them.
std::vector<std::string> nemo2_factories();

}  // namespace foresight
