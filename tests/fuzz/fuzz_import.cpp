// Surface: `foresight import` (the input is a launch command, one word per line or space;
// a first byte of 's' imports it as SGLang's, 'm' as a Megatron-LM launch, 't' as TensorRT-LLM's
// (trtllm-serve or trtllm-bench), anything else as vLLM's; 'S' and 'V' take the rest as a
// launch script, SGLang's or vLLM's, imported as `bash FILE`).
#include <sstream>

#include "fuzz_target.hpp"
#include "sim/runner/import_command.hpp"

namespace foresight::fuzz {

void fuzz_input(std::string_view data) {
  ImportOptions options;
  const char first = data.empty() ? 'v' : data.front();
  if (first == 'S' || first == 'V') {
    options.tool = first == 'S' ? "sglang" : "vllm";
    options.command = {"bash", scratch_file(data.substr(1), ".sh")};
    std::ostringstream out;
    (void)run_import_command(options, out);
    return;
  }
  options.tool = first == 's' ? "sglang" : first == 'm' ? "megatron" : first == 't' ? "trtllm" : "vllm";
  std::istringstream words{std::string(data.empty() ? data : data.substr(1))};
  for (std::string word; words >> word;) options.command.push_back(word);
  std::ostringstream out;
  (void)run_import_command(options, out);
}

}  // namespace foresight::fuzz
