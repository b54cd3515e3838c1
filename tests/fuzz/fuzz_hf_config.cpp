// Surface: a HuggingFace config.json, read into a model.
#include "fuzz_target.hpp"
#include "models/model_arch.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) { (void)load_hf_config(scratch_file(data, ".json")); }

}  // namespace foresight::fuzz
